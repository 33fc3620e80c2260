/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "audit.h"
#include "policy.h"

/* Facts -> policy -> actuator -> audit, for one block. */

typedef struct Manager Manager;

/* The audit fields every record about block 'index' carries: block, node, device once known. */
AuditFields engine_block_fields(Manager *m, uint32_t index);

/* What policy knows of block 'index' before valid_zones and the node's counts are read: range, device,
 * node, block pages (the bus's Explain and Verify use the same facts as the decision). */
BlockFacts engine_block_facts(Manager *m, uint32_t index);

/* Decide on an offline block with the loaded policies and act (or, with --dry-run, say what would be
 * done). Sets BLOCK_DECIDED, and BLOCK_REDECIDE when a reload should try again. */
void engine_decide(Manager *m, uint32_t index);

/* The facts matching needs beyond engine_block_facts(): the node's CPUs and memory tier (CpuLess=,
 * MemoryTier=), read only when a policy asks, and for a dax-kmem block its device (DaxDevice=, Size=,
 * Origin=) in 'dax', which must outlive 'facts'. Returns the device, or NULL. */
const struct DaxDevice *engine_match_facts(Manager *m, uint32_t index, BlockFacts *facts, DaxFacts *dax);

/* The policy that matches block 'index' today, with every fact matching needs (engine_block_facts()
 * and engine_match_facts()), or NULL: what a reserve step, a poisoned block and the bus ask. */
const Policy *engine_block_policy(Manager *m, uint32_t index);

/* A reserve step (pressure.c): online reserved block 'index' in the zone its When=pressure policy's
 * Zone= gives, with the usual onlined/online-failed record. Returns 0 when it is online (or would be,
 * with --dry-run), -ESTALE if it is no longer a reserved block (gone, online, someone else's, or its
 * policy changed), -EAGAIN if the policy leaves it offline (no zone offered), -EIO if it failed. */
int engine_online_reserved(Manager *m, uint32_t index);
/* rebalance.c: online block 'index', which it just took offline from ZONE_MOVABLE, in a kernel zone, with
 * the usual onlined record (its policy's FILE:LINE). If the kernel zone is refused, it goes back to
 * ZONE_MOVABLE. Returns 0 when it is online in a kernel zone, -ESTALE if it is not an offline block of
 * memhpd's any more, -EIO otherwise. */
int engine_online_rebalanced(Manager *m, uint32_t index);
