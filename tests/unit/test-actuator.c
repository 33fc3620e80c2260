/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "unit-helpers.h"

#define MEM "sys/devices/system/memory"

START_TEST(outcome_write_ok) {
        /* A successful write is ours, whatever was read back. */
        for (int s = 0; s < _STATE_MAX; s++)
                for (int z = 0; z < _ZONE_MAX; z++) {
                        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, 0, s, z), ONLINE_DONE);
                        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, 0, s, z), ONLINE_DONE);
                }
}
END_TEST

START_TEST(outcome_already_online) {
        /* The kernel answers EINVAL for a block that is online already: in our zone that is success. */
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EINVAL, STATE_ONLINE, ZONE_MOVABLE), ONLINE_ALREADY);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EINVAL, STATE_ONLINE, ZONE_NORMAL), ONLINE_ALREADY);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EINVAL, STATE_ONLINE, ZONE_DMA32), ONLINE_ALREADY);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EINVAL, STATE_ONLINE, ZONE_DMA), ONLINE_ALREADY);
        /* Online but the zone could not be read: assume ours, do not fight. */
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EINVAL, STATE_ONLINE, ZONE_UNKNOWN), ONLINE_ALREADY);
}
END_TEST

START_TEST(outcome_by_other) {
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EINVAL, STATE_ONLINE, ZONE_NORMAL), ONLINE_BY_OTHER);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EINVAL, STATE_ONLINE, ZONE_DMA32), ONLINE_BY_OTHER);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EINVAL, STATE_ONLINE, ZONE_MOVABLE), ONLINE_BY_OTHER);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EBUSY, STATE_ONLINE, ZONE_MOVABLE), ONLINE_BY_OTHER);
}
END_TEST

START_TEST(outcome_failed) {
        static const int errors[] = { -EINVAL, -EBUSY, -ENOMEM, -EIO, -EISDIR };

        for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
                for (int z = 0; z < _ZONE_MAX; z++) {
                        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, errors[i], STATE_OFFLINE, z), ONLINE_FAILED);
                        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, errors[i], STATE_OFFLINE, z), ONLINE_FAILED);
                        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, errors[i], STATE_UNKNOWN, z), ONLINE_FAILED);
                        ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, errors[i], STATE_GOING_OFFLINE, z),
                                         ONLINE_FAILED);
                }
        ck_assert_str_eq(online_result_to_string(ONLINE_DONE), "ok");
        ck_assert_str_eq(online_result_to_string(ONLINE_ALREADY), "already");
        ck_assert_str_eq(online_result_to_string(ONLINE_BY_OTHER), "by-other");
        ck_assert_str_eq(online_result_to_string(ONLINE_FAILED), "failed");
        ck_assert_str_eq(online_result_to_string(ONLINE_POISONED), "poisoned");
        ck_assert_str_eq(online_result_to_string(_ONLINE_RESULT_MAX), "invalid");
}
END_TEST

/* 6.2+ refuses to online a block holding a hard-poisoned or soft-offlined page with EHWPOISON: that is
 * poison (the engine quarantines the block), not a plain failure; a block someone else onlined after
 * all is still theirs. */
START_TEST(outcome_poisoned) {
        for (int z = 0; z < _ZONE_MAX; z++) {
                ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EHWPOISON, STATE_OFFLINE, z), ONLINE_POISONED);
                ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EHWPOISON, STATE_OFFLINE, z), ONLINE_POISONED);
                ck_assert_int_eq(online_outcome(ACTION_ONLINE_KERNEL, -EHWPOISON, STATE_UNKNOWN, z), ONLINE_POISONED);
        }
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EHWPOISON, STATE_ONLINE, ZONE_MOVABLE), ONLINE_ALREADY);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EHWPOISON, STATE_ONLINE, ZONE_NORMAL), ONLINE_BY_OTHER);
        ck_assert_int_eq(online_outcome(ACTION_ONLINE_MOVABLE, -EIO, STATE_OFFLINE, ZONE_UNKNOWN), ONLINE_FAILED);
}
END_TEST

typedef struct Fixture {
        char *dir;
        Root *root;
        Inventory *inv;
} Fixture;

static void fixture_scan(Fixture *f) {
        f->dir = fixture_root(SNAPSHOT_2NODE);
        inventory_fixture_open(f->dir, &f->root, &f->inv);
        ck_assert_int_eq(inventory_scan(f->inv, NULL, NULL), 0);
        ck_assert_int_eq(inventory_block(f->inv, 67)->state, STATE_OFFLINE);
}

static void fixture_close(Fixture *f) {
        inventory_fixture_close(f->root, f->inv);
        free(f->dir);
}

START_TEST(online_movable_writes_state) {
        Fixture f;
        int error = 42;
        Zone zone = ZONE_UNKNOWN;
        char *state;
        uint64_t pages;

        fixture_scan(&f);
        pages = f.inv->block_size / f.inv->page_size;
        ck_assert_int_eq(block_online(f.inv, 67, ACTION_ONLINE_MOVABLE, &error, &zone), ONLINE_DONE);
        ck_assert_int_eq(error, 0);
        ck_assert_int_eq(zone, ZONE_MOVABLE);
        state = read_text(f.dir, MEM "/memory67/state");
        ck_assert_str_eq(state, "online_movable");
        free(state);
        ck_assert_int_eq(inventory_block(f.inv, 67)->state, STATE_ONLINE);
        ck_assert_int_eq(inventory_block(f.inv, 67)->zone, ZONE_MOVABLE);
        ck_assert_uint_eq(f.inv->n_offline, 0);
        ck_assert_uint_eq(f.inv->nodes[0].n_offline, 0);
        ck_assert_uint_eq(f.inv->nodes[0].movable_pages, 65536 + pages);
        ck_assert_uint_eq(f.inv->nodes[0].kernel_pages, 3998 + 258048 + 32768);
        fixture_close(&f);
}
END_TEST

START_TEST(online_kernel_writes_state) {
        Fixture f;
        int error = 42;
        Zone zone = ZONE_UNKNOWN;
        char *state;
        uint64_t pages;

        fixture_scan(&f);
        pages = f.inv->block_size / f.inv->page_size;
        /* A successful write put the block where we asked: block_online() reads no valid_zones then.
         * Make sure: a valid_zones that cannot be read must not change the answer. */
        remove_tree(f.dir, MEM "/memory67/valid_zones");
        make_dirs(f.dir, MEM "/memory67/valid_zones");
        ck_assert_int_eq(block_online(f.inv, 67, ACTION_ONLINE_KERNEL, &error, &zone), ONLINE_DONE);
        ck_assert_int_eq(error, 0);
        ck_assert_int_eq(zone, ZONE_NORMAL);
        state = read_text(f.dir, MEM "/memory67/state");
        ck_assert_str_eq(state, "online_kernel");
        free(state);
        ck_assert_int_eq(inventory_block(f.inv, 67)->zone, ZONE_NORMAL);
        ck_assert_uint_eq(f.inv->nodes[0].kernel_pages, 3998 + 258048 + 32768 + pages);
        ck_assert_uint_eq(f.inv->nodes[0].movable_pages, 65536);
        fixture_close(&f);
}
END_TEST

START_TEST(online_write_fails) {
        Fixture f;
        int error = 0;
        Zone zone = ZONE_MOVABLE;

        fixture_scan(&f);
        /* A state "file" that cannot be written (nor read). */
        remove_tree(f.dir, MEM "/memory67/state");
        make_dirs(f.dir, MEM "/memory67/state");
        ck_assert_int_eq(block_online(f.inv, 67, ACTION_ONLINE_MOVABLE, &error, &zone), ONLINE_FAILED);
        ck_assert_int_eq(error, -EISDIR);
        ck_assert_int_eq(zone, ZONE_UNKNOWN);
        ck_assert_int_eq(inventory_block(f.inv, 67)->state, STATE_OFFLINE);
        ck_assert_uint_eq(f.inv->n_offline, 1);
        ck_assert_uint_eq(f.inv->nodes[0].movable_pages, 65536);

        /* A block that vanished before the write. */
        remove_tree(f.dir, MEM "/memory66");
        ck_assert_int_eq(block_online(f.inv, 66, ACTION_ONLINE_KERNEL, &error, &zone), ONLINE_FAILED);
        ck_assert_int_eq(error, -ENOENT);
        fixture_close(&f);
}
END_TEST

static Suite *actuator_suite(void) {
        Suite *s = suite_create("actuator");
        TCase *tc = tcase_create("outcome");

        tcase_add_test(tc, outcome_write_ok);
        tcase_add_test(tc, outcome_already_online);
        tcase_add_test(tc, outcome_by_other);
        tcase_add_test(tc, outcome_failed);
        tcase_add_test(tc, outcome_poisoned);
        suite_add_tcase(s, tc);

        tc = tcase_create("block_online");
        tcase_add_test(tc, online_movable_writes_state);
        tcase_add_test(tc, online_kernel_writes_state);
        tcase_add_test(tc, online_write_fails);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(actuator_suite());
}
