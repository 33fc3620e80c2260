/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns decide-and-act for one block: gather its facts, ask policy, call the actuator, write the audit
 * record. */
#include <inttypes.h>

#include "actuator.h"
#include "audit.h"
#include "delay.h"
#include "dax.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
#include "memmap.h"
#include "origin.h"
#include "poison.h"
#include "pressure.h"
#include "report.h"
#include "status.h"

AuditFields engine_block_fields(Manager *m, uint32_t index) {
        const Block *b = &m->inv->blocks[index];
        AuditFields f = AUDIT_FIELDS_INIT;

        f.block = index;
        f.node = b->node;
        if (b->flags & BLOCK_CLASSIFIED)
                f.device = device_kind_to_string(b->device);
        if ((b->flags & BLOCK_CLASSIFIED) && b->device == DEVICE_DAX_KMEM) {
                const DaxDevice *d = dax_device_of_block(m, index); /* dax.c: the record names the device */
                f.dax = d ? d->name : NULL;
        }
        return f;
}

static void engine_refuse_quarantined(Manager *m, uint32_t index, AuditFields *f) {
        const QuarantineEntry *e = quarantine_find(m->quarantine, inventory_block_start(m->inv, index), m->inv->block_size);
        char range[48];

        m->inv->blocks[index].flags |= BLOCK_REDECIDE; /* decided again when the quarantine is cleared */
        inventory_block_set_origin(m->inv, index, ORIGIN_QUARANTINED, NULL, 0);
        if (m->opts.dry_run && m->opts.once && report_plan_set(&m->plan, m->inv->n_blocks, index, ACTION_LEAVE_OFFLINE) < 0)
                log_oom_abort();
        f->action = action_to_string(ACTION_LEAVE_OFFLINE);
        f->result = m->opts.dry_run ? "dry-run" : "ok";
        if (e) {
                snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64, e->start, e->end);
                f->range = range;
                f->reason = quarantine_reason_to_string(e->reason);
                audit_record(AUDIT_QUARANTINED, f, "left memory%" PRIu32 " offline: it is quarantined (%s, %s), "
                             "whatever the policies say; \"memhpctl quarantine clear\" ends that", index, range,
                             f->reason);
        } else {
                f->reason = "damaged";
                audit_record(AUDIT_QUARANTINED, f, "left memory%" PRIu32 " offline: the quarantine is damaged (%s), "
                             "so memhpd onlines no block until an administrator clears it", index,
                             m->quarantine->damage[0] ? m->quarantine->damage : "see the log");
        }
}
static void engine_act(Manager *m, uint32_t index, const Decision *d, AuditFields *fields, const char *note);

BlockFacts engine_block_facts(Manager *m, uint32_t index) {
        const Block *b = &m->inv->blocks[index];

        return (BlockFacts) {
                .index = index,
                .start = inventory_block_start(m->inv, index),
                .size = m->inv->block_size,
                .device = b->device,
                .node = b->node,
                .block_pages = m->inv->block_size / m->inv->page_size,
        };
}

/* The facts that need reading: valid_zones, and for Zone=auto the node's counts and kernel-zone
 * watermarks. Returns 0, or -errno after its bad-sysfs record (the block is left alone). */
static int engine_read_facts(Manager *m, uint32_t index, const Policy *p, BlockFacts *facts, AuditFields *f) {
        Block *b = &m->inv->blocks[index];
        int r;

        r = inventory_block_valid_zones(m->inv, index, &facts->zones);
        if (r < 0) {
                f->error = r;
                f->result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, f, "memory%" PRIu32 "/valid_zones cannot be read or parsed (%m); "
                             "leaving the block alone", index);
                return r;
        }
        /* Only Zone=auto weighs the node's counts; a count that cannot be read decides nothing. */
        if (p && p->zone == TARGET_AUTO && b->node >= 0) {
                r = inventory_node_counts(m->inv, b->node, &facts->node_kernel_pages, &facts->node_movable_pages);
                if (r < 0) {
                        f->error = r;
                        f->result = "skipped";
                        f->policy_path = p->path;
                        f->policy_line = p->line;
                        audit_record(AUDIT_BAD_SYSFS, f, "the page counts of node%d cannot be read from /proc/zoneinfo "
                                     "(%m); no Zone=auto decision is made, leaving memory%" PRIu32 " offline",
                                     b->node, index);
                        return r;
                }
                /* Without watermarks (a hand-made zoneinfo) the ratio alone decides, as before. */
                r = pressure_node_kernel(m, b->node, &facts->node_kernel_free, &facts->node_kernel_high);
                facts->kernel_watermarks = r >= 0;
                if (r < 0)
                        log_debug_errno(r, "No kernel-zone watermarks for node%d, the ratio alone decides: %m", b->node);
        }
        return 0;
}

const DaxDevice *engine_match_facts(Manager *m, uint32_t index, BlockFacts *facts, DaxFacts *dax_facts) {
        const Block *b = &m->inv->blocks[index];
        const DaxDevice *dax = b->device == DEVICE_DAX_KMEM ? dax_device_of_block(m, index) : NULL;

        /* CpuLess= and MemoryTier= (tier): the node's facts, read only when some policy asks. */
        if (m->policies.uses_node_topology && b->node >= 0) {
                const NodeInfo *ni = NULL;
                int r = inventory_node_topology(m->inv, b->node, &ni);

                if (r < 0)
                        log_debug_errno(r, "Topology of node%d not fully known: %m", b->node);
                if (ni) {
                        facts->node_cpus = ni->cpus;
                        facts->node_in_tier = ni->in_tier;
                        facts->node_tier = ni->tier;
                }
        }
        if (dax) {
                /* dax.c: DaxDevice=, Size= and Origin= match the blocks of the device. */
                dax_device_facts(dax, dax_facts);
                facts->dax = dax_facts;
                dax_block_facts(m, index, facts);
        }
        return dax;
}

void engine_decide(Manager *m, uint32_t index) {
        Block *b = &m->inv->blocks[index];
        AuditFields f = engine_block_fields(m, index);
        BlockFacts facts = engine_block_facts(m, index);
        DaxFacts dax_facts;
        const DaxDevice *dax;
        const Policy *p;
        Decision d;

        b->flags |= BLOCK_DECIDED;
        b->flags &= ~BLOCK_REDECIDE;
        dax = engine_match_facts(m, index, &facts, &dax_facts);
        if (!dax)
                memmap_watch(m, index); /* the memmap its add took: a risk for the next one? */

        /* Whatever the policies say: a quarantined block held poison (poison.c, quarantine.h). */
        if (quarantine_contains(m->quarantine, facts.start, facts.size)) {
                engine_refuse_quarantined(m, index, &f);
                return;
        }
        p = policy_match(&m->policies, &facts);
        if (p && p->when == WHEN_DELAY && !m->delay_expired) {
                /* delay.c decides it later, with its hot-add; --once does not wait. */
                if (!m->opts.once) {
                        delay_defer(m, index, p);
                        return;
                }
                b->flags |= BLOCK_REDECIDE;
                f.policy_path = p->path;
                f.policy_line = p->line;
                f.action = "defer";
                f.result = m->opts.dry_run ? "dry-run" : "skipped";
                audit_record(AUDIT_DEFERRED, &f, "left memory%" PRIu32 " offline: When=delay, and --once does not "
                             "wait; the daemon decides it when the delay ends", index);
                if (m->opts.dry_run && report_plan_set(&m->plan, m->inv->n_blocks, index, (Action) PLAN_DEFERRED) < 0)
                        log_oom_abort();
                return;
        }
        if (engine_read_facts(m, index, p, &facts, &f) < 0) {
                b->flags |= BLOCK_REDECIDE; /* a reload tries again */
                return;
        }

        policy_decide(&m->policies, &facts, &d);
        if (dax)
                dax_block_decided(m, index, &facts, &d); /* dax.c: one decision per device */
        if (d.policy) {
                f.policy_path = d.policy->path;
                f.policy_line = d.policy->line;
        }
        if (m->opts.dry_run && m->opts.once && report_plan_set(&m->plan, m->inv->n_blocks, index, d.action) < 0)
                log_oom_abort();

        if (d.reserve)
                pressure_reserve_add(m, index);
        else
                pressure_reserve_remove(m, index);
        if (d.action == ACTION_LEAVE_OFFLINE) {
                b->flags |= BLOCK_REDECIDE;
                inventory_block_set_origin(m->inv, index, d.policy ? ORIGIN_POLICY : ORIGIN_NO_POLICY, f.policy_path,
                                           f.policy_line);
                f.action = action_to_string(d.action);
                f.result = m->opts.dry_run ? "dry-run" : "ok";
                audit_record(d.reserve ? AUDIT_RESERVED : AUDIT_LEFT_OFFLINE, &f, "%s memory%" PRIu32 " offline: %s",
                             d.reserve ? "kept" : "left", index, d.why);
                return;
        }
        engine_act(m, index, &d, &f, "");
}

/* Online per 'd' (or say what would be done) and record it; 'note' prefixes the reason. */
static void engine_act(Manager *m, uint32_t index, const Decision *d, AuditFields *fields, const char *note) {
        Block *b = &m->inv->blocks[index];
        AuditFields f = *fields;
        OnlineResult res;
        Zone zone;
        int err;

        f.action = action_to_string(d->action);
        f.zone = d->action == ACTION_ONLINE_MOVABLE ? "movable" : "kernel";
        if (m->opts.dry_run) {
                f.result = "dry-run";
                audit_record(AUDIT_WOULD_ONLINE, &f, "would online memory%" PRIu32 " as %s (dry run): %s%s", index,
                             f.zone, note, d->why);
                return;
        }

        res = block_online(m->inv, index, d->action, &err, &zone);
        if (b->node < 0 && b->state == STATE_ONLINE)
                /* Its pages went to a node we do not know: every node's counts need a re-read. */
                inventory_nodes_stale(m->inv);
        switch (res) {
        case ONLINE_ALREADY:
                /* Under KernelAutoOnline=delegate the kernel onlines inside the add: a uevent read between
                 * the block's creation and its online has memhpd write too, and find it done. The kernel
                 * did it, for memhpd (seen once in the VM delegate scenario on 6.12). */
                f.zone = zone_to_string(zone);
                if (err != 0 && ownership_kernel_onlined(m->ownership, &m->policies, m->inv, index, &f)) {
                        inventory_block_set_origin(m->inv, index, ORIGIN_KERNEL, f.policy_path, f.policy_line);
                        break;
                }
                f.zone = d->action == ACTION_ONLINE_MOVABLE ? "movable" : "kernel";
                /* fall through */
        case ONLINE_DONE:
                m->n_onlined++;
                inventory_block_set_origin(m->inv, index, ORIGIN_POLICY, f.policy_path, f.policy_line);
                f.result = res == ONLINE_DONE ? "ok" : "already";
                audit_record(AUDIT_ONLINED, &f, "onlined memory%" PRIu32 " as %s%s: %s%s", index, f.zone,
                             res == ONLINE_ALREADY ? " (it already was)" : "", note, d->why);
                break;
        case ONLINE_BY_OTHER:
                b->flags |= BLOCK_BY_OTHER;
                f.zone = zone_to_string(zone);
                f.result = "skipped";
                f.error = err;
                /* Under KernelAutoOnline=delegate the kernel was faster, acting for memhpd. */
                if (ownership_kernel_onlined(m->ownership, &m->policies, m->inv, index, &f))
                        inventory_block_set_origin(m->inv, index, ORIGIN_KERNEL, f.policy_path, f.policy_line);
                else {
                        inventory_block_set_origin(m->inv, index, ORIGIN_OTHER, NULL, 0);
                        audit_record(AUDIT_ONLINE_BY_OTHER, &f,
                                     "memory%" PRIu32 " was onlined by someone else, in zone %s; leaving it there",
                                     index, zone_to_string(zone));
                }
                break;
        case ONLINE_POISONED:
                /* 6.2+: the block holds a hard-poisoned or soft-offlined page. Quarantined for good: the
                 * kernel forgets once the block is removed. */
                m->n_failed++;
                f.result = "failed";
                f.error = err;
                audit_record(AUDIT_ONLINE_FAILED, &f, "failed to online memory%" PRIu32 " as %s: %m; it holds "
                             "poisoned pages", index, f.zone);
                (void) poison_block(m, index, QUARANTINE_REASON_EHWPOISON, UINT64_MAX, NULL);
                b->flags |= BLOCK_REDECIDE;
                break;
        default:
                m->n_failed++;
                b->flags |= BLOCK_REDECIDE;
                f.result = "failed";
                f.error = err;
                audit_record(AUDIT_ONLINE_FAILED, &f, "failed to online memory%" PRIu32 " as %s: %m", index, f.zone);
        }
        status_changed(m);
}

const Policy *engine_block_policy(Manager *m, uint32_t index) {
        BlockFacts facts = engine_block_facts(m, index);
        DaxFacts dax;

        (void) engine_match_facts(m, index, &facts, &dax);
        return policy_match(&m->policies, &facts);
}

int engine_online_reserved(Manager *m, uint32_t index) {
        Block *b = inventory_block(m->inv, index);
        AuditFields f;
        BlockFacts facts;
        DaxFacts dax;
        const Policy *p;
        Decision d;

        if (!b || b->state != STATE_OFFLINE || (b->flags & BLOCK_BY_OTHER))
                return -ESTALE;
        f = engine_block_fields(m, index);
        facts = engine_block_facts(m, index);
        (void) engine_match_facts(m, index, &facts, &dax);
        p = policy_match(&m->policies, &facts);
        if (!p || p->when != WHEN_PRESSURE)
                return -ESTALE; /* a reload changed its policy; engine_decide() had its say */
        if (engine_read_facts(m, index, p, &facts, &f) < 0)
                return -EIO;
        policy_decide_zone(p, &facts, &d);
        f.policy_path = p->path;
        f.policy_line = p->line;
        if (d.action == ACTION_LEAVE_OFFLINE) {
                f.action = action_to_string(d.action);
                f.result = "skipped";
                audit_record(AUDIT_LEFT_OFFLINE, &f, "left reserved memory%" PRIu32 " offline: %s", index, d.why);
                return -EAGAIN;
        }
        engine_act(m, index, &d, &f, "reserve step under memory pressure; ");
        return b->state == STATE_ONLINE || m->opts.dry_run ? 0 : -EIO;
}

int engine_online_rebalanced(Manager *m, uint32_t index) {
        Block *b = inventory_block(m->inv, index);
        AuditFields f;
        const Policy *p;
        Decision d = { .action = ACTION_ONLINE_KERNEL };

        if (!b || b->state != STATE_OFFLINE || (b->flags & BLOCK_BY_OTHER))
                return -ESTALE;
        f = engine_block_fields(m, index);
        p = engine_block_policy(m, index);
        if (p) {
                f.policy_path = p->path;
                f.policy_line = p->line;
        }
        d.policy = p;
        snprintf(d.why, sizeof(d.why), "Zone=auto, moved from ZONE_MOVABLE because the node's kernel zones ran out");
        engine_act(m, index, &d, &f, "");
        if (b->state == STATE_ONLINE)
                return 0;
        /* A kernel zone refused it: back where it was rather than lost offline. */
        d.action = ACTION_ONLINE_MOVABLE;
        snprintf(d.why, sizeof(d.why), "Zone=auto; back in ZONE_MOVABLE after the kernel zone refused it");
        engine_act(m, index, &d, &f, "");
        return -EIO;
}
