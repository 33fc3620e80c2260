/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Names for what the kernel says about a memory block, shared by the inventory, the policy engine and
 * the audit trail. Parsing and formatting are pure; unknown strings are errors, never defaults.
 */

#include <stdbool.h>
#include <stdint.h>

typedef enum DeviceKind {
        DEVICE_UNKNOWN,       /* hot-added, source not recognised */
        DEVICE_BOOT,          /* present when memhpd started, no hot-plug source found */
        DEVICE_ACPI_DIMM,     /* firmware_node -> PNP0C80 */
        DEVICE_VIRTIO_MEM,    /* /proc/iomem "System RAM (virtio_mem)" */
        DEVICE_DAX_KMEM,      /* /proc/iomem "System RAM (kmem)" */
        DEVICE_HV_BALLOON,
        DEVICE_XEN,
        _DEVICE_MAX,
} DeviceKind;

typedef enum BlockState {
        STATE_UNKNOWN,
        STATE_OFFLINE,
        STATE_ONLINE,
        STATE_GOING_OFFLINE,
        _STATE_MAX,
} BlockState;

/* Zones as valid_zones names them; ZONE_NONE is what an online block spanning several zones shows. */
typedef enum Zone {
        ZONE_UNKNOWN,
        ZONE_NONE,
        ZONE_DMA,
        ZONE_DMA32,
        ZONE_NORMAL,
        ZONE_MOVABLE,
        ZONE_DEVICE,
        _ZONE_MAX,
} Zone;

/* The set of zones an offline block may join, from its valid_zones. */
typedef struct ZoneSet {
        bool kernel;          /* some kernel zone (DMA, DMA32, Normal) is offered */
        bool movable;
        Zone first;           /* the kernel's own pick (first listed) */
} ZoneSet;

const char *device_kind_to_string(DeviceKind d);
int device_kind_from_string(const char *s);    /* DeviceKind or -EINVAL */
const char *block_state_to_string(BlockState s);
int block_state_from_string(const char *s);    /* BlockState or -EINVAL */
const char *zone_to_string(Zone z);
int zone_from_string(const char *s);           /* Zone or -EINVAL */

static inline bool zone_is_kernel(Zone z) {
        return z == ZONE_NONE || z == ZONE_DMA || z == ZONE_DMA32 || z == ZONE_NORMAL;
}

/* Parse valid_zones ("Normal Movable", "DMA32", "none"). -EINVAL on an unknown name or empty value. */
int zone_set_parse(const char *s, ZoneSet *ret);

/* Parse the unsigned integer forms sysfs uses: 'hex' for block_size_bytes and phys_index. */
int parse_u64(const char *s, int base, uint64_t *ret);

/* tier: whether a NUMA node has CPUs (inventory.c reads it, policy.c matches CpuLess= on it). */
typedef enum NodeCpus {
        NODE_CPUS_UNKNOWN, /* not read (yet), or unreadable */
        NODE_CPUS_SOME,    /* in /sys/devices/system/node/has_cpu */
        NODE_CPUS_NONE,    /* CPU-less: far memory (CXL, PMEM as RAM) or a memory-only NUMA node */
} NodeCpus;
