/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <syslog.h>

#include "macro.h"

/*
 * Plain diagnostics: what went wrong or what was ignored, for the operator, at a syslog level. Not the
 * audit trail (audit.h): audit records are never filtered by the level set here.
 *
 * Under journald a line is a journal entry with CODE_FILE/CODE_LINE/CODE_FUNC of the caller; anywhere
 * else it is "memhpd: TEXT" on stderr. The idiom, as in systemd:
 *
 *         r = thing();
 *         if (r < 0)
 *                 return log_error_errno(r, "Cannot do the thing: %m");
 */

/*
 * Log at 'level' if it passes the maximum level. While formatting, errno is abs(error), so %m names it;
 * the caller's errno is kept. Returns -abs(error), or 0 if 'error' is 0, whether or not anything was
 * written.
 */
int log_full_errno(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
        _printf_(6, 7);

/* LOG_ERR .. LOG_DEBUG; the default is LOG_INFO. */
void log_set_max_level(int level);
int log_get_max_level(void);
/* "debug", "info", "notice", "warning", "err"/"error", "crit", "alert", "emerg" or 0..7; -EINVAL. */
int log_level_from_string(const char *s);

#define log_full_errno_at(level, error, ...) \
        log_full_errno((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...) log_full_errno_at(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno_at(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno_at(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno_at(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno_at(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno_at(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno_at(LOG_INFO, (e), __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno_at(LOG_NOTICE, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno_at(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno_at(LOG_ERR, (e), __VA_ARGS__)

/* STYLE.md: -ENOMEM is fatal. Says so once and aborts. */
_noreturn_ void log_oom_abort_internal(const char *file, int line, const char *func);
#define log_oom_abort() log_oom_abort_internal(__FILE__, __LINE__, __func__)
