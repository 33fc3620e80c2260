/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libudev.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "inventory.h"
#include "ownership.h"
#include "policy.h"
#include "settings.h"
#include "sysfs.h"

/* The Manager owns the event loop, every event source, the inventory, the settings and the policies. */

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
        Ownership *ownership;    /* ownership.c: the kernel's auto-online and the other agents */

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

        unsigned n_failed;       /* actions that failed since start */
        bool config_ok;          /* the last load of settings and policies was clean */
        unsigned long long n_onlined, n_uevents, n_rescans;
        /* --dry-run --once: what each block would get, for the report. */
        uint8_t *planned;        /* Action per block index, or 0xff */
        uint32_t n_planned;
} Manager;

int manager_new(const ManagerOptions *opts, Manager **ret);
Manager *manager_free(Manager *m);

/* Load settings and policies. At start a broken set means running with none; on reload the old set
 * stays. Returns 0 or -EINVAL (every problem already audited). */
int manager_load_config(Manager *m, bool initial);

/* The start-up scan: inventory, then policy on every offline block. */
int manager_coldplug(Manager *m);

/* Run the daemon until SIGTERM/SIGINT. */
int manager_run(Manager *m);

/* For --dry-run --once: print every block range and node, and what policy does with each. */
void manager_print_report(Manager *m, FILE *f);
