/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MESSAGE_IDs live in daemon/audit.c, units/memhpd.catalog, memhpd(8) and the VM tests
 * (tests/vm/systemdvm.py): they are read here, not copied, and must agree. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "unit-helpers.h"

#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must point at the source tree"
#endif

static char *source_text(const char *rel) {
        char *text = read_text(SOURCE_ROOT, rel);
        ck_assert_msg(text && *text, "%s/%s is empty", SOURCE_ROOT, rel);
        return text;
}

static int kind_by_name(const char *name) {
        for (int e = 0; e < _AUDIT_MAX; e++)
                if (strcmp(audit_event_name(e), name) == 0)
                        return e;
        return -1;
}

static int kind_by_id(const char *id) {
        for (int e = 0; e < _AUDIT_MAX; e++)
                if (strcmp(audit_event_id(e), id) == 0)
                        return e;
        return -1;
}

static bool is_id(const char *p) {
        for (int i = 0; i < 32; i++)
                if (!isxdigit((unsigned char) p[i]))
                        return false;
        return !isxdigit((unsigned char) p[32]);
}

START_TEST(catalog_has_every_id) {
        char *text = source_text("units/memhpd.catalog");
        bool seen[_AUDIT_MAX] = {};
        unsigned n = 0;

        for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                char id[33];
                int e;

                if (strncmp(line, "-- ", 3) != 0)
                        continue;
                ck_assert_msg(is_id(line + 3), "catalog: malformed entry line %.40s", line);
                /* journalctl --update-catalog reads an entry's header only after an empty line: without
                 * one the entry is swallowed by the one before (found by the VM test, dpkg -i). */
                ck_assert_msg(line == text || (line - text >= 2 && line[-2] == '\n'),
                              "catalog: no empty line before %.35s", line);
                memcpy(id, line + 3, 32);
                id[32] = '\0';
                {
                        /* The header, then an empty line, then a body that is not the next entry's header:
                         * a merge once left an entry as its Subject: line alone. */
                        const char *hdr = strchr(line, '\n') + 1, *end = strstr(hdr, "\n\n");

                        ck_assert_msg(strncmp(hdr, "Subject: ", 9) == 0, "catalog: %s has no Subject: line", id);
                        ck_assert_msg(end && memmem(hdr, end - hdr, "\nDefined-By: memhpd\n", 20) &&
                                      memmem(hdr, end - hdr + 1, "\nSupport: ", 10) &&
                                      memmem(hdr, end - hdr + 1, "\nDocumentation: ", 16),
                                      "catalog: %s lacks Defined-By:, Support: or Documentation: in its header", id);
                        ck_assert_msg(strncmp(end + 2, "-- ", 3) != 0 && end[2] != '\0',
                                      "catalog: %s has no text", id);
                }
                e = kind_by_id(id);
                ck_assert_msg(e >= 0, "catalog: %s is no MESSAGE_ID of daemon/audit.c", id);
                ck_assert_msg(!seen[e], "catalog: two entries for %s (%s)", id, audit_event_name(e));
                seen[e] = true;
                n++;
        }
        for (int e = 0; e < _AUDIT_MAX; e++)
                ck_assert_msg(seen[e], "catalog: no entry for %s (%s)", audit_event_name(e), audit_event_id(e));
        ck_assert_uint_eq(n, _AUDIT_MAX);
        free(text);
}
END_TEST

START_TEST(man_page_lists_every_event) {
        char *text = source_text("man/memhpd.8.scd");
        bool seen[_AUDIT_MAX] = {};

        /* "*started* (info)\n\tMESSAGE_ID=a9e6...: ..." */
        for (char *p = text; (p = strstr(p, "\tMESSAGE_ID=")); p++) {
                char *end, *start, name[64], id[33];
                int e;

                ck_assert_msg(is_id(p + 12), "memhpd(8): malformed MESSAGE_ID line near %.60s", p);
                memcpy(id, p + 12, 32);
                id[32] = '\0';
                /* The event's name is on the line above, between the first two '*'. */
                end = p - 1;
                while (end > text && *end != '\n')
                        end--;
                start = end;
                while (start > text && start[-1] != '\n')
                        start--;
                ck_assert_msg(*start == '*', "memhpd(8): no *event* line above MESSAGE_ID=%s", id);
                end = strchr(start + 1, '*');
                ck_assert(end && (size_t) (end - start - 1) < sizeof(name));
                memcpy(name, start + 1, end - start - 1);
                name[end - start - 1] = '\0';
                e = kind_by_name(name);
                ck_assert_msg(e >= 0, "memhpd(8): event %s is not in daemon/audit.c", name);
                ck_assert_msg(strcmp(audit_event_id(e), id) == 0, "memhpd(8): %s has MESSAGE_ID=%s, audit.c says %s",
                              name, id, audit_event_id(e));
                seen[e] = true;
        }
        for (int e = 0; e < _AUDIT_MAX; e++)
                ck_assert_msg(seen[e], "memhpd(8): event %s is not listed", audit_event_name(e));
        free(text);
}
END_TEST

START_TEST(vm_tests_use_the_same_ids) {
        char *text = source_text("tests/vm/systemdvm.py"), *p, *end;
        unsigned n = 0;

        p = strstr(text, "MESSAGE_IDS = {");
        ck_assert_msg(p, "tests/vm/systemdvm.py: no MESSAGE_IDS table");
        end = strchr(p, '}');
        ck_assert_ptr_nonnull(end);
        /*     "started": "a9e6...", */
        for (char *q = p; (q = strchr(q, '"')) && q < end;) {
                char name[64], id[33];
                char *close = strchr(q + 1, '"');
                int e;

                ck_assert(close && close < end && (size_t) (close - q - 1) < sizeof(name));
                memcpy(name, q + 1, close - q - 1);
                name[close - q - 1] = '\0';
                q = strchr(close + 1, '"');
                ck_assert_msg(q && q < end && is_id(q + 1) && q[33] == '"', "systemdvm.py: no id for %s", name);
                memcpy(id, q + 1, 32);
                id[32] = '\0';
                e = kind_by_name(name);
                ck_assert_msg(e >= 0, "systemdvm.py: event %s is not in daemon/audit.c", name);
                ck_assert_msg(strcmp(audit_event_id(e), id) == 0, "systemdvm.py: %s has %s, audit.c says %s", name, id,
                              audit_event_id(e));
                q += 34;
                n++;
        }
        ck_assert_uint_gt(n, 0);
        free(text);
}
END_TEST

static Suite *message_ids_suite(void) {
        Suite *s = suite_create("message-ids");
        TCase *tc = tcase_create("agree");

        tcase_add_test(tc, catalog_has_every_id);
        tcase_add_test(tc, man_page_lists_every_event);
        tcase_add_test(tc, vm_tests_use_the_same_ids);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(message_ids_suite());
}
