/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the command line: options, --check, --once, starting and stopping the Manager. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>

#include "audit.h"
#include "build-config.h"
#include "dax.h"
#include "log.h"
#include "manager.h"
#include "ownership.h"
#include "policy.h"
#include "reload.h"
#include "report.h"
#include "settings.h"

static void help(void) {
        printf("memhpd [OPTIONS...]\n\n"
               "Memory hot-plug policy daemon: onlines hot-added memory blocks as the policy files say.\n\n"
               "  -h --help        Show this help\n"
               "     --version     Show the version\n"
               "     --root=DIR    Read and write everything under DIR (sys, proc, etc/memhpd, run, %s)\n"
               "     --dry-run     Decide and audit, but write nothing\n"
               "     --once        Scan, act on offline blocks, exit (non-zero if an action failed\n"
               "                   or the configuration was rejected)\n"
               "     --check       Validate memhpd.conf and every policy file, print FILE:LINE: errors\n"
               "     --log-level=LEVEL  Diagnostics up to LEVEL (debug, info, notice, warning, err);\n"
               "                   default $MEMHPD_LOG_LEVEL or info. Audit records are always written\n\n"
               "Policies: /etc/memhpd/policies.d, /run/memhpd/policies.d, /%s/policies.d (*.policy)\n"
               "Settings: /etc/memhpd/memhpd.conf and memhpd.conf.d/*.conf\n"
               "See memhpd(8), memhpd.policy(5), memhpd.conf(5).\n",
               MEMHPD_VENDOR_DIR, MEMHPD_VENDOR_DIR);
}

static int check(const char *root) {
        ConfErrors errors = {};
        Settings settings;
        PolicySet set = {};
        _cleanup_close_ int fd = -EBADF;
        int ok = 0;

        fd = open(root ?: "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "memhpd: cannot open root %s: %m\n", root ?: "/");
                return 1;
        }
        if (settings_load(fd, &settings, &errors) < 0)
                ok = -1;
        if (policy_set_load(fd, policy_search_path, &set, &errors) < 0)
                ok = -1;
        for (size_t i = 0; i < errors.n; i++)
                fprintf(stderr, "%s\n", errors.items[i].text);
        if (ok == 0) {
                printf("settings: EventSource=%s ReceiveBufferSize=%llu SettleTimeoutSec=%llums LockMemory=%s "
                       "KernelAutoOnline=%s MetricsFile=%s OfflineTimeoutSec=%llus Retries=%u MemoryPressureLimit=%u%% "
                       "MemoryPressureDurationSec=%llums\n",
                       event_source_to_string(settings.event_source), settings.receive_buffer,
                       settings.settle_usec / 1000, yes_no(settings.lock_memory),
                       kernel_auto_online_to_string(settings.kernel_auto_online), settings.metrics_file,
                       settings.offline_timeout_usec / 1000000, settings.offline_retries,
                       settings.memory_pressure_limit, settings.memory_pressure_duration_usec / 1000);
                printf("%zu policies, first match wins:\n", set.n);
                for (size_t i = 0; i < set.n; i++) {
                        const Policy *p = &set.items[i];

                        printf("  %s:%u Zone=%s When=%s", p->path, p->line, zone_target_to_string(p->zone),
                               when_to_string(p->when));
                        if (p->when == WHEN_DELAY)
                                printf(" Delay=%" PRIu64 "ms", p->delay_usec / 1000);
                        if (p->when == WHEN_PRESSURE)
                                printf(" OnlineStep=%" PRIu64 "%s", p->online_step, p->online_step_bytes ? "B" : "");
                        if (p->poison_action == POISON_ACTION_OFFLINE)
                                printf(" [Poison] Action=offline Threshold=%u", p->poison_threshold);
                        if (p->dax_mode_set)
                                printf(" [Dax] Mode=%s", dax_mode_to_string(p->dax_mode));
                        putchar('\n');
                }
        } else
                fprintf(stderr, "memhpd: %zu error%s\n", errors.n_total, errors.n_total == 1 ? "" : "s");
        /* ownership.c and agents.c: the other agents that online memory (not errors: the exit status ignores
         * them). */
        ownership_print_conflicts(fd, ok == 0 ? settings.kernel_auto_online : KERNEL_AUTO_ONLINE_TAKEOVER, stdout);
        dax_check_policies(fd, &set, stdout); /* dax.c: what [Memmap] OnMemory= cannot do here */
        conf_errors_clear(&errors);
        policy_set_done(&set);
        return ok == 0 ? 0 : 1;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_ROOT, ARG_DRY_RUN, ARG_ONCE, ARG_CHECK, ARG_LOG_LEVEL };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "root", required_argument, NULL, ARG_ROOT },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "once", no_argument, NULL, ARG_ONCE },
                { "check", no_argument, NULL, ARG_CHECK },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                {}
        };
        ManagerOptions opts = {};
        bool do_check = false;
        Manager *m = NULL;
        const char *e;
        int c, r;

        e = getenv("MEMHPD_LOG_LEVEL");
        if (e && *e) {
                r = log_level_from_string(e);
                if (r < 0)
                        fprintf(stderr, "memhpd: ignoring MEMHPD_LOG_LEVEL=%s: not a log level\n", e);
                else
                        log_set_max_level(r);
        }

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("memhpd %s\n", MEMHPD_VERSION);
                        return 0;
                case ARG_ROOT:
                        if (!optarg[0]) {
                                fprintf(stderr, "memhpd: --root= needs a directory\n");
                                return 2;
                        }
                        opts.root = optarg;
                        break;
                case ARG_DRY_RUN:
                        opts.dry_run = true;
                        break;
                case ARG_ONCE:
                        opts.once = true;
                        break;
                case ARG_CHECK:
                        do_check = true;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "memhpd: --log-level=%s: not a log level (debug, info, notice, "
                                                "warning, err)\n", optarg);
                                return 2;
                        }
                        log_set_max_level(r);
                        break;
                default:
                        fprintf(stderr, "Try 'memhpd --help'.\n");
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "memhpd: unexpected argument '%s'. Try 'memhpd --help'.\n", argv[optind]);
                return 2;
        }

        if (do_check)
                return check(opts.root);

        audit_init(AUDIT_TO_AUTO);
        r = manager_new(&opts, &m);
        if (r < 0) {
                log_error_errno(r, "cannot open root %s: %m", opts.root ?: "/");
                return 1;
        }
        (void) manager_load_config(m, true);

        if (!opts.once && m->settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
                /* Not fatal: without it onlining may stall when the host is out of memory. */
                log_warning_errno(errno, "Cannot lock memory (mlockall: %m); set LockMemory=no to silence this");

        if (opts.once) {
                /* ownership.c: report the other agents; --once changes none of the kernel's settings. */
                ownership_report(m->ownership, &m->settings);
                r = manager_coldplug(m);
                if (r == -ENOENT) {
                        fprintf(stderr, "memhpd: %s/sys/devices/system/memory does not exist: this kernel has no "
                                        "memory hot-plug support\n", strcmp(m->root->path, "/") ? m->root->path : "");
                        manager_free(m);
                        return 1;
                }
                if (r >= 0 && opts.dry_run)
                        report_print(m, stdout);
                /* A rejected configuration is a failure too: nothing was decided by the intended policy. */
                r = r < 0 || m->n_failed || !m->config_ok ? 1 : 0;
                manager_free(m);
                return r;
        }

        r = manager_run(m);
        manager_free(m);
        if (r < 0) {
                log_error_errno(r, "%m");
                return 1;
        }
        return 0;
}
