/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agents.h"
#include "inventory.h"
#include "policy-explain.h"

/*
 * What the control channel shows, computed from the Manager: runs of like blocks, a block's explanation,
 * the drifts between the live state and what the policies say today. bus.c only marshals these.
 */

typedef struct Manager Manager;

/* Consecutive present blocks alike in state, zone, node, device and origin. */
typedef struct BlockRun {
        uint32_t first, last;
        BlockState state;
        Zone zone;          /* ZONE_UNKNOWN for offline blocks, and online ones whose zone is not read yet */
        int node;
        DeviceKind device;  /* valid with BLOCK_CLASSIFIED in flags */
        uint16_t flags;
        uint32_t origin;    /* packed, origin.h */
} BlockRun;

/* The run that holds the first present block at or after 'from' into *ret; returns its first block, or
 * UINT32_MAX when no present block is left. */
uint32_t bus_inspect_next_run(Manager *m, uint32_t from, BlockRun *ret);

/* The other agents, as memhpd finds them now (ownership_detect()). */
void bus_inspect_conflicts(Manager *m, Conflicts *ret);

#define EXPLAIN_FACTS_MAX 16
typedef struct BlockExplanation {
        Decision decision;
        struct {
                const char *name;
                char value[160];
        } facts[EXPLAIN_FACTS_MAX];
        size_t n_facts;
} BlockExplanation;

/* Every policy tried for present block 'index' into steps[0..m->policies.n), the decision and the figures
 * behind it. An online block is explained as if it were offline with both zones offered. */
void bus_inspect_explain(Manager *m, uint32_t index, ExplainStep *steps, BlockExplanation *ret);

typedef struct Drift {
        char subject[32];   /* "memory40", or the agent: "kernel", "udev", ... */
        const char *kind;   /* "zone", "state", "agent" */
        char text[512];
} Drift;

typedef struct Drifts {
        Drift *items;
        size_t n;
} Drifts;

/* Compare the live state with what the policies would decide today. Returns 0 with the list (maybe empty)
 * in *ret, or -ENOMEM. */
int bus_inspect_verify(Manager *m, Drifts **ret);
Drifts *drifts_free(Drifts *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Drifts *, drifts_free);
