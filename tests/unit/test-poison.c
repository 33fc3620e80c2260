/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* poison-parse.c: the memory_failure_event format files of real 6.1 and 6.12 kernels (tests/fixtures/
 * tracefs, read from Debian's kernels in the VM guests) and trace_pipe lines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "poison-parse.h"
#include "unit-helpers.h"

static MfFormat parse_fixture(const char *name) {
        char *text = fixture_text(name);
        MfFormat f;

        ck_assert_int_eq(mf_format_parse(text, &f), 0);
        free(text);
        return f;
}

START_TEST(format_6_1) {
        MfFormat f = parse_fixture("tracefs/memory_failure_event-6.1.format");

        ck_assert_uint_eq(f.id, 1223);
        ck_assert(f.has_pfn && f.has_type && f.has_result && f.shape_ok);
        ck_assert_uint_eq(f.n_types, 20);
        ck_assert_uint_eq(f.n_results, 4);
        ck_assert_str_eq(mf_symbol_name(f.types, f.n_types, 2), "kernel slab page");
        ck_assert_str_eq(mf_symbol_name(f.types, f.n_types, 16), "free buddy page");
        ck_assert_str_eq(mf_symbol_name(f.types, f.n_types, 19), "unknown page");
        ck_assert_int_eq(mf_symbol_value(f.types, f.n_types, "already poisoned"), -1);
        ck_assert_str_eq(mf_symbol_name(f.results, f.n_results, 3), "Recovered");
        ck_assert_str_eq(mf_symbol_name(f.results, f.n_results, 0), "Ignored");
}
END_TEST

/* 6.12 drops "kernel slab page" and "different compound page after locking" from the table, adds
 * "get hwpoison page" and "already poisoned": the same number means another type. */
START_TEST(format_6_12) {
        MfFormat f = parse_fixture("tracefs/memory_failure_event-6.12.format");

        ck_assert_uint_eq(f.id, 1347);
        ck_assert(f.has_pfn && f.has_type && f.has_result && f.shape_ok);
        ck_assert_uint_eq(f.n_types, 20);
        ck_assert_ptr_null(mf_symbol_name(f.types, f.n_types, 2));
        ck_assert_str_eq(mf_symbol_name(f.types, f.n_types, 5), "get hwpoison page");
        ck_assert_str_eq(mf_symbol_name(f.types, f.n_types, 19), "already poisoned");
        ck_assert_str_eq(mf_symbol_name(f.types, f.n_types, 20), "unknown page");
        ck_assert_int_eq(mf_symbol_value(f.types, f.n_types, "kernel slab page"), -1);
        ck_assert_int_eq(mf_symbol_value(f.types, f.n_types, "free buddy page"), 16);
        ck_assert_str_eq(mf_symbol_name(f.results, f.n_results, 1), "Failed");
}
END_TEST

START_TEST(format_bad) {
        char *good = fixture_text("tracefs/memory_failure_event-6.1.format"), *t;
        MfFormat f = { .id = 42 };

        ck_assert_int_eq(mf_format_parse("", &f), -EBADMSG);
        ck_assert_int_eq(mf_format_parse("name: mc_event\nID: 3\n", &f), -EBADMSG);
        /* no pfn field */
        t = strdup(good);
        memcpy(strstr(t, "field:unsigned long pfn;"), "field:unsigned long pxn;", 24);
        ck_assert_int_eq(mf_format_parse(t, &f), -EBADMSG);
        free(t);
        /* a table entry cut short */
        t = strdup(good);
        *strstr(t, "{ 4, \"huge page\" }") = '\0';
        ck_assert_int_eq(mf_format_parse(t, &f), -EBADMSG);
        free(t);
        /* a number that is not one */
        t = strdup(good);
        memcpy(strstr(t, "{ 4, \"huge"), "{ x, \"huge", 10);
        ck_assert_int_eq(mf_format_parse(t, &f), -EBADMSG);
        free(t);
        ck_assert_uint_eq(f.id, 42); /* untouched on failure */
        /* another print fmt: parsed, but only the pfn of a line is read */
        t = strdup(good);
        memcpy(strstr(t, "recovery action"), "recovery acti0n", 15);
        ck_assert_int_eq(mf_format_parse(t, &f), 0);
        ck_assert(!f.shape_ok);
        free(t);
        free(good);
}
END_TEST

static int line(const char *s, const MfFormat *f, MemoryFailure *mf) {
        return mf_trace_line_parse(s, strlen(s), f, mf);
}

/* The first line is what trace_pipe printed in the 6.1 guest after "echo 0x100123000 >
 * hard_offline_page" on a hot-added movable block; the others are in the same shape. */
START_TEST(trace_lines) {
        MfFormat f61 = parse_fixture("tracefs/memory_failure_event-6.1.format");
        MfFormat f612 = parse_fixture("tracefs/memory_failure_event-6.12.format");
        MemoryFailure mf;

        ck_assert_int_eq(line("              sh-108     [001] .....     7.372568: memory_failure_event: pfn 0x100123: "
                              "recovery action for free buddy page: Recovered", &f61, &mf), MF_LINE_EVENT);
        ck_assert_uint_eq(mf.pfn, 0x100123);
        ck_assert_str_eq(mf.type, "free buddy page");
        ck_assert_str_eq(mf.result, "Recovered");
        ck_assert_int_eq(mf.type_value, 16);
        ck_assert_int_eq(mf.result_value, 3);

        ck_assert_int_eq(line("  kworker/0:1-17 [000] d..1. 9.1: memory_failure_event: pfn 0x2c0000: recovery action "
                              "for already poisoned: Failed", &f612, &mf), MF_LINE_EVENT);
        ck_assert_uint_eq(mf.pfn, 0x2c0000);
        ck_assert_int_eq(mf.type_value, 19);
        ck_assert_int_eq(mf.result_value, 1);
        /* the same name on 6.1 is unknown: printed, kept, not numbered */
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x2c0000: recovery action for already poisoned: Failed",
                              &f61, &mf), MF_LINE_EVENT);
        ck_assert_int_eq(mf.type_value, -1);
        ck_assert_str_eq(mf.type, "already poisoned");
        /* __print_symbolic prints an unknown value in hex */
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x1: recovery action for 0x15: Recovered", &f61, &mf),
                         MF_LINE_EVENT);
        ck_assert_str_eq(mf.type, "0x15");
        /* %#lx prints zero as "0" */
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0: recovery action for dax page: Delayed", &f612, &mf),
                         MF_LINE_EVENT);
        ck_assert_uint_eq(mf.pfn, 0);
        ck_assert_int_eq(mf.result_value, 2);
        /* no format at all: names kept, not numbered */
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0xabc: recovery action for huge page: Ignored", NULL, &mf),
                         MF_LINE_EVENT);
        ck_assert_uint_eq(mf.pfn, 0xabc);
        ck_assert_int_eq(mf.type_value, -1);
}
END_TEST

START_TEST(trace_lines_bad) {
        MfFormat f = parse_fixture("tracefs/memory_failure_event-6.12.format"), other;
        MemoryFailure mf = { .pfn = 7 };
        char *t;

        ck_assert_int_eq(line("", &f, &mf), MF_LINE_OTHER);
        ck_assert_int_eq(line("  sh-1 [000] 1.0: mc_event: something", &f, &mf), MF_LINE_OTHER);
        ck_assert_int_eq(line("CPU:1 [LOST 12 EVENTS]", &f, &mf), MF_LINE_LOST);
        ck_assert_int_eq(line("x: memory_failure_event: ", &f, &mf), -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn : recovery action for a: b", &f, &mf), -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x: recovery action for a: b", &f, &mf), -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x1ffffffffffffffff: recovery action for a: b", &f, &mf),
                         -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x12 recovery action for a: b", &f, &mf), -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x12: recovery action for free buddy page", &f, &mf),
                         -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x12: recovery action for : Recovered", &f, &mf), -EBADMSG);
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x12: recovery action for x: ", &f, &mf), -EBADMSG);
        t = malloc(300);
        strcpy(t, "x: memory_failure_event: pfn 0x12: recovery action for ");
        memset(t + strlen(t), 'a', 100);
        strcpy(t + strlen("x: memory_failure_event: pfn 0x12: recovery action for ") + 100, ": Failed");
        ck_assert_int_eq(line(t, &f, &mf), -EBADMSG);
        free(t);
        ck_assert_uint_eq(mf.pfn, 7); /* untouched */
        /* a print fmt memhpd does not know: the pfn alone */
        other = f;
        other.shape_ok = false;
        ck_assert_int_eq(line("x: memory_failure_event: pfn 0x55: whatever it says", &other, &mf), MF_LINE_EVENT);
        ck_assert_uint_eq(mf.pfn, 0x55);
        ck_assert_str_eq(mf.type, "");
}
END_TEST

START_TEST(name_to_word) {
        char buf[16];

        mf_name_to_word("free buddy page", buf, sizeof(buf));
        ck_assert_str_eq(buf, "free_buddy_page");
        mf_name_to_word("a]b=c\nd", buf, sizeof(buf));
        ck_assert_str_eq(buf, "a?b?c?d");
        mf_name_to_word("0123456789abcdefXYZ", buf, sizeof(buf));
        ck_assert_str_eq(buf, "0123456789abcde");
}
END_TEST

static Suite *poison_suite(void) {
        Suite *s = suite_create("poison");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, format_6_1);
        tcase_add_test(tc, format_6_12);
        tcase_add_test(tc, format_bad);
        tcase_add_test(tc, trace_lines);
        tcase_add_test(tc, trace_lines_bad);
        tcase_add_test(tc, name_to_word);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(poison_suite());
}
