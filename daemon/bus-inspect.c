/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what the control channel computes from the Manager: runs, explanations, drifts (bus-inspect.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-inspect.h"
#include "dax.h"
#include "engine.h"
#include "manager.h"
#include "memmap.h"
#include "ownership.h"
#include "pressure.h"

/* The zone as far as it is known: never read here, so that a status of 131072 blocks costs no file read
 * (bus.c's idle source learns every online block's zone after start; until then it shows as unknown). */
static Zone known_zone(const Block *b) {
        return b->state == STATE_ONLINE ? (Zone) b->zone : ZONE_UNKNOWN;
}

static bool run_continues(Manager *m, const BlockRun *run, uint32_t index) {
        const Block *b = inventory_block(m->inv, index);

        if (!b || b->state != run->state || b->node != run->node ||
            (b->flags & BLOCK_CLASSIFIED) != (run->flags & BLOCK_CLASSIFIED) ||
            ((b->flags & BLOCK_CLASSIFIED) && b->device != run->device) ||
            inventory_block_origin(m->inv, index) != run->origin)
                return false;
        return known_zone(b) == run->zone;
}

uint32_t bus_inspect_next_run(Manager *m, uint32_t from, BlockRun *ret) {
        Inventory *inv = m->inv;
        uint32_t i = from, last;
        const Block *b;

        while (i < inv->n_blocks && !(inv->blocks[i].flags & BLOCK_PRESENT))
                i++;
        if (i >= inv->n_blocks)
                return UINT32_MAX;
        b = &inv->blocks[i];
        *ret = (BlockRun) {
                .first = i,
                .state = b->state,
                .zone = known_zone(b),
                .node = b->node,
                .device = b->device,
                .flags = b->flags & BLOCK_CLASSIFIED,
                .origin = inventory_block_origin(inv, i),
        };
        for (last = i; last + 1 < inv->n_blocks && run_continues(m, ret, last + 1); last++)
                ;
        ret->last = last;
        return i;
}

void bus_inspect_conflicts(Manager *m, Conflicts *ret) {
        ownership_detect(m->root->fd, NULL, m->settings.kernel_auto_online, ret);
}

static void fact(BlockExplanation *e, const char *name, const char *fmt, ...) _printf_(3, 4);
static void fact(BlockExplanation *e, const char *name, const char *fmt, ...) {
        va_list ap;

        if (e->n_facts >= EXPLAIN_FACTS_MAX)
                return;
        e->facts[e->n_facts].name = name;
        va_start(ap, fmt);
        (void) vsnprintf(e->facts[e->n_facts].value, sizeof(e->facts[e->n_facts].value), fmt, ap);
        va_end(ap);
        e->n_facts++;
}

static const char *zones_text(const ZoneSet *z) {
        return z->kernel && z->movable ? "kernel movable" : z->kernel ? "kernel" : z->movable ? "movable" : "none";
}

/* The facts policy decides on, for an offline block as engine_decide() gathers them; an online block as if
 * it were offline with both zones offered and its own pages not yet counted. Returns false if valid_zones
 * of an offline block cannot be read (*ret_error says why). */
static bool gather_facts(Manager *m, uint32_t index, BlockFacts *facts, DaxFacts *dax, int *ret_error) {
        const Block *b = &m->inv->blocks[index];
        const Policy *p;
        int r;

        *facts = engine_block_facts(m, index);
        *ret_error = 0;
        if (!(b->flags & BLOCK_CLASSIFIED)) {
                /* Boot memory is never classified (nothing decides on it), a settling block not yet:
                 * classify for this answer only, leaving the block's flags to the settle queue. */
                int d = inventory_block_classify(m->inv, index, true);
                facts->device = d < 0 ? DEVICE_UNKNOWN : (DeviceKind) d;
        }
        (void) engine_match_facts(m, index, facts, dax);
        if (b->state == STATE_ONLINE)
                facts->zones = (ZoneSet) { .kernel = true, .movable = true, .first = ZONE_NORMAL };
        else {
                r = inventory_block_valid_zones(m->inv, index, &facts->zones);
                if (r < 0) {
                        *ret_error = r;
                        return false;
                }
        }
        p = policy_match(&m->policies, facts);
        if (p && p->zone == TARGET_AUTO && b->node >= 0 &&
            inventory_node_counts(m->inv, b->node, &facts->node_kernel_pages, &facts->node_movable_pages) >= 0 &&
            b->state == STATE_ONLINE) {
                Zone z = inventory_block_zone(m->inv, index);
                uint64_t *own = z == ZONE_MOVABLE ? &facts->node_movable_pages : zone_is_kernel(z) ? &facts->node_kernel_pages : NULL;
                if (own && *own >= facts->block_pages)
                        *own -= facts->block_pages;
        }
        /* Pressure-aware Zone=auto: the same kernel-zone figures engine_decide() weighs. */
        if (p && p->zone == TARGET_AUTO && b->node >= 0)
                facts->kernel_watermarks =
                        pressure_node_kernel(m, b->node, &facts->node_kernel_free, &facts->node_kernel_high) >= 0;
        return true;
}

void bus_inspect_explain(Manager *m, uint32_t index, ExplainStep *steps, BlockExplanation *ret) {
        const Block *b = &m->inv->blocks[index];
        uint32_t origin = inventory_block_origin(m->inv, index);
        const char *source = inventory_origin_source(m->inv, origin);
        BlockFacts facts;
        DaxFacts dax;
        int error;
        bool ok;

        *ret = (BlockExplanation) {};
        ok = gather_facts(m, index, &facts, &dax, &error);
        policy_explain(&m->policies, &facts, steps, &ret->decision);
        if (!ok) {
                /* engine_decide() leaves such a block alone: say so instead of a decision. */
                ret->decision.action = ACTION_LEAVE_OFFLINE;
                errno = -error;
                (void) snprintf(ret->decision.why, sizeof(ret->decision.why),
                                "valid_zones cannot be read (%m): memhpd leaves the block alone");
        }

        fact(ret, "block", "memory%" PRIu32, index);
        fact(ret, "range", "0x%016" PRIx64 "-0x%016" PRIx64, facts.start, facts.start + facts.size - 1);
        fact(ret, "state", "%s", block_state_to_string(b->state));
        if (b->state == STATE_ONLINE)
                fact(ret, "zone", "%s", zone_to_string(inventory_block_zone(m->inv, index)));
        fact(ret, "node", "%d", b->node);
        fact(ret, "device", "%s%s", device_kind_to_string(facts.device),
             (b->flags & BLOCK_CLASSIFIED) ? "" : " (classified for this answer)");
        fact(ret, "decided by", "%s%s%s", origin_kind(origin) ? origin_to_string(origin_kind(origin)) : "nobody yet",
             source ? " " : "", source ?: "");
        if (b->state == STATE_ONLINE)
                fact(ret, "valid zones", "(online: explained as if offline with both zones offered)");
        else if (ok)
                fact(ret, "valid zones", "%s", zones_text(&facts.zones));
        if (facts.dax)
                fact(ret, "dax device", "%s (%" PRIu64 " MiB, %s, target node %d)", facts.dax->name,
                     facts.dax->size >> 20, dax_origin_to_string(facts.dax->origin), facts.dax->target_node);
        {
                MemmapVerdict mv;

                memmap_of_block(m, index, &mv);
                fact(ret, "memmap", "%s: %s", mv.on_memory ? "on the added memory" : "in existing memory", mv.why);
        }
        if (ret->decision.policy && ret->decision.policy->zone == TARGET_AUTO) {
                uint64_t page = m->inv->page_size;
                unsigned __int128 movable = (unsigned __int128) facts.node_movable_pages + facts.block_pages;

                fact(ret, "node kernel", "%" PRIu64 " MiB", (facts.node_kernel_pages * page) >> 20);
                fact(ret, "node movable", "%" PRIu64 " MiB", (facts.node_movable_pages * page) >> 20);
                fact(ret, "block size", "%" PRIu64 " MiB", m->inv->block_size >> 20);
                if (facts.node_kernel_pages)
                        fact(ret, "movable:kernel if movable", "%" PRIu64 "%%",
                             (uint64_t) (movable * 100 / facts.node_kernel_pages));
                else
                        fact(ret, "movable:kernel if movable", "unbounded (no kernel memory on the node)");
                fact(ret, "MaxMovableRatio", "%u%%", ret->decision.policy->max_movable_ratio);
        }
}

static int drift_add(Drifts *d, const char *subject, const char *kind, const char *fmt, ...) _printf_(4, 5);
static int drift_add(Drifts *d, const char *subject, const char *kind, const char *fmt, ...) {
        Drift *n;
        va_list ap;

        n = realloc(d->items, (d->n + 1) * sizeof(Drift));
        if (!n)
                return -ENOMEM;
        d->items = n;
        n = &d->items[d->n++];
        (void) snprintf(n->subject, sizeof(n->subject), "%s", subject);
        n->kind = kind;
        va_start(ap, fmt);
        (void) vsnprintf(n->text, sizeof(n->text), fmt, ap);
        va_end(ap);
        return 0;
}

/* A block drifts when it is not where the policy that matches it today would put it: online in the other
 * zone (Zone=movable|kernel without a ZoneFallback= that allows it), online under Zone=offline, or offline
 * while the policy would online it now. Not drift: boot memory memhpd never touched, blocks waiting for
 * their links, When=manual, and blocks someone took offline on purpose (administrator, quarantine).
 * A block online since before memhpd started ("boot") is checked when it is not boot memory: hot-plugged
 * memory a previous instance (or someone) onlined before this one started. */
static int verify_block(Manager *m, uint32_t index, Drifts *d) {
        const Block *b = &m->inv->blocks[index];
        Origin origin = origin_kind(inventory_block_origin(m->inv, index));
        char subject[32], where[4200];
        BlockFacts facts;
        DaxFacts dax;
        Decision dec;
        const Policy *p;
        int error;

        if ((b->flags & BLOCK_SETTLING) || origin == ORIGIN_ADMINISTRATOR || origin == ORIGIN_QUARANTINED)
                return 0;
        if (origin == ORIGIN_BOOT && b->state == STATE_ONLINE) {
                int device = (b->flags & BLOCK_CLASSIFIED) ? b->device : inventory_block_classify(m->inv, index, true);
                if (device < 0 || device == DEVICE_BOOT || device == DEVICE_UNKNOWN)
                        return 0;
        }
        if (!gather_facts(m, index, &facts, &dax, &error))
                return 0;
        p = policy_match(&m->policies, &facts);
        if (!p || p->when == WHEN_MANUAL)
                return 0;
        (void) snprintf(subject, sizeof(subject), "memory%" PRIu32, index);
        (void) snprintf(where, sizeof(where), "%s:%u", p->path, p->line);

        if (b->state == STATE_ONLINE) {
                Zone z = inventory_block_zone(m->inv, index);
                bool movable = z == ZONE_MOVABLE, kernel = zone_is_kernel(z);
                char by[64];

                if (origin == ORIGIN_BOOT)
                        (void) snprintf(by, sizeof(by), "online since before memhpd started");
                else
                        (void) snprintf(by, sizeof(by), "decided by %s", origin ? origin_to_string(origin) : "nobody known");
                if (p->zone == TARGET_OFFLINE)
                        return drift_add(d, subject, "state", "online in zone %s (%s), but %s says Zone=offline",
                                         zone_to_string(z), by, where);
                if ((p->zone == TARGET_MOVABLE && kernel && p->fallback != FALLBACK_KERNEL) ||
                    (p->zone == TARGET_KERNEL && movable && p->fallback != FALLBACK_MOVABLE))
                        return drift_add(d, subject, "zone", "online in zone %s (%s), but %s says Zone=%s",
                                         zone_to_string(z), by, where, zone_target_to_string(p->zone));
                return 0;
        }
        if (b->state != STATE_OFFLINE || origin == ORIGIN_OTHER)
                return 0; /* going offline; or someone else's choice, which memhpd respects (and says so) */
        policy_decide(&m->policies, &facts, &dec);
        if (dec.action != ACTION_LEAVE_OFFLINE)
                return drift_add(d, subject, "state", "offline, but %s would online it as %s now: %s", where,
                                 dec.action == ACTION_ONLINE_MOVABLE ? "movable" : "kernel", dec.why);
        return 0;
}

int bus_inspect_verify(Manager *m, Drifts **ret) {
        _cleanup_(drifts_freep) Drifts *d = calloc(1, sizeof(Drifts));
        _cleanup_free_ Conflicts *c = calloc(1, sizeof(Conflicts));
        int r;

        if (!d || !c)
                return -ENOMEM;
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                if (!(m->inv->blocks[i].flags & BLOCK_PRESENT))
                        continue;
                r = verify_block(m, i, d);
                if (r < 0)
                        return r;
        }
        bus_inspect_conflicts(m, c);
        for (size_t i = 0; i < c->n; i++) {
                r = drift_add(d, c->items[i].agent, "agent", "%s%s%s", c->items[i].file,
                              c->items[i].file[0] ? ": " : "", c->items[i].text);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

Drifts *drifts_free(Drifts *d) {
        if (!d)
                return NULL;
        free(d->items);
        free(d);
        return NULL;
}
