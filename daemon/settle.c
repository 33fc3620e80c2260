/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the settle queue: blocks waiting for their node/firmware_node links, the probe that tells when a
 * block is ready, and the timer that decides on ready (or timed-out) blocks. */
#include <inttypes.h>
#include <string.h>

#include "audit.h"
#include "engine.h"
#include "inventory.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "settle.h"

#define SETTLE_POLL_USEC 1000 /* how often the newest settling block looks for its links */

void settle_queue_done(SettleQueue *q) {
        q->index = mfree(q->index);
        q->since = mfree(q->since);
        q->n = q->max = 0;
}

int settle_queue_add(SettleQueue *q, Inventory *inv, uint32_t index, uint64_t now) {
        Block *b = &inv->blocks[index];

        if (b->flags & BLOCK_SETTLING)
                return 0;
        if (q->n == q->max) {
                size_t n = q->max ? q->max * 2 : 256;
                uint32_t *p = realloc(q->index, n * sizeof(uint32_t));
                uint64_t *t;

                if (!p)
                        return -ENOMEM;
                q->index = p;
                t = realloc(q->since, n * sizeof(uint64_t));
                if (!t)
                        return -ENOMEM;
                q->since = t;
                q->max = n;
        }
        b->flags |= BLOCK_SETTLING;
        q->since[q->n] = now;
        q->index[q->n++] = index;
        return 0;
}

void settle_queue_drop(SettleQueue *q, Inventory *inv, uint32_t index) {
        Block *b = inventory_block(inv, index);

        if (b) {
                if (!(b->flags & BLOCK_SETTLING))
                        return;
                b->flags &= ~BLOCK_SETTLING;
        }
        for (size_t i = 0; i < q->n; i++)
                if (q->index[i] == index) {
                        /* Keep arrival order: the oldest entry times out first. */
                        memmove(q->index + i, q->index + i + 1, (q->n - i - 1) * sizeof(uint32_t));
                        memmove(q->since + i, q->since + i + 1, (q->n - i - 1) * sizeof(uint64_t));
                        q->n--;
                        break;
                }
}

int settle_block(SettleQueue *q, Inventory *inv, uint32_t index, bool force, uint64_t now) {
        Block *b = &inv->blocks[index];
        bool settled = true;

        /* In a hot-add the block below is still waiting for its links: so is this one (the kernel links
         * them in ascending order). Join the queue without probing; once queued, the newest is probed
         * for all. */
        if (!force && !(b->flags & BLOCK_SETTLING) && index > 0 && index - 1 < inv->n_blocks &&
            (inv->blocks[index - 1].flags & BLOCK_SETTLING)) {
                if (settle_queue_add(q, inv, index, now) < 0)
                        log_oom_abort();
                return 0;
        }

        if (b->node < 0) {
                int node = inventory_block_read_node(inv, index);
                if (node >= 0)
                        inventory_block_set_node(inv, index, node);
                else
                        settled = false;
        }
        if (!(b->flags & BLOCK_CLASSIFIED)) {
                int d = inventory_block_classify(inv, index, force);
                if (d >= 0) {
                        b->device = (uint8_t) d;
                        b->flags |= BLOCK_CLASSIFIED;
                } else
                        settled = false;
        }
        if (settled || force) {
                settle_queue_drop(q, inv, index);
                if (!(b->flags & BLOCK_CLASSIFIED))
                        (void) inventory_block_device(inv, index);
                return 1;
        }
        if (settle_queue_add(q, inv, index, now) < 0)
                log_oom_abort();
        return 0;
}

void settle_timer_arm(Manager *m) {
        const SettleQueue *q = &m->settle;

        if (!m->settle_timer)
                return;
        if (q->n == 0) {
                (void) sd_event_source_set_enabled(m->settle_timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_get_enabled(m->settle_timer, NULL) > 0)
                return;
        /* Links normally follow within milliseconds; a block still waiting after 100 ms (a
         * firmware_node that never comes) is looked at ten times less often. */
        (void) sd_event_source_set_time_relative(m->settle_timer,
                                                 now_monotonic_usec() - q->since[0] < 100 * 1000 ?
                                                 SETTLE_POLL_USEC : 10 * SETTLE_POLL_USEC);
        (void) sd_event_source_set_enabled(m->settle_timer, SD_EVENT_ONESHOT);
}

void settle_consider(Manager *m, uint32_t index) {
        Block *b = &m->inv->blocks[index];

        if (b->state != STATE_OFFLINE || (b->flags & BLOCK_DECIDED))
                return;
        metrics_block_seen(m, index); /* the start of its hot-add-to-online latency */
        if (settle_block(&m->settle, m->inv, index, m->opts.once, now_monotonic_usec()) == 0) {
                settle_timer_arm(m);
                return;
        }
        engine_decide(m, index);
}

/* A block left the queue: decide on it unless someone else already did. */
static void settled(Manager *m, uint32_t index, bool forced) {
        Block *b = &m->inv->blocks[index];

        if (forced && b->node < 0) {
                AuditFields f = engine_block_fields(m, index);
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "memory%" PRIu32 " has no node link after %llu ms; deciding without its node",
                             index, m->settings.settle_usec / 1000);
        }
        if (b->state == STATE_OFFLINE && !(b->flags & BLOCK_DECIDED))
                engine_decide(m, index);
}

void settle_pending(Manager *m, bool force_all) {
        SettleQueue *q = &m->settle;
        uint64_t now = now_monotonic_usec();

        if (q->n == 0)
                return;
        if (!force_all && now - q->since[0] < m->settings.settle_usec) {
                /* The kernel links a range's blocks to their node and firmware_node in ascending order,
                 * after it created them all: until the newest waiting block is ready none is, so one
                 * probe per tick does, however large the hot-add. */
                uint32_t newest = q->index[q->n - 1];

                if (settle_block(&m->settle, m->inv, newest, false, now) == 0)
                        return;
                settled(m, newest, false);
        }

        /* Oldest first; settle_block() removes entries, so walk from the front. */
        for (size_t i = 0; i < q->n;) {
                uint32_t index = q->index[i];
                bool force = force_all || now - q->since[i] >= m->settings.settle_usec;

                if (settle_block(&m->settle, m->inv, index, force, now) == 0) {
                        i++;
                        continue;
                }
                settled(m, index, force);
        }
}

static int on_settle_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;

        settle_pending(m, false);
        settle_timer_arm(m);
        return 0;
}

int settle_timer_attach(Manager *m) {
        int r;

        r = sd_event_add_time_relative(m->event, &m->settle_timer, CLOCK_MONOTONIC, SETTLE_POLL_USEC, 1000,
                                       on_settle_timer, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->settle_timer, "settle-timer");
        return sd_event_source_set_enabled(m->settle_timer, SD_EVENT_OFF);
}
