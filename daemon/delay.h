/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * When=delay: the blocks of one hot-add are gathered and decided together when the policy's Delay=
 * ends, so that an orchestrator or the administrator can claim them first (a block someone else onlines
 * or offlines meanwhile is theirs: block-events.c marks it and delay_drop() takes it out).
 *
 * A group is the blocks of one hot-add: contiguous block numbers of the same device kind and node that
 * the same policy deferred, joined in any order while the group waits (a block that fills the gap
 * between two groups merges them). Its deadline is its first block's arrival plus Delay=; a block that
 * joins later does not move it, so the hold is bounded. The pure part (DelayGroups) is unit-tested;
 * the Manager part owns one CLOCK_MONOTONIC timer for the earliest deadline (off while nothing waits),
 * the `deferred` audit record per group, the STATUS= text and reload.
 */

typedef struct Manager Manager;
typedef struct Policy Policy;

typedef struct DelayGroup {
        uint32_t first, last;     /* the span of its blocks */
        uint32_t *blocks;         /* sorted, no duplicates */
        size_t n, max;
        uint8_t device;           /* DeviceKind */
        int node;                 /* -1 unknown */
        const Policy *policy;     /* the policy that deferred them (its Delay=, its name in records) */
        uint64_t since, deadline; /* CLOCK_MONOTONIC usec */
        /* What the last `deferred` record said (delay.c): a group that grew is announced again. */
        uint32_t said_first, said_last;
        size_t said_n;
} DelayGroup;

typedef struct DelayGroups {
        DelayGroup *items;
        size_t n;
        size_t n_blocks; /* over all groups */
} DelayGroups;

void delay_groups_done(DelayGroups *g);

/*
 * Put block 'index' into the group of its hot-add, or start one that ends at now + delay. Returns the
 * group's position (>= 0), with *ret_added false if the block was already deferred, or -ENOMEM.
 */
int delay_groups_add(DelayGroups *g, uint32_t index, uint8_t device, int node, const Policy *policy, uint64_t now,
                     uint64_t delay, bool *ret_added);
/* The group holding 'index', or -ENOENT. */
int delay_groups_find(const DelayGroups *g, uint32_t index);
/* Take 'index' out of its group; a group left empty is deleted. Returns 1 if it was deferred, else 0. */
int delay_groups_remove(DelayGroups *g, uint32_t index);
/* The earliest deadline, UINT64_MAX if no group waits. */
uint64_t delay_groups_next(const DelayGroups *g);
/* Move out the group at 'i' (the caller owns *ret and frees ret->blocks). */
void delay_groups_take(DelayGroups *g, size_t i, DelayGroup *ret);

/* Manager side. */
int delay_attach(Manager *m);
void delay_detach(Manager *m);
/* The engine defers 'index' under 'p' (When=delay). */
void delay_defer(Manager *m, uint32_t index, const Policy *p);
/* Someone else decided on 'index', or it is gone: it is no longer deferred. */
void delay_drop(Manager *m, uint32_t index);
/* After a reload: decide every deferred block again with the new policies. A block still under
 * When=delay keeps its group's arrival time: its new deadline is that plus the new Delay=. */
void delay_reload(Manager *m);
/* "; 8 blocks deferred, next decision in 29s" for STATUS=, or "" when nothing waits. */
void delay_status(Manager *m, char *buf, size_t size);
