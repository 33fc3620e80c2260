/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of ownership.c: the kernel's knobs, their saved values, and whether a policy set is one
 * action the kernel can carry out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ownership.h"
#include "unit-helpers.h"

START_TEST(saved_values) {
        KnobValues v, w;
        unsigned bad = 0;
        char buf[1024];

        ck_assert_int_eq(knob_values_parse("# c\nauto_online_blocks=online\n\nonline_policy=contig-zones\n", &v, &bad), 0);
        ck_assert(v.set[KNOB_AUTO_ONLINE_BLOCKS] && v.set[KNOB_ONLINE_POLICY]);
        ck_assert(!v.set[KNOB_AUTO_MOVABLE_RATIO] && !v.set[KNOB_AUTO_MOVABLE_NUMA_AWARE]);
        ck_assert_str_eq(v.value[KNOB_AUTO_ONLINE_BLOCKS], "online");
        ck_assert_str_eq(v.value[KNOB_ONLINE_POLICY], "contig-zones");

        /* What memhpd writes, it reads back. */
        knob_values_put(&v, KNOB_AUTO_MOVABLE_RATIO, "301");
        knob_values_put(&v, KNOB_AUTO_MOVABLE_NUMA_AWARE, "Y");
        ck_assert_int_gt(knob_values_format(&v, buf, sizeof(buf)), 0);
        ck_assert_int_eq(knob_values_parse(buf, &w, &bad), 0);
        ck_assert_mem_eq(&v, &w, sizeof(v));
        ck_assert_int_eq(knob_values_format(&v, buf, 40), -ENOBUFS);

        /* An empty file is nothing to restore. */
        ck_assert_int_eq(knob_values_parse("", &v, &bad), 0);
        ck_assert(!v.set[KNOB_AUTO_ONLINE_BLOCKS]);

        /* Garbage: the line is named, *ret is untouched. */
        w = (KnobValues) {};
        knob_values_put(&w, KNOB_ONLINE_POLICY, "marker");
        ck_assert_int_eq(knob_values_parse("auto_online_blocks=sideways\n", &w, &bad), -EINVAL);
        ck_assert_uint_eq(bad, 1);
        ck_assert_str_eq(w.value[KNOB_ONLINE_POLICY], "marker");
        ck_assert_int_eq(knob_values_parse("# x\nauto_online_blocks=online\nauto_online_blocks=offline\n", &w, &bad),
                         -EINVAL);
        ck_assert_uint_eq(bad, 3);
        ck_assert_int_eq(knob_values_parse("colour=blue\n", &w, &bad), -EINVAL);
        ck_assert_int_eq(knob_values_parse("\x7f\x45\x4c\x46 binary\n", &w, &bad), -EINVAL);
        ck_assert_int_eq(knob_values_parse("auto_online_blocks\n", &w, &bad), -EINVAL);
        ck_assert_int_eq(knob_values_parse("auto_online_blocks= online\n", &w, &bad), -EINVAL);
        ck_assert_int_eq(knob_values_parse("auto_movable_ratio=-1\n", &w, &bad), -EINVAL);
        ck_assert_int_eq(knob_values_parse("auto_movable_ratio=99999999999\n", &w, &bad), -EINVAL);
        ck_assert_int_eq(knob_values_parse("auto_movable_numa_aware=maybe\n", &w, &bad), -EINVAL);
        ck_assert_str_eq(w.value[KNOB_ONLINE_POLICY], "marker");
}
END_TEST

START_TEST(knob_values) {
        ck_assert_int_eq(knob_value_check(KNOB_AUTO_ONLINE_BLOCKS, "online_movable"), 0);
        ck_assert_int_eq(knob_value_check(KNOB_AUTO_ONLINE_BLOCKS, "online_foo"), -EINVAL);
        ck_assert_int_eq(knob_value_check(KNOB_AUTO_ONLINE_BLOCKS, ""), -EINVAL);
        ck_assert_int_eq(knob_value_check(KNOB_ONLINE_POLICY, "auto-movable"), 0);
        ck_assert_int_eq(knob_value_check(KNOB_AUTO_MOVABLE_RATIO, "0"), 0);
        ck_assert_int_eq(knob_value_check(KNOB_AUTO_MOVABLE_RATIO, "0x10"), -EINVAL);
        ck_assert_int_eq(knob_value_check(KNOB_AUTO_MOVABLE_NUMA_AWARE, "N"), 0);
        ck_assert_str_eq(knob_name(KNOB_AUTO_ONLINE_BLOCKS), "auto_online_blocks");
        ck_assert_str_eq(knob_path(KNOB_ONLINE_POLICY), "sys/module/memory_hotplug/parameters/online_policy");
}
END_TEST

static int plan(PolicySet *set, KnobValues *v, const Policy **p, char *why) {
        int r = ownership_delegate_plan(set, v, p, why, 512);
        return r;
}

START_TEST(delegate_plan) {
        PolicySet set;
        KnobValues v;
        const Policy *p = NULL;
        char why[512] = "";
        char *preset = fixture_text("../../policies/50-default.policy");

        /* The shipped preset: Zone=auto, 301%: online with the kernel's auto-movable policy. */
        set_from(&set, preset);
        ck_assert_int_eq(plan(&set, &v, &p, why), 1);
        ck_assert_ptr_eq(p, &set.items[0]);
        ck_assert_str_eq(v.value[KNOB_AUTO_ONLINE_BLOCKS], "online");
        ck_assert_str_eq(v.value[KNOB_ONLINE_POLICY], "auto-movable");
        ck_assert_str_eq(v.value[KNOB_AUTO_MOVABLE_RATIO], "301");
        ck_assert_str_eq(v.value[KNOB_AUTO_MOVABLE_NUMA_AWARE], "Y");
        policy_set_done(&set);
        free(preset);

        set_from(&set, "[Match]\nDevice=any\n[Online]\nZone=movable\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 1);
        ck_assert_str_eq(v.value[KNOB_AUTO_ONLINE_BLOCKS], "online_movable");
        ck_assert(!v.set[KNOB_ONLINE_POLICY]);
        policy_set_done(&set);

        set_from(&set, "[Online]\nZone=kernel\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 1);
        ck_assert_str_eq(v.value[KNOB_AUTO_ONLINE_BLOCKS], "online_kernel");
        policy_set_done(&set);

        /* A narrower policy that decides the same, and one for boot memory only, keep it uniform. */
        set_from(&set, "[Match]\nNode=1\n[Online]\nZone=movable\n", "[Match]\nDevice=boot\n[Online]\nZone=kernel\n",
                 "[Match]\nDevice=any\n[Online]\nZone=movable\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 1);
        ck_assert_ptr_eq(p, &set.items[2]);
        policy_set_done(&set);

        /* Not uniform: what the kernel cannot see decides differently. */
        set_from(&set, "[Match]\nNode=1\n[Online]\nZone=kernel\n", "[Match]\nDevice=any\n[Online]\nZone=movable\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "/test/0.policy:1 (Node=) decides differently from /test/1.policy:1"), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Match]\nPhysAddress=4G-8G\n[Online]\nZone=offline\n", "[Online]\nZone=movable\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "PhysAddress="), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Match]\nDevice=dax-kmem\n[Online]\nZone=movable\n", "[Online]\nZone=auto\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "Device="), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Match]\nDevice=any\n[Online]\nZone=auto\nMaxMovableRatio=100%\n",
                 "[Online]\nZone=auto\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 1); /* the first is the catch-all */
        ck_assert_str_eq(v.value[KNOB_AUTO_MOVABLE_RATIO], "100");
        policy_set_done(&set);
        set_from(&set, "[Match]\nNode=0\n[Online]\nZone=auto\nMaxMovableRatio=100%\n", "[Online]\nZone=auto\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0); /* same zone, another ratio */
        policy_set_done(&set);

        /* tier: the kernel sees neither a node's CPUs nor its tier, nor waits. */
        set_from(&set, "[Match]\nCpuLess=yes\n[Online]\nZone=movable\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "has CpuLess="), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Match]\nMemoryTier=22\n[Online]\nZone=movable\n", "[Online]\nZone=kernel\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "(MemoryTier=)"), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Online]\nZone=movable\nWhen=delay\nDelay=1s\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "When=delay"), "%s", why);
        policy_set_done(&set);

        /* When=, Zone=offline, no catch-all, no policy at all. */
        set_from(&set, "[Online]\nZone=movable\nWhen=manual\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "When=manual"), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Online]\nZone=offline\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "Zone=offline"), "%s", why);
        policy_set_done(&set);
        set_from(&set, "[Match]\nDevice=virtio-mem acpi-dimm\n[Online]\nZone=movable\n");
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "no policy matches every hot-added block"), "%s", why);
        policy_set_done(&set);
        set = (PolicySet) {};
        ck_assert_int_eq(plan(&set, &v, &p, why), 0);
        ck_assert_msg(strstr(why, "no policy"), "%s", why);
}
END_TEST

static Suite *ownership_suite(void) {
        Suite *s = suite_create("ownership");
        TCase *tc = tcase_create("pure");

        tcase_add_test(tc, saved_values);
        tcase_add_test(tc, knob_values);
        tcase_add_test(tc, delegate_plan);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(ownership_suite());
}
