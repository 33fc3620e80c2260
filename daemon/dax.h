/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * dax devices (/sys/bus/dax/devices/daxX.Y): their inventory, kept current by a scan and by uevents
 * of subsystem "dax", and the policy for each device: leave it as devdax, or hand it to kmem (system
 * RAM) the way daxctl does, with [Memmap] OnMemory= written to the device before kmem binds. Its
 * memory blocks then appear as any hot-added block and are onlined by engine.c with the same policy
 * (DaxDevice=, Size= and Origin= match them through BlockFacts.dax). Each device is decided once per
 * appearance: nothing is written twice. The pure parts are dax-parse.c and policy.c.
 *
 * The table holds one entry per device (at most DAX_DEVICES_MAX), not per block.
 *
 * There is no whole-device "state" attribute to online a dax device's memory at once: a dax device's
 * attributes are modalias, target_node, size, align, resource, numa_node, mapping and (6.8+)
 * memmap_on_memory (drivers/dax/bus.c, 6.1 and 6.12); daxctl too onlines block by block. So the
 * blocks are onlined one by one by engine.c, all by the policy that matched the device.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dax-parse.h"
#include "policy.h"
#include "uevent-parse.h"

typedef struct Manager Manager;

typedef struct DaxDevice {
        char name[24];            /* daxX.Y */
        uint64_t start, size;     /* resource (0 if the kernel does not say) and size in bytes */
        int target_node;          /* -1 unknown */
        DaxDriver driver;
        DaxOrigin origin;
        int8_t memmap_attr;       /* the device's memmap_on_memory, -1 if the kernel has none (< 6.8) */
        bool seen;                /* scratch: found by the scan in progress */
        bool decided;             /* policy was applied since it appeared */
        bool ours;                /* memhpd handed it to kmem */
        bool redecide;            /* left as it is by policy: a reload decides again */
        int8_t block_action;      /* the Action its first block got (the others follow), -1 none yet */
} DaxDevice;

#define DAX_DEVICES_MAX 4096

typedef struct DaxTable {
        DaxDevice *items;
        size_t n;
        int global_memmap;        /* memory_hotplug.memmap_on_memory: 0, 1, 2 (force), -1 unknown */
        int kernel_version;       /* major*1000+minor, -1 unknown */
        unsigned long long scanned_at_uevent; /* Manager.n_uevents at the last scan, +1 (0: never) */
        unsigned n_bound;         /* devices memhpd handed to kmem since start */
        uint64_t memmap_checked_at; /* memmap_watch(): CLOCK_MONOTONIC µs of the last check, 0 never */
        bool memmap_risk_said;    /* a memmap-risk record stands until existing memory could hold one more */
} DaxTable;

/* Read device 'name' under the root (/sys/bus/dax/devices/NAME: size, resource, target_node,
 * memmap_on_memory, the driver link, the device's place for its origin). 0, -ENOENT if it does not
 * exist (any more), or another -errno with *ret_what naming the attribute that could not be read. */
int dax_device_read(int rootfd, const char *name, DaxDevice *ret, const char **ret_what);

/* The table of dax devices and the kernel's memmap facts (created at first use). */
DaxTable *dax_table(Manager *m);

/* Drain --eject of a dax device whose blocks are offline (drain.c): as `daxctl reconfigure-device
 * --mode=devdax` does, remove_id and unbind at kmem (the kernel removes the memory), then new_id and bind
 * at device_dax. Policy does not hand the device to kmem again while memhpd runs (a restart decides it
 * again). Returns 0, or -errno with 'why' saying which step failed; 'why' also says what was done. */
int dax_give_back(Manager *m, const char *name, char *why, size_t why_size);

/* Scan /sys/bus/dax/devices and decide every device not decided yet (start, rescan). Returns how many
 * devices it handed to kmem, or -errno (logged); a missing dax bus is no error (0). */
int dax_scan(Manager *m);
void dax_table_free(Manager *m);

void dax_uevent(Manager *m, const Uevent *u);
/* After a reload: devices that policy left on device_dax (or without a driver) are decided again by the
 * new policy set; devices someone else bound, or that a failed bind left, are not. */
void dax_reload(Manager *m);

/* engine.c: one decision for all blocks of a device. Before policy: the first block's facts count the
 * whole device's pages (Zone=auto weighs all of it at once). After: the first block's action is kept
 * for the device, and later blocks follow it where their zone is offered. */
void dax_block_facts(Manager *m, uint32_t index, BlockFacts *facts);
void dax_block_decided(Manager *m, uint32_t index, const BlockFacts *facts, Decision *d);

/* engine.c: the device (handed to kmem) that holds block 'index', or NULL. */
const DaxDevice *dax_device_of_block(Manager *m, uint32_t index);
void dax_device_facts(const DaxDevice *d, DaxFacts *ret);

/* memhpd --check: what [Memmap] OnMemory= can and cannot do on this host, one "warning:" line each. */
void dax_check_policies(int rootfd, const PolicySet *set, FILE *out);

/* --dry-run --once: the dax devices and the memmap of hot-added blocks. */
void dax_report_print(Manager *m, FILE *out);

/* The kernel's memmap_on_memory parameter and release under the root (probed once). */
void dax_probe_kernel(int rootfd, int *ret_global, int *ret_version);
