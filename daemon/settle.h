/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The settle queue: new offline blocks waiting for their nodeM and firmware_node links, which the kernel
 * makes after the "add" uevent. The Manager owns the queue and its timer; a block on it carries
 * BLOCK_SETTLING in the inventory, and leaves the queue when it is ready, forced, or gone.
 */

typedef struct Inventory Inventory;
typedef struct Manager Manager;

typedef struct SettleQueue {
        uint32_t *index;  /* blocks with BLOCK_SETTLING, oldest first */
        uint64_t *since;  /* when each joined, in the caller's clock */
        size_t n, max;    /* grows on demand: few blocks settle at once */
} SettleQueue;

void settle_queue_done(SettleQueue *q);
/* Queue 'index' from 'now' on, unless it is queued already. Returns 0 or -ENOMEM. */
int settle_queue_add(SettleQueue *q, Inventory *inv, uint32_t index, uint64_t now);
/* Take 'index' off the queue, if it is on it (also a block the inventory no longer has). */
void settle_queue_drop(SettleQueue *q, Inventory *inv, uint32_t index);

/*
 * The kernel sends a block's "add" uevent before it links the block to its node and, for an ACPI
 * DIMM, to its firmware_node. Returns 1 when the block's node and device are known (or 'force' is set:
 * take what is there), 0 when it should wait; waiting blocks are on the queue from 'now' on.
 */
int settle_block(SettleQueue *q, Inventory *inv, uint32_t index, bool force, uint64_t now);

/* Manager side. */
/* A new offline block: wait for its links if needed, then decide. */
void settle_consider(Manager *m, uint32_t index);
/* Decide on every queued block that is ready ('force_all': on all of them). */
void settle_pending(Manager *m, bool force_all);
/* (Re)arm or stop the timer after the queue changed. */
void settle_timer_arm(Manager *m);
int settle_timer_attach(Manager *m);
