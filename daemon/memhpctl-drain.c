/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memhpctl drain, online, offline (drain-bus.h on the daemon's side): the administrator's actions, their
 * progress and their outcome per block. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drain-bus.h"
#include "drain.h"
#include "macro.h"
#include "memhpctl-util.h"
#include "memhpctl-verbs.h"

#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"

static int get_u64(sd_bus *bus, const char *name, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_trivial(bus, ctl_destination(), MEMHPD_BUS_PATH, MEMHPD_BUS_INTERFACE, name, &error,
                                            't', ret);
        return r < 0 ? ctl_error(&error, r, "read the drain's progress") : 0;
}

static int get_bool(sd_bus *bus, const char *name, bool *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int b = 0, r;

        r = sd_bus_get_property_trivial(bus, ctl_destination(), MEMHPD_BUS_PATH, MEMHPD_BUS_INTERFACE, name, &error,
                                        'b', &b);
        if (r < 0)
                return ctl_error(&error, r, "read the drain's progress");
        *ret = b;
        return 0;
}

static void show_progress(uint64_t done, uint64_t total, bool tty, uint64_t *shown) {
        if (tty) {
                unsigned width = 30, filled = total ? (unsigned) (done * width / total) : width;
                char bar[31];

                memset(bar, '#', filled);
                memset(bar + filled, '.', width - filled);
                bar[width] = '\0';
                fprintf(stderr, "\r[%s] %" PRIu64 "/%" PRIu64 " blocks", bar, done, total);
                fflush(stderr);
        } else if (done != *shown)
                printf("%" PRIu64 "/%" PRIu64 " blocks done\n", done, total);
        *shown = done;
}

static int on_changed(sd_bus_message *msg _unused_, void *userdata, sd_bus_error *error _unused_) {
        *(bool *) userdata = true;
        return 0;
}

/* The outcome of the drain: each block that stayed online, and the eject. */
static int drain_outcome(sd_bus *bus, const char *target) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *eject = NULL;
        const char *zone, *why;
        unsigned n_failed = 0, n = 0;
        uint32_t index;
        int32_t result;
        int r;

        r = sd_bus_get_property(bus, ctl_destination(), MEMHPD_BUS_PATH, MEMHPD_BUS_INTERFACE, "DrainBlocks", &error,
                                &reply, "a(uiss)");
        if (r < 0)
                return ctl_error(&error, r, "read the drain's outcome");
        r = sd_bus_message_enter_container(reply, 'a', "(uiss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(uiss)", &index, &result, &zone, &why)) > 0) {
                n++;
                if (result == 0 || result == -ENODEV)
                        continue;
                n_failed++;
                fprintf(stderr, "memory%" PRIu32 ": %s%s%s\n", index, why, *zone ? ", zone " : "", zone);
        }
        if (r < 0)
                return ctl_error(NULL, r, "read the drain's outcome");
        r = sd_bus_get_property_string(bus, ctl_destination(), MEMHPD_BUS_PATH, MEMHPD_BUS_INTERFACE, "DrainEject",
                                       &error, &eject);
        if (n_failed)
                fprintf(stderr, "Drain of %s: %u of %u %s stayed online.\n", target, n_failed, n,
                        plural(n, "block", "blocks"));
        else
                printf("Drain of %s: %u %s offline.\n", target, n, plural(n, "block", "blocks"));
        if (r >= 0 && eject && *eject)
                printf("Eject: %s.\n", eject);
        if (r >= 0 && eject && (strncmp(eject, "eject of", 8) == 0 || strncmp(eject, "not ejected", 11) == 0) &&
            arg.eject)
                return EXIT_FAILED;
        return n_failed ? EXIT_FAILED : EXIT_OK;
}

int verb_drain(sd_bus *bus, int argc _unused_, char **argv) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        bool tty = isatty(STDERR_FILENO), changed = true, running = true;
        uint64_t done = 0, total = 0, shown = UINT64_MAX;
        const char *target = argv[1];
        int r;

        /* Listen before asking: no progress signal can slip between the call and the match. */
        if (!arg.no_wait) {
                r = sd_bus_match_signal(bus, &slot, ctl_destination(), MEMHPD_BUS_PATH, PROPERTIES_INTERFACE,
                                        "PropertiesChanged", on_changed, &changed);
                if (r < 0)
                        return ctl_error(NULL, r, "watch the drain's progress");
        }
        r = ctl_call(bus, "Drain", &reply, "st", target, (uint64_t) (arg.eject ? DRAIN_FLAG_EJECT : 0));
        if (r > 0)
                return r;
        if (arg.no_wait) {
                printf("Draining %s; \"memhpctl status\" and \"memhpctl log\" show how it goes.\n", target);
                return EXIT_OK;
        }
        /* A client that goes away (Ctrl-C) leaves the drain running in memhpd. */
        while (running) {
                if (changed) {
                        changed = false;
                        r = get_bool(bus, "DrainRunning", &running);
                        if (r == 0)
                                r = get_u64(bus, "DrainDone", &done);
                        if (r == 0)
                                r = get_u64(bus, "DrainTotal", &total);
                        if (r > 0)
                                return r;
                        show_progress(done, total, tty, &shown);
                        continue;
                }
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r >= 0)
                        while ((r = sd_bus_process(bus, NULL)) > 0)
                                ;
                if (r < 0)
                        return ctl_error(NULL, r, "follow the drain");
        }
        if (tty)
                fputc('\n', stderr);
        return drain_outcome(bus, target);
}

/* memory40, 40, memory40-47: the blocks named on the command line, appended to 'm'. */
static int append_blocks(sd_bus_message *m, int argc, char **argv) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "u");
        for (int i = 1; r >= 0 && i < argc; i++) {
                DrainTarget t;
                char err[256], name[64];

                (void) snprintf(name, sizeof(name), "%s%s", strncmp(argv[i], "memory", 6) == 0 ? "" : "memory", argv[i]);
                if (drain_target_parse(name, &t, err, sizeof(err)) < 0 || t.kind != DRAIN_TARGET_BLOCKS ||
                    t.last - t.first >= DRAIN_BUS_BLOCKS_MAX) {
                        fprintf(stderr, "\"%s\" is not a memory block: expected memoryN, N or memoryN-M (at most %d).\n",
                                argv[i], DRAIN_BUS_BLOCKS_MAX);
                        return -EINVAL;
                }
                for (uint64_t b = t.first; r >= 0 && b <= t.last; b++)
                        r = sd_bus_message_append_basic(m, 'u', &(uint32_t) { (uint32_t) b });
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int online_offline(sd_bus *bus, const char *method, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        unsigned n_failed = 0;
        const char *why;
        uint32_t index;
        int32_t result;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, ctl_destination(), MEMHPD_BUS_PATH, MEMHPD_BUS_INTERFACE, method);
        if (r < 0)
                return ctl_error(NULL, r, method);
        r = append_blocks(m, argc, argv);
        if (r == -EINVAL)
                return EXIT_USAGE;
        if (r < 0)
                return ctl_error(NULL, r, method);
        /* An offline waits for its jobs (timeouts and retries): no call timeout. */
        r = sd_bus_call(bus, m, UINT64_MAX, &error, &reply);
        if (r < 0)
                return ctl_error(&error, r, strcmp(method, "Offline") == 0 ? "offline" : "online");
        r = sd_bus_message_enter_container(reply, 'a', "(uis)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(uis)", &index, &result, &why)) > 0) {
                if (result < 0) {
                        n_failed++;
                        fprintf(stderr, "memory%" PRIu32 ": %s (%s)\n", index, why, strerror(-result));
                } else
                        printf("memory%" PRIu32 ": %s\n", index, why);
        }
        if (r < 0)
                return ctl_error(NULL, r, "read the reply");
        return n_failed ? EXIT_FAILED : EXIT_OK;
}

int verb_offline(sd_bus *bus, int argc, char **argv) {
        return online_offline(bus, "Offline", argc, argv);
}

int verb_online(sd_bus *bus, int argc, char **argv) {
        return online_offline(bus, "Online", argc, argv);
}
