/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the explanation of a decision: each policy tried, matched or why not (policy-explain.h). */
#include <inttypes.h>
#include <stdio.h>

#include "policy-explain.h"

static void step_why(const Policy *p, const BlockFacts *f, MatchResult r, char *buf, size_t size) {
        switch (r) {
        case MATCH_OK:
                (void) snprintf(buf, size, "matches");
                break;
        case MATCH_FAILS_DEVICE:
                (void) snprintf(buf, size, "Device= does not list %s", device_kind_to_string(f->device));
                break;
        case MATCH_FAILS_NODE:
                if (f->node < 0)
                        (void) snprintf(buf, size, "Node= is set and the block's node is unknown");
                else
                        (void) snprintf(buf, size, "Node= does not include node %d", f->node);
                break;
        case MATCH_FAILS_BLOCK:
                (void) snprintf(buf, size, "Block= does not include memory%" PRIu32, f->index);
                break;
        case MATCH_FAILS_PHYS:
                (void) snprintf(buf, size, "PhysAddress= does not hold 0x%" PRIx64 "-0x%" PRIx64, f->start,
                                f->start + f->size - 1);
                break;
        case MATCH_FAILS_CPULESS:
                if (f->node_cpus == NODE_CPUS_UNKNOWN)
                        (void) snprintf(buf, size, "CpuLess= is set and node %d's CPUs are unknown", f->node);
                else
                        (void) snprintf(buf, size, "CpuLess=%s, but node %d has %s", p->cpuless ? "yes" : "no",
                                        f->node, f->node_cpus == NODE_CPUS_NONE ? "no CPUs" : "CPUs");
                break;
        case MATCH_FAILS_TIER:
                if (!f->node_in_tier)
                        (void) snprintf(buf, size, "MemoryTier= is set and node %d is in no memory tier", f->node);
                else
                        (void) snprintf(buf, size, "MemoryTier= does not include memory_tier%" PRIu32 " (node %d)",
                                        f->node_tier, f->node);
                break;
        case MATCH_FAILS_DAX:
                if (!f->dax)
                        (void) snprintf(buf, size, "DaxDevice=, Size= or Origin= is set and the block is not of a dax device");
                else
                        (void) snprintf(buf, size, "DaxDevice=, Size= or Origin= does not match %s", f->dax->name);
                break;
        default:
                (void) snprintf(buf, size, "does not match");
        }
}

void policy_explain(const PolicySet *set, const BlockFacts *f, ExplainStep *steps, Decision *ret_decision) {
        const Policy *first = NULL;

        for (size_t i = 0; i < set->n; i++) {
                const Policy *p = &set->items[i];
                ExplainStep *s = &steps[i];

                *s = (ExplainStep) { .policy = p, .result = policy_match_check(p, f) };
                step_why(p, f, s->result, s->why, sizeof(s->why));
                if (s->result != MATCH_OK)
                        continue;
                if (first) {
                        s->shadowed = true;
                        (void) snprintf(s->why, sizeof(s->why), "matches, but %s:%u matched first", first->path,
                                        first->line);
                } else {
                        first = p;
                        s->decides = true;
                }
        }
        policy_decide(set, f, ret_decision);
}
