/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the Manager: its creation and destruction, the event loop, the signal, rescan and status sources,
 * and attaching every module's event sources. What happens to blocks is in block-events.c and engine.c. */
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "audit.h"
#include "block-events.h"
#include "bus.h"
#include "dax.h"
#include "kept-offline.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "poison.h"
#include "drain.h"
#include "offline-worker.h"
#include "pressure.h"
#include "rebalance.h"
#include "reload.h"
#include "settle.h"
#include "status.h"
#include "uevent.h"

/* status_changed() enables it: one STATUS= per loop iteration that changed something. */
static int on_status(sd_event_source *s _unused_, void *userdata) {
        pressure_reserve_check(userdata); /* arm or disarm the pressure trigger for the reserve */
        rebalance_check(userdata);        /* watch reclaim while a Zone=auto block could move */
        status_update(userdata);
        bus_inventory_changed(userdata);
        return 0;
}

/* block_events_schedule_rescan() enables it (lost events). */
static int on_rescan(sd_event_source *s _unused_, void *userdata) {
        (void) block_events_rescan(userdata);
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        AuditFields f = AUDIT_FIELDS_INIT;

        f.result = "ok";
        audit_record(AUDIT_STOPPED, &f, "stopping on %s", strsignal((int) si->ssi_signo));
        kept_offline_flush(m); /* do not lose a pending save to the exit */
        (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int manager_new(const ManagerOptions *opts, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->opts = *opts;
        settings_defaults(&m->settings);
        r = root_open(opts->root ?: "/", &m->root);
        if (r < 0) {
                free(m);
                return r;
        }
        r = inventory_new(m->root, &m->inv);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        r = ownership_new(m->root->fd, opts->dry_run, &m->ownership);
        if (r >= 0)
                r = pressure_new(&m->pressure);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* A stop (SIGTERM, SIGINT, or an error) puts the kernel's auto-online back. */
        m->ownership = ownership_free(m->ownership);
        bus_stop(m);
        metrics_stop(m);
        poison_stop(m);
        rebalance_stop(m);
        drain_free(m);
        offline_worker_free(m); /* kills the offline children: they must not outlive memhpd */
        m->pressure = pressure_free(m->pressure);
        uevent_monitor_stop(m);
        sd_event_source_disable_unref(m->settle_timer);
        sd_event_source_disable_unref(m->rescan_source);
        sd_event_source_disable_unref(m->status_source);
        sd_event_source_disable_unref(m->save_source);
        free(m->kept_offline);
        free(m->kept_admin);
        udev_unref(m->udev);
        sd_event_unref(m->event);
        policy_set_done(&m->policies);
        inventory_free(m->inv);
        root_free(m->root);
        report_plan_done(&m->plan);
        settle_queue_done(&m->settle);
        delay_detach(m);
        dax_table_free(m);
        free(m);
        return NULL;
}

int manager_coldplug(Manager *m) {
        int r;

        (void) kept_offline_load(m); /* logged; the scan goes on with what could be read */
        if (poison_load_quarantine(m) == -ENOMEM) /* anything else is logged and fails closed */
                log_oom_abort();
        r = block_events_rescan(m);
        /* dax.c: devices handed to kmem now add blocks; --once decides them with one more scan. */
        if (r >= 0 && dax_scan(m) >= 0 && m->dax && m->dax->n_bound > 0 && m->opts.once && !m->opts.dry_run)
                r = block_events_rescan(m);
        /* Only the start-up scan needs the saved list; from now on the blocks' flags say it. */
        kept_offline_forget(m);
        if (r >= 0 && m->inv->iomem_error < 0) {
                AuditFields f = AUDIT_FIELDS_INIT;

                f.error = m->inv->iomem_error;
                f.result = "skipped";
                audit_record(AUDIT_BAD_SYSFS, &f, "%s/proc/iomem cannot be read (%m): virtio-mem and dax-kmem blocks "
                             "cannot be told from other memory; they are classified \"unknown\"",
                             strcmp(m->root->path, "/") ? m->root->path : "");
        }
        if (r >= 0 && m->inv->iomem_hidden)
                log_warning("/proc/iomem shows no addresses (memhpd needs CAP_SYS_ADMIN to read them): "
                            "virtio-mem and dax-kmem blocks cannot be told from other memory");
        return r;
}

/* A defer source that runs once after the uevents of one wake-up, when enabled. */
static int add_idle_defer(Manager *m, sd_event_source **ret, sd_event_handler_t handler, const char *name) {
        int r;

        r = sd_event_add_defer(m->event, ret, handler, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*ret, name);
        (void) sd_event_source_set_enabled(*ret, SD_EVENT_OFF);
        return sd_event_source_set_priority(*ret, SD_EVENT_PRIORITY_IDLE);
}

int manager_run(Manager *m) {
        AuditFields f = AUDIT_FIELDS_INIT;
        sigset_t mask;
        int r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->udev = udev_new();
        if (!m->udev)
                return -ENOMEM;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = reload_attach(m);
        if (r < 0)
                return r;

        r = settle_timer_attach(m);
        if (r < 0)
                return r;
        r = delay_attach(m);
        if (r < 0)
                return r;
        /* After the uevents of one wake-up: rescan, save and status come last. */
        r = add_idle_defer(m, &m->rescan_source, on_rescan, "rescan");
        if (r < 0)
                return r;
        r = kept_offline_attach(m);
        if (r < 0)
                return r;
        r = offline_worker_attach(m);
        if (r < 0)
                return r;
        r = add_idle_defer(m, &m->status_source, on_status, "status");
        if (r < 0)
                return r;
        r = metrics_start(m);
        if (r < 0)
                return r;
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Cannot enable the watchdog: %m");

        /* The other agents, and KernelAutoOnline= applied before the first scan. */
        ownership_apply(m->ownership, &m->settings, &m->policies);

        /* Listen before scanning: a block added during the scan then arrives as an event too. */
        r = uevent_monitor_start(m);
        if (r < 0)
                return r;
        r = poison_start(m); /* before the scan: a poisoned block is not onlined meanwhile */
        if (r < 0)
                return r;
        r = manager_coldplug(m);
        if (r < 0)
                return r;
        (void) poison_scan_kpageflags(m);

        /* The control channel, before READY=1: a client started after memhpd finds the socket. */
        r = bus_start(m);
        if (r < 0)
                return r;

        f.result = "ok";
        audit_record(AUDIT_STARTED, &f, "started: %" PRIu32 " memory blocks of %" PRIu64 " MiB on %" PRIu32
                     " %s, %" PRIu32 " offline; %zu %s; %s uevents%s",
                     m->inv->n_present, m->inv->block_size >> 20, m->inv->n_nodes,
                     plural(m->inv->n_nodes, "node", "nodes"), m->inv->n_offline, m->policies.n,
                     plural(m->policies.n, "policy", "policies"), event_source_to_string(m->settings.event_source),
                     m->opts.dry_run ? "; dry run, writing nothing" : "");
        (void) sd_notify(false, "READY=1");
        /* What the start-up scan changed goes out now, with READY=1, not in the loop's first iteration:
         * a client that connects as soon as memhpd is ready would get a PropertiesChanged for it (seen
         * under ASan in the ctl-signals scenario). */
        (void) sd_event_source_set_enabled(m->status_source, SD_EVENT_OFF);
        on_status(m->status_source, m);
        return sd_event_loop(m->event);
}
