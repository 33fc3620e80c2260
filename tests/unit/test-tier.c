/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tier (issue 10): When=delay grouping (delay.c, pure part), Delay= and its cross-field errors, the
 * driver-stall check, CpuLess=/MemoryTier= matching, and the node topology read from a fixture tree.
 * The keys' parsing and errors are in test-conf.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay.h"
#include "inventory.h"
#include "policy.h"
#include "sysfs.h"
#include "unit-helpers.h"

#define S 1000000ULL

static const Policy *const POL_A = (const Policy *) 0x1000, *const POL_B = (const Policy *) 0x2000;

static void assert_group(const DelayGroups *g, int i, uint32_t first, uint32_t last, size_t n, uint64_t deadline) {
        ck_assert_int_ge(i, 0);
        ck_assert_uint_lt((size_t) i, g->n);
        ck_assert_uint_eq(g->items[i].first, first);
        ck_assert_uint_eq(g->items[i].last, last);
        ck_assert_uint_eq(g->items[i].n, n);
        ck_assert_uint_eq(g->items[i].deadline, deadline);
        for (size_t k = 1; k < g->items[i].n; k++)
                ck_assert_uint_lt(g->items[i].blocks[k - 1], g->items[i].blocks[k]);
}

static int add(DelayGroups *g, uint32_t index, DeviceKind d, int node, const Policy *p, uint64_t now, bool want_added) {
        bool added;
        int r = delay_groups_add(g, index, d, node, p, now, 30 * S, &added);

        ck_assert_int_ge(r, 0);
        ck_assert_int_eq(added, want_added);
        return r;
}

START_TEST(delay_group_in_order) {
        DelayGroups g = {};

        for (uint32_t i = 64; i < 72; i++)
                add(&g, i, DEVICE_ACPI_DIMM, 0, POL_A, 100 + i, true);
        ck_assert_uint_eq(g.n, 1);
        ck_assert_uint_eq(g.n_blocks, 8);
        /* The first arrival sets the deadline: later blocks do not move it. */
        assert_group(&g, 0, 64, 71, 8, 164 + 30 * S);
        ck_assert_uint_eq(delay_groups_next(&g), 164 + 30 * S);
        add(&g, 66, DEVICE_ACPI_DIMM, 0, POL_A, 999, false); /* deferred already */
        ck_assert_uint_eq(g.n_blocks, 8);
        delay_groups_done(&g);
        ck_assert_uint_eq(delay_groups_next(&g), UINT64_MAX);
}
END_TEST

START_TEST(delay_group_any_order) {
        DelayGroups g = {};
        int i;

        /* 70, 67, 68 arrive first: two groups, then 69 bridges them into one hot-add. */
        add(&g, 70, DEVICE_ACPI_DIMM, 0, POL_A, 50, true);
        add(&g, 67, DEVICE_ACPI_DIMM, 0, POL_A, 10, true);
        add(&g, 68, DEVICE_ACPI_DIMM, 0, POL_A, 60, true);
        ck_assert_uint_eq(g.n, 2);
        i = add(&g, 69, DEVICE_ACPI_DIMM, 0, POL_A, 70, true);
        ck_assert_uint_eq(g.n, 1);
        assert_group(&g, i, 67, 70, 4, 10 + 30 * S); /* the earlier arrival's deadline */
        i = add(&g, 66, DEVICE_ACPI_DIMM, 0, POL_A, 80, true); /* below the first */
        assert_group(&g, i, 66, 70, 5, 10 + 30 * S);
        ck_assert_int_eq(delay_groups_find(&g, 68), i);
        ck_assert_int_eq(delay_groups_find(&g, 71), -ENOENT);
        delay_groups_done(&g);
}
END_TEST

START_TEST(delay_group_two_devices_interleaved) {
        DelayGroups g = {};
        int a, b;

        /* A DIMM on node 0 (64-66) and dax/kmem on node 1 (67-69, adjacent numbers!), interleaved, and a
         * block matched by another policy next to the DIMM's. */
        for (uint32_t k = 0; k < 3; k++) {
                add(&g, 64 + k, DEVICE_ACPI_DIMM, 0, POL_A, 1 + k, true);
                add(&g, 67 + k, DEVICE_DAX_KMEM, 1, POL_A, 5 + k, true);
        }
        add(&g, 63, DEVICE_ACPI_DIMM, 0, POL_B, 9, true);
        ck_assert_uint_eq(g.n, 3);
        a = delay_groups_find(&g, 65);
        b = delay_groups_find(&g, 68);
        assert_group(&g, a, 64, 66, 3, 1 + 30 * S);
        assert_group(&g, b, 67, 69, 3, 5 + 30 * S);
        assert_group(&g, delay_groups_find(&g, 63), 63, 63, 1, 9 + 30 * S);
        ck_assert_uint_eq(delay_groups_next(&g), 1 + 30 * S);
        delay_groups_done(&g);
}
END_TEST

START_TEST(delay_group_vanishes) {
        DelayGroups g = {};
        DelayGroup taken;

        for (uint32_t i = 64; i < 68; i++)
                add(&g, i, DEVICE_ACPI_DIMM, 0, POL_A, 1, true);
        add(&g, 200, DEVICE_ACPI_DIMM, 0, POL_A, 2, true);
        ck_assert_int_eq(delay_groups_remove(&g, 65), 1);
        ck_assert_int_eq(delay_groups_remove(&g, 65), 0);
        ck_assert_int_eq(delay_groups_remove(&g, 300), 0);
        assert_group(&g, delay_groups_find(&g, 64), 64, 67, 3, 1 + 30 * S);
        ck_assert_int_eq(delay_groups_remove(&g, 64), 1);
        assert_group(&g, delay_groups_find(&g, 66), 66, 67, 2, 1 + 30 * S);
        ck_assert_int_eq(delay_groups_remove(&g, 66), 1);
        ck_assert_int_eq(delay_groups_remove(&g, 67), 1);
        /* The DIMM's group is gone whole; the other one is the next deadline. */
        ck_assert_uint_eq(g.n, 1);
        ck_assert_uint_eq(g.n_blocks, 1);
        ck_assert_uint_eq(delay_groups_next(&g), 2 + 30 * S);
        delay_groups_take(&g, 0, &taken);
        ck_assert_uint_eq(taken.n, 1);
        ck_assert_uint_eq(taken.blocks[0], 200);
        free(taken.blocks);
        ck_assert_uint_eq(g.n, 0);
        ck_assert_uint_eq(g.n_blocks, 0);
        ck_assert_uint_eq(delay_groups_next(&g), UINT64_MAX);
        delay_groups_done(&g);
}
END_TEST

START_TEST(stall_check) {
        const uint32_t dimm = 1u << DEVICE_ACPI_DIMM, dax = 1u << DEVICE_DAX_KMEM;
        char why[384];

        for (int d = 0; d < _DEVICE_MAX; d++) {
                bool waits = d == DEVICE_VIRTIO_MEM || d == DEVICE_HV_BALLOON || d == DEVICE_UNKNOWN;
                ck_assert_msg(policy_timing_stalls(1u << d, WHEN_DELAY, 30 * S, why, sizeof(why)) == waits, "%s",
                              device_kind_to_string(d));
                ck_assert(!policy_timing_stalls(1u << d, WHEN_DELAY, 1 * S, why, sizeof(why)));
                ck_assert(!policy_timing_stalls(1u << d, WHEN_IMMEDIATE, 0, why, sizeof(why)));
                ck_assert(!policy_timing_stalls(1u << d, WHEN_MANUAL, 0, why, sizeof(why)));
        }
        ck_assert(policy_timing_stalls(0, WHEN_DELAY, 1 * S + 1, why, sizeof(why)));
        /* When=pressure: a reserve holds blocks for as long as no pressure comes. */
        ck_assert(policy_timing_stalls(0, WHEN_PRESSURE, 0, why, sizeof(why)));
        ck_assert(strstr(why, "When=pressure holds blocks for as long as it takes") != NULL);
        ck_assert(policy_timing_stalls(1u << DEVICE_HV_BALLOON, WHEN_PRESSURE, 0, why, sizeof(why)));
        ck_assert(!policy_timing_stalls(dimm | dax, WHEN_PRESSURE, 0, why, sizeof(why)));
        ck_assert(!policy_timing_stalls(dimm | dax, WHEN_DELAY, 600 * S, why, sizeof(why)));
        ck_assert(policy_timing_stalls(dimm | 1u << DEVICE_VIRTIO_MEM, WHEN_DELAY, 2 * S, why, sizeof(why)));
        ck_assert_ptr_nonnull(strstr(why, "can match virtio-mem:"));
}
END_TEST

/* The example policies parse, and say what their comments say. */
START_TEST(examples_parse) {
        PolicySet set;
        char *far = fixture_text("../../policies/examples/40-far-memory.policy");
        char *delay = fixture_text("../../policies/examples/30-orchestrator-delay.policy");
        BlockFacts f = { .index = 64, .size = 128 << 20, .device = DEVICE_ACPI_DIMM, .node = 1,
                         .node_cpus = NODE_CPUS_NONE };

        set_from(&set, delay, far);
        ck_assert_int_eq(set.items[0].when, WHEN_DELAY);
        ck_assert_uint_eq(set.items[0].delay_usec, 30 * S);
        ck_assert_int_eq(set.items[1].cpuless, 1);
        ck_assert_int_eq(set.items[1].zone, TARGET_MOVABLE);
        f.device = DEVICE_DAX_KMEM;
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[0]);
        f.device = DEVICE_VIRTIO_MEM; /* never delayed: straight to far memory */
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[1]);
        f.node_cpus = NODE_CPUS_SOME;
        ck_assert_ptr_null(policy_match(&set, &f)); /* near memory: left to 50-default.policy */
        policy_set_done(&set);
        free(far);
        free(delay);
}
END_TEST

START_TEST(node_list) {
        uint64_t m[NODES_MAX / 64];

        memset(m, 0, sizeof(m));
        ck_assert_int_eq(parse_node_list("0-2,5,1023\n", m), 0);
        ck_assert_uint_eq(m[0], 0x27);
        ck_assert_uint_eq(m[15], 1ULL << 63);
        memset(m, 0, sizeof(m));
        ck_assert_int_eq(parse_node_list("", m), 0);
        ck_assert_int_eq(parse_node_list("\n", m), 0);
        for (size_t i = 0; i < NODES_MAX / 64; i++)
                ck_assert_uint_eq(m[i], 0);
        ck_assert_int_eq(parse_node_list("1024", m), -ERANGE);
        ck_assert_int_eq(parse_node_list("3-1", m), -EINVAL);
        ck_assert_int_eq(parse_node_list("1,,2", m), -EINVAL);
        ck_assert_int_eq(parse_node_list("1-", m), -EINVAL);
        ck_assert_int_eq(parse_node_list("x", m), -EINVAL);
        ck_assert_int_eq(parse_node_list("1 2", m), -EINVAL);
}
END_TEST

START_TEST(topology_from_tree) {
        _cleanup_free_ char *dir = fixture_root(SNAPSHOT_2NODE);
        Root *root;
        Inventory *inv;
        const NodeInfo *ni;

        /* The 6.1 snapshot: node1 is CPU-less (has_cpu "0"); it has no memory_tiering: no tiers. */
        inventory_fixture_open(dir, &root, &inv);
        ck_assert_int_eq(inventory_node_topology(inv, 1, &ni), -ENOENT);
        ck_assert_int_eq(ni->cpus, NODE_CPUS_NONE);
        ck_assert(!ni->in_tier);
        ck_assert_int_eq(inventory_node_topology(inv, 0, &ni), 0); /* not stale: nothing re-read */
        ck_assert_int_eq(ni->cpus, NODE_CPUS_SOME);
        inventory_fixture_close(root, inv);

        /* A tree with tiers as 6.1 makes them: DRAM in memory_tier4, a dax/kmem node in memory_tier22. */
        write_file(dir, "sys/devices/virtual/memory_tiering/memory_tier4/nodelist", "0\n");
        write_file(dir, "sys/devices/virtual/memory_tiering/memory_tier22/nodelist", "1-2\n");
        write_file(dir, "sys/devices/virtual/memory_tiering/power/async", "disabled\n");
        inventory_fixture_open(dir, &root, &inv);
        ck_assert_int_eq(inventory_node_topology(inv, 1, &ni), 0);
        ck_assert(ni->in_tier);
        ck_assert_uint_eq(ni->tier, 22);
        ck_assert_int_eq(inventory_node_topology(inv, 0, &ni), 0);
        ck_assert(ni->in_tier);
        ck_assert_uint_eq(ni->tier, 4);
        /* Node 1 lost its last online memory: it leaves its tier after the next re-read. */
        write_file(dir, "sys/devices/virtual/memory_tiering/memory_tier22/nodelist", "2\n");
        ck_assert_int_eq(inventory_node_topology(inv, 1, &ni), 0);
        ck_assert(ni->in_tier); /* cached */
        inventory_nodes_stale(inv); /* as after memory came or went */
        ck_assert_int_eq(inventory_node_topology(inv, 1, &ni), 0);
        ck_assert(!ni->in_tier);
        inventory_fixture_close(root, inv);

        /* No has_cpu: the node's cpulist says it; garbage there is an error, the fact stays unknown. */
        remove_tree(dir, "sys/devices/system/node/has_cpu");
        inventory_fixture_open(dir, &root, &inv);
        ck_assert_int_eq(inventory_node_topology(inv, 1, &ni), -ENOENT);
        ck_assert_int_eq(ni->cpus, NODE_CPUS_NONE);
        ck_assert_int_eq(inventory_node_topology(inv, 0, &ni), 0);
        ck_assert_int_eq(ni->cpus, NODE_CPUS_SOME);
        inventory_fixture_close(root, inv);
        write_file(dir, "sys/devices/system/node/has_cpu", "zero\n");
        remove_tree(dir, "sys/devices/system/node/node1/cpulist");
        inventory_fixture_open(dir, &root, &inv);
        ck_assert_int_eq(inventory_node_topology(inv, 1, &ni), -EINVAL);
        ck_assert_int_eq(ni->cpus, NODE_CPUS_UNKNOWN);
        inventory_fixture_close(root, inv);
}
END_TEST

static Suite *tier_suite(void) {
        Suite *s = suite_create("tier");
        TCase *tc = tcase_create("delay-groups");

        tcase_add_test(tc, delay_group_in_order);
        tcase_add_test(tc, delay_group_any_order);
        tcase_add_test(tc, delay_group_two_devices_interleaved);
        tcase_add_test(tc, delay_group_vanishes);
        suite_add_tcase(s, tc);
        tc = tcase_create("policy");
        tcase_add_test(tc, stall_check);
        tcase_add_test(tc, examples_parse);
        suite_add_tcase(s, tc);
        tc = tcase_create("topology");
        tcase_add_test(tc, node_list);
        tcase_add_test(tc, topology_from_tree);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(tier_suite());
}
