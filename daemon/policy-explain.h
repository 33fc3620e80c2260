/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "policy.h"

/*
 * memhpctl explain: every policy of the set, in the order memhpd tries them, with whether it matches a
 * block and why not. Pure, like policy_decide(), and built on the same policy_match_check(): the
 * explanation cannot disagree with the decision.
 */

typedef struct ExplainStep {
        const Policy *policy;
        MatchResult result;
        bool decides;         /* the first policy that matches: the one that decides */
        bool shadowed;        /* matches, but an earlier policy matched first */
        char why[160];        /* one sentence: "matches", "Device= does not list virtio-mem", ... */
} ExplainStep;

/* Fill steps[0..set->n) and the decision policy_decide() makes for 'f'. */
void policy_explain(const PolicySet *set, const BlockFacts *f, ExplainStep *steps, Decision *ret_decision);
