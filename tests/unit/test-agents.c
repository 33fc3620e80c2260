/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agents.c: the pure scanners (command line, udev rules, daxctl config), the conflict list, and a search
 * path that cannot be listed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents.h"
#include "unit-helpers.h"

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

START_TEST(conflict_list) {
        Conflicts *c = calloc(1, sizeof(*c));
        char buf[4096] = "";
        FILE *f;

        ck_assert_ptr_nonnull(c);
        errno = EEXIST;
        conflicts_add(c, "udev", "/etc/udev/rules.d/x.rules", 3, true, -EACCES, "cannot read x.rules (%m)");
        ck_assert_int_eq(errno, EEXIST); /* the caller's errno is kept */
        conflicts_add(c, "cmdline", "/proc/cmdline", 0, false, 0, "booted with %s", "memhp_default_state=online");
        conflicts_add(c, "kernel", NULL, 0, false, 0, "no file");
        ck_assert_uint_eq(c->n, 3);
        ck_assert_str_eq(c->items[0].file, "/etc/udev/rules.d/x.rules:3");
        ck_assert_str_eq(c->items[0].text, "cannot read x.rules (Permission denied)");
        ck_assert_int_eq(c->items[0].error, EACCES);
        ck_assert(c->items[0].unknown);
        ck_assert_str_eq(c->items[1].file, "/proc/cmdline");
        ck_assert_int_eq(c->items[1].error, 0);
        ck_assert_str_eq(c->items[2].file, "");

        f = fmemopen(buf, sizeof(buf), "w");
        ck_assert_ptr_nonnull(f);
        conflicts_print(c, f);
        fclose(f);
        ck_assert_str_eq(buf, "conflict: udev /etc/udev/rules.d/x.rules:3: cannot read x.rules (Permission denied)\n"
                              "conflict: cmdline /proc/cmdline: booted with memhp_default_state=online\n"
                              "conflict: kernel: no file\n");

        /* Capped: a host with a thousand rules files does not grow the list. */
        for (int i = 0; i < 2 * CONFLICTS_MAX; i++)
                conflicts_add(c, "udev", "/x", (unsigned) i + 1, false, 0, "rule %d", i);
        ck_assert_uint_eq(c->n, CONFLICTS_MAX);
        free(c);
}
END_TEST

START_TEST(unlisted_rules_are_unknown) {
        char *root = test_tmpdir();
        Conflicts *c = calloc(1, sizeof(*c));
        int fd;

        ck_assert_ptr_nonnull(c);
        write_file(root, "usr/lib/udev/rules.d/40-redhat.rules",
                   "SUBSYSTEM==\"memory\", ACTION==\"add\", ATTR{state}==\"offline\", ATTR{state}=\"online\"\n");
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);

        agents_detect_udev_and_daxctl(fd, c);
        ck_assert_uint_eq(c->n, 1);
        ck_assert_str_eq(c->items[0].file, "/usr/lib/udev/rules.d/40-redhat.rules:1");
        ck_assert(!c->items[0].unknown);

        /* The listing fails part-way: not "no rule", but "cannot tell". */
        c->n = 0;
        readdir_fail_after(1);
        agents_detect_udev_and_daxctl(fd, c);
        readdir_fail_reset();
        ck_assert_uint_eq(c->n, 1);
        ck_assert(c->items[0].unknown);
        ck_assert_int_eq(c->items[0].error, EIO);
        ck_assert_msg(strstr(c->items[0].text, "/usr/lib/udev/rules.d: cannot list the directory: Input/output error"),
                      "%s", c->items[0].text);
        close(fd);
        free(c);
        free(root);
}
END_TEST

static Suite *agents_suite(void) {
        Suite *s = suite_create("agents");
        TCase *tc = tcase_create("pure");

        tcase_add_test(tc, cmdline);
        tcase_add_test(tc, udev_rules);
        tcase_add_test(tc, daxctl_conf);
        tcase_add_test(tc, conflict_list);
        tcase_add_test(tc, unlisted_rules_are_unknown);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(agents_suite());
}
