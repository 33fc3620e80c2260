/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of ownership.c: saved values, the command line, udev rules, daxctl config, and
 * whether a policy set is one action the kernel can carry out. */
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

START_TEST(cmdline) {
        char v[64];

        ck_assert_int_eq(cmdline_memhp_default_state("BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n", v, sizeof(v)), 0);
        ck_assert_int_eq(cmdline_memhp_default_state("root=/dev/sda1 memhp_default_state=online quiet\n", v, sizeof(v)), 1);
        ck_assert_str_eq(v, "online");
        /* The kernel applies each in turn: the last wins. */
        ck_assert_int_eq(cmdline_memhp_default_state("memhp_default_state=online memhp_default_state=offline", v,
                                                     sizeof(v)), 1);
        ck_assert_str_eq(v, "offline");
        ck_assert_int_eq(cmdline_memhp_default_state("xmemhp_default_state=online memhp_default_state=", v, sizeof(v)), 0);
}
END_TEST

static UdevRuleScan scan(const char *text) {
        UdevRuleScan s;
        udev_rules_scan(text, &s);
        return s;
}

START_TEST(udev_rules) {
        UdevRuleScan s;

        /* The classic one-liner (RHEL 7, SUSE's 80-hotplug-cpu-mem.rules). */
        s = scan("# comment\n"
                 "SUBSYSTEM==\"cpu\", ACTION==\"add\", ATTR{online}!=\"1\", ATTR{online}=\"1\"\n"
                 "SUBSYSTEM==\"memory\", ACTION==\"add\", PROGRAM==\"/bin/uname -m\", RESULT!=\"s390x\", "
                 "ATTR{state}==\"offline\", ATTR{state}=\"online\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_ONLINES_MEMORY);
        ck_assert_uint_eq(s.line, 3);
        ck_assert_str_eq(s.what, "ATTR{state}=\"online\"");
        ck_assert_uint_eq(s.bad_line, 0);

        /* RHEL 8/9 40-redhat.rules: the subsystem is checked by a GOTO around the assignment. */
        s = scan("SUBSYSTEM!=\"memory\", GOTO=\"memory_hotplug_end\"\n"
                 "ACTION!=\"add\", GOTO=\"memory_hotplug_end\"\n"
                 "PROGRAM=\"/bin/uname -p\", RESULT==\"s390*\", GOTO=\"memory_hotplug_end\"\n"
                 "\n"
                 "ENV{.state}=\"online\"\n"
                 "PROGRAM=\"/bin/systemd-detect-virt\", RESULT==\"none\", ENV{.state}=\"online_movable\"\n"
                 "ATTR{state}==\"offline\", ATTR{state}=\"$env{.state}\"\n"
                 "\n"
                 "LABEL=\"memory_hotplug_end\"\n"
                 "SUBSYSTEM==\"cpu\", ATTR{state}=\"online\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_ONLINES_MEMORY);
        ck_assert_uint_eq(s.line, 7);
        ck_assert_str_eq(s.what, "ATTR{state}=\"$env{.state}\"");

        /* After the LABEL the memory context ends. */
        s = scan("SUBSYSTEM!=\"memory\", GOTO=\"end\"\nLABEL=\"end\"\nATTR{state}=\"online\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_NONE);

        /* A RUN that writes the state file, a pattern, a continued line. */
        s = scan("SUBSYSTEM==\"memory\", ACTION==\"add\", DEVPATH==\"/devices/system/memory/memory*[0-9]\", \\\n"
                 "  TEST==\"/sys$devpath/state\", RUN+=\"/bin/sh -c 'echo online > /sys$devpath/state'\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_ONLINES_MEMORY);
        ck_assert_uint_eq(s.line, 1);
        s = scan("SUBSYSTEM==\"cpu|memory\", ACTION==\"add\", ATTR{state}:=\"online_movable\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_ONLINES_MEMORY);
        s = scan("KERNEL==\"memory*\", ATTR{state}=\"online\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_ONLINES_MEMORY);

        /* Not onlining: offline, a match on the state, another subsystem, no subsystem at all. */
        ck_assert_int_eq(scan("SUBSYSTEM==\"memory\", ACTION==\"remove\", ATTR{state}=\"offline\"\n").kind, UDEV_RULE_NONE);
        ck_assert_int_eq(scan("SUBSYSTEM==\"memory\", ATTR{state}==\"online\", TAG+=\"x\"\n").kind, UDEV_RULE_NONE);
        ck_assert_int_eq(scan("SUBSYSTEM==\"block\", ATTR{state}=\"online\"\n").kind, UDEV_RULE_NONE);
        ck_assert_int_eq(scan("ATTR{state}=\"online\"\n").kind, UDEV_RULE_NONE);
        ck_assert_int_eq(scan("").kind, UDEV_RULE_NONE);

        /* daxctl's 90-daxctl-device.rules. */
        s = scan("ACTION==\"add\", SUBSYSTEM==\"dax\", TAG+=\"systemd\", "
                 "ENV{SYSTEMD_WANTS}=\"daxdev-reconfigure@$env{DEVNAME}.service\"\n");
        ck_assert_int_eq(s.kind, UDEV_RULE_RUNS_DAXCTL);
        ck_assert_uint_eq(s.line, 1);

        /* Lines that do not parse are named and skipped; the rest is still read. */
        s = scan("SUBSYSTEM==\"memory\" ATTR{state}=online\n"
                 "SUBSYSTEM==\"memory\", ATTR{state}=\"online\n"
                 "SUBSYSTEM==\"memory\", ATTR{state}=\"online\"\n");
        ck_assert_uint_eq(s.bad_line, 1);
        ck_assert_str_eq(s.bad, "the value of ATTR is not in double quotes");
        ck_assert_int_eq(s.kind, UDEV_RULE_ONLINES_MEMORY);
        ck_assert_uint_eq(s.line, 3);
        ck_assert_uint_eq(scan("SUBSYSTEM==\"memory\"x\n").bad_line, 1);
        ck_assert_uint_eq(scan("SUBSYSTEM ~ \"memory\"\n").bad_line, 1);
        ck_assert_uint_eq(scan("ATTR{state=\"online\"\n").bad_line, 1);
        ck_assert_uint_eq(scan("\"memory\"\n").bad_line, 1);
}
END_TEST

START_TEST(daxctl_conf) {
        DaxctlConfScan s;

        daxctl_conf_scan("# example\n"
                         "# [reconfigure-device foo]\n"
                         "[reconfigure-device unique_identifier_foo]\n"
                         "nvdimm.uuid = 48d8e42c-a2f0-4312-9e70-a837faafe862\n"
                         "mode = system-ram\n"
                         "online = true\n"
                         "movable = false\n"
                         "\n"
                         "[reconfigure-device bar]\n"
                         "mode = system-ram\n"
                         "online = false\n"
                         "[reconfigure-device baz]\n"
                         "mode = devdax\n"
                         "[reconfigure-device qux]\n"
                         "mode = system-ram\n",
                         &s);
        ck_assert_uint_eq(s.n_online, 2); /* foo, and qux by default */
        ck_assert_uint_eq(s.line, 3);
        ck_assert_str_eq(s.name, "unique_identifier_foo");
        ck_assert_uint_eq(s.bad_line, 0);

        daxctl_conf_scan("[reconfigure-device a]\nmode = system-ram\nonline = no\n", &s);
        ck_assert_uint_eq(s.n_online, 0);
        daxctl_conf_scan("[reconfigure-device a\nmode system-ram\n", &s);
        ck_assert_uint_eq(s.n_online, 0);
        ck_assert_uint_eq(s.bad_line, 1);
        daxctl_conf_scan("", &s);
        ck_assert_uint_eq(s.n_online, 0);
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
        tcase_add_test(tc, cmdline);
        tcase_add_test(tc, udev_rules);
        tcase_add_test(tc, daxctl_conf);
        tcase_add_test(tc, delegate_plan);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(ownership_suite());
}
