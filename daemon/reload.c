/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns configuration loading: settings and policies at start, and the all-or-nothing reload on SIGHUP. */
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "audit.h"
#include "block-events.h"
#include "dax.h"
#include "log.h"
#include "manager.h"
#include "pressure.h"
#include "rebalance.h"
#include "reload.h"
#include "settle.h"
#include "status.h"
#include "uevent.h"

static void audit_errors(AuditEvent e, const ConfErrors *errors) {
        for (size_t i = 0; i < errors->n; i++) {
                AuditFields f = AUDIT_FIELDS_INIT;
                f.result = "failed";
                audit_record(e, &f, "%s", errors->items[i].text);
        }
}

int manager_load_config(Manager *m, bool initial) {
        ConfErrors errors = {};
        Settings settings;
        PolicySet set = {};
        bool settings_ok, policies_ok;
        AuditFields f = AUDIT_FIELDS_INIT;

        settings_ok = settings_load(m->root->fd, &settings, &errors) >= 0;
        if (!settings_ok) {
                audit_errors(AUDIT_SETTINGS_REJECTED, &errors);
                conf_errors_clear(&errors);
        }
        policies_ok = policy_set_load(m->root->fd, policy_search_path, &set, &errors) >= 0;
        if (!policies_ok) {
                audit_errors(AUDIT_POLICY_REJECTED, &errors);
                f.result = "failed";
                audit_record(AUDIT_POLICY_REJECTED, &f, "policy set rejected (%zu errors)", errors.n_total);
                conf_errors_clear(&errors);
        }
        m->config_ok = settings_ok && policies_ok;

        if (!initial && !m->config_ok) {
                /* A reload is all or nothing: settings and policies are one configuration. */
                policy_set_done(&set);
                f.result = "failed";
                audit_record(settings_ok ? AUDIT_POLICY_REJECTED : AUDIT_SETTINGS_REJECTED, &f,
                             "reload rejected: keeping the previous settings and %zu %s", m->policies.n,
                             plural(m->policies.n, "policy", "policies"));
                return -EINVAL;
        }

        /* At start there is nothing to keep: a broken part falls back to the defaults (settings) or
         * to no policy at all (every new block stays offline until a reload succeeds). */
        if (settings_ok)
                m->settings = settings;
        else {
                f.result = "failed";
                audit_record(AUDIT_SETTINGS_REJECTED, &f, "settings rejected, using the defaults");
        }
        if (!policies_ok) {
                f.result = "failed";
                audit_record(AUDIT_POLICY_REJECTED, &f, "running with no policy: every new block stays offline "
                             "until a reload succeeds");
        }
        policy_set_done(&m->policies);
        m->policies = set;

        if (policies_ok) {
                f.result = "ok";
                audit_record(AUDIT_POLICY_LOADED, &f, "loaded %zu %s%s%s", set.n, plural(set.n, "policy", "policies"),
                             set.n ? ", first " : "", set.n ? set.items[0].path : "");
        }
        return m->config_ok ? 0 : -EINVAL;
}

void reload_now(Manager *m) {
        Settings old = m->settings;

        (void) sd_notify(false, "RELOADING=1");
        (void) manager_load_config(m, false);
        /* Report the other agents again and apply the (new) KernelAutoOnline=. */
        ownership_apply(m->ownership, &m->settings, &m->policies);
        if ((old.event_source != m->settings.event_source || old.receive_buffer != m->settings.receive_buffer) &&
            uevent_monitor_start(m) < 0) {
                log_error("Keeping the %s uevent monitor", event_source_to_string(old.event_source));
                m->settings.event_source = old.event_source;
                m->settings.receive_buffer = old.receive_buffer;
        }
        /* Deferred blocks (When=delay) are decided again under the new set. */
        if (m->config_ok)
                delay_reload(m);
        /* Blocks left offline by the previous policy get the new one's say. */
        for (uint32_t i = 0; i < m->inv->n_blocks; i++) {
                Block *b = &m->inv->blocks[i];
                if ((b->flags & BLOCK_PRESENT) && (b->flags & BLOCK_REDECIDE) && b->state == STATE_OFFLINE) {
                        b->flags &= ~(BLOCK_DECIDED | BLOCK_REDECIDE);
                        settle_consider(m, i);
                }
        }
        (void) block_events_rescan(m);
        pressure_reserve_check(m); /* new MemoryPressure*= settings take effect now */
        rebalance_check(m);        /* a policy's Zone= may have changed */
        dax_reload(m); /* dax.c: devices left as devdax by the previous policy get the new one's say */
        status_update(m);
        (void) sd_notify(false, "READY=1");
}

static int on_sighup(sd_event_source *s _unused_, const struct signalfd_siginfo *si _unused_, void *userdata) {
        reload_now(userdata);
        return 0;
}

int reload_attach(Manager *m) {
        return sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
}
