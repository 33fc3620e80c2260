/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy_explain(): each policy in order, matched or why not, and the same decision as policy_decide(). */
#include <string.h>

#include "origin.h"
#include "inventory.h"
#include "policy-explain.h"
#include "unit-helpers.h"

static const BlockFacts dimm = {
        .index = 40,
        .start = 40ULL << 27,
        .size = 1ULL << 27,
        .device = DEVICE_ACPI_DIMM,
        .node = 1,
        .zones = { .kernel = true, .movable = true, .first = ZONE_NORMAL },
        .node_kernel_pages = 262144,
        .block_pages = 32768,
};

START_TEST(explain_each_policy) {
        const char *texts[] = {
                "[Match]\nDevice=virtio-mem\n[Online]\nZone=kernel\n",
                "[Match]\nNode=0\n[Online]\nZone=kernel\n",
                "[Match]\nBlock=0-39\n[Online]\nZone=kernel\n",
                "[Match]\nPhysAddress=0-4G\n[Online]\nZone=kernel\n",
                "[Match]\nDevice=acpi-dimm\n[Online]\nZone=movable\n",
                "[Match]\nDevice=any\n[Online]\nZone=kernel\n",
                NULL,
        };
        PolicySet set;
        ExplainStep steps[6];
        Decision d, direct;

        policy_set_from_texts(&set, texts);
        policy_explain(&set, &dimm, steps, &d);
        ck_assert_int_eq(steps[0].result, MATCH_FAILS_DEVICE);
        ck_assert_str_eq(steps[0].why, "Device= does not list acpi-dimm");
        ck_assert_int_eq(steps[1].result, MATCH_FAILS_NODE);
        ck_assert_str_eq(steps[1].why, "Node= does not include node 1");
        ck_assert_int_eq(steps[2].result, MATCH_FAILS_BLOCK);
        ck_assert_str_eq(steps[2].why, "Block= does not include memory40");
        ck_assert_int_eq(steps[3].result, MATCH_FAILS_PHYS);
        ck_assert_str_eq(steps[3].why, "PhysAddress= does not hold 0x140000000-0x147ffffff");
        ck_assert_int_eq(steps[4].result, MATCH_OK);
        ck_assert(steps[4].decides && !steps[4].shadowed);
        ck_assert_str_eq(steps[4].why, "matches");
        ck_assert(steps[5].shadowed && !steps[5].decides);
        ck_assert_str_eq(steps[5].why, "matches, but /test/4.policy:1 matched first");
        for (int i = 0; i < 4; i++)
                ck_assert(!steps[i].decides && !steps[i].shadowed);

        /* The explanation is the decision: same policy, same action, same sentence. */
        policy_decide(&set, &dimm, &direct);
        ck_assert_ptr_eq(d.policy, &set.items[4]);
        ck_assert_ptr_eq(d.policy, direct.policy);
        ck_assert_int_eq(d.action, direct.action);
        ck_assert_str_eq(d.why, direct.why);
        policy_set_done(&set);
}
END_TEST

START_TEST(explain_nothing_matches) {
        const char *texts[] = { "[Match]\nDevice=virtio-mem\n[Online]\nZone=kernel\n", NULL };
        BlockFacts f = dimm;
        PolicySet set;
        ExplainStep steps[1];
        Decision d;

        f.node = -1;
        policy_set_from_texts(&set, texts);
        policy_explain(&set, &f, steps, &d);
        ck_assert(!steps[0].decides);
        ck_assert_ptr_null(d.policy);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert_str_eq(d.why, "no policy matches this block");
        policy_set_done(&set);

        /* An unknown node fails Node= with a sentence that says so. */
        const char *by_node[] = { "[Match]\nNode=1\n[Online]\nZone=kernel\n", NULL };
        policy_set_from_texts(&set, by_node);
        policy_explain(&set, &f, steps, &d);
        ck_assert_str_eq(steps[0].why, "Node= is set and the block's node is unknown");
        policy_set_done(&set);
}
END_TEST

START_TEST(origin_packing) {
        Block blocks[4] = {};
        Inventory inv = { .n_blocks = 4, .blocks = blocks };
        uint32_t a, b;

        ck_assert_uint_eq(inventory_block_origin(&inv, 2), 0);
        inventory_block_set_origin(&inv, 2, ORIGIN_POLICY, "/etc/memhpd/policies.d/a.policy", 3);
        inventory_block_set_origin(&inv, 3, ORIGIN_POLICY, "/etc/memhpd/policies.d/a.policy", 3);
        inventory_block_set_origin(&inv, 1, ORIGIN_BOOT, NULL, 0);
        a = inventory_block_origin(&inv, 2);
        b = inventory_block_origin(&inv, 3);
        /* The same policy line interns once: runs compare origins as integers. */
        ck_assert_uint_eq(a, b);
        ck_assert_int_eq(origin_kind(a), ORIGIN_POLICY);
        ck_assert_str_eq(inventory_origin_source(&inv, a), "/etc/memhpd/policies.d/a.policy:3");
        ck_assert_int_eq(origin_kind(inventory_block_origin(&inv, 1)), ORIGIN_BOOT);
        ck_assert_ptr_null(inventory_origin_source(&inv, inventory_block_origin(&inv, 1)));
        /* Beyond the table: grows; an unknown origin there costs nothing. */
        inventory_block_set_origin(&inv, 100000, ORIGIN_UNKNOWN, NULL, 0);
        ck_assert_uint_eq(inv.origins.n_blocks, 4);
        /* Boot memory needs no entry: online and present at the first scan. */
        blocks[0] = (Block) { .state = STATE_ONLINE, .flags = BLOCK_PRESENT | BLOCK_AT_START };
        ck_assert_int_eq(origin_kind(inventory_block_origin(&inv, 0)), ORIGIN_BOOT);
        blocks[0].state = STATE_OFFLINE;
        ck_assert_uint_eq(inventory_block_origin(&inv, 0), 0);
        inventory_block_set_origin(&inv, 1000, ORIGIN_OTHER, NULL, 0);
        ck_assert_int_eq(origin_kind(inventory_block_origin(&inv, 1000)), ORIGIN_OTHER);
        ck_assert_uint_eq(inventory_block_origin(&inv, 999), 0);
        ck_assert_str_eq(origin_to_string(ORIGIN_OTHER), "someone else");
        ck_assert_int_eq(origin_from_string("quarantined"), ORIGIN_QUARANTINED);
        ck_assert_int_eq(origin_from_string("bogus"), -EINVAL);
        origin_table_done(&inv.origins);
}
END_TEST

static Suite *explain_suite(void) {
        Suite *s = suite_create("policy-explain");
        TCase *tc = tcase_create("explain");

        tcase_add_test(tc, explain_each_policy);
        tcase_add_test(tc, explain_nothing_matches);
        tcase_add_test(tc, origin_packing);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(explain_suite());
}
