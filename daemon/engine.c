/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns decide-and-act for one block: gather its facts, ask policy, call the actuator, write the audit
 * record. */
#include <inttypes.h>

#include "actuator.h"
#include "audit.h"
#include "dax.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
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

void engine_decide(Manager *m, uint32_t index) {
        Block *b = &m->inv->blocks[index];
        AuditFields f = engine_block_fields(m, index);
        BlockFacts facts = {
                .index = index,
                .start = inventory_block_start(m->inv, index),
                .size = m->inv->block_size,
                .device = b->device,
                .node = b->node,
                .block_pages = m->inv->block_size / m->inv->page_size,
        };
        const DaxDevice *dax = b->device == DEVICE_DAX_KMEM ? dax_device_of_block(m, index) : NULL;
        DaxFacts dax_facts;
        const Policy *p;
        Decision d;
        OnlineResult res;
        Zone zone;
        int r, err;

        b->flags |= BLOCK_DECIDED;
        b->flags &= ~BLOCK_REDECIDE;
        if (dax) {
                /* dax.c: DaxDevice=, Size= and Origin= match the blocks of the device. */
                dax_device_facts(dax, &dax_facts);
                facts.dax = &dax_facts;
                dax_block_facts(m, index, &facts);
        }

        r = inventory_block_valid_zones(m->inv, index, &facts.zones);
        if (r < 0) {
                f.error = r;
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "memory%" PRIu32 "/valid_zones cannot be read or parsed (%m); "
                             "leaving the block alone", index);
                b->flags |= BLOCK_REDECIDE; /* a reload tries again */
                return;
        }
        /* Only Zone=auto weighs the node's counts; a count that cannot be read decides nothing. */
        p = policy_match(&m->policies, &facts);
        if (p && p->zone == TARGET_AUTO && b->node >= 0) {
                r = inventory_node_counts(m->inv, b->node, &facts.node_kernel_pages, &facts.node_movable_pages);
                if (r < 0) {
                        f.error = r;
                        f.result = "skipped";
                        f.policy_path = p->path;
                        f.policy_line = p->line;
                        audit_record(AUDIT_BAD_SYSFS, &f, "the page counts of node%d cannot be read from /proc/zoneinfo "
                                     "(%m); no Zone=auto decision is made, leaving memory%" PRIu32 " offline",
                                     b->node, index);
                        b->flags |= BLOCK_REDECIDE; /* a reload tries again */
                        return;
                }
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

        if (d.action == ACTION_LEAVE_OFFLINE) {
                b->flags |= BLOCK_REDECIDE;
                f.action = action_to_string(d.action);
                f.result = m->opts.dry_run ? "dry-run" : "ok";
                audit_record(AUDIT_LEFT_OFFLINE, &f, "left memory%" PRIu32 " offline: %s", index, d.why);
                return;
        }

        f.action = action_to_string(d.action);
        f.zone = d.action == ACTION_ONLINE_MOVABLE ? "movable" : "kernel";
        if (m->opts.dry_run) {
                f.result = "dry-run";
                audit_record(AUDIT_WOULD_ONLINE, &f, "would online memory%" PRIu32 " as %s (dry run): %s", index,
                             f.zone, d.why);
                return;
        }

        res = block_online(m->inv, index, d.action, &err, &zone);
        if (b->node < 0 && b->state == STATE_ONLINE)
                /* Its pages went to a node we do not know: every node's counts need a re-read. */
                inventory_nodes_stale(m->inv);
        switch (res) {
        case ONLINE_DONE:
        case ONLINE_ALREADY:
                m->n_onlined++;
                f.result = res == ONLINE_DONE ? "ok" : "already";
                audit_record(AUDIT_ONLINED, &f, "onlined memory%" PRIu32 " as %s%s: %s", index, f.zone,
                             res == ONLINE_ALREADY ? " (it already was)" : "", d.why);
                break;
        case ONLINE_BY_OTHER:
                b->flags |= BLOCK_BY_OTHER;
                f.zone = zone_to_string(zone);
                f.result = "skipped";
                f.error = err;
                /* Under KernelAutoOnline=delegate the kernel was faster, acting for memhpd. */
                if (!ownership_kernel_onlined(m->ownership, &m->policies, m->inv, index, &f))
                        audit_record(AUDIT_ONLINE_BY_OTHER, &f,
                                     "memory%" PRIu32 " was onlined by someone else, in zone %s; leaving it there",
                                     index, zone_to_string(zone));
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
