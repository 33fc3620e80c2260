/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns When=delay: the groups of deferred blocks (pure, first), then their timer, `deferred` records,
 * STATUS= text and reload (the Manager side). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "delay.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
#include "policy.h"
#include "settle.h"
#include "status.h"

void delay_groups_done(DelayGroups *g) {
        for (size_t i = 0; i < g->n; i++)
                free(g->items[i].blocks);
        free(g->items);
        *g = (DelayGroups) {};
}

/* Position of 'index' in the sorted g->blocks, or where it would go. */
static size_t group_pos(const DelayGroup *grp, uint32_t index) {
        return u32_lower_bound(grp->blocks, grp->n, index);
}

static bool group_has(const DelayGroup *grp, uint32_t index) {
        size_t i;

        if (index < grp->first || index > grp->last)
                return false;
        i = group_pos(grp, index);
        return i < grp->n && grp->blocks[i] == index;
}

static int group_insert(DelayGroup *grp, uint32_t index) {
        size_t i = group_pos(grp, index);

        if (grp->n == grp->max) {
                size_t n = grp->max ? grp->max * 2 : 8;
                uint32_t *b = realloc(grp->blocks, n * sizeof(uint32_t));
                if (!b)
                        return -ENOMEM;
                grp->blocks = b;
                grp->max = n;
        }
        memmove(grp->blocks + i + 1, grp->blocks + i, (grp->n - i) * sizeof(uint32_t));
        grp->blocks[i] = index;
        grp->n++;
        grp->first = grp->blocks[0];
        grp->last = grp->blocks[grp->n - 1];
        return 0;
}

/* Is 'index' next to (or inside the span of) the group, with the same key? */
static bool group_takes(const DelayGroup *grp, uint32_t index, uint8_t device, int node, const Policy *policy) {
        return grp->device == device && grp->node == node && grp->policy == policy &&
               (uint64_t) index + 1 >= grp->first && index <= (uint64_t) grp->last + 1;
}

static void group_delete(DelayGroups *g, size_t i) {
        memmove(g->items + i, g->items + i + 1, (g->n - i - 1) * sizeof(DelayGroup));
        g->n--;
}

int delay_groups_find(const DelayGroups *g, uint32_t index) {
        for (size_t i = 0; i < g->n; i++)
                if (group_has(&g->items[i], index))
                        return (int) i;
        return -ENOENT;
}

int delay_groups_add(DelayGroups *g, uint32_t index, uint8_t device, int node, const Policy *policy, uint64_t now,
                     uint64_t delay, bool *ret_added) {
        size_t into = SIZE_MAX;
        int r;

        r = delay_groups_find(g, index);
        if (r >= 0) {
                *ret_added = false;
                return r;
        }
        for (size_t i = 0; i < g->n; i++) {
                DelayGroup *grp = &g->items[i];

                if (!group_takes(grp, index, device, node, policy))
                        continue;
                if (into == SIZE_MAX) {
                        into = i;
                        continue;
                }
                /* The block bridges two groups: one hot-add that arrived out of order. The earlier
                 * arrival's deadline holds for all of it. */
                DelayGroup *dst = &g->items[into];
                for (size_t k = 0; k < grp->n; k++)
                        if (group_insert(dst, grp->blocks[k]) < 0)
                                return -ENOMEM;
                if (grp->since < dst->since) {
                        dst->since = grp->since;
                        dst->deadline = grp->deadline;
                }
                free(grp->blocks);
                group_delete(g, i);
                i--;
        }
        if (into == SIZE_MAX) {
                DelayGroup *items = realloc(g->items, (g->n + 1) * sizeof(DelayGroup));

                if (!items)
                        return -ENOMEM;
                g->items = items;
                into = g->n++;
                g->items[into] = (DelayGroup) {
                        .first = index,
                        .last = index,
                        .device = device,
                        .node = node,
                        .policy = policy,
                        .since = now,
                        .deadline = now + delay,
                };
        }
        if (group_insert(&g->items[into], index) < 0)
                return -ENOMEM;
        g->n_blocks++;
        *ret_added = true;
        return (int) into;
}

int delay_groups_remove(DelayGroups *g, uint32_t index) {
        int i = delay_groups_find(g, index);
        DelayGroup *grp;
        size_t k;

        if (i < 0)
                return 0;
        grp = &g->items[i];
        k = group_pos(grp, index);
        memmove(grp->blocks + k, grp->blocks + k + 1, (grp->n - k - 1) * sizeof(uint32_t));
        grp->n--;
        g->n_blocks--;
        if (grp->n == 0) {
                free(grp->blocks);
                group_delete(g, (size_t) i);
        } else {
                grp->first = grp->blocks[0];
                grp->last = grp->blocks[grp->n - 1];
        }
        return 1;
}

uint64_t delay_groups_next(const DelayGroups *g) {
        uint64_t next = UINT64_MAX;

        for (size_t i = 0; i < g->n; i++)
                if (g->items[i].deadline < next)
                        next = g->items[i].deadline;
        return next;
}

void delay_groups_take(DelayGroups *g, size_t i, DelayGroup *ret) {
        *ret = g->items[i];
        g->n_blocks -= ret->n;
        group_delete(g, i);
}

/* ------------------------------------------------------------------------------------ Manager side */

static void format_span(char *buf, size_t size, uint64_t usec) {
        if (usec % 60000000 == 0)
                snprintf(buf, size, "%" PRIu64 "min", usec / 60000000);
        else if (usec % 1000000 == 0)
                snprintf(buf, size, "%" PRIu64 "s", usec / 1000000);
        else if (usec % 1000 == 0)
                snprintf(buf, size, "%" PRIu64 "ms", usec / 1000);
        else
                snprintf(buf, size, "%" PRIu64 "us", usec);
}

/* Time left, rounded up to a tenth of a second: "29.9s", "0.1s". */
static void format_left(char *buf, size_t size, uint64_t usec) {
        uint64_t t = (usec + 99999) / 100000;

        snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "s", t / 10, t % 10);
}

static void timer_arm(Manager *m) {
        uint64_t next = delay_groups_next(&m->delay);

        if (!m->delay_timer)
                return;
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(m->delay_timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(m->delay_timer, next);
        (void) sd_event_source_set_enabled(m->delay_timer, SD_EVENT_ONESHOT);
}

/* One `deferred` record per group, after the uevents of one wake-up: by then a hot-add has arrived
 * whole. A group that grew afterwards is announced again with its new span. */
static int on_announce(sd_event_source *s _unused_, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_monotonic_usec();

        for (size_t i = 0; i < m->delay.n; i++) {
                DelayGroup *grp = &m->delay.items[i];
                AuditFields f;
                char span[32], left[32], blocks[48];

                if (grp->said_n == grp->n && grp->said_first == grp->first && grp->said_last == grp->last)
                        continue;
                f = engine_block_fields(m, grp->first);
                f.node = grp->node;
                f.device = device_kind_to_string(grp->device);
                f.policy_path = grp->policy->path;
                f.policy_line = grp->policy->line;
                f.action = "defer";
                f.result = m->opts.dry_run ? "dry-run" : "ok";
                format_span(span, sizeof(span), grp->policy->delay_usec);
                format_left(left, sizeof(left), grp->deadline > now ? grp->deadline - now : 0);
                if (grp->first == grp->last)
                        snprintf(blocks, sizeof(blocks), "memory%" PRIu32, grp->first);
                else
                        snprintf(blocks, sizeof(blocks), "memory%" PRIu32 "-%" PRIu32, grp->first, grp->last);
                audit_record(AUDIT_DEFERRED, &f,
                             "deferred %s (%zu %s of %s, node %d) for Delay=%s: When=delay, deciding %s together in %s "
                             "unless someone else claims %s first",
                             blocks, grp->n, plural(grp->n, "block", "blocks"), f.device, grp->node, span,
                             plural(grp->n, "it", "them"), left, plural(grp->n, "it", "them"));
                grp->said_n = grp->n;
                grp->said_first = grp->first;
                grp->said_last = grp->last;
        }
        return 0;
}

static int on_delay_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_monotonic_usec();

        for (size_t i = 0; i < m->delay.n;) {
                DelayGroup grp;

                if (m->delay.items[i].deadline > now) {
                        i++;
                        continue;
                }
                delay_groups_take(&m->delay, i, &grp);
                /* The records of blocks decided now say what the delay gathered. */
                if (grp.said_n != grp.n)
                        log_debug("Group memory%" PRIu32 "-%" PRIu32 " ends before it was announced", grp.first,
                                  grp.last);
                m->delay_expired = true;
                for (size_t k = 0; k < grp.n; k++) {
                        uint32_t index = grp.blocks[k];
                        Block *b = inventory_block(m->inv, index);

                        if (!b || !(b->flags & BLOCK_DEFERRED))
                                continue;
                        b->flags &= ~BLOCK_DEFERRED;
                        /* Someone else's by now (block-events.c marks it decided): theirs. */
                        if (b->state != STATE_OFFLINE || (b->flags & BLOCK_DECIDED))
                                continue;
                        engine_decide(m, index);
                }
                m->delay_expired = false;
                free(grp.blocks);
        }
        timer_arm(m);
        status_changed(m);
        return 0;
}

int delay_attach(Manager *m) {
        int r;

        r = sd_event_add_time(m->event, &m->delay_timer, CLOCK_MONOTONIC, UINT64_MAX, 10 * 1000, on_delay_timer, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->delay_timer, "delay-timer");
        (void) sd_event_source_set_enabled(m->delay_timer, SD_EVENT_OFF);
        r = sd_event_add_defer(m->event, &m->delay_announce, on_announce, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->delay_announce, "delay-announce");
        (void) sd_event_source_set_enabled(m->delay_announce, SD_EVENT_OFF);
        /* After the uevents of one wake-up, before STATUS=. */
        return sd_event_source_set_priority(m->delay_announce, SD_EVENT_PRIORITY_IDLE - 1);
}

void delay_detach(Manager *m) {
        m->delay_timer = sd_event_source_disable_unref(m->delay_timer);
        m->delay_announce = sd_event_source_disable_unref(m->delay_announce);
        delay_groups_done(&m->delay);
}

void delay_defer(Manager *m, uint32_t index, const Policy *p) {
        Block *b = &m->inv->blocks[index];
        uint64_t now = now_monotonic_usec();
        bool added;
        int r;

        r = delay_groups_add(&m->delay, index, b->device, b->node, p, m->delay_since ?: now, p->delay_usec, &added);
        if (r < 0)
                log_oom_abort();
        b->flags |= BLOCK_DEFERRED;
        b->flags &= ~(BLOCK_DECIDED | BLOCK_REDECIDE);
        if (!added)
                return;
        timer_arm(m);
        if (m->delay_announce)
                (void) sd_event_source_set_enabled(m->delay_announce, SD_EVENT_ONESHOT);
        status_changed(m);
}

void delay_drop(Manager *m, uint32_t index) {
        Block *b = inventory_block(m->inv, index);

        if (b)
                b->flags &= ~BLOCK_DEFERRED;
        if (delay_groups_remove(&m->delay, index) > 0) {
                timer_arm(m);
                status_changed(m);
        }
}

void delay_reload(Manager *m) {
        DelayGroups old = m->delay;

        /* The groups' policies are gone with the old set: dissolve them and let the new set decide
         * each block, as if it arrived when its group did. */
        m->delay = (DelayGroups) {};
        for (size_t i = 0; i < old.n; i++) {
                const DelayGroup *grp = &old.items[i];

                m->delay_since = grp->since;
                for (size_t k = 0; k < grp->n; k++) {
                        Block *b = inventory_block(m->inv, grp->blocks[k]);

                        if (!b || !(b->flags & BLOCK_DEFERRED))
                                continue;
                        b->flags &= ~(BLOCK_DEFERRED | BLOCK_DECIDED);
                        settle_consider(m, grp->blocks[k]);
                }
        }
        m->delay_since = 0;
        delay_groups_done(&old);
        timer_arm(m);
        status_changed(m);
}

void delay_status(Manager *m, char *buf, size_t size) {
        uint64_t next = delay_groups_next(&m->delay), now = now_monotonic_usec();
        char left[32];

        if (m->delay.n_blocks == 0) {
                buf[0] = '\0';
                return;
        }
        format_left(left, sizeof(left), next > now ? next - now : 0);
        snprintf(buf, size, "; %zu %s deferred, next decision in %s", m->delay.n_blocks,
                 plural(m->delay.n_blocks, "block", "blocks"), left);
}
