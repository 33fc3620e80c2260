/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drain targets as a table: every form memhpctl drain accepts, and garbage with a reason. */
#include <errno.h>
#include <string.h>

#include "drain.h"
#include "macro.h"
#include "unit-helpers.h"

static const struct {
        const char *s;
        int r;
        DrainTargetKind kind;
        uint32_t first, last;
        const char *name;
} rows[] = {
        { "node1", 0, DRAIN_TARGET_NODE, 1, 1, NULL },
        { "node0", 0, DRAIN_TARGET_NODE, 0, 0, NULL },
        { "node1023", 0, DRAIN_TARGET_NODE, 1023, 1023, NULL },
        { "memory40", 0, DRAIN_TARGET_BLOCKS, 40, 40, NULL },
        { "memory40-47", 0, DRAIN_TARGET_BLOCKS, 40, 47, NULL },
        { "memory40-memory47", 0, DRAIN_TARGET_BLOCKS, 40, 47, NULL },
        { "memory47-47", 0, DRAIN_TARGET_BLOCKS, 47, 47, NULL },
        { "PNP0C80:00", 0, DRAIN_TARGET_ACPI, 0, 0, "PNP0C80:00" },
        { "PNP0C80:0a", 0, DRAIN_TARGET_ACPI, 0, 0, "PNP0C80:0a" },
        { "dax0.0", 0, DRAIN_TARGET_DAX, 0, 0, "dax0.0" },
        { "dax12.3", 0, DRAIN_TARGET_DAX, 0, 0, "dax12.3" },
        { "", -EINVAL, 0, 0, 0, NULL },
        { "node", -EINVAL, 0, 0, 0, NULL },
        { "node1024", -EINVAL, 0, 0, 0, NULL },
        { "node-1", -EINVAL, 0, 0, 0, NULL },
        { "node1 ", -EINVAL, 0, 0, 0, NULL },
        { "nodeX", -EINVAL, 0, 0, 0, NULL },
        { "memory", -EINVAL, 0, 0, 0, NULL },
        { "memory47-40", -EINVAL, 0, 0, 0, NULL },
        { "memory40-", -EINVAL, 0, 0, 0, NULL },
        { "memory-40", -EINVAL, 0, 0, 0, NULL },
        { "memory40-47-50", -EINVAL, 0, 0, 0, NULL },
        { "memory0-4294967295", -EINVAL, 0, 0, 0, NULL },
        { "memory99999999999", -EINVAL, 0, 0, 0, NULL },
        { "memory0-2000000", -EINVAL, 0, 0, 0, NULL },
        { "memory+4", -EINVAL, 0, 0, 0, NULL },
        { "PNP0C80:", -EINVAL, 0, 0, 0, NULL },
        { "PNP0C80:zz", -EINVAL, 0, 0, 0, NULL },
        { "PNP0C80:00/../../x", -EINVAL, 0, 0, 0, NULL },
        { "dax0", -EINVAL, 0, 0, 0, NULL },
        { "dax0.", -EINVAL, 0, 0, 0, NULL },
        { "dax0.0/../../x", -EINVAL, 0, 0, 0, NULL },
        { "dax.0", -EINVAL, 0, 0, 0, NULL },
        { "/sys/devices/system/node/node1", -EINVAL, 0, 0, 0, NULL },
        { "everything", -EINVAL, 0, 0, 0, NULL },
};

START_TEST(target_table) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                DrainTarget t = { .first = 777 };
                char err[256] = "";
                int r = drain_target_parse(rows[i].s, &t, err, sizeof(err));

                ck_assert_msg(r == rows[i].r, "\"%s\": %d, expected %d", rows[i].s, r, rows[i].r);
                if (r < 0) {
                        ck_assert_msg(err[0], "\"%s\": no reason", rows[i].s);
                        ck_assert_uint_eq(t.first, 777); /* untouched */
                        continue;
                }
                ck_assert_int_eq(t.kind, rows[i].kind);
                if (rows[i].name)
                        ck_assert_str_eq(t.name, rows[i].name);
                else {
                        ck_assert_uint_eq(t.first, rows[i].first);
                        ck_assert_uint_eq(t.last, rows[i].last);
                }
        }
        {
                DrainTarget t;
                char err[256];
                ck_assert_int_eq(drain_target_parse(NULL, &t, err, sizeof(err)), -EINVAL);
        }
}
END_TEST

static Suite *drain_suite(void) {
        Suite *s = suite_create("drain-target");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, target_table);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(drain_suite());
}
