/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "inventory.h"
#include "policy.h"

/* Bringing a block online: one explicit write to memoryN/state, and what the kernel's answer means. */

typedef enum OnlineResult {
        ONLINE_DONE,     /* we onlined it */
        ONLINE_ALREADY,  /* it was already online in the zone we wanted: success */
        ONLINE_BY_OTHER, /* someone else onlined it, in another zone: left alone */
        ONLINE_FAILED,   /* still offline */
        ONLINE_POISONED, /* still offline: the kernel (6.2+) refused with EHWPOISON, the block holds poison */
        _ONLINE_RESULT_MAX,
} OnlineResult;

/*
 * Pure: the outcome of a write that failed with 'write_error' (-errno; 0 = succeeded), given the state
 * and zone read back afterwards.
 */
OnlineResult online_outcome(Action want, int write_error, BlockState state_after, Zone zone_after);

/*
 * Online block 'index' as 'action' (ACTION_ONLINE_MOVABLE or ACTION_ONLINE_KERNEL). Returns the
 * OnlineResult; *ret_error gets the write's -errno (0 on success) and *ret_zone the zone it is in now.
 * Records the new state in the inventory.
 */
OnlineResult block_online(Inventory *inv, uint32_t index, Action action, int *ret_error, Zone *ret_zone);

const char *online_result_to_string(OnlineResult r);
