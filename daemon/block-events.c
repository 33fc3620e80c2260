/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns applying block news: a scan's or refresh's BlockReport and memory/node uevents go through the pure
 * lifecycle (lifecycle.c), and the outcome is applied here: flags, audit record, settle and decide. A
 * full rescan (start, reload, lost events) is one more source of such news. */
#include <inttypes.h>

#include "audit.h"
#include "block-events.h"
#include "delay.h"
#include "engine.h"
#include "kept-offline.h"
#include "lifecycle.h"
#include "log.h"
#include "manager.h"
#include "settle.h"
#include "status.h"

void block_events_report(Inventory *inv, const BlockReport *rep, void *userdata) {
        Manager *m = userdata;
        uint32_t index = rep->index;
        Block *b = &inv->blocks[index];
        AuditFields f = engine_block_fields(m, index);
        uint16_t flags = rep->change == BLOCK_VANISHED ? rep->old.flags : b->flags;
        bool kept_admin = rep->change == BLOCK_APPEARED && kept_offline_by_admin(m, index);
        bool kept = rep->change == BLOCK_APPEARED && (kept_admin || kept_offline(m, index));
        LifecycleOutcome o = lifecycle_report(flags, rep->change, rep->old_state, b->state, rep->error, kept);

        /* The same promise as someone else's, with the administrator's name on it. */
        if (kept_admin && o.why == LC_KEPT_OFFLINE)
                o.flags = (o.flags & ~BLOCK_BY_OTHER) | BLOCK_BY_ADMIN;

        if (rep->change != BLOCK_VANISHED)
                b->flags = o.flags;
        /* When=delay: a block someone else decided on, or that went away, leaves its group. */
        if ((flags & BLOCK_DEFERRED) && (rep->change == BLOCK_VANISHED || (o.flags & BLOCK_DECIDED)))
                delay_drop(m, index);
        if (o.save_kept_offline)
                kept_offline_changed(m);
        if (o.unsettle) {
                settle_queue_drop(&m->settle, inv, index);
                settle_timer_arm(m);
        }

        switch (o.why) {
        case LC_UNREADABLE:
                f.error = rep->error;
                f.result = "skipped";
                audit_record(o.record, &f, "%s; leaving memory%" PRIu32 " alone", rep->detail, index);
                return; /* the status did not change */
        case LC_KEPT_OFFLINE:
                f.result = "skipped";
                inventory_block_set_origin(inv, index, kept_admin ? ORIGIN_ADMINISTRATOR : ORIGIN_OTHER, NULL, 0);
                audit_record(o.record, &f, "left memory%" PRIu32 " offline: %s took it offline before memhpd "
                             "restarted (/%s)", index, kept_admin ? "the administrator (through memhpd)" :
                             "someone else", KEPT_OFFLINE_FILE);
                break;
        case LC_APPEARED_ONLINE:
                f.zone = zone_to_string(inventory_block_zone(inv, index));
                f.result = "skipped";
                /* Under KernelAutoOnline=delegate the kernel onlined it for memhpd. */
                if (ownership_kernel_onlined(m->ownership, &m->policies, inv, index, &f))
                        inventory_block_set_origin(inv, index, ORIGIN_KERNEL, f.policy_path, f.policy_line);
                else {
                        inventory_block_set_origin(inv, index, ORIGIN_OTHER, NULL, 0);
                        audit_record(o.record, &f, "memory%" PRIu32 " appeared already online (zone %s); "
                                     "leaving it alone", index, f.zone);
                }
                break;
        case LC_ONLINED_BY_OTHER:
                f.zone = zone_to_string(inventory_block_zone(inv, index));
                f.result = "skipped";
                /* Only a block memhpd had not decided on can be the kernel's auto-online under delegate. */
                if ((flags & BLOCK_DECIDED) || !ownership_kernel_onlined(m->ownership, &m->policies, inv, index, &f)) {
                        inventory_block_set_origin(inv, index, ORIGIN_OTHER, NULL, 0);
                        audit_record(o.record, &f, "memory%" PRIu32 " was onlined by someone else (zone %s)", index,
                                     f.zone);
                } else
                        inventory_block_set_origin(inv, index, ORIGIN_KERNEL, f.policy_path, f.policy_line);
                break;
        case LC_OFFLINED_BY_OTHER:
                f.result = "skipped";
                inventory_block_set_origin(inv, index, ORIGIN_OTHER, NULL, 0);
                audit_record(o.record, &f, "memory%" PRIu32 " was taken offline by someone else; not onlining it again",
                             index);
                break;
        case LC_REMOVED:
                /* The block is gone from the inventory; the record tells where it was. */
                f.node = rep->old.node;
                f.device = (rep->old.flags & BLOCK_CLASSIFIED) ? device_kind_to_string(rep->old.device) : NULL;
                f.result = "ok";
                audit_record(o.record, &f, "memory%" PRIu32 " was removed (it was %s)", index,
                             block_state_to_string(rep->old_state));
                break;
        case LC_OFFLINE_FAILED:
                log_debug("memory%" PRIu32 " is online again after going-offline: an offline failed", index);
                break;
        case LC_GOING_OFFLINE:
                log_debug("memory%" PRIu32 " is going offline; waiting for its offline uevent", index);
                break;
        case LC_BOOT_ONLINE: /* origin.c: "boot" without a byte stored */
        case LC_NEW_OFFLINE:
        case LC_NOTHING:
                break;
        }
        if (o.decide)
                settle_consider(m, index);
        status_changed(m);
}

/* Drop a block from the inventory; the report keeps what it was. */
static BlockReport block_forget(Manager *m, uint32_t index) {
        BlockReport rep = {
                .index = index,
                .change = BLOCK_VANISHED,
                .old_state = m->inv->blocks[index].state,
                .old = m->inv->blocks[index],
        };

        inventory_block_remove(m->inv, index);
        if (rep.old.flags & BLOCK_SETTLING)
                settle_queue_drop(&m->settle, m->inv, index);
        if (rep.old.flags & BLOCK_DEFERRED)
                delay_drop(m, index); /* also when the block comes back at once (a missed remove) */
        return rep;
}

void block_events_memory_uevent(Manager *m, const Uevent *u) {
        const char *action = uevent_action_to_string(u->action);
        uint32_t index = u->index;
        const Block *known = inventory_block(m->inv, index);
        LifecycleUevent step = lifecycle_uevent(known, known ? known->state : STATE_UNKNOWN, u->action, u->synthetic);
        BlockReport rep;
        char detail[160];
        int r;

        if (step.missed_remove) {
                AuditFields f = engine_block_fields(m, index);

                f.result = "ok";
                audit_record(AUDIT_EVENTS_LOST, &f, "\"add\" for memory%" PRIu32 ", which memhpd knew: its removal "
                             "was missed, taking it as a new block", index);
                rep = block_forget(m, index);
                if (rep.old.flags & BLOCK_BY_OTHER)
                        kept_offline_changed(m);
        }

        switch (step.step) {
        case LC_STEP_IGNORE:
                log_debug("Ignoring uevent ACTION=%s for memory%" PRIu32 ": nothing new", action, index);
                return;
        case LC_STEP_REMOVE:
                /* The same record as a removal a scan finds. */
                rep = block_forget(m, index);
                block_events_report(m->inv, &rep, m);
                return;
        case LC_STEP_RESCAN: {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.block = index;
                f.result = "ok";
                audit_record(AUDIT_EVENTS_LOST, &f, "\"%s\" for unknown memory%" PRIu32 ": events were lost, "
                             "rescanning", action, index);
                block_events_schedule_rescan(m);
                return;
        }
        case LC_STEP_REFRESH:
                break;
        }

        r = inventory_block_refresh(m->inv, index, &rep, detail, sizeof(detail));
        if (r == -ERANGE) {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.result = "skipped";
                audit_record(AUDIT_BAD_UEVENT, &f, "ignored uevent ACTION=%s for memory%" PRIu32 ": beyond any physical "
                             "address with %" PRIu64 " MiB blocks", action, index, m->inv->block_size >> 20);
                return;
        }
        if (r == -ENOMEM)
                log_oom_abort();
        if (r < 0)
                log_warning_errno(r, "Cannot look at memory%" PRIu32 " after its %s uevent: %m", index, action);
        else if (r == 0 && !inventory_block(m->inv, index))
                log_debug("Ignoring uevent ACTION=%s for memory%" PRIu32 ": no such block", action, index);
        else if (r > 0)
                block_events_report(m->inv, &rep, m);
}

void block_events_node_uevent(Manager *m, const Uevent *u) {
        AuditFields f = AUDIT_FIELDS_INIT;
        int node = (int) u->index;

        f.node = node;
        f.result = "ok";
        switch (u->action) {
        case UEVENT_ADD:
        case UEVENT_ONLINE:
                if (inventory_node_add(m->inv, node) > 0) {
                        audit_record(AUDIT_NODE_ADDED, &f, "node%d appeared", node);
                        /* Blocks waiting for their node link may find it now (or soon). */
                        settle_pending(m, false);
                        settle_timer_arm(m);
                }
                break;
        case UEVENT_REMOVE:
        case UEVENT_OFFLINE:
                if (inventory_node_remove(m->inv, node) > 0)
                        audit_record(AUDIT_NODE_REMOVED, &f, "node%d went away", node);
                break;
        default:
                log_debug("Ignoring uevent ACTION=%s for node%d", uevent_action_to_string(u->action), node);
                break;
        }
        status_changed(m);
}

int block_events_rescan(Manager *m) {
        int r;

        m->n_rescans++;
        r = inventory_scan(m->inv, block_events_report, m);
        if (r == -ENOMEM)
                log_oom_abort();
        if (r < 0)
                log_error_errno(r, "Scan of %s/sys/devices/system/memory failed: %m", m->root->path);
        return r;
}

void block_events_schedule_rescan(Manager *m) {
        (void) sd_event_source_set_enabled(m->rescan_source, SD_EVENT_ONESHOT);
}
