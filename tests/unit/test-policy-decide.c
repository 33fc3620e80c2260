/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "unit-helpers.h"

#define BLOCK_SIZE (128ULL << 20)

/* An offline 128 MiB block of 4 KiB pages with both zones offered, on a node with room for movable. */
static BlockFacts facts(uint32_t index, DeviceKind device, int node) {
        return (BlockFacts) {
                .index = index,
                .start = index * BLOCK_SIZE,
                .size = BLOCK_SIZE,
                .device = device,
                .node = node,
                .zones = { .kernel = true, .movable = true, .first = ZONE_NORMAL },
                .node_kernel_pages = 1 << 20,
                .node_movable_pages = 0,
                .block_pages = BLOCK_SIZE / 4096,
        };
}

START_TEST(match_first_wins) {
        PolicySet set;
        BlockFacts f;

        set_from(&set,
                 "[Match]\nDevice=virtio-mem\n[Online]\nZone=movable\n",
                 "[Match]\nDevice=any\n[Online]\nZone=kernel\n",
                 "[Match]\nDevice=acpi-dimm\n[Online]\nZone=offline\n");
        f = facts(32, DEVICE_VIRTIO_MEM, 1);
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[0]);
        f = facts(64, DEVICE_ACPI_DIMM, 0);
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[1]); /* not the later, more specific one */
        policy_set_done(&set);

        set_from(&set, "[Match]\nDevice=xen\n");
        f = facts(64, DEVICE_ACPI_DIMM, 0);
        ck_assert_ptr_null(policy_match(&set, &f));
        policy_set_done(&set);

        set = (PolicySet) {};
        ck_assert_ptr_null(policy_match(&set, &f));
}
END_TEST

START_TEST(match_device) {
        PolicySet set;
        BlockFacts f;

        set_from(&set, "[Match]\nDevice=acpi-dimm virtio-mem\n", "[Online]\nZone=kernel\n");
        for (int d = 0; d < _DEVICE_MAX; d++) {
                f = facts(64, d, 0);
                ck_assert_msg(policy_matches(&set.items[0], &f) == (d == DEVICE_ACPI_DIMM || d == DEVICE_VIRTIO_MEM),
                              "Device=acpi-dimm virtio-mem vs %s", device_kind_to_string(d));
                /* No Device= (no [Match] at all): every device. */
                ck_assert(policy_matches(&set.items[1], &f));
        }
        policy_set_done(&set);
}
END_TEST

START_TEST(match_node) {
        PolicySet set;
        BlockFacts f;

        set_from(&set, "[Match]\nNode=1-3 7\n", "[Match]\nDevice=any\n");
        for (int n = 0; n < 10; n++) {
                f = facts(64, DEVICE_ACPI_DIMM, n);
                ck_assert_msg(policy_matches(&set.items[0], &f) == ((n >= 1 && n <= 3) || n == 7), "node %d", n);
        }
        /* A block whose node is not known yet never matches a Node= list, but matches without one. */
        f = facts(64, DEVICE_ACPI_DIMM, -1);
        ck_assert(!policy_matches(&set.items[0], &f));
        ck_assert(policy_matches(&set.items[1], &f));
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[1]);
        policy_set_done(&set);

        set_from(&set, "[Match]\nNode=0\n");
        f = facts(64, DEVICE_ACPI_DIMM, -1);
        ck_assert(!policy_matches(&set.items[0], &f));
        f = facts(64, DEVICE_ACPI_DIMM, 0);
        ck_assert(policy_matches(&set.items[0], &f));
        policy_set_done(&set);
}
END_TEST

START_TEST(match_block) {
        PolicySet set;
        BlockFacts f;

        set_from(&set, "[Match]\nBlock=32-33,64\n");
        for (uint32_t b = 30; b < 70; b++) {
                f = facts(b, DEVICE_VIRTIO_MEM, 0);
                ck_assert_msg(policy_matches(&set.items[0], &f) == (b == 32 || b == 33 || b == 64), "block %u", b);
        }
        policy_set_done(&set);
}
END_TEST

START_TEST(match_phys_address) {
        PolicySet set;
        BlockFacts f;

        set_from(&set,
                 "[Match]\nPhysAddress=4G-8G\n",
                 "[Match]\nPhysAddress=0x100000000-0x1ffffffff\n",
                 "[Match]\nPhysAddress=0x104000000-0x1ffffffff\n",
                 "[Match]\nPhysAddress=0x100000000-0x103ffffff 0x104000000-0x107ffffff\n");
        for (uint32_t b = 30; b < 66; b++) {
                bool inside = b >= 32 && b <= 63;

                f = facts(b, DEVICE_ACPI_DIMM, 0);
                /* "4G-8G" and the same range in hex name the same blocks: memory64 starts at 8 GiB. */
                ck_assert_msg(policy_matches(&set.items[0], &f) == inside, "4G-8G vs block %u", b);
                ck_assert_msg(policy_matches(&set.items[1], &f) == inside, "hex range vs block %u", b);
                /* Half of memory32 is outside: the whole block must be inside. */
                ck_assert_msg(policy_matches(&set.items[2], &f) == (b >= 33 && b <= 63), "partial vs block %u", b);
                /* Covered by two ranges together, but by neither alone. */
                ck_assert_msg(!policy_matches(&set.items[3], &f), "split ranges vs block %u", b);
        }
        /* A block of unknown size matches no PhysAddress=. */
        f = facts(32, DEVICE_ACPI_DIMM, 0);
        f.size = 0;
        ck_assert(!policy_matches(&set.items[1], &f));
        policy_set_done(&set);
}
END_TEST

START_TEST(match_all_keys_together) {
        PolicySet set;
        BlockFacts f;

        set_from(&set, "[Match]\nDevice=virtio-mem\nNode=1\nBlock=32-40\nPhysAddress=4G-6G\n");
        f = facts(33, DEVICE_VIRTIO_MEM, 1);
        ck_assert(policy_matches(&set.items[0], &f));
        f.device = DEVICE_ACPI_DIMM;
        ck_assert(!policy_matches(&set.items[0], &f));
        f = facts(33, DEVICE_VIRTIO_MEM, 0);
        ck_assert(!policy_matches(&set.items[0], &f));
        f = facts(41, DEVICE_VIRTIO_MEM, 1);
        ck_assert(!policy_matches(&set.items[0], &f));
        policy_set_done(&set);
}
END_TEST

static Decision decide_one(const char *text, const BlockFacts *f) {
        PolicySet set;
        Decision d;

        set_from(&set, text);
        memset(&d, 0x55, sizeof(d));
        policy_decide(&set, f, &d);
        ck_assert_ptr_eq(d.policy, &set.items[0]);
        ck_assert_msg(d.why[0] && memchr(d.why, '\0', sizeof(d.why)), "no reason given");
        d.policy = NULL; /* the set is gone */
        policy_set_done(&set);
        return d;
}

START_TEST(decide_zones) {
        BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
        Decision d;

        d = decide_one("[Online]\nZone=movable\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
        ck_assert_str_eq(d.why, "Zone=movable");
        d = decide_one("[Online]\nZone=kernel\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        ck_assert_str_eq(d.why, "Zone=kernel");
        d = decide_one("[Online]\nZone=offline\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert_str_eq(d.why, "Zone=offline");
        d = decide_one("[Online]\nZone=movable\nWhen=manual\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert_msg(strstr(d.why, "When=manual"), "%s", d.why);
}
END_TEST

START_TEST(decide_no_match) {
        PolicySet set;
        BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
        Decision d;

        set_from(&set, "[Match]\nDevice=virtio-mem\n[Online]\nZone=movable\n");
        policy_decide(&set, &f, &d);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert_ptr_null(d.policy);
        ck_assert_str_eq(d.why, "no policy matches this block");
        policy_set_done(&set);

        policy_decide(&set, &f, &d); /* empty set */
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert_ptr_null(d.policy);
}
END_TEST

START_TEST(decide_zone_not_offered) {
        BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
        Decision d;

        f.zones = (ZoneSet) { .kernel = true, .first = ZONE_NORMAL };
        d = decide_one("[Online]\nZone=movable\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert_msg(strstr(d.why, "not offered"), "%s", d.why);
        d = decide_one("[Online]\nZone=movable\nZoneFallback=offline\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        d = decide_one("[Online]\nZone=movable\nZoneFallback=kernel\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        ck_assert_msg(strstr(d.why, "ZoneFallback=kernel"), "%s", d.why);

        f.zones = (ZoneSet) { .movable = true, .first = ZONE_MOVABLE };
        d = decide_one("[Online]\nZone=kernel\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        d = decide_one("[Online]\nZone=kernel\nZoneFallback=movable\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);

        /* Nothing offered: the fallback cannot help. */
        f.zones = (ZoneSet) { .first = ZONE_NONE };
        d = decide_one("[Online]\nZone=kernel\nZoneFallback=movable\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        d = decide_one("[Online]\nZone=auto\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
}
END_TEST

START_TEST(decide_auto_ratio) {
        BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
        Decision d;

        /* (2048 + 1024) * 100 = 307200 <= 301 * 1024 = 308224: movable. */
        f.node_kernel_pages = 1024;
        f.node_movable_pages = 2048;
        f.block_pages = 1024;
        f.size = 1024 * 4096;
        d = decide_one("[Online]\nZone=auto\nMaxMovableRatio=301%\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
        ck_assert_msg(strstr(d.why, "Zone=auto"), "%s", d.why);
        d = decide_one("[Online]\nZone=auto\n", &f); /* the default ratio is 301 */
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
        d = decide_one("[Match]\n", &f); /* and the default zone is auto */
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
        /* 307200 > 299 * 1024 = 306176: kernel. */
        d = decide_one("[Online]\nZone=auto\nMaxMovableRatio=299\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        /* Exactly at the limit: 300% of 1024 is 3072. */
        d = decide_one("[Online]\nZone=auto\nMaxMovableRatio=300\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);

        /* A node without kernel memory (a CPU-less node that gets its first block) goes kernel. */
        f.node_kernel_pages = 0;
        f.node_movable_pages = 0;
        d = decide_one("[Online]\nZone=auto\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        d = decide_one("[Online]\nZone=auto\nMaxMovableRatio=100000\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);

        /* Huge counts do not overflow. */
        f.node_kernel_pages = UINT64_MAX;
        f.node_movable_pages = UINT64_MAX - 1024;
        d = decide_one("[Online]\nZone=auto\nMaxMovableRatio=301\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
        d = decide_one("[Online]\nZone=auto\nMaxMovableRatio=0\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
}
END_TEST

START_TEST(decide_auto_not_offered) {
        BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
        Decision d;

        /* The ratio says movable, only kernel is offered. */
        f.zones = (ZoneSet) { .kernel = true, .first = ZONE_NORMAL };
        d = decide_one("[Online]\nZone=auto\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        ck_assert_msg(strstr(d.why, "not offered"), "%s", d.why);

        /* The ratio says kernel (no kernel memory), only movable is offered. */
        f.node_kernel_pages = 0;
        f.zones = (ZoneSet) { .movable = true, .first = ZONE_MOVABLE };
        d = decide_one("[Online]\nZone=auto\n", &f);
        ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
}
END_TEST

/* Pressure-aware Zone=auto: the ratio is the hard cap on movable; under it, short kernel zones (free
 * below high watermark + 25%) take the block into a kernel zone. The message names the figure. */
START_TEST(decide_auto_pressure) {
        static const struct {
                uint64_t kernel, movable;   /* pages on the node */
                bool watermarks;
                uint64_t free, high;        /* the node's kernel zones */
                unsigned ratio;
                Action want;
                const char *why;            /* a piece of the message */
        } table[] = {
                /* Ratio allows movable, plenty free: movable, with the figures. */
                { 1024, 0, true, 5000, 1000, 301, ACTION_ONLINE_MOVABLE, "within 301%" },
                { 1024, 0, true, 1250, 1000, 301, ACTION_ONLINE_MOVABLE, "high watermark" },
                /* Ratio allows movable, kernel zones short: kernel, and says why. */
                { 1024, 0, true, 1249, 1000, 301, ACTION_ONLINE_KERNEL, "below their high watermark" },
                { 1024, 0, true, 0, 1000, 301, ACTION_ONLINE_KERNEL, "although MOVABLE:KERNEL 301% would allow movable" },
                /* The ratio is the hard cap: kernel whatever the watermarks say. */
                { 1024, 2048, true, 5000, 1000, 200, ACTION_ONLINE_KERNEL, "from exceeding 200%" },
                { 1024, 2048, true, 0, 1000, 200, ACTION_ONLINE_KERNEL, "from exceeding 200%" },
                /* No watermark figures: the ratio alone, as before. */
                { 1024, 0, false, 0, 1000, 301, ACTION_ONLINE_MOVABLE, "within 301%" },
                /* A node without kernel zones (high 0) is not "short": the ratio (kernel 0) decides. */
                { 0, 0, true, 0, 0, 301, ACTION_ONLINE_KERNEL, "from exceeding" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
                char text[96];
                Decision d;

                f.node_kernel_pages = table[i].kernel;
                f.node_movable_pages = table[i].movable;
                f.block_pages = 1024;
                f.size = 1024 * 4096;
                f.kernel_watermarks = table[i].watermarks;
                f.node_kernel_free = table[i].free;
                f.node_kernel_high = table[i].high;
                snprintf(text, sizeof(text), "[Online]\nZone=auto\nMaxMovableRatio=%u%%\n", table[i].ratio);
                d = decide_one(text, &f);
                ck_assert_msg(d.action == table[i].want, "row %zu: %s (%s)", i, action_to_string(d.action), d.why);
                ck_assert_msg(strstr(d.why, table[i].why), "row %zu: \"%s\" lacks \"%s\"", i, d.why, table[i].why);
        }

        /* Short, but only movable is offered: movable, and says kernel was not offered. */
        {
                BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
                Decision d;

                f.kernel_watermarks = true;
                f.node_kernel_free = 10;
                f.node_kernel_high = 1000;
                f.zones = (ZoneSet) { .movable = true, .first = ZONE_MOVABLE };
                d = decide_one("[Online]\nZone=auto\n", &f);
                ck_assert_int_eq(d.action, ACTION_ONLINE_MOVABLE);
                ck_assert_msg(strstr(d.why, "kernel is not offered"), "%s", d.why);
        }
}
END_TEST

/* When=pressure keeps the block as a reserve; the zone part alone decides the step's zone. */
START_TEST(decide_pressure_reserve) {
        BlockFacts f = facts(64, DEVICE_ACPI_DIMM, 0);
        PolicySet set;
        Decision d;

        d = decide_one("[Online]\nWhen=pressure\nZone=movable\n[Match]\nDevice=acpi-dimm\n", &f);
        ck_assert_int_eq(d.action, ACTION_LEAVE_OFFLINE);
        ck_assert(d.reserve);
        ck_assert_msg(strstr(d.why, "When=pressure"), "%s", d.why);
        d = decide_one("[Online]\nZone=movable\n", &f);
        ck_assert(!d.reserve);
        d = decide_one("[Online]\nWhen=manual\n", &f);
        ck_assert(!d.reserve);

        set_from(&set, "[Online]\nWhen=pressure\nZone=kernel\n[Match]\nDevice=acpi-dimm\n");
        policy_decide_zone(&set.items[0], &f, &d);
        ck_assert_int_eq(d.action, ACTION_ONLINE_KERNEL);
        ck_assert(!d.reserve);
        ck_assert_ptr_eq(d.policy, &set.items[0]);
        policy_set_done(&set);
}
END_TEST

START_TEST(names) {
        ck_assert_str_eq(action_to_string(ACTION_ONLINE_MOVABLE), "online_movable");
        ck_assert_str_eq(action_to_string(ACTION_ONLINE_KERNEL), "online_kernel");
        ck_assert_str_eq(action_to_string(ACTION_LEAVE_OFFLINE), "none");
        ck_assert_str_eq(action_to_string(_ACTION_MAX), "invalid");
        ck_assert_str_eq(zone_target_to_string(TARGET_AUTO), "auto");
        ck_assert_str_eq(zone_target_to_string(TARGET_OFFLINE), "offline");
        ck_assert_str_eq(when_to_string(WHEN_MANUAL), "manual");
        ck_assert_str_eq(when_to_string(_WHEN_MAX), "invalid");
}
END_TEST

START_TEST(range_lists) {
        RangeList l = {};
        char err[128] = "";

        ck_assert_int_eq(range_list_parse("1-3,5", false, 10, &l, err, sizeof(err)), 0);
        ck_assert(range_list_contains(&l, 1));
        ck_assert(range_list_contains(&l, 3));
        ck_assert(!range_list_contains(&l, 4));
        ck_assert(range_list_contains(&l, 5));
        ck_assert(!range_list_contains(&l, 0));
        ck_assert_int_eq(range_list_parse("", false, 10, &l, err, sizeof(err)), 0);
        ck_assert_uint_eq(l.n, 0);
        ck_assert(!range_list_contains(&l, 1));
        ck_assert_int_eq(range_list_parse("11", false, 10, &l, err, sizeof(err)), -EINVAL);
        ck_assert_str_eq(err, "\"11\" is beyond the largest allowed value 10");
        ck_assert_int_eq(range_list_parse("1M", false, UINT64_MAX, &l, err, sizeof(err)), -EINVAL);
        ck_assert_int_eq(range_list_parse("1M", true, UINT64_MAX, &l, err, sizeof(err)), 0);
        ck_assert(range_list_contains(&l, 1 << 20));
        free(l.items);
}
END_TEST

static Suite *policy_decide_suite(void) {
        Suite *s = suite_create("policy-decide");
        TCase *tc = tcase_create("match");

        tcase_add_test(tc, match_first_wins);
        tcase_add_test(tc, match_device);
        tcase_add_test(tc, match_node);
        tcase_add_test(tc, match_block);
        tcase_add_test(tc, match_phys_address);
        tcase_add_test(tc, match_all_keys_together);
        tcase_add_test(tc, range_lists);
        suite_add_tcase(s, tc);

        tc = tcase_create("decide");
        tcase_add_test(tc, decide_zones);
        tcase_add_test(tc, decide_no_match);
        tcase_add_test(tc, decide_zone_not_offered);
        tcase_add_test(tc, decide_auto_ratio);
        tcase_add_test(tc, decide_auto_not_offered);
        tcase_add_test(tc, decide_auto_pressure);
        tcase_add_test(tc, decide_pressure_reserve);
        tcase_add_test(tc, names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(policy_decide_suite());
}
