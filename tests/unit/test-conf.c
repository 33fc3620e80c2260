/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf-file.h"
#include "policy.h"
#include "settings.h"
#include "unit-helpers.h"

#define P "/etc/memhpd/policies.d/50-test.policy"

static const char *const policy_dirs[] = {
        "etc/memhpd/policies.d",
        "run/memhpd/policies.d",
        "usr/lib/memhpd/policies.d",
        NULL,
};

/* Parse 'text' that must be clean. */
static void parse_ok(const char *text, Policy *p) {
        ConfErrors e = {};
        int r = policy_parse(P, text, p, &e);

        ck_assert_msg(r == 0 && e.n == 0, "policy_parse() = %d, first error: %s", r, e.n ? e.items[0].text : "none");
        conf_errors_clear(&e);
}

/* Parse 'text' that must fail with exactly the errors given (NULL-terminated), in order. */
static void parse_fails_(const char *text, const char *const *expected) {
        ConfErrors e = {};
        Policy p = { .line = 4242 };
        size_t n = 0;

        ck_assert_int_eq(policy_parse(P, text, &p, &e), -EINVAL);
        ck_assert_uint_eq(p.line, 4242); /* untouched */
        while (expected[n])
                n++;
        for (size_t i = 0; i < e.n && i < n; i++)
                ck_assert_str_eq(e.items[i].text, expected[i]);
        ck_assert_msg(e.n == n, "%zu errors instead of %zu; last: %s", e.n, n, e.n ? e.items[e.n - 1].text : "none");
        conf_errors_clear(&e);
}
#define parse_fails(text, ...) parse_fails_(text, (const char *const[]) { __VA_ARGS__, NULL })

START_TEST(policy_every_key) {
        Policy p;

        parse_ok("# A policy with every key\n"
                 "[Match]\n"
                 "Device=acpi-dimm, virtio-mem dax-kmem\n"
                 "Node=0-1, 3\n"
                 "Block= 32-33 ,64\n"
                 "PhysAddress=0x100000000-0x1ffffffff 8G-16G,512M 1K-2T\n"
                 "\n"
                 "[Online]\n"
                 "Zone=auto\n"
                 "MaxMovableRatio=250%\n"
                 "When=manual\n",
                 &p);
        ck_assert_str_eq(p.path, P);
        ck_assert_uint_eq(p.line, 2);
        ck_assert_uint_eq(p.match_line, 2);
        ck_assert_uint_eq(p.online_line, 8);
        ck_assert_uint_eq(p.devices, (1u << DEVICE_ACPI_DIMM) | (1u << DEVICE_VIRTIO_MEM) | (1u << DEVICE_DAX_KMEM));
        ck_assert_uint_eq(p.nodes.n, 2);
        ck_assert_uint_eq(p.nodes.items[0].start, 0);
        ck_assert_uint_eq(p.nodes.items[0].end, 1);
        ck_assert_uint_eq(p.nodes.items[1].start, 3);
        ck_assert_uint_eq(p.nodes.items[1].end, 3);
        ck_assert_uint_eq(p.blocks.n, 2);
        ck_assert_uint_eq(p.blocks.items[0].start, 32);
        ck_assert_uint_eq(p.blocks.items[0].end, 33);
        ck_assert_uint_eq(p.blocks.items[1].start, 64);
        ck_assert_uint_eq(p.phys.n, 4);
        ck_assert_uint_eq(p.phys.items[0].start, 0x100000000ULL);
        ck_assert_uint_eq(p.phys.items[0].end, 0x1ffffffffULL);
        ck_assert_uint_eq(p.phys.items[1].start, 8ULL << 30);
        ck_assert_uint_eq(p.phys.items[1].end, 16ULL << 30);
        ck_assert_uint_eq(p.phys.items[2].start, 512ULL << 20);
        ck_assert_uint_eq(p.phys.items[2].end, 512ULL << 20);
        ck_assert_uint_eq(p.phys.items[3].start, 1024);
        ck_assert_uint_eq(p.phys.items[3].end, 2ULL << 40);
        ck_assert_int_eq(p.zone, TARGET_AUTO);
        ck_assert_uint_eq(p.max_movable_ratio, 250);
        ck_assert(p.ratio_set);
        ck_assert_int_eq(p.when, WHEN_MANUAL);
        ck_assert(!p.fallback_set);
        policy_done(&p);
        ck_assert_ptr_null(p.path);

        parse_ok("[Online]\nZone=movable\nZoneFallback=kernel\nWhen=immediate\n", &p);
        ck_assert_uint_eq(p.line, 1); /* no [Match]: the [Online] line */
        ck_assert_uint_eq(p.match_line, 0);
        ck_assert_int_eq(p.zone, TARGET_MOVABLE);
        ck_assert_int_eq(p.fallback, FALLBACK_KERNEL);
        ck_assert(p.fallback_set);
        ck_assert_int_eq(p.when, WHEN_IMMEDIATE);
        ck_assert_uint_eq(p.devices, 0);
        policy_done(&p);

        parse_ok("[Online]\nZone=kernel\nZoneFallback=movable\n", &p);
        ck_assert_int_eq(p.zone, TARGET_KERNEL);
        ck_assert_int_eq(p.fallback, FALLBACK_MOVABLE);
        policy_done(&p);

        parse_ok("[Online]\nZone=offline\n", &p);
        ck_assert_int_eq(p.zone, TARGET_OFFLINE);
        policy_done(&p);
}
END_TEST

START_TEST(policy_defaults) {
        Policy p;

        parse_ok("[Match]\n", &p);
        ck_assert_int_eq(p.zone, TARGET_AUTO);
        ck_assert_uint_eq(p.max_movable_ratio, POLICY_DEFAULT_RATIO);
        ck_assert(!p.ratio_set);
        ck_assert_int_eq(p.when, WHEN_IMMEDIATE);
        ck_assert_int_eq(p.fallback, FALLBACK_OFFLINE);
        ck_assert(!p.fallback_set);
        ck_assert_uint_eq(p.devices, 0);
        ck_assert_uint_eq(p.nodes.n + p.blocks.n + p.phys.n, 0);
        policy_done(&p);
}
END_TEST

START_TEST(policy_ratio_forms) {
        Policy p;

        parse_ok("[Online]\nMaxMovableRatio=301%\n", &p);
        ck_assert_uint_eq(p.max_movable_ratio, 301);
        policy_done(&p);
        parse_ok("[Online]\nMaxMovableRatio=301\n", &p);
        ck_assert_uint_eq(p.max_movable_ratio, 301);
        ck_assert(p.ratio_set);
        policy_done(&p);
        parse_ok("[Online]\nMaxMovableRatio=0%\n", &p);
        ck_assert_uint_eq(p.max_movable_ratio, 0);
        policy_done(&p);
        parse_ok("[Online]\nMaxMovableRatio=100000%\n", &p);
        ck_assert_uint_eq(p.max_movable_ratio, 100000);
        policy_done(&p);

        parse_fails("[Online]\nMaxMovableRatio=100001%\n",
                    P ":2: MaxMovableRatio=100001%: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
        /* The one number parser: hexadecimal too, as in every other numeric key. */
        parse_ok("[Online]\nMaxMovableRatio=0x64%\n", &p);
        ck_assert_uint_eq(p.max_movable_ratio, 100);
        policy_done(&p);
        parse_fails("[Online]\nMaxMovableRatio=1.5%\n",
                    P ":2: MaxMovableRatio=1.5%: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
        parse_fails("[Online]\nMaxMovableRatio=301%%\n",
                    P ":2: MaxMovableRatio=301%%: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
        parse_fails("[Online]\nMaxMovableRatio=%\n",
                    P ":2: MaxMovableRatio=%: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
        parse_fails("[Online]\nMaxMovableRatio=-5\n",
                    P ":2: MaxMovableRatio=-5: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
        parse_fails("[Online]\nMaxMovableRatio=3:1\n",
                    P ":2: MaxMovableRatio=3:1: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
}
END_TEST

START_TEST(policy_lists_reset_and_any) {
        Policy p;

        parse_ok("[Match]\nNode=1\nNode=\nNode=5\nDevice=xen\nDevice=\nBlock=1-9\nBlock=\n"
                 "PhysAddress=4G\nPhysAddress=\n", &p);
        ck_assert_uint_eq(p.nodes.n, 1);
        ck_assert_uint_eq(p.nodes.items[0].start, 5);
        ck_assert_uint_eq(p.devices, 0);
        ck_assert_uint_eq(p.blocks.n, 0);
        ck_assert_uint_eq(p.phys.n, 0);
        policy_done(&p);

        /* Assignments add up, as systemd's list settings do. */
        parse_ok("[Match]\nNode=1\nNode=2\nDevice=xen\nDevice=boot\n", &p);
        ck_assert_uint_eq(p.nodes.n, 2);
        ck_assert_uint_eq(p.devices, (1u << DEVICE_XEN) | (1u << DEVICE_BOOT));
        policy_done(&p);

        parse_ok("[Match]\nDevice=any\n", &p);
        for (int d = 0; d < _DEVICE_MAX; d++)
                ck_assert_msg(p.devices & (1u << d), "Device=any does not include %s", device_kind_to_string(d));
        policy_done(&p);

        parse_ok("[Match]\nNode=1023\nBlock=4294967294\nPhysAddress=0-0xffffffffffffffff\n", &p);
        ck_assert_uint_eq(p.nodes.items[0].start, 1023);
        ck_assert_uint_eq(p.blocks.items[0].end, 4294967294u);
        ck_assert_uint_eq(p.phys.items[0].end, UINT64_MAX);
        policy_done(&p);
}
END_TEST

/* A comment line of exactly CONF_LINE_MAX characters, lines ending in 'eol', must parse. */
static void parse_longest_line(const char *eol) {
        char line[CONF_LINE_MAX + 1], *text;
        Policy p;

        memset(line, 'x', sizeof(line));
        memcpy(line, "# ", 2);
        line[CONF_LINE_MAX] = '\0';
        ck_assert(asprintf(&text, "[Match]%s%s%sNode=2%s", eol, line, eol, eol) > 0);
        parse_ok(text, &p);
        ck_assert_uint_eq(p.nodes.n, 1);
        policy_done(&p);
        free(text);
}

START_TEST(policy_comments_and_blanks) {
        Policy p;

        parse_ok("; leading comment\n"
                 "   # indented comment\n"
                 "[Online]   # why\n"
                 "Zone=movable # pin it\n"
                 "When = manual\t; trailing\r\n",
                 &p);
        ck_assert_int_eq(p.zone, TARGET_MOVABLE);
        ck_assert_int_eq(p.when, WHEN_MANUAL);
        ck_assert_uint_eq(p.online_line, 3);
        policy_done(&p);

        /* An indented line is a line of its own, not the continuation of the previous value. */
        parse_ok("[Online]\nZone=movable\n    When=manual\n", &p);
        ck_assert_int_eq(p.zone, TARGET_MOVABLE);
        ck_assert_int_eq(p.when, WHEN_MANUAL);
        policy_done(&p);
        parse_fails("[Match]\nNode=1\n  2\n", P ":3: expected [Section] or Key=Value, got \"2\"");

        /* Exactly CONF_LINE_MAX characters is fine. */
        parse_longest_line("\n");
}
END_TEST

START_TEST(policy_section_errors) {
        parse_fails("[Match]\nDevice=any\n[Bogus]\nKey=1\n", P ":3: unknown section [Bogus]");
        /* An unknown section is an error even with nothing in it. */
        parse_fails("[Online]\nZone=movable\n[Unused]\n", P ":3: unknown section [Unused]");
        parse_fails("[Online]\nZone=movable\n[match]\n", P ":3: unknown section [match]");
        parse_fails("[Online]\nZone=movable\n[]\n", P ":3: malformed section header \"[]\"");
        parse_fails("[Online]\nZone=movable\n[Match\nDevice=any\n", P ":3: malformed section header \"[Match\"");
        parse_fails("[Online]\n[Ma]tch]\n", P ":2: malformed section header \"[Ma]tch]\"");
        parse_fails("[Online]\n[Match] Node=1\n", P ":2: malformed section header \"[Match] Node=1\"");
        parse_fails("Zone=movable\n[Online]\n", P ":1: Zone= outside of a section");
}
END_TEST

START_TEST(policy_key_errors) {
        parse_fails("[Online]\nZone=movable\nSpeed=fast\n", P ":3: unknown key Speed= in section [Online]");
        parse_fails("[Match]\nZone=movable\n", P ":2: unknown key Zone= in section [Match]");
        parse_fails("[Match]\nnode=1\n", P ":2: unknown key node= in section [Match]");
        parse_fails("[Online]\nZone movable\n", P ":2: expected [Section] or Key=Value, got \"Zone movable\"");
        parse_fails("[Online]\nZone=mov\x01" "able\n", P ":2: control character 0x01 in line");
        parse_fails("[Online]\nZone=movable\x1b[0m\n", P ":2: control character 0x1b in line");
}
END_TEST

START_TEST(policy_long_line) {
        char line[CONF_LINE_MAX + 2], *text;

        /* One character too many; the lines after it keep their numbers. */
        memset(line, '0', sizeof(line));
        memcpy(line, "Node=", 5);
        line[CONF_LINE_MAX + 1] = '\0';
        ck_assert(asprintf(&text, "[Match]\n%s\nBogus=1\n", line) > 0);
        parse_fails(text, P ":2: line is longer than 199 characters", P ":3: unknown key Bogus= in section [Match]");
        free(text);
}
END_TEST

START_TEST(policy_value_errors) {
        parse_fails("[Online]\nZone=sideways\n",
                    P ":2: Zone=sideways: unknown zone, expected auto, movable, kernel or offline");
        parse_fails("[Online]\nZone=\n", P ":2: Zone=: unknown zone, expected auto, movable, kernel or offline");
        parse_fails("[Online]\nZone=movable\nWhen=later\n", P ":3: When=later: unknown value, expected immediate, manual, delay or pressure");
        parse_fails("[Online]\nZone=movable\nZoneFallback=swap\n",
                    P ":3: ZoneFallback=swap: unknown fallback, expected offline, kernel or movable");
        parse_fails("[Match]\nDevice=floppy\n",
                    P ":2: Device=floppy: unknown device \"floppy\", expected acpi-dimm, virtio-mem, dax-kmem, "
                      "hv-balloon, xen, boot, unknown or any");
        parse_fails("[Match]\nDevice=acpi-dimm,virtio_mem\n",
                    P ":2: Device=acpi-dimm,virtio_mem: unknown device \"virtio_mem\", expected acpi-dimm, "
                      "virtio-mem, dax-kmem, hv-balloon, xen, boot, unknown or any");
        parse_fails("[Match]\nNode=3-1\n", P ":2: Node=3-1: range \"3-1\" ends before it starts");
        parse_fails("[Match]\nNode=1024\n", P ":2: Node=1024: \"1024\" is beyond the largest allowed value 1023");
        parse_fails("[Match]\nNode=0-1024\n", P ":2: Node=0-1024: \"0-1024\" is beyond the largest allowed value 1023");
        parse_fails("[Match]\nNode=-1\n", P ":2: Node=-1: \"-1\" is not a number or a range A-B");
        parse_fails("[Match]\nNode=1-\n", P ":2: Node=1-: \"1-\" is not a number or a range A-B");
        parse_fails("[Match]\nNode=1-2-3\n", P ":2: Node=1-2-3: \"1-2-3\" is not a number or a range A-B");
        parse_fails("[Match]\nNode=1G\n", P ":2: Node=1G: \"1G\" is not a number or a range A-B");
        parse_fails("[Match]\nBlock=4294967295\n",
                    P ":2: Block=4294967295: \"4294967295\" is beyond the largest allowed value 4294967294");
        parse_fails("[Match]\nPhysAddress=8G-4G\n", P ":2: PhysAddress=8G-4G: range \"8G-4G\" ends before it starts");
        parse_fails("[Match]\nPhysAddress=0x\n", P ":2: PhysAddress=0x: \"0x\" is not a number or a range A-B");
        parse_fails("[Match]\nPhysAddress=4E\n", P ":2: PhysAddress=4E: \"4E\" is not a number or a range A-B");
        parse_fails("[Match]\nPhysAddress=4gb\n", P ":2: PhysAddress=4gb: \"4gb\" is not a number or a range A-B");
        parse_fails("[Match]\nPhysAddress=16777216T\n",
                    P ":2: PhysAddress=16777216T: \"16777216T\" is beyond the largest allowed value 18446744073709551615");
        parse_fails("[Match]\nBlock=99999999999999999999\n",
                    P ":2: Block=99999999999999999999: \"99999999999999999999\" is beyond the largest allowed value 4294967294");
        /* Several problems: every one of them, in order. */
        parse_fails("[Match]\nNode=x\n[Online]\nZone=y\nWhen=z\n",
                    P ":2: Node=x: \"x\" is not a number or a range A-B",
                    P ":4: Zone=y: unknown zone, expected auto, movable, kernel or offline",
                    P ":5: When=z: unknown value, expected immediate, manual, delay or pressure");
}
END_TEST

START_TEST(policy_too_many_ranges) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        /* 16 lines of 64 ranges on lines 2-17: the limit. One more on line 18. */
        ck_assert_ptr_nonnull(f);
        fputs("[Match]\n", f);
        for (int l = 0; l < 16; l++) {
                fputs("Block=", f);
                for (int i = 0; i < 64; i++)
                        fprintf(f, "%d,", (l + i) % 10);
                fputs("\n", f);
        }
        fclose(f);
        {
                Policy p;

                parse_ok(text, &p);
                ck_assert_uint_eq(p.blocks.n, POLICY_RANGES_MAX);
                policy_done(&p);
        }
        free(text);
        text = NULL;
        f = open_memstream(&text, &size);
        ck_assert_ptr_nonnull(f);
        fputs("[Match]\n", f);
        for (int l = 0; l < 16; l++) {
                fputs("Block=", f);
                for (int i = 0; i < 64; i++)
                        fprintf(f, "%d,", (l + i) % 10);
                fputs("\n", f);
        }
        fputs("Block=5000\n", f);
        fclose(f);
        parse_fails(text, P ":18: Block=5000: more than 1024 ranges");
        free(text);
}
END_TEST

START_TEST(policy_cross_field_errors) {
        parse_fails("[Match]\nDevice=any\n\n[Online]\nZone=movable\nMaxMovableRatio=301%\n",
                    P ":4: MaxMovableRatio= only applies to Zone=auto, not Zone=movable");
        parse_fails("[Online]\nMaxMovableRatio=200\nZone=offline\n",
                    P ":1: MaxMovableRatio= only applies to Zone=auto, not Zone=offline");
        parse_fails("[Match]\n[Online]\nZoneFallback=kernel\n",
                    P ":2: ZoneFallback= only applies to Zone=movable or Zone=kernel, not Zone=auto");
        parse_fails("[Online]\nZone=auto\nZoneFallback=offline\n",
                    P ":1: ZoneFallback= only applies to Zone=movable or Zone=kernel, not Zone=auto");
        parse_fails("[Match]\n[Online]\nZone=movable\nZoneFallback=movable\n",
                    P ":2: ZoneFallback=movable is the same zone as Zone=");
        parse_fails("[Online]\nZone=kernel\nZoneFallback=kernel\n", P ":1: ZoneFallback=kernel is the same zone as Zone=");
        parse_fails("[Online]\nOnlineStep=4\n", P ":1: OnlineStep= only applies to When=pressure, not When=immediate");
        parse_fails("[Online]\nWhen=pressure\nZone=offline\n",
                    P ":1: When=pressure with Zone=offline would keep a reserve that is never onlined");
}
END_TEST

/* When=pressure and OnlineStep= in blocks or bytes (rounded up to whole blocks). */
START_TEST(policy_pressure_keys) {
        Policy p;

        parse_ok("[Online]\nWhen=pressure\n[Match]\nDevice=acpi-dimm\n", &p);
        ck_assert_int_eq(p.when, WHEN_PRESSURE);
        ck_assert_str_eq(when_to_string(p.when), "pressure");
        ck_assert_uint_eq(policy_online_step_blocks(&p, 128ULL << 20), 1); /* default: one block */
        policy_done(&p);
        parse_ok("[Online]\nWhen=pressure\nOnlineStep=4\nZone=movable\n[Match]\nDevice=acpi-dimm\n", &p);
        ck_assert_uint_eq(policy_online_step_blocks(&p, 128ULL << 20), 4);
        ck_assert_uint_eq(policy_online_step_blocks(&p, 2ULL << 30), 4);
        policy_done(&p);
        parse_ok("[Online]\nWhen=pressure\nOnlineStep=512M\n[Match]\nDevice=acpi-dimm\n", &p);
        ck_assert(p.online_step_bytes);
        ck_assert_uint_eq(policy_online_step_blocks(&p, 128ULL << 20), 4);
        ck_assert_uint_eq(policy_online_step_blocks(&p, 2ULL << 30), 1); /* less than a block: one */
        policy_done(&p);
        parse_ok("[Online]\nWhen=pressure\nOnlineStep=300M\n[Match]\nDevice=acpi-dimm\n", &p);
        ck_assert_uint_eq(policy_online_step_blocks(&p, 128ULL << 20), 3); /* rounded up */
        policy_done(&p);
        parse_fails("[Online]\nWhen=pressure\nOnlineStep=0\n[Match]\nDevice=acpi-dimm\n",
                    P ":3: OnlineStep=0: expected a number of blocks (1-1048576) or a size such as 512M");
        parse_fails("[Online]\nWhen=pressure\nOnlineStep=1048577\n[Match]\nDevice=acpi-dimm\n",
                    P ":3: OnlineStep=1048577: expected a number of blocks (1-1048576) or a size such as 512M");
        parse_fails("[Online]\nWhen=pressure\nOnlineStep=lots\n[Match]\nDevice=acpi-dimm\n",
                    P ":3: OnlineStep=lots: expected a number of blocks (1-1048576) or a size such as 512M");
        parse_fails("[Online]\nWhen=pressure\nOnlineStep=-1\n[Match]\nDevice=acpi-dimm\n",
                    P ":3: OnlineStep=-1: expected a number of blocks (1-1048576) or a size such as 512M");
        /* A reserve may wait for ever: not for drivers that wait for their memory. */
        parse_fails("[Online]\nWhen=pressure\n",
                    P ":2: When=pressure holds blocks for as long as it takes but can match any device (Device= is "
                    "unset): unknown, virtio-mem, hv-balloon: hv_balloon waits at most 5 s per chunk and virtio-mem "
                    "stops plugging with 1 GiB offline; hold them at most 1s, or leave them out of Device=");
        parse_fails("[Online]\nWhen=pressure\nOnlineStep=\n[Match]\nDevice=acpi-dimm\n",
                    P ":3: OnlineStep=: expected a number of blocks (1-1048576) or a size such as 512M");
}
END_TEST

START_TEST(policy_poison_keys) {
        Policy p;

        parse_ok("[Match]\nDevice=acpi-dimm\n", &p);
        ck_assert_int_eq(p.poison_action, POISON_ACTION_KEEP);
        ck_assert_uint_eq(p.poison_threshold, 1);
        policy_done(&p);
        parse_ok("[Match]\nDevice=acpi-dimm\n[Poison]\nAction=offline\nThreshold=3\n", &p);
        ck_assert_int_eq(p.poison_action, POISON_ACTION_OFFLINE);
        ck_assert_uint_eq(p.poison_threshold, 3);
        ck_assert_uint_eq(p.poison_line, 3);
        ck_assert_uint_eq(p.line, 1);
        policy_done(&p);
        /* [Poison] alone is a policy too (it matches every block) */
        parse_ok("[Poison]\nAction=keep\n", &p);
        ck_assert_uint_eq(p.line, 1);
        policy_done(&p);
        parse_fails("[Poison]\nAction=offline-block\n", P ":2: Action=offline-block: unknown action, expected keep or offline");
        parse_fails("[Poison]\nAction=offline\nThreshold=0\n",
                    P ":3: Threshold=0: expected a number of poisoned pages from 1 to 1000000");
        parse_fails("[Poison]\nAction=offline\nThreshold=1000001\n",
                    P ":3: Threshold=1000001: expected a number of poisoned pages from 1 to 1000000");
        parse_fails("[Poison]\nThreshold=2\n", P ":1: Threshold= only applies to Action=offline, not Action=keep");
}
END_TEST

START_TEST(policy_empty_file) {
        static const char msg[] = P ": no [Match] or [Online] section; an empty policy file is a mistake "
                                    "(mask a vendor file with a symlink to /dev/null)";

        parse_fails("", msg);
        parse_fails("# only a comment\n\n   \n", msg);
}
END_TEST

/* conf_read_file() and the search path, on a temporary root. */

static void read_fails(const char *root, const char *path, int expected_r, const char *expected_text) {
        ConfErrors e = {};
        char *text = (char *) "untouched";
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

        ck_assert_int_ge(fd, 0);
        r = conf_read_file(fd, path, path, &text, &e);
        ck_assert_msg(r == expected_r, "conf_read_file(%s) = %d (%s), expected %d", path, r, strerror(-r), expected_r);
        ck_assert_str_eq(text, "untouched");
        ck_assert_uint_eq(e.n, 1);
        ck_assert_msg(strstr(e.items[0].text, expected_text), "\"%s\" does not say \"%s\"", e.items[0].text,
                      expected_text);
        ck_assert_msg(strstr(e.items[0].text, path), "\"%s\" does not name %s", e.items[0].text, path);
        conf_errors_clear(&e);
        close(fd);
}

START_TEST(read_file_checks) {
        char *root = test_tmpdir(), *text = NULL, *big;
        ConfErrors e = {};
        int fd;

        write_file(root, "etc/ok.policy", "[Match]\n");
        write_file_mode(root, "etc/ww.policy", "[Match]\n", 0666);
        make_dirs(root, "etc/dir.policy");
        write_bytes(root, "etc/nul.policy", "[Match]\n\0Node=1\n", 16);
        big = malloc(CONF_FILE_MAX + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', CONF_FILE_MAX + 1);
        for (size_t i = 80; i < CONF_FILE_MAX + 1; i += 81)
                big[i] = '\n';
        write_bytes(root, "etc/big.policy", big, CONF_FILE_MAX + 1);
        free(big);

        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(conf_read_file(fd, "etc/ok.policy", "/etc/ok.policy", &text, &e), 0);
        ck_assert_str_eq(text, "[Match]\n");
        ck_assert_uint_eq(e.n, 0);
        free(text);
        /* Missing: not an error to report, the caller decides. */
        ck_assert_int_eq(conf_read_file(fd, "etc/none.policy", "/etc/none.policy", &text, &e), -ENOENT);
        ck_assert_uint_eq(e.n, 0);
        close(fd);

        read_fails(root, "etc/ww.policy", -EPERM, "world-writable, refusing to trust it (chmod go-w)");
        read_fails(root, "etc/dir.policy", -EISDIR, "not a regular file");
        read_fails(root, "etc/nul.policy", -EBADMSG, "contains a NUL byte");
        read_fails(root, "etc/big.policy", -EFBIG, "larger than 1048576 bytes");
        free(root);
}
END_TEST

/*
 * Regression (fixed in daemon/sysfs.c, root_read_file): a file of exactly 'max' bytes is refused with -EFBIG although
 * the contract is "at most 'max' bytes": after reading 'max' bytes the buffer is full (len + 1 ==
 * alloc == max + 1) and the loop returns -EFBIG before trying the read that would see EOF.
 * So conf_read_file() refuses a policy file of exactly CONF_FILE_MAX bytes.
 */
START_TEST(read_file_exactly_max) {
        char *root = test_tmpdir(), *big, *text = NULL;
        ConfErrors e = {};
        int fd, r;

        big = malloc(CONF_FILE_MAX);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', CONF_FILE_MAX);
        for (size_t i = 80; i < CONF_FILE_MAX; i += 81)
                big[i] = '\n';
        big[CONF_FILE_MAX - 1] = '\n';
        write_bytes(root, "etc/max.policy", big, CONF_FILE_MAX);

        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = conf_read_file(fd, "etc/max.policy", "/etc/max.policy", &text, &e);
        ck_assert_msg(r == 0, "a file of exactly CONF_FILE_MAX bytes: %d (%s), %s", r, strerror(-r),
                      e.n ? e.items[0].text : "no error text");
        ck_assert_uint_eq(e.n, 0);
        ck_assert_mem_eq(text, big, CONF_FILE_MAX);
        ck_assert_int_eq(text[CONF_FILE_MAX], '\0');
        free(text);
        free(big);
        close(fd);
        free(root);
}
END_TEST

/*
 * Regression (fixed in daemon/sysfs.c, root_read_file, used by conf_read_file): a FIFO named *.policy blocks the
 * daemon for ever in open(2) (no O_NONBLOCK, and the S_ISREG check comes after the read). Suggested fix:
 * open with O_NONBLOCK (or O_PATH), fstat, refuse anything but a regular file, then read.
 * The call runs in a child so that the test fails instead of hanging, also under CK_FORK=no.
 */
START_TEST(read_file_fifo_refused) {
        char *root = test_tmpdir(), *fifo;
        pid_t pid;
        int status = 0;
        bool exited = false;

        make_dirs(root, "etc");
        ck_assert(asprintf(&fifo, "%s/etc/fifo.policy", root) > 0);
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                ConfErrors e = {};
                char *text = NULL;
                int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                int r = conf_read_file(fd, "etc/fifo.policy", "/etc/fifo.policy", &text, &e);

                _exit(r < 0 && e.n == 1 ? 0 : 1);
        }
        for (int i = 0; i < 300 && !exited; i++) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                ck_assert_int_ge(w, 0);
                exited = w == pid;
                if (!exited)
                        nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        if (!exited) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, &status, 0);
        }
        ck_assert_msg(exited, "conf_read_file() blocked for 3 s on a FIFO");
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a FIFO was not refused with one error");
        free(fifo);
        free(root);
}
END_TEST

static char *policy_root(void) {
        char *root = test_tmpdir();

        /* Vendor presets. */
        write_file(root, "usr/lib/memhpd/policies.d/10-a.policy", "[Match]\nBlock=10\n");
        write_file(root, "usr/lib/memhpd/policies.d/50-default.policy", "[Match]\nBlock=50\n");
        write_file(root, "usr/lib/memhpd/policies.d/90-z.policy", "[Match]\nBlock=90\n");
        write_file(root, "usr/lib/memhpd/policies.d/README", "not a policy\n");
        write_file(root, "usr/lib/memhpd/policies.d/30-x.policy.disabled", "[Bogus]\n");
        write_file(root, "usr/lib/memhpd/policies.d/.hidden.policy", "[Bogus]\n");
        write_file(root, "usr/lib/memhpd/policies.d/.policy", "[Bogus]\n");
        /* Runtime: a new file and one that masks a vendor file of the same name. */
        write_file(root, "run/memhpd/policies.d/20-b.policy", "[Match]\nBlock=20\n");
        write_file(root, "run/memhpd/policies.d/90-z.policy", "[Match]\nBlock=91\n");
        /* Admin: overrides 50-default, adds 30-c, masks 10-a entirely. */
        write_file(root, "etc/memhpd/policies.d/50-default.policy", "[Match]\nBlock=51\n");
        write_file(root, "etc/memhpd/policies.d/30-c.policy", "[Match]\nBlock=30\n");
        make_symlink(root, "etc/memhpd/policies.d/10-a.policy", "/dev/null");
        return root;
}

START_TEST(files_list_order_and_masks) {
        char *root = policy_root();
        ConfErrors e = {};
        ConfFile *files = NULL;
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n;

        n = conf_files_list(fd, policy_dirs, ".policy", &files, &e);
        ck_assert_int_eq(n, 4);
        ck_assert_uint_eq(e.n, 0);
        ck_assert_str_eq(files[0].name, "20-b.policy");
        ck_assert_str_eq(files[0].path, "run/memhpd/policies.d/20-b.policy");
        ck_assert_str_eq(files[1].name, "30-c.policy");
        ck_assert_str_eq(files[1].path, "etc/memhpd/policies.d/30-c.policy");
        ck_assert_str_eq(files[2].name, "50-default.policy");
        ck_assert_str_eq(files[2].path, "etc/memhpd/policies.d/50-default.policy");
        ck_assert_str_eq(files[3].name, "90-z.policy");
        ck_assert_str_eq(files[3].path, "run/memhpd/policies.d/90-z.policy");
        conf_files_free(files, n);

        /* No directory at all: an empty list. */
        {
                static const char *const none[] = { "nowhere", NULL };

                files = NULL;
                ck_assert_int_eq(conf_files_list(fd, none, ".policy", &files, &e), 0);
                ck_assert_uint_eq(e.n, 0);
                conf_files_free(files, 0);
        }
        close(fd);
        free(root);
}
END_TEST

START_TEST(files_list_fails_on_readdir_error) {
        char *root = policy_root();
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), calls = 0;
        PolicySet set = { .items = (Policy *) 0x1, .n = 77 };

        /* Every readdir() of the three listings (an entry, . and .. included, or the end) is a point where
         * the listing can fail. */
        for (const char *const *dir = policy_dirs; *dir; dir++) {
                char *path;
                DIR *d;

                ck_assert(asprintf(&path, "%s/%s", root, *dir) > 0);
                d = opendir(path);
                ck_assert_ptr_nonnull(d);
                while (readdir(d))
                        calls++;
                calls++;
                closedir(d);
                free(path);
        }
        ck_assert_int_gt(calls, 10);

        for (int budget = 0; budget < calls; budget++) {
                ConfFile *files = (ConfFile *) 0x1;
                ConfErrors e = {};

                readdir_fail_after(budget);
                /* A listing that failed part-way is no listing: a policy or a mask may be missing. */
                ck_assert_int_eq(conf_files_list(fd, policy_dirs, ".policy", &files, &e), -EIO);
                ck_assert_ptr_eq(files, (ConfFile *) 0x1); /* untouched */
                ck_assert_uint_eq(e.n, 1);
                ck_assert_msg(strstr(e.items[0].text, ": cannot list the directory: Input/output error") &&
                              e.items[0].text[0] == '/', "%s", e.items[0].text);
                conf_errors_clear(&e);

                /* ...and the policy set keeps what it had. */
                readdir_fail_after(budget);
                ck_assert_int_lt(policy_set_load(fd, policy_dirs, &set, &e), 0);
                ck_assert_ptr_eq(set.items, (Policy *) 0x1);
                ck_assert_uint_eq(set.n, 77);
                conf_errors_clear(&e);
        }
        /* With a budget for every call the listing is whole again. */
        {
                ConfFile *files = NULL;
                ConfErrors e = {};
                int n;

                readdir_fail_after(calls);
                n = conf_files_list(fd, policy_dirs, ".policy", &files, &e);
                ck_assert_int_eq(n, 4);
                ck_assert_uint_eq(e.n, 0);
                conf_files_free(files, n);
        }
        readdir_fail_reset();
        close(fd);
        free(root);
}
END_TEST

START_TEST(policy_set_load_order) {
        char *root = policy_root();
        ConfErrors e = {};
        PolicySet set = {};
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        static const uint64_t blocks[] = { 20, 30, 51, 91 };
        static const char *const paths[] = {
                "/run/memhpd/policies.d/20-b.policy",
                "/etc/memhpd/policies.d/30-c.policy",
                "/etc/memhpd/policies.d/50-default.policy",
                "/run/memhpd/policies.d/90-z.policy",
        };

        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), 0);
        ck_assert_uint_eq(e.n, 0);
        ck_assert_uint_eq(set.n, 4);
        for (size_t i = 0; i < set.n; i++) {
                ck_assert_str_eq(set.items[i].path, paths[i]);
                ck_assert_uint_eq(set.items[i].blocks.items[0].start, blocks[i]);
                ck_assert_uint_eq(set.items[i].line, 1);
        }
        policy_set_done(&set);
        ck_assert_uint_eq(set.n, 0);

        /* A broken vendor file masked by /dev/null is never read. */
        write_file(root, "usr/lib/memhpd/policies.d/10-a.policy", "[Bogus]\n");
        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), 0);
        ck_assert_uint_eq(set.n, 4);
        policy_set_done(&set);

        /* Nothing at all: an empty set is fine. */
        remove_tree(root, "etc");
        remove_tree(root, "run");
        remove_tree(root, "usr");
        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), 0);
        ck_assert_uint_eq(set.n, 0);
        ck_assert_uint_eq(e.n, 0);
        policy_set_done(&set);
        close(fd);
        free(root);
}
END_TEST

START_TEST(policy_set_load_broken) {
        char *root = policy_root();
        ConfErrors e = {};
        PolicySet set = { .items = (Policy *) 0x1, .n = 77 };
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        write_file(root, "run/memhpd/policies.d/20-b.policy", "[Match]\nNode=5-1\n");
        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), -EINVAL);
        ck_assert_ptr_eq(set.items, (Policy *) 0x1); /* untouched */
        ck_assert_uint_eq(set.n, 77);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.items[0].text, "/run/memhpd/policies.d/20-b.policy:2: Node=5-1: range \"5-1\" ends before it starts");
        conf_errors_clear(&e);

        /* A file that cannot be read counts as broken too. */
        write_file(root, "run/memhpd/policies.d/20-b.policy", "[Match]\n");
        write_file_mode(root, "etc/memhpd/policies.d/30-c.policy", "[Match]\n", 0666);
        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), -EINVAL);
        ck_assert_uint_eq(set.n, 77);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.items[0].text, "/etc/memhpd/policies.d/30-c.policy: world-writable, "
                                          "refusing to trust it (chmod go-w)");
        conf_errors_clear(&e);
        close(fd);
        free(root);
}
END_TEST

/*
 * Regression (fixed: conf_read_file() takes the path to show): errors from
 * conf_read_file() name the file relative to the root ("etc/memhpd/policies.d/30-c.policy: ...")
 * while parse errors name it as the administrator knows it ("/etc/memhpd/policies.d/30-c.policy:2:
 * ..."). Suggested fix: let conf_read_file() take the path to show, or prefix the '/' in
 * conf_errors_addf() callers, so that every message names the same absolute path.
 */
START_TEST(read_error_names_absolute_path) {
        char *root = policy_root();
        ConfErrors e = {};
        PolicySet set = {};
        Settings s;
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        write_file_mode(root, "etc/memhpd/policies.d/30-c.policy", "[Match]\n", 0666);
        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_msg(strncmp(e.items[0].text, "/etc/memhpd/policies.d/30-c.policy: ", 36) == 0,
                      "\"%s\" does not name /etc/memhpd/policies.d/30-c.policy", e.items[0].text);
        conf_errors_clear(&e);

        write_file_mode(root, "etc/memhpd/memhpd.conf", "[Daemon]\n", 0666);
        ck_assert_int_eq(settings_load(fd, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_msg(strncmp(e.items[0].text, "/etc/memhpd/memhpd.conf: ", 25) == 0,
                      "\"%s\" does not name /etc/memhpd/memhpd.conf", e.items[0].text);
        conf_errors_clear(&e);
        close(fd);
        free(root);
}
END_TEST

/* Settings. */

static void settings_fails(const char *text, const char *expected) {
        char *root = test_tmpdir();
        ConfErrors e = {};
        Settings s = { .receive_buffer = 4242 };
        int fd;

        write_file(root, "etc/memhpd/memhpd.conf", text);
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(settings_load(fd, &s, &e), -EINVAL);
        ck_assert_uint_eq(s.receive_buffer, 4242); /* untouched */
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.items[0].text, expected);
        conf_errors_clear(&e);
        close(fd);
        free(root);
}

/* 'text' as the main settings file must load, with this ReceiveBufferSize=. */
static void settings_ok_(const char *text, unsigned long long receive_buffer) {
        char *root = test_tmpdir();
        ConfErrors e = {};
        Settings s;
        int fd;

        write_file(root, "etc/memhpd/memhpd.conf", text);
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_msg(e.n == 0, "%s", e.n ? e.items[0].text : "");
        ck_assert_uint_eq(s.receive_buffer, receive_buffer);
        close(fd);
        free(root);
}

START_TEST(settings_defaults_and_keys) {
        char *root = test_tmpdir();
        ConfErrors e = {};
        Settings s, d;
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        settings_defaults(&d);
        ck_assert_int_eq(d.event_source, SOURCE_KERNEL);
        ck_assert_uint_eq(d.receive_buffer, 128ULL << 20);
        ck_assert_uint_eq(d.settle_usec, 2000000);
        ck_assert(d.lock_memory);
        ck_assert_int_eq(d.kernel_auto_online, KERNEL_AUTO_ONLINE_TAKEOVER);
        ck_assert_uint_eq(d.memory_pressure_limit, 10);
        ck_assert_uint_eq(d.memory_pressure_duration_usec, 1000000);

        /* No file at all: the defaults. */
        memset(&s, 0xaa, sizeof(s));
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_uint_eq(e.n, 0);
        ck_assert_int_eq(s.event_source, d.event_source);
        ck_assert_uint_eq(s.receive_buffer, d.receive_buffer);
        ck_assert_uint_eq(s.settle_usec, d.settle_usec);
        ck_assert_int_eq(s.lock_memory, d.lock_memory);
        ck_assert_int_eq(s.kernel_auto_online, d.kernel_auto_online);

        write_file(root, "etc/memhpd/memhpd.conf",
                   "# every key\n[Daemon]\nEventSource=udev\nReceiveBufferSize=64M\nSettleTimeoutSec=500ms\n"
                   "LockMemory=no\nKernelAutoOnline=delegate\n");
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_uint_eq(e.n, 0);
        ck_assert_int_eq(s.kernel_auto_online, KERNEL_AUTO_ONLINE_DELEGATE);
        ck_assert_str_eq(kernel_auto_online_to_string(s.kernel_auto_online), "delegate");
        ck_assert_int_eq(s.event_source, SOURCE_UDEV);
        ck_assert_uint_eq(s.receive_buffer, 64ULL << 20);
        ck_assert_uint_eq(s.settle_usec, 500000);
        ck_assert(!s.lock_memory);

        write_file(root, "etc/memhpd/memhpd.conf",
                   "[Daemon]\nEventSource=kernel\nReceiveBufferSize=4096\nSettleTimeoutSec=60\nLockMemory=yes\n"
                   "KernelAutoOnline=keep\n");
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_int_eq(s.kernel_auto_online, KERNEL_AUTO_ONLINE_KEEP);
        ck_assert_int_eq(s.event_source, SOURCE_KERNEL);
        ck_assert_uint_eq(s.receive_buffer, 4096);
        ck_assert_uint_eq(s.settle_usec, 60000000);
        ck_assert(s.lock_memory);

        write_file(root, "etc/memhpd/memhpd.conf", "[Daemon]\nMemoryPressureLimit=60%\nMemoryPressureDurationSec=500ms\n");
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_uint_eq(s.memory_pressure_limit, 60);
        ck_assert_uint_eq(s.memory_pressure_duration_usec, 500000);
        write_file(root, "etc/memhpd/memhpd.conf", "[Daemon]\nMemoryPressureLimit=100\nMemoryPressureDurationSec=10s\n");
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_uint_eq(s.memory_pressure_limit, 100);
        ck_assert_uint_eq(s.memory_pressure_duration_usec, 10000000);

        write_file(root, "etc/memhpd/memhpd.conf", "[Daemon]\nReceiveBufferSize=1G\nSettleTimeoutSec=1min\n");
        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_uint_eq(s.receive_buffer, 1ULL << 30);
        ck_assert_uint_eq(s.settle_usec, 60000000);
        close(fd);
        free(root);
}
END_TEST

START_TEST(settings_dropins) {
        char *root = test_tmpdir();
        ConfErrors e = {};
        Settings s;
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        write_file(root, "etc/memhpd/memhpd.conf", "[Daemon]\nSettleTimeoutSec=5\nReceiveBufferSize=8M\nLockMemory=no\n");
        /* Drop-ins apply after the main file, in lexical order across the directories. */
        write_file(root, "usr/lib/memhpd/memhpd.conf.d/10-vendor.conf", "[Daemon]\nSettleTimeoutSec=1\nEventSource=udev\n");
        write_file(root, "run/memhpd/memhpd.conf.d/20-run.conf", "[Daemon]\nSettleTimeoutSec=3\n");
        write_file(root, "etc/memhpd/memhpd.conf.d/30-admin.conf", "[Daemon]\nReceiveBufferSize=16M\n");
        /* Same name as a vendor drop-in: replaces it. */
        write_file(root, "etc/memhpd/memhpd.conf.d/10-vendor.conf", "[Daemon]\nLockMemory=yes\n");
        write_file(root, "etc/memhpd/memhpd.conf.d/99-ignored.txt", "[Bogus]\n");

        ck_assert_int_eq(settings_load(fd, &s, &e), 0);
        ck_assert_msg(e.n == 0, "%s", e.n ? e.items[0].text : "");
        ck_assert_uint_eq(s.settle_usec, 3000000);
        ck_assert_uint_eq(s.receive_buffer, 16ULL << 20);
        ck_assert(s.lock_memory);
        ck_assert_int_eq(s.event_source, SOURCE_KERNEL); /* the vendor drop-in was replaced */

        /* A broken drop-in fails the whole load. */
        write_file(root, "run/memhpd/memhpd.conf.d/20-run.conf", "[Daemon]\nSettleTimeoutSec=soon\n");
        ck_assert_int_eq(settings_load(fd, &s, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.items[0].text, "/run/memhpd/memhpd.conf.d/20-run.conf:2: SettleTimeoutSec=soon: "
                                          "expected a time span up to 60s, such as 2s or 500ms");
        conf_errors_clear(&e);
        close(fd);
        free(root);
}
END_TEST

START_TEST(settings_bad_values) {
#define C "/etc/memhpd/memhpd.conf"
        settings_fails("[Daemon]\nEventSource=netlink\n", C ":2: EventSource=netlink: expected kernel or udev");
        settings_fails("[Daemon]\nReceiveBufferSize=1K\n",
                       C ":2: ReceiveBufferSize=1K: expected a size between 4K and 1G, such as 128M");
        settings_fails("[Daemon]\nReceiveBufferSize=2G\n",
                       C ":2: ReceiveBufferSize=2G: expected a size between 4K and 1G, such as 128M");
        settings_fails("[Daemon]\nReceiveBufferSize=lots\n",
                       C ":2: ReceiveBufferSize=lots: expected a size between 4K and 1G, such as 128M");
        settings_fails("[Daemon]\nSettleTimeoutSec=61\n",
                       C ":2: SettleTimeoutSec=61: expected a time span up to 60s, such as 2s or 500ms");
        settings_fails("[Daemon]\nSettleTimeoutSec=2h\n",
                       C ":2: SettleTimeoutSec=2h: expected a time span up to 60s, such as 2s or 500ms");
        settings_fails("[Daemon]\nLockMemory=maybe\n", C ":2: LockMemory=maybe: expected yes or no");
        settings_fails("[Daemon]\nKernelAutoOnline=sometimes\n",
                       C ":2: KernelAutoOnline=sometimes: expected takeover, keep or delegate");
        settings_fails("[Daemon]\nKernelAutoOnline=\n", C ":2: KernelAutoOnline=: expected takeover, keep or delegate");
        settings_fails("[Daemon]\nVerbose=yes\n", C ":2: unknown key Verbose= in section [Daemon]");
        settings_fails("[Policy]\nZone=movable\n", C ":1: unknown section [Policy]");
        settings_fails("LockMemory=no\n", C ":1: LockMemory= outside of a section");
        /* PSI refuses a trigger outside these: said here, not by the kernel at the first reserve. */
        settings_fails("[Daemon]\nMemoryPressureLimit=0%\n",
                       C ":2: MemoryPressureLimit=0%: expected a percentage from 1% to 100%, such as 10%");
        settings_fails("[Daemon]\nMemoryPressureLimit=101%\n",
                       C ":2: MemoryPressureLimit=101%: expected a percentage from 1% to 100%, such as 10%");
        settings_fails("[Daemon]\nMemoryPressureLimit=%\n",
                       C ":2: MemoryPressureLimit=%: expected a percentage from 1% to 100%, such as 10%");
        settings_fails("[Daemon]\nMemoryPressureLimit=10.5%\n",
                       C ":2: MemoryPressureLimit=10.5%: expected a percentage from 1% to 100%, such as 10%");
        settings_fails("[Daemon]\nMemoryPressureDurationSec=499ms\n",
                       C ":2: MemoryPressureDurationSec=499ms: expected a time span from 500ms to 10s (PSI's window), "
                         "such as 1s");
        settings_fails("[Daemon]\nMemoryPressureDurationSec=11s\n",
                       C ":2: MemoryPressureDurationSec=11s: expected a time span from 500ms to 10s (PSI's window), "
                         "such as 1s");
        settings_fails("[Daemon]\nMemoryPressureDurationSec=0\n",
                       C ":2: MemoryPressureDurationSec=0: expected a time span from 500ms to 10s (PSI's window), "
                         "such as 1s");
#undef C
}
END_TEST

START_TEST(shared_value_parsers) {
        uint64_t v;
        bool b;

        ck_assert_int_eq(conf_parse_size("128M", &v), 0);
        ck_assert_uint_eq(v, 128ULL << 20);
        ck_assert_int_eq(conf_parse_size("2GiB", &v), 0);
        ck_assert_uint_eq(v, 2ULL << 30);
        ck_assert_int_eq(conf_parse_size("4096", &v), 0);
        ck_assert_uint_eq(v, 4096);
        ck_assert_int_eq(conf_parse_size("0x1000", &v), 0);
        ck_assert_uint_eq(v, 4096);
        ck_assert_int_eq(conf_parse_size("0x1G", &v), 0);
        ck_assert_uint_eq(v, 1ULL << 30);
        ck_assert_int_eq(conf_parse_size("0X1e", &v), 0); /* E is a hex digit, never a unit */
        ck_assert_uint_eq(v, 0x1e);
        ck_assert_int_eq(conf_parse_size("3P", &v), 0);
        ck_assert_uint_eq(v, 3ULL << 50);
        ck_assert_int_eq(conf_parse_size("15PiB", &v), 0);
        ck_assert_uint_eq(v, 15ULL << 50);
        ck_assert_int_eq(conf_parse_size("18446744073709551615", &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
        ck_assert_int_eq(conf_parse_size("18446744073709551616", &v), -ERANGE);
        ck_assert_int_eq(conf_parse_size("0x10000000000000000", &v), -ERANGE);
        ck_assert_int_eq(conf_parse_size("16777216T", &v), -ERANGE);
        ck_assert_int_eq(conf_parse_size("16P", &v), 0);
        ck_assert_int_eq(conf_parse_size("16384P", &v), -ERANGE);
        static const char *const bad_sizes[] = {
                "", "-1", "+1", " 1", "1 ", "1 M", "1m", "1KB", "1k", "1B", "1E", "1.5G", "0x", "0xG", "x1",
                "1GiBx", "1Gi", "1iB", "0b101",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_sizes); i++)
                ck_assert_msg(conf_parse_size(bad_sizes[i], &v) == -EINVAL, "accepted \"%s\"", bad_sizes[i]);

        ck_assert_int_eq(conf_parse_usec("2", &v), 0);
        ck_assert_uint_eq(v, 2000000);
        ck_assert_int_eq(conf_parse_usec("100us", &v), 0);
        ck_assert_uint_eq(v, 100);
        ck_assert_int_eq(conf_parse_usec("500ms", &v), 0);
        ck_assert_uint_eq(v, 500000);
        ck_assert_int_eq(conf_parse_usec("2min", &v), 0);
        ck_assert_uint_eq(v, 120000000);
        ck_assert_int_eq(conf_parse_usec("0x10", &v), 0);
        ck_assert_uint_eq(v, 16000000);
        ck_assert_int_lt(conf_parse_usec("1h", &v), 0);
        ck_assert_int_lt(conf_parse_usec("1G", &v), 0);
        ck_assert_int_lt(conf_parse_usec("-1s", &v), 0);
        ck_assert_int_eq(conf_parse_usec("18446744073709551615", &v), -ERANGE);

        ck_assert_int_eq(conf_parse_number("12", 2, CONF_UNIT_NONE, &v), 0);
        ck_assert_uint_eq(v, 12);
        ck_assert_int_eq(conf_parse_number("12K", 2, CONF_UNIT_NONE, &v), 0); /* only 'len' bytes */
        ck_assert_int_eq(conf_parse_number("12K", 3, CONF_UNIT_NONE, &v), -EINVAL);
        ck_assert_int_eq(conf_parse_number("12s", 3, CONF_UNIT_BYTES, &v), -EINVAL);

        ck_assert_int_eq(conf_parse_bool("YES", &b), 0);
        ck_assert(b);
        ck_assert_int_eq(conf_parse_bool("off", &b), 0);
        ck_assert(!b);
        ck_assert_int_lt(conf_parse_bool("2", &b), 0);
}
END_TEST

/* Issue 7: PhysAddress=4GiB was rejected while ReceiveBufferSize=4GiB was accepted. Every key that
 * takes a number now goes through conf_parse_number(): same digits, same units. */
START_TEST(one_number_parser_for_all_keys) {
        Policy p;

        parse_ok("[Match]\nPhysAddress=4GiB-8GiB 0x1PiB 1T-0x20000000000\nNode=0x3 7\nBlock=0x20-33\n"
                 "[Online]\nMaxMovableRatio=0x12D%\n", &p);
        ck_assert_uint_eq(p.phys.n, 3);
        ck_assert_uint_eq(p.phys.items[0].start, 4ULL << 30);
        ck_assert_uint_eq(p.phys.items[0].end, 8ULL << 30);
        ck_assert_uint_eq(p.phys.items[1].start, 1ULL << 50);
        ck_assert_uint_eq(p.phys.items[2].start, 1ULL << 40);
        ck_assert_uint_eq(p.phys.items[2].end, 2ULL << 40);
        ck_assert_uint_eq(p.nodes.items[0].start, 3);
        ck_assert_uint_eq(p.blocks.items[0].start, 32);
        ck_assert_uint_eq(p.max_movable_ratio, 301);
        policy_done(&p);

        /* Counts take no unit. */
        parse_fails("[Match]\nNode=1K\n", P ":2: Node=1K: \"1K\" is not a number or a range A-B");
        parse_fails("[Match]\nBlock=1GiB\n", P ":2: Block=1GiB: \"1GiB\" is not a number or a range A-B");
        parse_fails("[Online]\nMaxMovableRatio=3G%\n",
                    P ":2: MaxMovableRatio=3G%: expected a percentage such as 301% (MOVABLE:KERNEL, 0-100000)");
        /* The same size in both files, the same error for the same mistake. */
        parse_fails("[Match]\nPhysAddress=4gib\n", P ":2: PhysAddress=4gib: \"4gib\" is not a number or a range A-B");
        settings_ok_("[Daemon]\nReceiveBufferSize=0x100000\n", 1ULL << 20);
        settings_ok_("[Daemon]\nReceiveBufferSize=1GiB\n", 1ULL << 30);
        settings_fails("[Daemon]\nReceiveBufferSize=4gib\n", "/etc/memhpd/memhpd.conf:2: ReceiveBufferSize=4gib: "
                                                            "expected a size between 4K and 1G, such as 128M");
}
END_TEST

/* Issue 7: a UTF-8 byte order mark before the first line is skipped, as systemd does. */
START_TEST(utf8_bom_accepted) {
        Policy p;

        parse_ok("\xef\xbb\xbf[Match]\nDevice=virtio-mem\n", &p);
        ck_assert_uint_eq(p.match_line, 1);
        ck_assert_uint_eq(p.devices, 1u << DEVICE_VIRTIO_MEM);
        policy_done(&p);
        parse_ok("\xef\xbb\xbf# comment first\n[Online]\nZone=movable\n", &p);
        ck_assert_uint_eq(p.online_line, 2);
        policy_done(&p);
        settings_ok_("\xef\xbb\xbf[Daemon]\nReceiveBufferSize=8M\n", 8ULL << 20);
        /* Only at the very start: elsewhere it is part of a name. */
        parse_fails("[Match]\n\xef\xbb\xbf" "Device=any\n", P ":2: unknown key \xef\xbb\xbf" "Device= in section [Match]");
        /* A lone BOM is an empty file. */
        parse_fails("\xef\xbb\xbf", P ": no [Match] or [Online] section; an empty policy file is a mistake "
                                     "(mask a vendor file with a symlink to /dev/null)");
}
END_TEST

/* Issue 7, item 8: the trust rules of the service, which --check applies too (same code). */

static void chmod_at(const char *root, const char *rel, mode_t mode) {
        char *p;

        ck_assert(asprintf(&p, "%s/%s", root, rel) > 0);
        ck_assert_int_eq(chmod(p, mode), 0);
        free(p);
}

static void chown_at(const char *root, const char *rel, uid_t uid) {
        char *p;

        ck_assert(asprintf(&p, "%s/%s", root, rel) > 0);
        ck_assert_int_eq(lchown(p, uid, (gid_t) -1), 0);
        free(p);
}

/* Load the policies of 'root': must fail with exactly 'expected' as the only error. */
static void policies_fail(const char *root, const char *expected) {
        ConfErrors e = {};
        PolicySet set = {};
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), -EINVAL);
        ck_assert_msg(e.n == 1, "%zu errors, first: %s", e.n, e.n ? e.items[0].text : "none");
        ck_assert_str_eq(e.items[0].text, expected);
        conf_errors_clear(&e);
        close(fd);
}

static size_t policies_load(const char *root) {
        ConfErrors e = {};
        PolicySet set = {};
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t n;

        ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), 0);
        ck_assert_msg(e.n == 0, "%s", e.n ? e.items[0].text : "");
        n = set.n;
        policy_set_done(&set);
        close(fd);
        return n;
}

START_TEST(trust_directories) {
        char *root = policy_root();

        ck_assert_uint_eq(policies_load(root), 4);

        /* A policies.d at 1777 lets anyone add a policy: refused, and its files are not read. */
        chmod_at(root, "etc/memhpd/policies.d", 01777);
        policies_fail(root, "/etc/memhpd/policies.d: world-writable, refusing to trust it (chmod go-w)");
        chmod_at(root, "etc/memhpd/policies.d", 0775);
        policies_fail(root, "/etc/memhpd/policies.d: group-writable, refusing to trust it (chmod go-w)");
        chmod_at(root, "etc/memhpd/policies.d", 0755);

        /* The directories above count too, up to the root. */
        chmod_at(root, "etc", 0757);
        policies_fail(root, "/etc: world-writable, refusing to trust it (chmod go-w)");
        chmod_at(root, "etc", 0755);
        chmod_at(root, ".", 0777);
        {
                ConfErrors e = {};
                PolicySet set = {};
                int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                /* Every search directory is below it: one error, not one per directory or file. */
                ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), -EINVAL);
                ck_assert_uint_eq(e.n, 1);
                ck_assert_str_eq(e.items[0].text, "/: world-writable, refusing to trust it (chmod go-w)");
                ck_assert_uint_ge(e.n_total, 3);
                conf_errors_clear(&e);
                close(fd);
        }
        /* A sticky directory of root's on the way is safe (the 1777 "/" of an initramfs on tmpfs): only
         * root can rename or remove what root owns in it. Not so for the directory that is listed. */
        if (geteuid() == 0) {
                chmod_at(root, ".", 01777);
                ck_assert_uint_eq(policies_load(root), 4);
                chmod_at(root, "etc", 01777);
                ck_assert_uint_eq(policies_load(root), 4);
                chmod_at(root, "etc", 0777);
                policies_fail(root, "/etc: world-writable, refusing to trust it (chmod go-w)");
                chmod_at(root, "etc", 01777);
                chmod_at(root, "etc/memhpd/policies.d", 01777);
                policies_fail(root, "/etc/memhpd/policies.d: world-writable, refusing to trust it (chmod go-w)");
                chmod_at(root, "etc/memhpd/policies.d", 0755);
                chmod_at(root, "etc", 0755);
                ck_assert_uint_eq(policies_load(root), 4);
        }
        chmod_at(root, ".", 0700);

        /* As root (with CAP_DAC_OVERRIDE, as --check runs): a directory the service, which has no
         * CAP_DAC_OVERRIDE, could not list or enter. (Other users cannot open it at all.) */
        if (geteuid() == 0) {
                chmod_at(root, "run/memhpd/policies.d", 0000);
                policies_fail(root, "/run/memhpd/policies.d: mode 0000: the service, which has no "
                                    "CAP_DAC_OVERRIDE, cannot list it");
                chmod_at(root, "run/memhpd/policies.d", 0755);
                chmod_at(root, "run/memhpd", 0600);
                policies_fail(root, "/run/memhpd: mode 0600: the service, which has no CAP_DAC_OVERRIDE, "
                                    "cannot enter it");
                chmod_at(root, "run/memhpd", 0755);

                chown_at(root, "usr/lib/memhpd/policies.d", 65534);
                policies_fail(root, "/usr/lib/memhpd/policies.d: owned by uid 65534, not by root: refusing to trust "
                                    "it (chown root)");
                chown_at(root, "usr/lib/memhpd/policies.d", 0);
        }
        ck_assert_uint_eq(policies_load(root), 4);
        free(root);
}
END_TEST

START_TEST(trust_files) {
        char *root = policy_root();

        chmod_at(root, "etc/memhpd/policies.d/30-c.policy", 0620);
        policies_fail(root, "/etc/memhpd/policies.d/30-c.policy: group-writable, refusing to trust it (chmod go-w)");
        chmod_at(root, "etc/memhpd/policies.d/30-c.policy", 0400);
        ck_assert_uint_eq(policies_load(root), 4);
        if (geteuid() == 0) {
                /* Root reads a 0200 file only with CAP_DAC_OVERRIDE, which the service does not have. */
                chmod_at(root, "etc/memhpd/policies.d/30-c.policy", 0200);
                policies_fail(root, "/etc/memhpd/policies.d/30-c.policy: mode 0200: the service, which has no "
                                    "CAP_DAC_OVERRIDE, cannot read it");
                /* Another user's 0600 file: --check as root could read it, the service must not trust it. */
                chmod_at(root, "etc/memhpd/policies.d/30-c.policy", 0600);
                chown_at(root, "etc/memhpd/policies.d/30-c.policy", 65534);
                policies_fail(root, "/etc/memhpd/policies.d/30-c.policy: owned by uid 65534, not by root: refusing "
                                    "to trust it (chown root)");
                chown_at(root, "etc/memhpd/policies.d/30-c.policy", 0);
        }

        /* A link to a file elsewhere is trusted only if the directories above its target are. */
        write_file(root, "opt/shared/40-link.policy", "[Match]\nBlock=40\n");
        make_symlink(root, "etc/memhpd/policies.d/40-link.policy", "../../../opt/shared/40-link.policy");
        ck_assert_uint_eq(policies_load(root), 5);
        chmod_at(root, "opt/shared", 0777);
        policies_fail(root, "/opt/shared: world-writable, refusing to trust it (chmod go-w)");
        chmod_at(root, "opt/shared", 0755);

        /* The settings files obey the same rules. */
        {
                ConfErrors e = {};
                Settings s;
                int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                write_file(root, "etc/memhpd/memhpd.conf", "[Daemon]\n");
                write_file(root, "etc/memhpd/memhpd.conf.d/10-a.conf", "[Daemon]\n");
                ck_assert_int_eq(settings_load(fd, &s, &e), 0);
                chmod_at(root, "etc/memhpd/memhpd.conf", geteuid() == 0 ? 0000 : 0602);
                chmod_at(root, "etc/memhpd/memhpd.conf.d", 0770);
                ck_assert_int_eq(settings_load(fd, &s, &e), -EINVAL);
                ck_assert_uint_eq(e.n, 2);
                ck_assert_str_eq(e.items[0].text, geteuid() == 0 ?
                                 "/etc/memhpd/memhpd.conf: mode 0000: the service, which has no CAP_DAC_OVERRIDE, "
                                 "cannot read it" :
                                 "/etc/memhpd/memhpd.conf: world-writable, refusing to trust it (chmod go-w)");
                ck_assert_str_eq(e.items[1].text, "/etc/memhpd/memhpd.conf.d: group-writable, refusing to trust it "
                                                  "(chmod go-w)");
                conf_errors_clear(&e);
                close(fd);
        }
        free(root);
}
END_TEST

/* A dangling link was skipped silently, and still masked the vendor preset of its name. */
START_TEST(dangling_symlink_is_an_error) {
        char *root = policy_root();

        make_symlink(root, "etc/memhpd/policies.d/90-z.policy", "/nonexistent/90-z.policy");
        policies_fail(root, "/etc/memhpd/policies.d/90-z.policy: dangling symbolic link to /nonexistent/90-z.policy");

        /* The main settings file too. */
        {
                ConfErrors e = {};
                Settings s;
                int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                make_symlink(root, "etc/memhpd/memhpd.conf", "memhpd.conf.orig");
                ck_assert_int_eq(settings_load(fd, &s, &e), -EINVAL);
                ck_assert_uint_eq(e.n, 1);
                ck_assert_str_eq(e.items[0].text, "/etc/memhpd/memhpd.conf: dangling symbolic link to memhpd.conf.orig");
                conf_errors_clear(&e);
                close(fd);
        }
        free(root);
}
END_TEST

/* A 1 MiB file of "x" lines made 520,003 records in 3.3 s; the list is capped per file and in all. */
START_TEST(errors_capped) {
        size_t size = CONF_FILE_MAX, n_lines = size / 2;
        char *text = malloc(size + 1), *root;
        ConfErrors e = {};
        Policy p;
        char name[128];
        int fd;

        ck_assert_ptr_nonnull(text);
        for (size_t i = 0; i < size; i += 2)
                memcpy(text + i, "x\n", 2);
        text[size] = '\0';
        ck_assert_int_eq(policy_parse(P, text, &p, &e), -EINVAL);
        /* n_lines errors plus "no [Match] or [Online] section". */
        ck_assert_uint_eq(e.n_total, n_lines + 1);
        ck_assert_uint_eq(e.n, CONF_ERRORS_PER_FILE_MAX + 1);
        ck_assert_str_eq(e.items[0].text, P ":1: expected [Section] or Key=Value, got \"x\"");
        snprintf(name, sizeof(name), P ": %zu more errors in this file not shown",
                 n_lines + 1 - CONF_ERRORS_PER_FILE_MAX);
        ck_assert_str_eq(e.items[e.n - 1].text, name);
        conf_errors_clear(&e);

        /* In all: many broken files end with one line that counts the rest. */
        root = test_tmpdir();
        for (int i = 0; i < 20; i++) {
                snprintf(name, sizeof(name), "etc/memhpd/policies.d/%02d.policy", i);
                write_bytes(root, name, text, 60 * 2);
        }
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        {
                PolicySet set = {};

                ck_assert_int_eq(policy_set_load(fd, policy_dirs, &set, &e), -EINVAL);
        }
        ck_assert_uint_eq(e.n_total, 20 * 61);
        /* Files 00-08 list 50 errors and a line for their other 11; 09 fills the list to 500. */
        ck_assert_str_eq(e.items[50].text, "/etc/memhpd/policies.d/00.policy: 11 more errors in this file not shown");
        ck_assert_uint_eq(e.n, 9 * 51 + 50 + 1);
        ck_assert_str_eq(e.items[e.n - 1].text, "621 more errors not shown (at most 500 are listed)");
        conf_errors_clear(&e);
        close(fd);
        free(root);
        free(text);
}
END_TEST

START_TEST(cosmetic_errors) {
        Policy p;
        ConfErrors e = {};

        /* A carriage return inside a line is an error, and never echoed raw. */
        parse_fails("[Online]\nZone=mov\rable\n", P ":2: control character 0x0d in line");
        ck_assert_int_eq(policy_parse("/etc/x\r\x1b[2K.policy", "[Online]\nZone=up\n", &p, &e), -EINVAL);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_str_eq(e.items[0].text, "/etc/x\\x0d\\x1b[2K.policy:2: Zone=up: unknown zone, expected auto, "
                                          "movable, kernel or offline");
        conf_errors_clear(&e);

        /* A CRLF line end does not count toward the 199 characters. */
        parse_longest_line("\r\n");

        /* inih splits keys at ':' as well as '=': refuse such a key instead of a misleading value error. */
        parse_fails("[Online]\nZone:x=movable\n", P ":2: \"Zone:x\" is not a key name (':' is not allowed)");
        parse_fails("[Online]\nZone:movable\n", P ":2: expected [Section] or Key=Value, got \"Zone:movable\"");
        parse_ok("[Match]\nDevice=any # a:b\n", &p); /* ':' in a value or comment is fine */
        policy_done(&p);

        /* Directory errors name the directory as the administrator knows it. */
        {
                char *root = test_tmpdir();
                static const char *const dirs[] = { "etc/memhpd/policies.d", NULL };
                ConfFile *files = NULL;
                int fd;

                make_dirs(root, "etc/memhpd/policies.d");
                chmod_at(root, "etc/memhpd/policies.d", 0);
                fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                /* As root the open succeeds, and the trust check names it; otherwise the open fails. */
                (void) conf_files_list(fd, dirs, ".policy", &files, &e);
                ck_assert_uint_eq(e.n, 1);
                ck_assert_msg(strncmp(e.items[0].text, "/etc/memhpd/policies.d: ", 24) == 0, "%s", e.items[0].text);
                conf_errors_clear(&e);
                conf_files_free(files, 0);
                chmod_at(root, "etc/memhpd/policies.d", 0755);
                close(fd);
                free(root);
        }
}
END_TEST

/* tier (issue 10): When=delay, Delay=, CpuLess=, MemoryTier=. */
START_TEST(policy_delay_keys) {
        Policy p;
        uint64_t v;

        parse_ok("[Match]\nDevice=acpi-dimm dax-kmem\n[Online]\nWhen=delay\nDelay=1min 30s\n", &p);
        ck_assert_int_eq(p.when, WHEN_DELAY);
        ck_assert_uint_eq(p.delay_usec, 90 * 1000000ULL);
        ck_assert_uint_eq(p.delay_line, 5);
        policy_done(&p);
        parse_ok("[Match]\nDevice=acpi-dimm\n[Online]\nDelay=10min\nWhen=delay\n", &p);
        ck_assert_uint_eq(p.delay_usec, 600 * 1000000ULL);
        policy_done(&p);
        /* Device= unset: any device, so at most 1 s. */
        parse_ok("[Online]\nWhen=delay\nDelay=1s\n", &p);
        policy_done(&p);
        parse_ok("[Online]\nWhen=delay\nDelay=250ms\n", &p);
        ck_assert_uint_eq(p.delay_usec, 250000);
        policy_done(&p);

        ck_assert_int_eq(policy_parse_timespan("2min 3s 4ms", &v), 0);
        ck_assert_uint_eq(v, 123004000);
        ck_assert_int_eq(policy_parse_timespan("  ", &v), -EINVAL);
        ck_assert_int_eq(policy_parse_timespan("3 days", &v), -EINVAL);
        ck_assert_int_eq(policy_parse_timespan("-1s", &v), -EINVAL);
        ck_assert_int_eq(policy_parse_timespan("99999999999999999999", &v), -ERANGE);

        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\nWhen=delay\nDelay=0\n",
                    P ":5: Delay=0: a delay of 0 is When=immediate; use that");
        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\nWhen=delay\nDelay=601s\n",
                    P ":5: Delay=601s: \"601s\" is longer than the longest delay, 10min");
        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\nWhen=delay\nDelay=soon\n",
                    P ":5: Delay=soon: expected a time span such as 30s, 500ms or 1min 30s (us, ms, s, min)");
        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\n\nWhen=delay\n",
                    P ":5: When=delay needs Delay= (how long to wait, e.g. Delay=30s)");
        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\nZone=movable\nDelay=30s\n",
                    P ":5: Delay= only applies to When=delay, not When=immediate");
        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\nWhen=manual\nDelay=30s\n",
                    P ":5: Delay= only applies to When=delay, not When=manual");
        parse_fails("[Match]\nDevice=acpi-dimm\n[Online]\nZone=offline\nWhen=delay\nDelay=30s\n",
                    P ":5: When=delay with Zone=offline waits to do nothing; drop When=delay");
        /* The stall check, at the Delay= line. */
        parse_fails("[Online]\nWhen=delay\nDelay=2s\n",
                    P ":3: When=delay holds blocks up to 2s but can match any device (Device= is unset): unknown, "
                      "virtio-mem, hv-balloon: hv_balloon waits at most 5 s per chunk and virtio-mem stops plugging "
                      "with 1 GiB offline; hold them at most 1s, or leave them out of Device=");
        parse_fails("[Match]\nDevice=acpi-dimm hv-balloon\n[Online]\nWhen=delay\nDelay=1001ms\n",
                    P ":5: When=delay holds blocks up to 1001ms but can match hv-balloon: hv_balloon waits at most "
                      "5 s per chunk and virtio-mem stops plugging with 1 GiB offline; hold them at most 1s, or leave "
                      "them out of Device=");
}
END_TEST

START_TEST(policy_tier_keys) {
        Policy p;
        PolicySet set;
        BlockFacts f = { .index = 40, .size = 128 << 20, .device = DEVICE_ACPI_DIMM, .node = 1 };

        parse_ok("[Match]\nCpuLess=yes\nMemoryTier=22, 4-5\n[Online]\nZone=movable\n", &p);
        ck_assert_int_eq(p.cpuless, 1);
        ck_assert_uint_eq(p.tiers.n, 2);
        policy_done(&p);
        parse_ok("[Match]\nCpuLess=yes\nCpuLess=\n", &p);
        ck_assert_int_eq(p.cpuless, -1); /* an empty assignment removes the condition */
        policy_done(&p);
        parse_fails("[Match]\nCpuLess=sometimes\n", P ":2: CpuLess=sometimes: expected yes or no");
        parse_fails("[Match]\nMemoryTier=-1\n", P ":2: MemoryTier=-1: \"-1\" is not a number or a range A-B");
        parse_fails("[Match]\nMemoryTier=4294967296\n",
                    P ":2: MemoryTier=4294967296: \"4294967296\" is beyond the largest allowed value 2147483647");

        set_from(&set, "[Match]\nCpuLess=yes\n", "[Match]\nCpuLess=no\n", "[Match]\nMemoryTier=22\n");
        /* Unknown facts match neither CpuLess= value. */
        ck_assert_ptr_null(policy_match(&set, &f));
        f.node_cpus = NODE_CPUS_NONE;
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[0]);
        f.node_cpus = NODE_CPUS_SOME;
        ck_assert_ptr_eq(policy_match(&set, &f), &set.items[1]);
        ck_assert(!policy_matches(&set.items[2], &f)); /* in no tier */
        f.node_in_tier = true;
        f.node_tier = 4;
        ck_assert(!policy_matches(&set.items[2], &f));
        f.node_tier = 22;
        ck_assert(policy_matches(&set.items[2], &f));
        policy_set_done(&set);
}
END_TEST

static Suite *conf_suite(void) {
        Suite *s = suite_create("conf");
        TCase *tc = tcase_create("policy-parse");

        tcase_add_test(tc, policy_every_key);
        tcase_add_test(tc, policy_defaults);
        tcase_add_test(tc, policy_ratio_forms);
        tcase_add_test(tc, policy_lists_reset_and_any);
        tcase_add_test(tc, policy_comments_and_blanks);
        tcase_add_test(tc, policy_section_errors);
        tcase_add_test(tc, policy_key_errors);
        tcase_add_test(tc, policy_long_line);
        tcase_add_test(tc, policy_value_errors);
        tcase_add_test(tc, policy_too_many_ranges);
        tcase_add_test(tc, policy_cross_field_errors);
        tcase_add_test(tc, policy_delay_keys);
        tcase_add_test(tc, policy_tier_keys);
        tcase_add_test(tc, policy_pressure_keys);
        tcase_add_test(tc, policy_empty_file);
        tcase_add_test(tc, policy_poison_keys);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_test(tc, read_file_checks);
        tcase_add_test(tc, read_file_exactly_max);
        tcase_add_test(tc, read_file_fifo_refused);
        tcase_add_test(tc, files_list_order_and_masks);
        tcase_add_test(tc, files_list_fails_on_readdir_error);
        tcase_add_test(tc, policy_set_load_order);
        tcase_add_test(tc, policy_set_load_broken);
        tcase_add_test(tc, read_error_names_absolute_path);
        tcase_add_test(tc, trust_directories);
        tcase_add_test(tc, trust_files);
        tcase_add_test(tc, dangling_symlink_is_an_error);
        tcase_add_test(tc, errors_capped);
        tcase_add_test(tc, cosmetic_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("settings");
        tcase_add_test(tc, settings_defaults_and_keys);
        tcase_add_test(tc, settings_dropins);
        tcase_add_test(tc, settings_bad_values);
        tcase_add_test(tc, shared_value_parsers);
        tcase_add_test(tc, one_number_parser_for_all_keys);
        tcase_add_test(tc, utf8_bom_accepted);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(conf_suite());
}
