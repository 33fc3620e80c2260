/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* quarantine.c: the strict parser (garbage, truncation, huge files fail closed), the lookup, add and
 * clear, and load/save under a root (damaged files kept aside, never emptied). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"
#include "quarantine.h"
#include "sysfs.h"
#include "unit-helpers.h"

#define B (UINT64_C(128) << 20)
#define LINE1 "0x100000000-0x107ffffff device=acpi-dimm id=PNP0C80:00/uid:1 reason=memory-failure pfn=0x100123 " \
              "type=free_buddy_page result=Recovered time=1764700000\n"
#define LINE2 "0x200000000-0x207ffffff device=dax-kmem id=dax0.0 reason=ehwpoison time=1764700001\n"

static void parse(const char *text, Quarantine *q) {
        *q = (Quarantine) {};
        ck_assert_int_eq(quarantine_parse(text, strlen(text), q), 0);
}

START_TEST(parse_clean) {
        Quarantine q;

        parse("# comment\n\n" LINE2 LINE1, &q);
        ck_assert_uint_eq(q.n, 2);
        ck_assert_uint_eq(q.bad_lines, 0);
        ck_assert(!q.unbounded);
        /* sorted by start */
        ck_assert_uint_eq(q.entries[0].start, 0x100000000);
        ck_assert_uint_eq(q.entries[0].end, 0x107ffffff);
        ck_assert_int_eq(q.entries[0].device, DEVICE_ACPI_DIMM);
        ck_assert_str_eq(q.entries[0].id, "PNP0C80:00/uid:1");
        ck_assert_int_eq(q.entries[0].reason, QUARANTINE_REASON_MEMORY_FAILURE);
        ck_assert(q.entries[0].has_pfn);
        ck_assert_uint_eq(q.entries[0].pfn, 0x100123);
        ck_assert_str_eq(q.entries[0].type, "free_buddy_page");
        ck_assert_uint_eq(q.entries[0].time, 1764700000);
        ck_assert_int_eq(q.entries[1].reason, QUARANTINE_REASON_EHWPOISON);
        ck_assert(!q.entries[1].has_pfn);

        ck_assert(quarantine_contains(&q, 0x100000000, B));
        ck_assert(quarantine_contains(&q, 0x107fff000, 4096));
        ck_assert(!quarantine_contains(&q, 0x108000000, B));
        ck_assert(!quarantine_contains(&q, 0xf8000000, B));
        ck_assert(quarantine_contains(&q, 0xf8000001, B)); /* overlaps the first byte */
        ck_assert(quarantine_contains(&q, 0x200000000, B));
        ck_assert(!quarantine_contains(&q, 0, 0x100000000));
        ck_assert(!quarantine_contains(NULL, 0x100000000, B));
        quarantine_done(&q);
}
END_TEST

/* What the formatter writes, the parser reads back the same. */
START_TEST(round_trip) {
        Quarantine q, r;
        char *text;

        parse(LINE1 LINE2, &q);
        ck_assert_int_eq(quarantine_format(&q, &text), 0);
        parse(text, &r);
        ck_assert_uint_eq(r.n, 2);
        ck_assert_uint_eq(r.bad_lines, 0);
        ck_assert_int_eq(memcmp(q.entries, r.entries, 2 * sizeof(QuarantineEntry)), 0);
        free(text);
        quarantine_done(&r);

        /* unbounded is persisted and read back */
        q.unbounded = true;
        ck_assert_int_eq(quarantine_format(&q, &text), 0);
        ck_assert_ptr_nonnull(strstr(text, "\n!damaged "));
        parse(text, &r);
        ck_assert(r.unbounded);
        ck_assert_uint_eq(r.bad_lines, 0);
        ck_assert_uint_eq(r.n, 2);
        free(text);
        quarantine_done(&r);
        quarantine_done(&q);
}
END_TEST

/* A bad field keeps the range (fail closed, bounded); the file is reported damaged. */
START_TEST(parse_bad_fields_keep_range) {
        static const char *const bad[] = {
                "0x100000000-0x107ffffff reason=memory-failure colour=red\n",      /* unknown key */
                "0x100000000-0x107ffffff reason=memory-failure reason=ehwpoison\n", /* key twice */
                "0x100000000-0x107ffffff reason=cosmic-ray\n",                      /* unknown reason */
                "0x100000000-0x107ffffff device=floppy reason=ehwpoison\n",         /* unknown device */
                "0x100000000-0x107ffffff reason=ehwpoison pfn=12\n",                /* pfn not 0x */
                "0x100000000-0x107ffffff reason=ehwpoison pages=0\n",
                "0x100000000-0x107ffffff reason=ehwpoison time=-1\n",
                "0x100000000-0x107ffffff reason=ehwpoison  time=1\n",               /* two spaces */
                "0x100000000-0x107ffffff reason=ehwpoison id=a=b\n",
                "0x100000000-0x107ffffff time=1\n",                                 /* no reason */
                "0x100000000-0x107ffffff\n",
                "0x100000000-0x107ffffff reason=ehwpoison time=99999999999999999999999\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                Quarantine q;

                parse(bad[i], &q);
                ck_assert_msg(q.bad_lines == 1, "%s", bad[i]);
                ck_assert_msg(!q.unbounded, "%s", bad[i]);
                ck_assert_uint_eq(q.n, 1);
                ck_assert_uint_eq(q.first_bad_line, 1);
                ck_assert(quarantine_contains(&q, 0x100000000, B));
                ck_assert(!quarantine_contains(&q, 0x108000000, B));
                quarantine_done(&q);
        }
}
END_TEST

/* Garbage where a range should be, a cut-short file, NULs, long lines: the lost line could have named
 * any range, so every range counts as quarantined. */
START_TEST(parse_garbage_is_unbounded) {
        static const char *const bad[] = {
                LINE1 "garbage\n",
                LINE1 "0x100000000 reason=ehwpoison\n",
                LINE1 "0x2000-0x1000 reason=ehwpoison\n",                /* ends before it starts */
                LINE1 "100000000-107ffffff reason=ehwpoison\n",          /* no 0x */
                LINE1 "0x10000000000000000-0x1 reason=ehwpoison\n",      /* beyond 64 bits */
                LINE1 "0x200000000-0x207ffffff reason=ehwpois",          /* truncated */
                LINE1 "0x2000",                                          /* truncated in the range */
                LINE1 "!something\n",
                " " LINE1,
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                Quarantine q;

                parse(bad[i], &q);
                ck_assert_msg(q.unbounded, "%s", bad[i]);
                ck_assert_msg(q.bad_lines >= 1, "%s", bad[i]);
                ck_assert(quarantine_contains(&q, 0x500000000, B));
                ck_assert(quarantine_contains(&q, 0, 4096));
                ck_assert(q.damage[0]);
                quarantine_done(&q);
        }
        {
                /* a NUL byte inside */
                static const char nul[] = LINE1 "0x2\0000000000-0x207ffffff reason=ehwpoison\n";
                Quarantine q = {};
                ck_assert_int_eq(quarantine_parse(nul, sizeof(nul) - 1, &q), 0);
                ck_assert(q.unbounded);
                ck_assert_uint_eq(q.n, 1);
                quarantine_done(&q);
        }
        {
                /* a line over 1024 bytes */
                char *t = malloc(3000);
                Quarantine q = {};
                strcpy(t, "0x1000-0x1fff reason=ehwpoison id=");
                memset(t + strlen(t), 'a', 2000);
                strcpy(t + 34 + 2000, "\n");
                ck_assert_int_eq(quarantine_parse(t, strlen(t), &q), 0);
                ck_assert(q.unbounded);
                quarantine_done(&q);
                free(t);
        }
}
END_TEST

START_TEST(add_and_clear) {
        Quarantine q = {};
        QuarantineEntry e = { .start = 0x100000000, .end = 0x107ffffff, .device = -1, .reason = QUARANTINE_REASON_MEMORY_FAILURE,
                              .has_pfn = true, .pfn = 0x100123, .pages = 1 }, *got;

        ck_assert_int_eq(quarantine_add(&q, &e, &got), 1);
        ck_assert_uint_eq(got->pages, 1);
        /* the same page again: no new page */
        ck_assert_int_eq(quarantine_add(&q, &e, &got), 0);
        ck_assert_uint_eq(got->pages, 1);
        /* another page of the block */
        e.pfn = 0x100200;
        ck_assert_int_eq(quarantine_add(&q, &e, &got), 0);
        ck_assert_uint_eq(got->pages, 2);
        ck_assert_uint_eq(q.n, 1);
        /* lower blocks are kept in order */
        e.start = 0xc0000000, e.end = 0xc7ffffff;
        ck_assert_int_eq(quarantine_add(&q, &e, &got), 1);
        ck_assert_uint_eq(q.entries[0].start, 0xc0000000);
        e.end = 0;
        ck_assert_int_eq(quarantine_add(&q, &e, NULL), -EINVAL);

        ck_assert_uint_eq(quarantine_clear(&q, 0x100000000, 0x100000000), 1);
        ck_assert(!quarantine_contains(&q, 0x100000000, B));
        ck_assert(quarantine_contains(&q, 0xc0000000, B));
        ck_assert_uint_eq(quarantine_clear(&q, 0x100000000, 0x100000000), 0);
        q.unbounded = true;
        /* only "all" ends an unbounded quarantine */
        ck_assert_uint_eq(quarantine_clear(&q, 0xc0000000, 0xc7ffffff), 1);
        ck_assert(quarantine_contains(&q, 0x900000000, B));
        ck_assert_uint_eq(quarantine_clear(&q, 0, UINT64_MAX), 1);
        ck_assert(!quarantine_contains(&q, 0x900000000, B));
        quarantine_done(&q);
}
END_TEST

/* One long range (an administrator's) and many block-sized ones after its start: the lookup must look
 * back past the short ones to find the long one. */
START_TEST(lookup_long_range) {
        char *text = malloc(200 * 100), *p = text;
        Quarantine q;

        p += sprintf(p, "0x0-0xfffffffff reason=administrator\n"); /* 0-64 GiB */
        for (uint64_t a = 1; a <= 100; a++)
                p += sprintf(p, "0x%llx-0x%llx reason=ehwpoison\n", (unsigned long long) (a << 30),
                             (unsigned long long) ((a << 30) + B - 1));
        parse(text, &q);
        ck_assert_uint_eq(q.n, 101);
        ck_assert_uint_eq(q.bad_lines, 0);
        ck_assert(quarantine_contains(&q, (UINT64_C(63) << 30) + B, B));   /* only in the long range */
        ck_assert(quarantine_contains(&q, (UINT64_C(80) << 30), B));       /* a short one */
        ck_assert(!quarantine_contains(&q, (UINT64_C(80) << 30) + B, B));  /* past both */
        ck_assert(!quarantine_contains(&q, UINT64_C(150) << 30, B));
        ck_assert(!quarantine_contains(&q, UINT64_MAX - 4095, 4096));
        ck_assert(!quarantine_contains(&q, UINT64_MAX - 4095, UINT64_MAX)); /* wraps: taken up to the end */
        ck_assert(quarantine_contains(&q, UINT64_C(90) << 30, UINT64_MAX)); /* a wrapping size reaches 90-100 GiB */
        quarantine_done(&q);
        free(text);
}
END_TEST

START_TEST(load_save) {
        char *dir = test_tmpdir(), *text;
        Root *root;
        Quarantine q = {};
        QuarantineEntry e = { .start = 0x100000000, .end = 0x107ffffff, .device = DEVICE_ACPI_DIMM,
                              .reason = QUARANTINE_REASON_MEMORY_FAILURE, .pages = 1, .time = 5 };

        ck_assert_int_eq(root_open(dir, &root), 0);
        /* no file: empty */
        ck_assert_int_eq(quarantine_load(root->fd, &q, 100, true), 0);
        ck_assert_uint_eq(q.n, 0);
        ck_assert(!q.unbounded);
        ck_assert_int_eq(quarantine_add(&q, &e, NULL), 1);
        ck_assert_int_eq(quarantine_save(root->fd, &q), 0);
        quarantine_done(&q);
        text = read_text(dir, QUARANTINE_FILE);
        ck_assert_ptr_nonnull(strstr(text, "\n0x100000000-0x107ffffff device=acpi-dimm reason=memory-failure time=5\n"));
        free(text);
        ck_assert_int_eq(quarantine_load(root->fd, &q, 100, true), 0);
        ck_assert_uint_eq(q.n, 1);
        quarantine_done(&q);

        /* damaged: kept aside as quarantine.damaged-TIME, rewritten with !damaged, never emptied */
        write_file(dir, QUARANTINE_FILE, LINE1 "##garbage\nrubbish\n");
        ck_assert_int_eq(quarantine_load(root->fd, &q, 200, true), 0);
        ck_assert(q.unbounded);
        ck_assert_uint_eq(q.n, 1);
        quarantine_done(&q);
        text = read_text(dir, QUARANTINE_DIR "/quarantine.damaged-200");
        ck_assert_str_eq(text, LINE1 "##garbage\nrubbish\n");
        free(text);
        text = read_text(dir, QUARANTINE_FILE);
        ck_assert_ptr_nonnull(strstr(text, "\n!damaged "));
        ck_assert_ptr_nonnull(strstr(text, "\n0x100000000-0x107ffffff "));
        free(text);
        /* and a restart still fails closed, with nothing more kept aside */
        ck_assert_int_eq(quarantine_load(root->fd, &q, 300, true), 0);
        ck_assert(q.unbounded);
        ck_assert_uint_eq(q.bad_lines, 0);
        quarantine_done(&q);
        ck_assert_int_eq(access(QUARANTINE_DIR "/quarantine.damaged-300", F_OK), -1);

        /* --dry-run (no repair) writes nothing */
        write_file(dir, QUARANTINE_FILE, "junk\n");
        ck_assert_int_eq(quarantine_load(root->fd, &q, 400, false), 0);
        ck_assert(q.unbounded);
        quarantine_done(&q);
        text = read_text(dir, QUARANTINE_FILE);
        ck_assert_str_eq(text, "junk\n");
        free(text);

        /* not a regular file, and a huge one: unbounded, -errno */
        remove_tree(dir, QUARANTINE_FILE);
        make_dirs(dir, QUARANTINE_FILE);
        ck_assert_int_eq(quarantine_load(root->fd, &q, 500, true), -EBADF);
        ck_assert(q.unbounded);
        quarantine_done(&q);
        remove_tree(dir, QUARANTINE_FILE);
        {
                char *path;
                FILE *f;
                ck_assert(asprintf(&path, "%s/%s", dir, QUARANTINE_FILE) > 0);
                f = fopen(path, "w");
                ck_assert_ptr_nonnull(f);
                ck_assert_int_eq(ftruncate(fileno(f), QUARANTINE_FILE_MAX + 1), 0);
                fclose(f);
                ck_assert_int_eq(quarantine_load(root->fd, &q, 600, true), -EFBIG);
                ck_assert(q.unbounded);
                quarantine_done(&q);
                free(path);
        }
        text = read_text(dir, QUARANTINE_FILE);
        ck_assert_ptr_nonnull(strstr(text, "\n!damaged "));
        free(text);
        root_free(root);
        free(dir);
}
END_TEST

START_TEST(targets) {
        QuarantineTarget t = { .start = 7 };
        Quarantine q;

        ck_assert_int_eq(quarantine_target_parse("all", B, &t), 0);
        ck_assert(t.all && t.start == 0 && t.end == UINT64_MAX);
        ck_assert_int_eq(quarantine_target_parse("memory32", B, &t), 0);
        ck_assert(!t.all && !t.by_id && t.start == 0x100000000 && t.end == 0x107ffffff);
        ck_assert_int_eq(quarantine_target_parse("memory32-33", B, &t), 0);
        ck_assert_uint_eq(t.end, 0x10fffffff);
        ck_assert_int_eq(quarantine_target_parse("memory32-memory33", B, &t), 0);
        ck_assert_uint_eq(t.end, 0x10fffffff);
        ck_assert_int_eq(quarantine_target_parse("0x100000000-0x1000fffff", B, &t), 0);
        ck_assert(t.start == 0x100000000 && t.end == 0x1000fffff);
        ck_assert_int_eq(quarantine_target_parse("PNP0C80:00", B, &t), 0);
        ck_assert(t.by_id);
        ck_assert_str_eq(t.id, "PNP0C80:00");
        t.start = 7;
        static const char *const bad[] = { "", "memory", "memoryx", "memory33-32", "memory-1", "memory1-", "0x10",
                                           "0x20-0x10", "0x1-", "memory4294967296", "a b", "x=y", "memory1-0x5" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                QuarantineTarget u = { .start = 7 };
                ck_assert_msg(quarantine_target_parse(bad[i], B, &u) == -EINVAL, "%s", bad[i]);
                ck_assert_uint_eq(u.start, 7);
        }
        ck_assert_int_eq(quarantine_target_parse("memory1", 0, &t), -EINVAL);

        parse(LINE1 LINE2 "0x300000000-0x307ffffff id=PNP0C80:01 reason=ehwpoison\n", &q);
        ck_assert_int_eq(quarantine_target_parse("PNP0C80:0", B, &t), 0);
        ck_assert_uint_eq(quarantine_clear_target(&q, &t), 0); /* a prefix of a name is not the name */
        ck_assert_int_eq(quarantine_target_parse("PNP0C80:00", B, &t), 0);
        ck_assert_uint_eq(quarantine_clear_target(&q, &t), 1);
        ck_assert_uint_eq(q.n, 2);
        ck_assert_int_eq(quarantine_target_parse("memory64", B, &t), 0);
        ck_assert_uint_eq(quarantine_clear_target(&q, &t), 1);
        ck_assert_uint_eq(q.n, 1);
        ck_assert_str_eq(q.entries[0].id, "PNP0C80:01");
        quarantine_done(&q);
}
END_TEST

START_TEST(reason_names) {
        for (int r = 0; r < _QUARANTINE_REASON_MAX; r++)
                ck_assert_int_eq(quarantine_reason_from_string(quarantine_reason_to_string(r)), r);
        ck_assert_int_eq(quarantine_reason_from_string("nope"), -EINVAL);
        ck_assert_str_eq(quarantine_reason_to_string(_QUARANTINE_REASON_MAX), "invalid");
}
END_TEST

static Suite *quarantine_suite(void) {
        Suite *s = suite_create("quarantine");
        TCase *tc = tcase_create("quarantine");

        tcase_add_test(tc, parse_clean);
        tcase_add_test(tc, round_trip);
        tcase_add_test(tc, parse_bad_fields_keep_range);
        tcase_add_test(tc, parse_garbage_is_unbounded);
        tcase_add_test(tc, add_and_clear);
        tcase_add_test(tc, lookup_long_range);
        tcase_add_test(tc, load_save);
        tcase_add_test(tc, reason_names);
        tcase_add_test(tc, targets);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(quarantine_suite());
}
