/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "unit-helpers.h"

START_TEST(event_names_and_ids) {
        for (int e = 0; e < _AUDIT_MAX; e++) {
                const char *id = audit_event_id(e), *name = audit_event_name(e);

                ck_assert_ptr_nonnull(name);
                ck_assert_str_ne(name, "invalid");
                ck_assert_uint_eq(strlen(id), 32);
                for (const char *p = id; *p; p++)
                        ck_assert_msg(isxdigit((unsigned char) *p) && !isupper((unsigned char) *p),
                                      "MESSAGE_ID %s of %s is not 32 lowercase hex digits", id, name);
                ck_assert_str_ne(id, "00000000000000000000000000000000");
                /* Single words: the stderr line and the catalog depend on it. */
                ck_assert_msg(strspn(name, "abcdefghijklmnopqrstuvwxyz-") == strlen(name), "event name \"%s\"", name);
                for (int o = 0; o < e; o++) {
                        ck_assert_msg(strcmp(id, audit_event_id(o)) != 0, "%s and %s share a MESSAGE_ID", name,
                                      audit_event_name(o));
                        ck_assert_msg(strcmp(name, audit_event_name(o)) != 0, "two events named %s", name);
                }
        }
        ck_assert_str_eq(audit_event_name(AUDIT_ONLINED), "onlined");
        ck_assert_str_eq(audit_event_name(_AUDIT_MAX), "invalid");
        ck_assert_str_eq(audit_event_id(_AUDIT_MAX), "00000000000000000000000000000000");
}
END_TEST

/* What audit_record() and log_*() write to stderr while 'fn' runs. */
static char *capture_stderr(void (*fn)(void)) {
        char *dir = test_tmpdir(), *path, *text;
        int saved, fd;

        ck_assert(asprintf(&path, "%s/stderr", dir) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        ck_assert_int_ge(saved, 0);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        fn();
        fflush(stderr);
        ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
        close(saved);
        close(fd);
        text = read_text(dir, "stderr");
        free(path);
        free(dir);
        return text;
}

static void record_onlined(void) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.block = 40;
        f.node = 0;
        f.device = "acpi-dimm";
        f.zone = "Movable";
        f.action = "online_movable";
        f.result = "ok";
        f.policy_path = "/etc/memhpd/policies.d/50-dimm.policy";
        f.policy_line = 2;
        audit_record(AUDIT_ONLINED, &f, "onlined memory%d as %s: %s", 40, "movable", "Zone=movable");
}

START_TEST(stderr_record) {
        char *text;

        audit_init(AUDIT_TO_STDERR);
        ck_assert(!audit_to_journal());
        text = capture_stderr(record_onlined);
        ck_assert_str_eq(text, "memhpd: onlined memory40 as movable: Zone=movable [event=onlined block=40 node=0 "
                               "device=acpi-dimm zone=Movable action=online_movable result=ok "
                               "policy=/etc/memhpd/policies.d/50-dimm.policy:2]\n");
        free(text);
}
END_TEST

static void record_failed(void) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.block = 67;
        f.zone = "Normal Movable]";
        f.result = "failed";
        f.error = -EBUSY;
        audit_record(AUDIT_ONLINE_FAILED, &f, "could not online memory%d", 67);
        /* Nothing but the event. */
        f = (AuditFields) AUDIT_FIELDS_INIT;
        audit_record(AUDIT_STARTED, &f, "started");
}

START_TEST(stderr_record_sparse) {
        char *text;

        audit_init(AUDIT_TO_STDERR);
        text = capture_stderr(record_failed);
        /* Unknown fields are left out; blanks and ']' in values cannot break the bracket. */
        ck_assert_str_eq(text, "memhpd: could not online memory67 [event=online-failed block=67 zone=Normal_Movable_ "
                               "result=failed errno=16]\n"
                               "memhpd: started [event=started]\n");
        free(text);
}
END_TEST

static void record_debug(void) {
        log_debug("a debug line");
        log_warning("a warning");
}

START_TEST(stderr_levels) {
        char *text;

        audit_init(AUDIT_TO_STDERR);
        text = capture_stderr(record_debug);
        ck_assert_str_eq(text, "memhpd: a warning\n");
        free(text);

        log_set_max_level(LOG_DEBUG);
        text = capture_stderr(record_debug);
        log_set_max_level(LOG_INFO);
        ck_assert_str_eq(text, "memhpd: a debug line\n"
                               "memhpd: a warning\n");
        free(text);
}
END_TEST

static void log_errno_keeps_errno(void) {
        errno = EPERM;
        ck_assert_int_eq(log_warning_errno(-EBUSY, "busy: %m"), -EBUSY);
        ck_assert_int_eq(errno, EPERM);
        ck_assert_int_eq(log_warning_errno(ENOENT, "gone: %m"), -ENOENT);
        ck_assert_int_eq(log_warning("no error"), 0);
        /* Filtered out, and still returning the error for "return log_debug_errno(r, ...)". */
        ck_assert_int_eq(log_debug_errno(-EIO, "not shown"), -EIO);
        ck_assert_int_eq(errno, EPERM);
}

START_TEST(log_errno_idiom) {
        char *text;

        audit_init(AUDIT_TO_STDERR);
        text = capture_stderr(log_errno_keeps_errno);
        ck_assert_str_eq(text, "memhpd: busy: Device or resource busy\n"
                               "memhpd: gone: No such file or directory\n"
                               "memhpd: no error\n");
        free(text);
}
END_TEST

static void record_with_errno(void) {
        AuditFields f = AUDIT_FIELDS_INIT;

        f.error = -EBUSY;
        errno = EPERM;
        audit_record(AUDIT_ONLINE_FAILED, &f, "failed: %m");
        ck_assert_int_eq(errno, EPERM);
        f = (AuditFields) AUDIT_FIELDS_INIT;
        audit_record(AUDIT_STARTED, &f, "started");
        audit_record(_AUDIT_MAX, &f, "out of range");
        audit_record((AuditEvent) -1, &f, "negative");
}

START_TEST(audit_not_filtered_and_bounded) {
        char *text;

        audit_init(AUDIT_TO_STDERR);
        log_set_max_level(LOG_ERR);
        text = capture_stderr(record_with_errno);
        log_set_max_level(LOG_INFO);
        /* LOG_INFO records at max level LOG_ERR; kinds outside the table are "invalid", not a crash. */
        ck_assert_str_eq(text, "memhpd: failed: Device or resource busy [event=online-failed errno=16]\n"
                               "memhpd: started [event=started]\n"
                               "memhpd: out of range [event=invalid]\n"
                               "memhpd: negative [event=invalid]\n");
        free(text);
}
END_TEST

START_TEST(log_levels_parse) {
        ck_assert_int_eq(log_level_from_string("debug"), LOG_DEBUG);
        ck_assert_int_eq(log_level_from_string("err"), LOG_ERR);
        ck_assert_int_eq(log_level_from_string("error"), LOG_ERR);
        ck_assert_int_eq(log_level_from_string("WARNING"), LOG_WARNING);
        ck_assert_int_eq(log_level_from_string("5"), LOG_NOTICE);
        ck_assert_int_eq(log_level_from_string("8"), -EINVAL);
        ck_assert_int_eq(log_level_from_string(""), -EINVAL);
        ck_assert_int_eq(log_level_from_string("verbose"), -EINVAL);
}
END_TEST

START_TEST(auto_target_without_journal) {
        /* Not started by systemd: stderr. */
        ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
        audit_init(AUDIT_TO_AUTO);
        ck_assert(!audit_to_journal());
        ck_assert_int_eq(setenv("JOURNAL_STREAM", "1:1", 1), 0);
        audit_init(AUDIT_TO_AUTO);
        ck_assert(!audit_to_journal());
        ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
        audit_init(AUDIT_TO_STDERR);
}
END_TEST

START_TEST(auto_target_with_journal) {
        char *dir = test_tmpdir(), *path, value[64];
        struct stat st;
        int saved, fd;

        /* systemd sets JOURNAL_STREAM to the device:inode of the stream it connected stderr to. */
        ck_assert(asprintf(&path, "%s/stream", dir) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        saved = dup(STDERR_FILENO);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        ck_assert_int_eq(setenv("JOURNAL_STREAM", value, 1), 0);
        audit_init(AUDIT_TO_AUTO);
        ck_assert(audit_to_journal());
        /* Another file on stderr: the variable was inherited, not meant for us. */
        ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
        audit_init(AUDIT_TO_AUTO);
        ck_assert(!audit_to_journal());
        ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
        audit_init(AUDIT_TO_STDERR);
        close(saved);
        close(fd);
        free(path);
        free(dir);
}
END_TEST

static Suite *audit_suite(void) {
        Suite *s = suite_create("audit");
        TCase *tc = tcase_create("audit");

        tcase_add_test(tc, event_names_and_ids);
        tcase_add_test(tc, stderr_record);
        tcase_add_test(tc, stderr_record_sparse);
        tcase_add_test(tc, stderr_levels);
        tcase_add_test(tc, auto_target_without_journal);
        tcase_add_test(tc, auto_target_with_journal);
        tcase_add_test(tc, log_errno_idiom);
        tcase_add_test(tc, audit_not_filtered_and_bounded);
        tcase_add_test(tc, log_levels_parse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(audit_suite());
}
