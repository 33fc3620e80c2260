/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the quarantine's control-channel methods: ListQuarantine and ClearQuarantine (quarantine-bus.h). */
#include <inttypes.h>
#include <stdio.h>

#include "audit.h"
#include "bus.h"
#include "engine.h"
#include "log.h"
#include "manager.h"
#include "poison.h"
#include "quarantine-bus.h"
#include "status.h"

int quarantine_method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        const Quarantine *q;
        int r;

        if (!m->quarantine && poison_load_quarantine(m) == -ENOMEM)
                return -ENOMEM;
        q = m->quarantine;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "bs", q->unbounded, q->unbounded ? q->damage : "");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ttsssuttss)");
        for (size_t i = 0; r >= 0 && i < q->n; i++) {
                const QuarantineEntry *e = &q->entries[i];
                r = sd_bus_message_append(reply, "(ttsssuttss)", e->start, e->end,
                                          e->device >= 0 ? device_kind_to_string(e->device) : "", e->id,
                                          quarantine_reason_to_string(e->reason), e->pages, e->time,
                                          e->has_pfn ? e->pfn : UINT64_MAX, e->type, e->result);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int quarantine_method_clear(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        AuditFields f = AUDIT_FIELDS_INIT;
        QuarantineTarget t;
        const char *target;
        char who[160], range[48] = "";
        bool was_unbounded;
        size_t n;
        int r;

        r = bus_verify_privileged(msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &target);
        if (r < 0)
                return r;
        if (quarantine_target_parse(target, m->inv->block_size, &t) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_BAD_TARGET,
                                         "\"%s\" is not a quarantine target: expected all, memoryN, memoryN-M, "
                                         "0xSTART-0xEND or a device name such as PNP0C80:00 or dax0.0", target);
        if (!m->quarantine && poison_load_quarantine(m) == -ENOMEM)
                return -ENOMEM;
        (void) bus_caller_describe(msg, who, sizeof(who));
        was_unbounded = m->quarantine->unbounded;
        n = quarantine_clear_target(m->quarantine, &t);
        if (n > 0 && !m->opts.dry_run) {
                r = quarantine_save(m->root->fd, m->quarantine);
                if (r < 0) {
                        /* Not on disk: a restart would bring the ranges back. Say so to the caller. */
                        log_error_errno(r, "Cannot save /%s: %m", QUARANTINE_FILE);
                        return sd_bus_error_set_errnof(error, -r, "cleared in memory, but /%s cannot be saved: %s",
                                                       QUARANTINE_FILE, strerror(-r));
                }
        }
        if (!t.by_id) {
                snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64, t.start, t.end);
                f.range = range;
        }
        f.action = "clear";
        f.result = n > 0 ? "ok" : "skipped";
        f.caller = who;
        audit_record(AUDIT_QUARANTINE_CLEARED, &f, "%s %zu quarantined %s for %s, as asked by %s%s", n ? "cleared" : "found no",
                     n ? n - (was_unbounded && !m->quarantine->unbounded) : 0,
                     plural(n, "range", "ranges"), target, who,
                     was_unbounded && !m->quarantine->unbounded ? ", and ended the damaged quarantine" :
                     m->quarantine->unbounded ? "; the quarantine is still damaged: only \"all\" ends that" : "");
        /* Offline blocks left offline by the quarantine: the policies decide them now. */
        if (n > 0 && m->inv->block_size)
                for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                        Block *b = &m->inv->blocks[i];
                        if ((b->flags & BLOCK_PRESENT) && (b->flags & BLOCK_REDECIDE) && !(b->flags & BLOCK_BY_OTHER) &&
                            b->state == STATE_OFFLINE &&
                            !quarantine_contains(m->quarantine, inventory_block_start(m->inv, i), m->inv->block_size))
                                engine_decide(m, i);
                }
        status_changed(m);
        return sd_bus_reply_method_return(msg, "u", (uint32_t) n);
}
