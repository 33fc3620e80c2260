/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A drain: offline every online block of a target (a node, a range of blocks, an ACPI memory device or
 * a dax device) through the offline engine (offline-worker.h), movable blocks first, keeping progress
 * for the control channel, then optionally ask for the device's removal (eject). One drain at a time:
 * a second is refused with -EBUSY while one runs (the engine runs one offline at a time anyway, and two
 * progress reports interleaved would only confuse). The drain belongs to memhpd, not to the client: a
 * client that goes away does not stop it. The last drain's result is kept until the next one starts.
 * Every block it offlines (or finds offline) is the administrator's: never onlined by policy again.
 */

typedef struct Manager Manager;

typedef enum DrainTargetKind {
        DRAIN_TARGET_NODE,    /* node1 */
        DRAIN_TARGET_BLOCKS,  /* memory40, memory40-47 */
        DRAIN_TARGET_ACPI,    /* PNP0C80:03, an ACPI memory device (a DIMM) as the block's firmware_node names it */
        DRAIN_TARGET_DAX,     /* dax0.0 */
        _DRAIN_TARGET_KIND_MAX,
} DrainTargetKind;

#define DRAIN_BLOCKS_MAX (1u << 20) /* blocks in one range: 128 TiB of 128 MiB blocks */

typedef struct DrainTarget {
        DrainTargetKind kind;
        uint32_t first, last;  /* blocks, inclusive; node: first = the node */
        char name[32];         /* ACPI, dax: the device's name */
} DrainTarget;

/* Pure: parse a target. Returns 0, or -EINVAL with a reason in 'err' (what the forms are). */
int drain_target_parse(const char *s, DrainTarget *ret, char *err, size_t err_size);

enum {
        DRAIN_FLAG_EJECT = 1 << 0,  /* after the drain, ask for the device's removal */
        _DRAIN_FLAGS_ALL = DRAIN_FLAG_EJECT,
};

typedef struct DrainBlock {
        uint32_t index;
        int result;            /* 0 offline; -EINPROGRESS pending; -errno as offline_done_t says; -EPERM boot
                                * memory in a kernel zone (not tried) */
        uint8_t zone;          /* Zone when the drain started */
} DrainBlock;

typedef struct Drain {
        char target[64];
        DrainTarget t;
        uint64_t flags;
        char who[128];         /* who asked, for the records */
        DrainBlock *blocks;    /* movable first, then by number */
        size_t n_blocks, n_done, n_failed;
        bool running;
        int result;            /* when finished: 0, or -EBUSY if a block stayed online */
        char eject[160];       /* what --eject did, "" if not asked */
} Drain;

/*
 * Start draining 'target'. Returns 0 and audits drain-started, or -errno with a sentence for the
 * client in 'err': -EINVAL (not a target), -ENOENT (nothing by that name), -EBUSY (a drain runs),
 * -EPERM (every block is boot memory in a kernel zone), -EROFS (--dry-run), -EOPNOTSUPP (bad flags).
 */
int drain_start(Manager *m, const char *target, uint64_t flags, const char *who, char *err, size_t err_size);

/* The drain in progress or the last one, or NULL. */
const Drain *drain_current(Manager *m);

void drain_free(Manager *m);
const char *drain_block_why(int result);
