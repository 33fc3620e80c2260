/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Memory pressure: the reserve of When=pressure blocks and what brings it online. Two halves, as in
 * systemd-oomd. The pure half (no file, no clock) reads a PSI line, tells whether a node's kernel zones
 * are short, picks the pressured node and orders the reserve by NUMA distance; it is unit-tested on
 * plain values. The I/O half owns the event source: a PSI trigger on /proc/pressure/memory (under the
 * Root) and a watermark check of /proc/zoneinfo once per window, both ONLY while the reserve holds a
 * block, so an idle daemon, or one whose reserve is empty, has no pressure source at all (0 wakeups).
 * PSI sees stalls (reclaim of page cache, thrashing); the watermark check sees memory running out
 * when there is nothing to reclaim (anonymous memory without swap goes to the OOM killer with almost
 * no stall: measured in the pressure-reserve VM scenario). Without PSI it says so once and the
 * watermark check goes on alone.
 *
 * libnuma is not used: numa_distance() reads the live /sys/devices/system/node/nodeN/distance and
 * cannot be pointed at --root, and the file is all it would give us; reading it through the Root keeps
 * one code path for the live system and the tests (DESIGN.md, "NUMA topology").
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procfs.h"

typedef struct Manager Manager;

/* A node's kernel zones are "short" when their free pages are below the high watermark plus this
 * margin (in percent of the high watermark): kswapd reclaims up to high, so a node hovering just above
 * it has no room for the unmovable allocations (page tables, slab, the memmap of a hot-add) that only
 * kernel zones can take. */
#define PRESSURE_MARGIN_PERCENT 25

/* PSI's limits for a trigger's window (kernel/sched/psi.c: WINDOW_MIN_US, WINDOW_MAX_US). */
#define PRESSURE_WINDOW_MIN_USEC 500000ULL
#define PRESSURE_WINDOW_MAX_USEC 10000000ULL

#define PRESSURE_DEFAULT_LIMIT_PERCENT 10
#define PRESSURE_DEFAULT_WINDOW_USEC 1000000ULL

/* The reserve: blocks kept offline by When=pressure, at most this many remembered. */
#define PRESSURE_RESERVE_MAX (1u << 20)

/* Distance of a node we know nothing about: after every real one (the kernel's are 10..254). */
#define PRESSURE_DISTANCE_UNKNOWN 0xffffu

/* True when 'free' pages are below 'high' + PRESSURE_MARGIN_PERCENT of it. A node without kernel zones
 * (high == 0) is never short by this measure. */
bool pressure_kernel_short(uint64_t free, uint64_t high);

/* One line of /proc/pressure/memory: averages in hundredths of a percent, total stall in µs. */
typedef struct PsiFigures {
        unsigned avg10, avg60, avg300; /* 12.34% = 1234 */
        uint64_t total_usec;
} PsiFigures;

/*
 * The "some" line of /proc/pressure/memory text ("some avg10=0.12 avg60=0.00 avg300=0.00 total=123\n",
 * then "full ..."): returns 0 and *ret, -EBADMSG if there is no such line or it is not the kernel's
 * format (each average 0.00..100.00 with two decimals, total plain decimal). *ret untouched on failure.
 */
int pressure_psi_parse(const char *text, PsiFigures *ret);

/*
 * The trigger for MemoryPressureLimit= 'limit_percent' (1..100) of a window of 'window_usec' (PSI's
 * 500 ms..10 s): "some STALL WINDOW" into 'buf'. -ERANGE for values PSI would refuse.
 */
int pressure_trigger_format(unsigned limit_percent, uint64_t window_usec, char *buf, size_t size);

/*
 * The node under the most pressure: the lowest share of free pages (all zones) in its present pages,
 * among nodes with present pages and whole watermark figures. -1 if there is none.
 */
int pressure_pick_node(const ZoneinfoNode *nodes, size_t n_nodes);

/*
 * The watermark check's breach: the available pages of all nodes — free plus page cache (reclaimable),
 * all zones — are below their high watermarks + PRESSURE_MARGIN_PERCENT plus 'headroom' pages (the
 * reserve's step: the room a step needs to land before memory runs out). Summed over nodes because
 * allocations fall back to other nodes and the OOM killer runs when all are out; page cache counts as
 * available so that a full cache does not drain the reserve. Returns the node to start the step on
 * (pressure_pick_node()), -1 if there is no breach.
 */
int pressure_short_node(const ZoneinfoNode *nodes, size_t n_nodes, uint64_t headroom);

/*
 * A node's distance row ("10 20 ..." from nodeN/distance, one number per ONLINE node in increasing
 * order) into row[node] for each of the 'n_online' nodes in 'online'; other entries are left alone.
 * Returns 0, or -EBADMSG if the count or a number is wrong.
 */
int pressure_distance_parse(const char *text, const uint16_t *online, size_t n_online, uint16_t *row);

typedef struct ReserveCandidate {
        uint32_t index;
        int node;              /* -1 unknown */
} ReserveCandidate;

/*
 * Order 'c' for a step: the pressured node's blocks first, then by distance from it ('row', indexed by
 * node, NULL or PRESSURE_DISTANCE_UNKNOWN entries: after every known one), then by node, then by block
 * number. Blocks of unknown node come last.
 */
void pressure_order(ReserveCandidate *c, size_t n, int pressured_node, const uint16_t *row, size_t row_size);

/* The I/O half. */
typedef struct Pressure Pressure;

int pressure_new(Pressure **ret);
Pressure *pressure_free(Pressure *p);
/* Block 'index' is kept offline as a reserve (engine.c, after a When=pressure decision) / no longer. */
void pressure_reserve_add(Manager *m, uint32_t index);
void pressure_reserve_remove(Manager *m, uint32_t index);
/* After any block news (the status defer): drop blocks that left the reserve (onlined by someone,
 * removed), then arm the trigger if the reserve holds a block, disarm it if not. */
void pressure_reserve_check(Manager *m);
size_t pressure_reserve_size(const Pressure *p);
/* /proc/zoneinfo (NODES_MAX entries), read at most once per loop iteration (also rebalance.c's). Returns 0,
 * or -errno (no file, not the kernel's). */
int pressure_zoneinfo(Manager *m, const ZoneinfoNode **ret);
/* Zone=auto: the node's kernel-zone figures from /proc/zoneinfo, read at most once per loop iteration.
 * Returns 0, or -errno (no file, not the kernel's, no watermarks for that node). */
int pressure_node_kernel(Manager *m, int node, uint64_t *ret_free, uint64_t *ret_high);
