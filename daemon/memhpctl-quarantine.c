/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memhpctl quarantine [list | clear TARGET]: the quarantined ranges (ListQuarantine) and clearing them
 * (ClearQuarantine, root-only); memhpctl(8). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "memhpctl-util.h"
#include "memhpctl-verbs.h"

static int block_size(sd_bus *bus, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_trivial(bus, ctl_destination(), MEMHPD_BUS_PATH, MEMHPD_BUS_INTERFACE, "BlockSize",
                                        &error, 't', ret);
        return r < 0 ? r : 0;
}

static int list(sd_bus *bus) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *damage, *device, *id, *reason, *type, *result;
        uint64_t start, end, when, pfn, bs = 0;
        uint32_t pages;
        int damaged, r;
        unsigned n = 0;

        r = ctl_call(bus, "ListQuarantine", &reply, NULL);
        if (r > 0)
                return r;
        (void) block_size(bus, &bs);
        r = sd_bus_message_read(reply, "bs", &damaged, &damage);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ttsssuttss)");
        if (r < 0)
                return ctl_error(NULL, r, "read the quarantine");
        ctl_pager_open();
        if (damaged)
                printf("The quarantine is damaged (%s): memhpd onlines no block until \"memhpctl quarantine clear all\".\n\n",
                       damage);
        while ((r = sd_bus_message_read(reply, "(ttsssuttss)", &start, &end, &device, &id, &reason, &pages, &when, &pfn,
                                        &type, &result)) > 0) {
                char blocks[48] = "-", since[32] = "-", first[32] = "-", range[48];
                struct tm tm;
                time_t t = (time_t) when;

                if (n++ == 0 && !arg.no_legend)
                        printf("%-27s %-17s %-10s %-20s %-14s %5s %-18s %-23s %s\n", "RANGE", "BLOCKS", "DEVICE", "ID",
                               "REASON", "PAGES", "FIRST PFN", "SINCE", "TYPE/RESULT");
                if (bs && end >= start) {
                        uint64_t a = start / bs, b = end / bs;
                        if (a == b)
                                snprintf(blocks, sizeof(blocks), "memory%" PRIu64, a);
                        else
                                snprintf(blocks, sizeof(blocks), "memory%" PRIu64 "-%" PRIu64, a, b);
                }
                if (when && gmtime_r(&t, &tm))
                        strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", &tm);
                snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64, start, end);
                if (pfn != UINT64_MAX)
                        snprintf(first, sizeof(first), "0x%" PRIx64, pfn);
                printf("%-27s %-17s %-10s %-20s %-14s %5" PRIu32 " %-18s %-23s %s%s%s\n", range, blocks,
                       *device ? device : "-", *id ? id : "-", reason, pages, first, since, *type ? type : "-",
                       *result ? "/" : "", result);
        }
        if (r < 0)
                return ctl_error(NULL, r, "read the quarantine");
        if (n == 0 && !damaged)
                printf("Nothing is quarantined.\n");
        return damaged ? EXIT_FAILED : EXIT_OK;
}

int verb_quarantine(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *what = argc > 1 ? argv[1] : "list";
        uint32_t n;
        int r;

        if (strcmp(what, "list") == 0) {
                if (argc > 2) {
                        fprintf(stderr, "\"quarantine list\" takes no arguments.\n");
                        return EXIT_USAGE;
                }
                return list(bus);
        }
        if (strcmp(what, "clear") != 0) {
                fprintf(stderr, "Unknown quarantine command \"%s\": expected list or clear TARGET.\n", what);
                return EXIT_USAGE;
        }
        if (argc != 3) {
                fprintf(stderr, "\"quarantine clear\" takes one TARGET: all, memoryN, memoryN-M, 0xSTART-0xEND or a "
                                "device name (PNP0C80:00, dax0.0).\n");
                return EXIT_USAGE;
        }
        r = ctl_call(bus, "ClearQuarantine", &reply, "s", argv[2]);
        if (r > 0)
                return r;
        r = sd_bus_message_read(reply, "u", &n);
        if (r < 0)
                return ctl_error(NULL, r, "read the answer");
        if (n == 0) {
                printf("Nothing quarantined matches %s.\n", argv[2]);
                return EXIT_FAILED;
        }
        printf("Cleared %s from the quarantine (%" PRIu32 " %s); memhpd decides its offline blocks again.\n", argv[2],
               n, n == 1 ? "entry" : "entries");
        return EXIT_OK;
}
