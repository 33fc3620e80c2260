/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the --dry-run --once report: the per-block plan and the table printed on standard output. */
#include <inttypes.h>
#include <string.h>

#include "dax.h"
#include "manager.h"
#include "report.h"

int report_plan_set(Plan *p, uint32_t n_blocks, uint32_t index, Action a) {
        if (p->n < n_blocks) {
                uint8_t *q = realloc(p->actions, n_blocks);
                if (!q)
                        return -ENOMEM;
                memset(q + p->n, PLAN_NONE, n_blocks - p->n);
                p->actions = q;
                p->n = n_blocks;
        }
        p->actions[index] = (uint8_t) a;
        return 0;
}

void report_plan_done(Plan *p) {
        p->actions = mfree(p->actions);
        p->n = 0;
}

static uint8_t plan_get(const Plan *p, uint32_t index) {
        return index < p->n ? p->actions[index] : PLAN_NONE;
}

static void print_range(FILE *out, Manager *m, uint32_t first, uint32_t last) {
        const Block *b = &m->inv->blocks[first];
        uint64_t start = inventory_block_start(m->inv, first), end = inventory_block_start(m->inv, last + 1) - 1;
        char name[48], node[16];
        const char *plan;

        if (first == last)
                snprintf(name, sizeof(name), "memory%" PRIu32, first);
        else
                snprintf(name, sizeof(name), "memory%" PRIu32 "-%" PRIu32, first, last);
        snprintf(node, sizeof(node), b->node >= 0 ? "%d" : "?", b->node);
        if (b->state == STATE_ONLINE)
                plan = "leave: already online";
        else if (plan_get(&m->plan, first) == PLAN_NONE)
                plan = "leave: state unknown";
        else if (plan_get(&m->plan, first) == ACTION_LEAVE_OFFLINE)
                plan = "leave offline";
        else if (plan_get(&m->plan, first) == PLAN_DEFERRED)
                plan = "defer (When=delay)";
        else
                plan = plan_get(&m->plan, first) == ACTION_ONLINE_MOVABLE ? "online_movable" : "online_kernel";
        fprintf(out, "%-22s 0x%010" PRIx64 "-0x%010" PRIx64 " %6" PRIu64 " MiB  %-8s %-8s %4s  %-10s %s\n", name,
                start, end, (end - start + 1) >> 20, block_state_to_string(b->state),
                b->state == STATE_ONLINE ? zone_to_string(b->zone) : "-", node,
                (b->flags & BLOCK_CLASSIFIED) ? device_kind_to_string(b->device) : "boot", plan);
}

void report_print(Manager *m, FILE *out) {
        Inventory *inv = m->inv;
        uint32_t first = UINT32_MAX;

        fprintf(out, "memhpd %s: %" PRIu32 " memory blocks of %" PRIu64 " MiB under %s, %" PRIu32 " offline, %zu %s\n\n",
                m->opts.dry_run ? "dry run" : "report", inv->n_present, inv->block_size >> 20, m->root->path,
                inv->n_offline, m->policies.n, plural(m->policies.n, "policy", "policies"));
        fprintf(out, "%-22s %-25s %10s  %-8s %-8s %4s  %-10s %s\n", "BLOCKS", "PHYSICAL RANGE", "SIZE", "STATE",
                "ZONE", "NODE", "DEVICE", "POLICY DECISION");

        for (uint32_t i = 0; i < inv->n_blocks; i++) {
                Block *b = &inv->blocks[i];
                if (!(b->flags & BLOCK_PRESENT))
                        continue;
                if (b->state == STATE_ONLINE)
                        (void) inventory_block_zone(inv, i);
                if (!(b->flags & BLOCK_CLASSIFIED))
                        (void) inventory_block_device(inv, i);
        }
        /* Runs of adjacent blocks that look alike print as one line. */
        for (uint32_t i = 0; i <= inv->n_blocks; i++) {
                Block *b = i < inv->n_blocks ? &inv->blocks[i] : NULL;
                if (first != UINT32_MAX) {
                        Block *f = &inv->blocks[first];
                        if (!b || !(b->flags & BLOCK_PRESENT) || b->state != f->state || b->zone != f->zone ||
                            b->node != f->node || b->device != f->device ||
                            plan_get(&m->plan, i) != plan_get(&m->plan, first)) {
                                print_range(out, m, first, i - 1);
                                first = UINT32_MAX;
                        }
                }
                if (b && (b->flags & BLOCK_PRESENT) && first == UINT32_MAX)
                        first = i;
        }

        fprintf(out, "\n%-6s %14s %14s %8s %8s\n", "NODE", "KERNEL MiB", "MOVABLE MiB", "BLOCKS", "OFFLINE");
        for (int n = 0; n < NODES_MAX; n++) {
                const NodeInfo *ni = &inv->nodes[n];
                if (!ni->present && ni->n_blocks == 0)
                        continue;
                ni = inventory_node_stats(inv, n);
                fprintf(out, "node%-2d %14" PRIu64 " %14" PRIu64 " %8" PRIu32 " %8" PRIu32 "\n", n,
                        (ni->kernel_pages * inv->page_size) >> 20, (ni->movable_pages * inv->page_size) >> 20,
                        ni->n_blocks, ni->n_offline);
        }
        dax_report_print(m, out); /* dax.c: dax devices, the memmap of hot-added blocks */
        fprintf(out, "\nPolicies, first match wins:\n");
        if (m->policies.n == 0)
                fprintf(out, "  (none: every new block stays offline)\n");
        for (size_t i = 0; i < m->policies.n; i++) {
                const Policy *p = &m->policies.items[i];
                fprintf(out, "  %s:%u  Zone=%s When=%s", p->path, p->line, zone_target_to_string(p->zone),
                        when_to_string(p->when));
                if (p->when == WHEN_DELAY)
                        fprintf(out, " Delay=%" PRIu64 "ms", p->delay_usec / 1000);
                fprintf(out, "\n");
        }
}
