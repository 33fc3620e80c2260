/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns plain diagnostics: the log_*() functions, their maximum level, their journal or stderr output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <systemd/sd-journal.h>

#include "audit.h"
#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
                [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };

        if (!s)
                return -EINVAL;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

int log_full_errno(int level, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        int saved = errno, e = error < 0 ? -error : error;
        char message[1024];
        va_list ap;

        if ((level & LOG_PRIMASK) > max_level)
                return -e;

        errno = e; /* %m names the error we were given */
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);

        if (audit_to_journal()) {
                char code_file[256], code_line[32];

                snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file);
                snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
                if (e > 0 ? sd_journal_send_with_location(code_file, code_line, func, "MESSAGE=%s", message,
                                                           "PRIORITY=%i", level & LOG_PRIMASK, "ERRNO=%i", e, NULL) >= 0
                          : sd_journal_send_with_location(code_file, code_line, func, "MESSAGE=%s", message,
                                                           "PRIORITY=%i", level & LOG_PRIMASK, NULL) >= 0) {
                        errno = saved;
                        return -e;
                }
                /* journald gone: stderr, so the line is not lost. */
        }
        fprintf(stderr, "memhpd: %s\n", message);
        errno = saved;
        return -e;
}

void log_oom_abort_internal(const char *file, int line, const char *func) {
        (void) log_full_errno(LOG_CRIT, ENOMEM, file, line, func, "Out of memory.");
        abort();
}
