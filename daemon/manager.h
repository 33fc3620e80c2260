/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "inventory.h"
#include "ownership.h"
#include "policy.h"
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

        /* metrics.c: MetricsFile=; NULL under --once and --dry-run */
        struct Metrics *metrics;

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
