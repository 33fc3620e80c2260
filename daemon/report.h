/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "policy.h"

/* The --dry-run --once report: what policy would do with each block, and the table printed at the end. */

typedef struct Manager Manager;

typedef struct Plan {
        uint8_t *actions; /* Action per block index, or PLAN_NONE */
        uint32_t n;
} Plan;

#define PLAN_NONE 0xff
#define PLAN_DEFERRED 0xfe /* When=delay: the daemon decides it when the delay ends (--once does not wait) */

/* Remember that block 'index' (of 'n_blocks') would get 'a'. Returns 0 or -ENOMEM. */
int report_plan_set(Plan *p, uint32_t n_blocks, uint32_t index, Action a);
void report_plan_done(Plan *p);

/* Print every block range and node, and what policy does with each. */
void report_print(Manager *m, FILE *out);
