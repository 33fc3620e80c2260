/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "memory.h"
#include "unit-helpers.h"

START_TEST(zone_set_kernel_and_movable) {
        ZoneSet z;

        ck_assert_int_eq(zone_set_parse("Normal Movable", &z), 0);
        ck_assert(z.kernel);
        ck_assert(z.movable);
        ck_assert_int_eq(z.first, ZONE_NORMAL);

        /* The first name is the kernel's own pick, whatever its kind. */
        ck_assert_int_eq(zone_set_parse("Movable Normal", &z), 0);
        ck_assert(z.kernel);
        ck_assert(z.movable);
        ck_assert_int_eq(z.first, ZONE_MOVABLE);
}
END_TEST

START_TEST(zone_set_single) {
        ZoneSet z;

        ck_assert_int_eq(zone_set_parse("DMA32", &z), 0);
        ck_assert(z.kernel);
        ck_assert(!z.movable);
        ck_assert_int_eq(z.first, ZONE_DMA32);

        ck_assert_int_eq(zone_set_parse("Movable", &z), 0);
        ck_assert(!z.kernel);
        ck_assert(z.movable);
        ck_assert_int_eq(z.first, ZONE_MOVABLE);

        /* What an online block spanning several zones shows: a zone, but none an offline block may join. */
        ck_assert_int_eq(zone_set_parse("none", &z), 0);
        ck_assert(!z.kernel);
        ck_assert(!z.movable);
        ck_assert_int_eq(z.first, ZONE_NONE);

        /* Blanks around and between the names, as read from sysfs. */
        ck_assert_int_eq(zone_set_parse("  DMA\tNormal  Movable\n", &z), 0);
        ck_assert(z.kernel);
        ck_assert(z.movable);
        ck_assert_int_eq(z.first, ZONE_DMA);
}
END_TEST

START_TEST(zone_set_rejects) {
        ZoneSet z = { .kernel = true, .movable = true, .first = ZONE_DEVICE };
        char longname[300];

        ck_assert_int_eq(zone_set_parse("", &z), -EINVAL);
        ck_assert_int_eq(zone_set_parse(" \n", &z), -EINVAL);
        ck_assert_int_eq(zone_set_parse("Bogus", &z), -EINVAL);
        ck_assert_int_eq(zone_set_parse("Normal Bogus", &z), -EINVAL);
        ck_assert_int_eq(zone_set_parse("normal", &z), -EINVAL);    /* case matters */
        ck_assert_int_eq(zone_set_parse("unknown", &z), -EINVAL);   /* our word, not the kernel's */
        memset(longname, 'N', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        ck_assert_int_eq(zone_set_parse(longname, &z), -EINVAL);
        /* A known name as the prefix of a long word must not be cut and accepted. */
        memcpy(longname, "Movable", 7);
        ck_assert_int_eq(zone_set_parse(longname, &z), -EINVAL);
        ck_assert_int_eq(zone_set_parse("MovableMovableMovable", &z), -EINVAL);

        /* Untouched on failure. */
        ck_assert(z.kernel && z.movable);
        ck_assert_int_eq(z.first, ZONE_DEVICE);
}
END_TEST

START_TEST(block_state_names) {
        ck_assert_int_eq(block_state_from_string("online"), STATE_ONLINE);
        ck_assert_int_eq(block_state_from_string("offline"), STATE_OFFLINE);
        ck_assert_int_eq(block_state_from_string("going-offline"), STATE_GOING_OFFLINE);
        ck_assert_int_eq(block_state_from_string("unknown"), -EINVAL);
        ck_assert_int_eq(block_state_from_string(""), -EINVAL);
        ck_assert_int_eq(block_state_from_string(NULL), -EINVAL);
        ck_assert_int_eq(block_state_from_string("Online"), -EINVAL);
        ck_assert_int_eq(block_state_from_string("online "), -EINVAL);
        /* What one writes, never what the kernel reads back. */
        ck_assert_int_eq(block_state_from_string("online_movable"), -EINVAL);

        for (int s = STATE_OFFLINE; s < _STATE_MAX; s++)
                ck_assert_int_eq(block_state_from_string(block_state_to_string(s)), s);
        ck_assert_str_eq(block_state_to_string(STATE_UNKNOWN), "unknown");
        ck_assert_str_eq(block_state_to_string(_STATE_MAX), "invalid");
        ck_assert_str_eq(block_state_to_string((BlockState) -1), "invalid");
}
END_TEST

START_TEST(device_kind_round_trip) {
        static const char *const expected[_DEVICE_MAX] = {
                "unknown", "boot", "acpi-dimm", "virtio-mem", "dax-kmem", "hv-balloon", "xen",
        };

        for (int d = 0; d < _DEVICE_MAX; d++) {
                ck_assert_str_eq(device_kind_to_string(d), expected[d]);
                ck_assert_int_eq(device_kind_from_string(device_kind_to_string(d)), d);
                for (int e = 0; e < d; e++)
                        ck_assert_str_ne(device_kind_to_string(d), device_kind_to_string(e));
        }
        ck_assert_str_eq(device_kind_to_string(_DEVICE_MAX), "invalid");
        ck_assert_str_eq(device_kind_to_string((DeviceKind) -1), "invalid");
        ck_assert_int_eq(device_kind_from_string("invalid"), -EINVAL);
        ck_assert_int_eq(device_kind_from_string("virtio_mem"), -EINVAL);
        ck_assert_int_eq(device_kind_from_string("any"), -EINVAL); /* a policy word, not a kind */
        ck_assert_int_eq(device_kind_from_string(""), -EINVAL);
        ck_assert_int_eq(device_kind_from_string(NULL), -EINVAL);
}
END_TEST

START_TEST(zone_round_trip) {
        for (int z = ZONE_NONE; z < _ZONE_MAX; z++)
                ck_assert_int_eq(zone_from_string(zone_to_string(z)), z);
        ck_assert_int_eq(zone_from_string("unknown"), -EINVAL);
        ck_assert_int_eq(zone_from_string("Normal Movable"), -EINVAL);
        ck_assert_str_eq(zone_to_string(_ZONE_MAX), "invalid");
        ck_assert(zone_is_kernel(ZONE_DMA) && zone_is_kernel(ZONE_DMA32) && zone_is_kernel(ZONE_NORMAL));
        ck_assert(!zone_is_kernel(ZONE_MOVABLE) && !zone_is_kernel(ZONE_DEVICE) && !zone_is_kernel(ZONE_UNKNOWN));
}
END_TEST

START_TEST(parse_u64_valid) {
        uint64_t v;

        ck_assert_int_eq(parse_u64("0", 10, &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_u64("18446744073709551615", 10, &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
        /* block_size_bytes and phys_index are hex without a prefix. */
        ck_assert_int_eq(parse_u64("8000000", 16, &v), 0);
        ck_assert_uint_eq(v, 0x8000000);
        ck_assert_int_eq(parse_u64("00000040", 16, &v), 0);
        ck_assert_uint_eq(v, 64);
        ck_assert_int_eq(parse_u64("ffffffffffffffff", 16, &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(parse_u64_rejects) {
        uint64_t v = 42;

        ck_assert_int_eq(parse_u64(NULL, 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("-1", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("+1", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64(" 1", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("1 ", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("12abc", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("ff", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("0x", 16, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("18446744073709551616", 10, &v), -ERANGE);
        ck_assert_int_eq(parse_u64("10000000000000000", 16, &v), -ERANGE);
        ck_assert_uint_eq(v, 42); /* untouched on failure */
}
END_TEST

/*
 * Regression (fixed) (daemon/memory.c, parse_u64): only a leading ' ' is rejected, but strtoull() skips any
 * isspace() character and then accepts a sign, so "\t-1" parses as UINT64_MAX and "\n5" as 5.
 */
START_TEST(parse_u64_leading_whitespace) {
        uint64_t v = 42;

        ck_assert_int_eq(parse_u64("\t1", 10, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("\n5", 16, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("\t-1", 10, &v), -EINVAL);
        ck_assert_uint_eq(v, 42);
}
END_TEST

static Suite *memory_suite(void) {
        Suite *s = suite_create("memory");
        TCase *tc = tcase_create("names");

        tcase_add_test(tc, zone_set_kernel_and_movable);
        tcase_add_test(tc, zone_set_single);
        tcase_add_test(tc, zone_set_rejects);
        tcase_add_test(tc, block_state_names);
        tcase_add_test(tc, device_kind_round_trip);
        tcase_add_test(tc, zone_round_trip);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse_u64");
        tcase_add_test(tc, parse_u64_valid);
        tcase_add_test(tc, parse_u64_rejects);
        tcase_add_test(tc, parse_u64_leading_whitespace);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(memory_suite());
}
