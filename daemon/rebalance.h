/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Zone=auto after the online: when a node's kernel zones run out while hot-added memory sits free in
 * ZONE_MOVABLE, one Zone=auto block at a time moves from ZONE_MOVABLE to a kernel zone (offline through
 * the offline engine, then online_kernel). Slab, page tables and the memmap of the next hot-add can only
 * live in kernel zones; a ratio chosen at online time cannot know how much of them the workload will
 * need (bench/ZONE-SLAB.md).
 *
 * What wakes it: nothing while kernel memory does not grow. PSI does not help here: unreclaimable slab
 * filling the kernel zones stalls nobody until the OOM killer runs (measured: PSI total 0 up to the
 * OOM), and the kernel's reclaim tracepoints come at the low watermark, a few MiB before the OOM on a
 * small node (measured: a move started there lost the race under 6.1). The early signal is the page
 * allocator's: kmem:mm_page_alloc_extfrag fires when an unmovable or reclaimable allocation takes a
 * pageblock of another migrate type, every 2-4 MiB of slab or page-table growth (filtered in the kernel
 * to those, so page cache does not wake memhpd); vmscan:mm_vmscan_wakeup_kswapd and
 * mm_vmscan_direct_reclaim_begin are the late net. All three are enabled in a private tracefs instance
 * only while a Zone=auto block could move, and trace_pipe is read with poll(): an idle host, or one
 * without such a block, wakes memhpd 0 times. After an event they are switched off and /proc/zoneinfo
 * is read every REBALANCE_TICK_USEC, moving a block whenever a node's room falls below one block, until
 * every node has two blocks of room or the room has not shrunk for REBALANCE_QUIET_USEC; after
 * REBALANCE_COOLDOWN_USEC more the events are switched back on (at most about one wake-up a second on
 * a host whose allocator falls back all the time).
 *
 * A block moves only if it is online in ZONE_MOVABLE, hot-added (not boot memory) by an ACPI DIMM, a
 * dax device or an unknown source (virtio-mem and hv-balloon unplug what goes offline), onlined by
 * policy (not by someone else, not by the administrator), not quarantined, and its policy today says
 * Zone=auto. Zone=movable is the way to say "keep it removable".
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procfs.h"

typedef struct Manager Manager;

#define REBALANCE_INSTANCE "memhpd-reclaim"
#define REBALANCE_TICK_USEC (250ULL * 1000)
#define REBALANCE_QUIET_USEC (5ULL * 1000 * 1000)
#define REBALANCE_COOLDOWN_USEC (1000ULL * 1000)
/* Block news is looked at for candidates at most once in this time (rebalance_check()). */
#define REBALANCE_CHECK_USEC (1000ULL * 1000)
/* Zone or device reads (sysfs) of blocks online at start, per look over the blocks. */
#define REBALANCE_READS_PER_LOOK 2048
/* The room must shrink by more than this (pages) for the kernel zones to count as still being used up. */
#define REBALANCE_QUIET_PAGES 256
/* Blocks whose pages in use are counted in /proc/kpageflags before one is chosen. */
#define REBALANCE_INSPECT_MAX 64

/*
 * The pure half. A node "needs kernel memory" when its kernel zones' room (free pages above the lowmem
 * reserve, plus their page cache) is below their high watermarks + PRESSURE_MARGIN_PERCENT + one block
 * ('block_pages'), and ZONE_MOVABLE can give a block: its free pages are at least one block above its
 * own high watermark + the margin. Nodes without kernel zones or without watermarks are never judged.
 */
bool rebalance_node_needs(const ZoneinfoNode *z, uint64_t block_pages);

/* The node has room again: its kernel zones' room is at least their high watermarks + the margin + two
 * blocks (one more than rebalance_node_needs() asks, so that watching does not stop and start at every
 * block). Nodes that are never judged count as settled. */
bool rebalance_node_settled(const ZoneinfoNode *z, uint64_t block_pages);

/* Pages in use among 'n' /proc/kpageflags words of one block: any flag but KPF_BUDDY (the head of a free
 * buddy run) and KPF_IDLE; a free page's tail reads 0. (A page in use with no flag reads as free: in
 * ZONE_MOVABLE that is rare.) */
uint64_t rebalance_used_pages(const uint64_t *flags, size_t n);

/* The I/O half. */
typedef struct Rebalance Rebalance;

Rebalance *rebalance_free(Rebalance *r);
/* After block news (the status defer) and a reload: watch the reclaim events while a block could move,
 * stop watching when none can. */
void rebalance_check(Manager *m);
/* At stop: switch the events off and remove the instance. */
void rebalance_stop(Manager *m);
/* For memhpctl status (the bus's KernelZones): what watches the kernel zones now and how many blocks moved
 * since start, one line. */
void rebalance_summary(Manager *m, char *buf, size_t size);
