/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure half of pressure.c: PSI lines, the trigger text, shortage, the pressured node, distance rows
 * and the order of a reserve step. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "macro.h"
#include "pressure.h"
#include "unit-helpers.h"

START_TEST(psi_lines) {
        PsiFigures f = { .avg10 = 7 };

        /* As 6.1 prints it, "full" line and all. */
        ck_assert_int_eq(pressure_psi_parse("some avg10=12.34 avg60=0.50 avg300=100.00 total=123456\n"
                                            "full avg10=1.00 avg60=0.00 avg300=0.00 total=99\n", &f), 0);
        ck_assert_uint_eq(f.avg10, 1234);
        ck_assert_uint_eq(f.avg60, 50);
        ck_assert_uint_eq(f.avg300, 10000);
        ck_assert_uint_eq(f.total_usec, 123456);
        ck_assert_int_eq(pressure_psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &f), 0);
        ck_assert_uint_eq(f.avg10, 0);
        ck_assert_uint_eq(f.total_usec, 0);
}
END_TEST

START_TEST(psi_rejects) {
        static const char *const bad[] = {
                "",
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0",          /* cut short */
                "some avg10=0.0 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=1.00 avg300=0.00 avg60=0.00 total=0\n",
                "some avg10=1.00 avg60=0.00 avg300=0.00 total=\n",
                "some avg10=1.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n",
                "some avg10=1.00 avg60=0.00 avg300=0.00 total=12x\n",
                "some 150000 1000000\n",
        };
        PsiFigures f = { .avg10 = 4242 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(pressure_psi_parse(bad[i], &f) == -EBADMSG, "accepted: \"%s\"", bad[i]);
                ck_assert_uint_eq(f.avg10, 4242);
        }
}
END_TEST

START_TEST(trigger_text) {
        char buf[64];

        ck_assert_int_eq(pressure_trigger_format(10, 1000000, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "some 100000 1000000");
        ck_assert_int_eq(pressure_trigger_format(60, 500000, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "some 300000 500000");
        ck_assert_int_eq(pressure_trigger_format(100, 10000000, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "some 10000000 10000000");
        /* What PSI refuses is refused here. */
        ck_assert_int_eq(pressure_trigger_format(0, 1000000, buf, sizeof(buf)), -ERANGE);
        ck_assert_int_eq(pressure_trigger_format(101, 1000000, buf, sizeof(buf)), -ERANGE);
        ck_assert_int_eq(pressure_trigger_format(10, 499999, buf, sizeof(buf)), -ERANGE);
        ck_assert_int_eq(pressure_trigger_format(10, 10000001, buf, sizeof(buf)), -ERANGE);
        ck_assert_int_eq(pressure_trigger_format(10, 1000000, buf, 8), -ENOBUFS);
}
END_TEST

START_TEST(kernel_short) {
        /* high 1000 + 25% = 1250. */
        ck_assert(pressure_kernel_short(0, 1000));
        ck_assert(pressure_kernel_short(999, 1000));
        ck_assert(pressure_kernel_short(1249, 1000));
        ck_assert(!pressure_kernel_short(1250, 1000));
        ck_assert(!pressure_kernel_short(100000, 1000));
        /* No kernel zones at all (a CPU-less node of movable memory): not short by this measure. */
        ck_assert(!pressure_kernel_short(0, 0));
        ck_assert(!pressure_kernel_short(UINT64_MAX, UINT64_MAX / 2));
        ck_assert(pressure_kernel_short(UINT64_MAX - 1, UINT64_MAX));
}
END_TEST

START_TEST(pick_node) {
        ZoneinfoNode n[4] = {};

        ck_assert_int_eq(pressure_pick_node(n, 4), -1);
        /* node0: 10% free, node1: 5% free, node2: 1% free but no watermarks, node3: nothing present. */
        n[0] = (ZoneinfoNode) { .has_zone = true, .kernel_present = 1000, .kernel_free = 100, .kernel_high = 10 };
        n[1] = (ZoneinfoNode) { .has_zone = true, .movable_present = 2000, .movable_free = 100, .movable_high = 10 };
        n[2] = (ZoneinfoNode) { .has_zone = true, .watermarks_missing = true, .kernel_present = 1000, .kernel_free = 10 };
        n[3] = (ZoneinfoNode) { .has_zone = true };
        ck_assert_int_eq(pressure_pick_node(n, 4), 1);
        n[0].kernel_free = 40;
        ck_assert_int_eq(pressure_pick_node(n, 4), 0);
        ck_assert_int_eq(pressure_pick_node(n, 1), 0);

        /* The watermark check, all nodes with figures (0, 1; node2 has none, node3 nothing present):
         * available 40 + 100 = 140, high 20 (25 with the margin). The step starts on the pressured node. */
        ck_assert_int_eq(pressure_short_node(n, 4, 0), -1);
        ck_assert_int_eq(pressure_short_node(n, 4, 115), -1);     /* 140 >= 25 + 115 */
        ck_assert_int_eq(pressure_short_node(n, 4, 116), 0);      /* 140 < 25 + 116: node0 has 4% free */
        n[0].file_pages = 100;                                    /* page cache is available */
        ck_assert_int_eq(pressure_short_node(n, 4, 116), -1);
        ck_assert_int_eq(pressure_short_node(n, 4, 216), 0);
        /* Without watermarks, never judged. */
        n[0].watermarks_missing = n[1].watermarks_missing = true;
        ck_assert_int_eq(pressure_short_node(n, 4, 1000000), -1);
}
END_TEST

/* From the snapshot: node0 and node1 with the real distance files, and the real zoneinfo. */
START_TEST(snapshot_figures) {
        char *root = fixture_root(SNAPSHOT_2NODE);
        char *text = read_text(root, "proc/zoneinfo");
        ZoneinfoNode *n = calloc(NODES_MAX, sizeof(*n));

        ck_assert_int_eq(zoneinfo_parse_nodes(text, n, NODES_MAX), 0);
        ck_assert(!pressure_kernel_short(n[0].kernel_free, n[0].kernel_high));
        ck_assert_int_eq(pressure_short_node(n, NODES_MAX, 0), -1);
        /* 312641 + 65536 free, no page cache; high 16295 + 3260 = 19555 (24443 with 25%): short from
         * a step of 353735 pages on, starting on node0. */
        ck_assert_int_eq(pressure_short_node(n, NODES_MAX, 353734), -1);
        ck_assert_int_eq(pressure_short_node(n, NODES_MAX, 353735), 0);
        /* node0 has 37% free, node1 100%: node0 is the more pressured. */
        ck_assert_int_eq(pressure_pick_node(n, NODES_MAX), 0);
        free(n);
        free(text);
        free(root);
}
END_TEST

START_TEST(distance_rows) {
        uint16_t online[3] = { 0, 2, 5 }, row[8];

        for (size_t i = 0; i < ELEMENTSOF(row); i++)
                row[i] = PRESSURE_DISTANCE_UNKNOWN;
        /* One number per online node, in node order: node 2's distance is the second number. */
        ck_assert_int_eq(pressure_distance_parse("10 20 30\n", online, 3, row), 0);
        ck_assert_uint_eq(row[0], 10);
        ck_assert_uint_eq(row[1], PRESSURE_DISTANCE_UNKNOWN);
        ck_assert_uint_eq(row[2], 20);
        ck_assert_uint_eq(row[5], 30);
        ck_assert_int_eq(pressure_distance_parse("10 20\n", online, 2, row), 0);

        ck_assert_int_eq(pressure_distance_parse("10 20\n", online, 3, row), -EBADMSG);   /* too few */
        ck_assert_int_eq(pressure_distance_parse("10 20 30 40\n", online, 3, row), -EBADMSG);
        ck_assert_int_eq(pressure_distance_parse("10 x 30\n", online, 3, row), -EBADMSG);
        ck_assert_int_eq(pressure_distance_parse("10 256 30\n", online, 3, row), -EBADMSG);
        ck_assert_int_eq(pressure_distance_parse("10 -2 30\n", online, 3, row), -EBADMSG);
        ck_assert_int_eq(pressure_distance_parse("", online, 3, row), -EBADMSG);
        ck_assert_uint_eq(row[5], 30); /* untouched on failure */
}
END_TEST

START_TEST(step_order) {
        /* Nodes 0..3; distances from node 2: 2->20, 0->30, 1->40; node 3 unknown; one block without node. */
        ReserveCandidate c[] = {
                { 10, 0 }, { 11, 1 }, { 12, 2 }, { 13, 3 }, { 14, -1 }, { 9, 2 }, { 15, 0 },
        };
        uint16_t row[4] = { 30, 40, 10, PRESSURE_DISTANCE_UNKNOWN };
        uint32_t want[] = { 9, 12, 10, 15, 11, 13, 14 };

        pressure_order(c, ELEMENTSOF(c), 2, row, 4);
        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                ck_assert_msg(c[i].index == want[i], "position %zu: memory%u, want memory%u", i, c[i].index, want[i]);

        /* No distances at all: the pressured node first, then by node number. */
        pressure_order(c, ELEMENTSOF(c), 1, NULL, 0);
        ck_assert_uint_eq(c[0].index, 11);
        ck_assert_uint_eq(c[1].index, 10);
        ck_assert_uint_eq(c[2].index, 15);
        ck_assert_uint_eq(c[3].index, 9);
        ck_assert_uint_eq(c[6].index, 14);

        /* No pressured node (no zoneinfo): node order. */
        pressure_order(c, ELEMENTSOF(c), -1, NULL, 0);
        ck_assert_uint_eq(c[0].index, 10);
        ck_assert_uint_eq(c[6].index, 14);
}
END_TEST

static Suite *pressure_suite(void) {
        Suite *s = suite_create("pressure");
        TCase *tc = tcase_create("pure");

        tcase_add_test(tc, psi_lines);
        tcase_add_test(tc, psi_rejects);
        tcase_add_test(tc, trigger_text);
        tcase_add_test(tc, kernel_short);
        tcase_add_test(tc, pick_node);
        tcase_add_test(tc, snapshot_figures);
        tcase_add_test(tc, distance_rows);
        tcase_add_test(tc, step_order);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(pressure_suite());
}
