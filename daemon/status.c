/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns STATUS= for systemd: its text, sent now or coalesced to one per loop iteration. */
#include <inttypes.h>
#include <systemd/sd-daemon.h>

#include "manager.h"
#include "metrics.h"
#include "status.h"

void status_update(Manager *m) {
        if (m->opts.once)
                return;
        (void) sd_notifyf(false,
                          "STATUS=Managing %" PRIu32 " memory blocks on %" PRIu32 " %s (%" PRIu32
                          " offline); %zu %s; %llu onlined, %u failed",
                          m->inv->n_present, m->inv->n_nodes, plural(m->inv->n_nodes, "node", "nodes"),
                          m->inv->n_offline, m->policies.n, plural(m->policies.n, "policy", "policies"), m->n_onlined,
                          m->n_failed);
}

/* Coalesced: one update per loop iteration that changed something, not one per uevent. */
void status_changed(Manager *m) {
        if (m->status_source)
                (void) sd_event_source_set_enabled(m->status_source, SD_EVENT_ONESHOT);
        metrics_changed(m); /* what STATUS= shows, the metrics file shows too */
}
