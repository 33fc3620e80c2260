/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns memhpctl log: a thin journal reader of memhpd's audit records, matched by their MESSAGE_IDs
 * (audit.c, units/memhpd.catalog), so it sees every record of every memhpd run on this host. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "audit.h"
#include "macro.h"
#include "memhpctl-util.h"
#include "memhpctl-verbs.h"

static int field(sd_journal *j, const char *name, char *buf, size_t size) {
        const void *data;
        size_t len, n = strlen(name);
        int r;

        r = sd_journal_get_data(j, name, &data, &len);
        if (r < 0)
                return r;
        if (len <= n + 1)
                len = n + 1;
        len -= n + 1;
        if (len >= size)
                len = size - 1;
        memcpy(buf, (const char *) data + n + 1, len);
        buf[len] = '\0';
        return 0;
}

int verb_log(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        unsigned n = 0;
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0) {
                fprintf(stderr, "Cannot open the journal: %s.\n", strerror(-r));
                return EXIT_FAILED;
        }
        for (AuditEvent e = 0; e < _AUDIT_MAX; e++) {
                char match[64];

                (void) snprintf(match, sizeof(match), "MESSAGE_ID=%s", audit_event_id(e));
                r = sd_journal_add_match(j, match, 0);
                if (r < 0) {
                        fprintf(stderr, "Cannot filter the journal: %s.\n", strerror(-r));
                        return EXIT_FAILED;
                }
        }
        if (arg.lines > 0) {
                r = sd_journal_seek_tail(j);
                if (r >= 0)
                        r = sd_journal_previous_skip(j, arg.lines);
                /* previous_skip leaves us on the oldest of the last N: step before it, and next()
                 * prints from there. Fewer than N records: all of them, from the head. */
                if (r >= 0 && (unsigned) r < arg.lines)
                        r = sd_journal_seek_head(j);
                else if (r > 0)
                        r = sd_journal_previous(j);
        } else
                r = sd_journal_seek_head(j);
        if (r < 0) {
                fprintf(stderr, "Cannot read the journal: %s.\n", strerror(-r));
                return EXIT_FAILED;
        }

        ctl_pager_open();
        while ((r = sd_journal_next(j)) > 0) {
                char message[2048], pid[32] = "", when[64] = "";
                uint64_t usec;

                if (field(j, "MESSAGE", message, sizeof(message)) < 0)
                        continue;
                (void) field(j, "_PID", pid, sizeof(pid));
                if (sd_journal_get_realtime_usec(j, &usec) >= 0) {
                        time_t t = (time_t) (usec / 1000000);
                        struct tm tm;
                        if (localtime_r(&t, &tm))
                                (void) strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                }
                printf("%s memhpd[%s]: %s\n", when, pid, message);
                n++;
        }
        if (r < 0) {
                fprintf(stderr, "Cannot read the journal: %s.\n", strerror(-r));
                return EXIT_FAILED;
        }
        if (n == 0 && !arg.no_legend)
                fprintf(stderr, "No memhpd audit records in this host's journal (memhpd logs to the journal when "
                                "run as a service).\n");
        return EXIT_OK;
}
