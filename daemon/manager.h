/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "delay.h"
#include "inventory.h"
#include "ownership.h"
#include "policy.h"
#include "quarantine.h"
#include "report.h"
#include "settings.h"
#include "settle.h"
#include "sysfs.h"

/* The Manager owns the event loop, every event source, the inventory, the settings and the policies.
 * Each module attaches its own sources (uevent.c, settle.c, kept-offline.c, reload.c). */

typedef struct ManagerOptions {
        const char *root;   /* NULL or "/" for the live system */
        bool dry_run;       /* decide and audit, write nothing */
        bool once;          /* scan, act, return */
} ManagerOptions;

typedef struct Manager {
        ManagerOptions opts;
        Root *root;
        Inventory *inv;
        Settings settings;
        PolicySet policies;
        Ownership *ownership;    /* ownership.c: the kernel's auto-online (agents.c: the other agents) */

        sd_event *event;
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *monitor_source;
        sd_event_source *settle_timer;
        sd_event_source *rescan_source;
        sd_event_source *status_source;
        sd_event_source *save_source;

        /* Blocks someone else took offline, as saved in /run by an earlier instance (sorted). */
        uint32_t *kept_offline;
        size_t n_kept_offline;
        int kept_offline_save_error; /* the last failed save, said once (kept-offline.c); 0 after a good one */

        unsigned n_failed;       /* actions that failed since start */
        bool config_ok;          /* the last load of settings and policies was clean */
        unsigned long long n_onlined, n_uevents, n_rescans;
        SettleQueue settle;      /* blocks waiting for their links (settle.c) */
        Plan plan;               /* --dry-run --once: what each block would get, for the report */

        /* bus: the control channel (bus.c), NULL until bus_start() and under --once. */
        struct BusServer *bus;

        /* metrics.c: MetricsFile=; NULL under --once and --dry-run */
        struct Metrics *metrics;
        /* poison.c, quarantine.c: ranges never onlined again, and the memory-failure events in. */
        Quarantine *quarantine;
        struct Poison *poison;   /* NULL when memory_failure_event cannot be read */

        /* offline-worker.c, drain.c: offline jobs, the drain in progress, and the blocks the
         * administrator took offline as saved by an earlier instance (sorted, like kept_offline) */
        struct OfflineWorker *offline;
        struct Drain *drain;
        uint32_t *kept_admin;
        size_t n_kept_admin;

        /* delay.c (tier): When=delay groups, their timer and `deferred` records */
        DelayGroups delay;
        sd_event_source *delay_timer, *delay_announce;
        uint64_t delay_since;    /* delay_reload(): the arrival time a re-deferred block keeps */
        bool delay_expired;      /* the engine decides a group whose delay ended: no new deferral */

        /* pressure.c: the When=pressure reserve and its trigger */
        struct Pressure *pressure;
        /* rebalance.c: Zone=auto blocks moved to a kernel zone when the kernel zones run out */
        struct Rebalance *rebalance;

        /* dax.c: dax devices and their policy */
        struct DaxTable *dax;
} Manager;

int manager_new(const ManagerOptions *opts, Manager **ret);
Manager *manager_free(Manager *m);

/* The start-up scan: inventory, then policy on every offline block. */
int manager_coldplug(Manager *m);

/* Run the daemon until SIGTERM/SIGINT. */
int manager_run(Manager *m);

/* The modules call nothing here: a rescan is block-events.c's, STATUS= is status.c's. */
