/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The block lifecycle and the uevent parser, as tables: each row is one situation a block can be in. */
#include <errno.h>
#include <string.h>

#include "lifecycle.h"
#include "uevent-parse.h"
#include "unit-helpers.h"

#define P BLOCK_PRESENT
#define D BLOCK_DECIDED
#define O BLOCK_BY_OTHER
#define S BLOCK_AT_START
#define R BLOCK_REDECIDE
#define W BLOCK_SETTLING
#define J BLOCK_OFFLINING
#define A BLOCK_BY_ADMIN
#define NONE LC_NO_RECORD

static const struct {
        const char *name;
        uint16_t flags;
        BlockChange change;
        BlockState old_state, state;
        int error;
        bool kept;
        /* expected */
        uint16_t new_flags;
        AuditEvent record;
        LifecycleWhy why;
        bool decide, save, unsettle;
} report_rows[] = {
        { "boot memory, online at the first scan", P | S, BLOCK_APPEARED, STATE_UNKNOWN, STATE_ONLINE, 0, false,
          P | S | D, NONE, LC_BOOT_ONLINE, false, false, false },
        { "hot-added block, offline: decide", P, BLOCK_APPEARED, STATE_UNKNOWN, STATE_OFFLINE, 0, false,
          P, NONE, LC_NEW_OFFLINE, true, false, false },
        { "offline at start, not in the kept list: decide", P | S, BLOCK_APPEARED, STATE_UNKNOWN, STATE_OFFLINE, 0, false,
          P | S, NONE, LC_NEW_OFFLINE, true, false, false },
        { "offline at start, in the kept list: someone else's", P | S, BLOCK_APPEARED, STATE_UNKNOWN, STATE_OFFLINE, 0,
          true, P | S | O | D, AUDIT_LEFT_OFFLINE, LC_KEPT_OFFLINE, false, false, false },
        { "the kept list counts only at start", P, BLOCK_APPEARED, STATE_UNKNOWN, STATE_OFFLINE, 0, true,
          P, NONE, LC_NEW_OFFLINE, true, false, false },
        { "appeared already online: the kernel's auto-online was faster", P, BLOCK_APPEARED, STATE_UNKNOWN,
          STATE_ONLINE, 0, false, P | O | D, AUDIT_ONLINE_BY_OTHER, LC_APPEARED_ONLINE, false, false, false },
        { "appeared going-offline: nothing yet", P, BLOCK_APPEARED, STATE_UNKNOWN, STATE_GOING_OFFLINE, 0, false,
          P, NONE, LC_NOTHING, false, false, false },
        { "state unreadable: leave it alone", P, BLOCK_APPEARED, STATE_UNKNOWN, STATE_UNKNOWN, -EIO, false,
          P, AUDIT_BAD_SYSFS, LC_UNREADABLE, false, false, false },
        { "state unreadable on a known block", P | D, BLOCK_STATE_CHANGED, STATE_ONLINE, STATE_UNKNOWN, -EBADMSG, false,
          P | D, AUDIT_BAD_SYSFS, LC_UNREADABLE, false, false, false },
        { "admin offlined an online block: never fight that", P | D, BLOCK_STATE_CHANGED, STATE_ONLINE, STATE_OFFLINE,
          0, false, P | D | O, AUDIT_OFFLINE_BY_OTHER, LC_OFFLINED_BY_OTHER, false, true, false },
        { "admin offline seen through going-offline", P | D | R, BLOCK_STATE_CHANGED, STATE_GOING_OFFLINE,
          STATE_OFFLINE, 0, false, P | D | O, AUDIT_OFFLINE_BY_OTHER, LC_OFFLINED_BY_OTHER, false, true, false },
        { "admin-offlined block readable again after an error: never re-onlined", P | D | O, BLOCK_STATE_CHANGED,
          STATE_UNKNOWN, STATE_OFFLINE, 0, false, P | D | O, NONE, LC_NEW_OFFLINE, false, false, false },
        { "new block readable again after an error: decide", P, BLOCK_STATE_CHANGED, STATE_UNKNOWN, STATE_OFFLINE, 0,
          false, P, NONE, LC_NEW_OFFLINE, true, false, false },
        { "going-offline: its offline uevent follows", P | D, BLOCK_STATE_CHANGED, STATE_ONLINE, STATE_GOING_OFFLINE,
          0, false, P | D, NONE, LC_GOING_OFFLINE, false, false, false },
        { "EBUSY: going-offline, then online again", P | D, BLOCK_STATE_CHANGED, STATE_GOING_OFFLINE, STATE_ONLINE, 0,
          false, P | D, NONE, LC_OFFLINE_FAILED, false, false, false },
        { "memhpd's own offline job: offline is not someone else's", P | D | J, BLOCK_STATE_CHANGED, STATE_ONLINE,
          STATE_OFFLINE, 0, false, P | D | J, NONE, LC_NOTHING, false, false, false },
        { "memhpd's own offline job: going-offline", P | D | J, BLOCK_STATE_CHANGED, STATE_ONLINE,
          STATE_GOING_OFFLINE, 0, false, P | D | J, NONE, LC_NOTHING, false, false, false },
        { "memhpd's own offline job failed: online again", P | D | J, BLOCK_STATE_CHANGED, STATE_GOING_OFFLINE,
          STATE_ONLINE, 0, false, P | D | J, NONE, LC_OFFLINE_FAILED, false, false, false },
        { "the administrator's block onlined by someone else: no longer kept", P | D | A, BLOCK_STATE_CHANGED,
          STATE_OFFLINE, STATE_ONLINE, 0, false, P | D | O, AUDIT_ONLINE_BY_OTHER, LC_ONLINED_BY_OTHER, false, true,
          false },
        { "the administrator's block removed: the list changes", P | D | A, BLOCK_VANISHED, STATE_OFFLINE,
          STATE_UNKNOWN, 0, false, P | D | A, AUDIT_BLOCK_REMOVED, LC_REMOVED, false, true, false },
        { "onlined by someone else while left offline by policy", P | D | R, BLOCK_STATE_CHANGED, STATE_OFFLINE,
          STATE_ONLINE, 0, false, P | D | O, AUDIT_ONLINE_BY_OTHER, LC_ONLINED_BY_OTHER, false, false, false },
        { "a block someone kept offline is onlined: the kept list changes", P | D | O, BLOCK_STATE_CHANGED,
          STATE_OFFLINE, STATE_ONLINE, 0, false, P | D | O, AUDIT_ONLINE_BY_OTHER, LC_ONLINED_BY_OTHER, false, true,
          false },
        { "removed", P | D, BLOCK_VANISHED, STATE_ONLINE, STATE_UNKNOWN, 0, false,
          P | D, AUDIT_BLOCK_REMOVED, LC_REMOVED, false, false, false },
        { "removed while kept offline: the kept list changes", P | D | O, BLOCK_VANISHED, STATE_OFFLINE, STATE_UNKNOWN,
          0, false, P | D | O, AUDIT_BLOCK_REMOVED, LC_REMOVED, false, true, false },
        { "vanished mid-settle: off the queue, never decided", P | W, BLOCK_VANISHED, STATE_OFFLINE, STATE_UNKNOWN, 0,
          false, P | W, AUDIT_BLOCK_REMOVED, LC_REMOVED, false, false, true },
};

START_TEST(report_table) {
        for (size_t i = 0; i < ELEMENTSOF(report_rows); i++) {
                typeof(report_rows[0]) *t = &report_rows[i];
                LifecycleOutcome o = lifecycle_report(t->flags, t->change, t->old_state, t->state, t->error, t->kept);

                ck_assert_msg(o.flags == t->new_flags, "%s: flags %#x, expected %#x", t->name, o.flags, t->new_flags);
                ck_assert_msg(o.record == t->record, "%s: record %s, expected %s", t->name,
                              audit_event_name(o.record), audit_event_name(t->record));
                ck_assert_msg(o.why == t->why, "%s: why %d, expected %d", t->name, o.why, t->why);
                ck_assert_msg(o.decide == t->decide, "%s: decide %d", t->name, o.decide);
                ck_assert_msg(o.save_kept_offline == t->save, "%s: save %d", t->name, o.save_kept_offline);
                ck_assert_msg(o.unsettle == t->unsettle, "%s: unsettle %d", t->name, o.unsettle);
        }
}
END_TEST

static const struct {
        const char *name;
        bool present;
        BlockState state;
        UeventAction action;
        bool synthetic;
        LifecycleStep step;
        bool missed_remove;
} uevent_rows[] = {
        { "add of a new block", false, STATE_UNKNOWN, UEVENT_ADD, false, LC_STEP_REFRESH, false },
        { "real add of a known block: its remove was missed", true, STATE_OFFLINE, UEVENT_ADD, false, LC_STEP_REFRESH, true },
        { "synthetic add of a known block (udevadm trigger): refresh only", true, STATE_ONLINE, UEVENT_ADD, true,
          LC_STEP_REFRESH, false },
        { "remove of a known block", true, STATE_ONLINE, UEVENT_REMOVE, false, LC_STEP_REMOVE, false },
        { "remove of an unknown block", false, STATE_UNKNOWN, UEVENT_REMOVE, false, LC_STEP_IGNORE, false },
        { "online confirming what we know (our own write)", true, STATE_ONLINE, UEVENT_ONLINE, false, LC_STEP_IGNORE, false },
        { "offline confirming what we know", true, STATE_OFFLINE, UEVENT_OFFLINE, false, LC_STEP_IGNORE, false },
        { "offline of an online block: someone else", true, STATE_ONLINE, UEVENT_OFFLINE, false, LC_STEP_REFRESH, false },
        { "online of an offline block: someone else", true, STATE_OFFLINE, UEVENT_ONLINE, false, LC_STEP_REFRESH, false },
        { "online of a going-offline block (EBUSY)", true, STATE_GOING_OFFLINE, UEVENT_ONLINE, false, LC_STEP_REFRESH, false },
        { "online for a block never seen: its add was lost", false, STATE_UNKNOWN, UEVENT_ONLINE, false, LC_STEP_RESCAN, false },
        { "change for a known block", true, STATE_ONLINE, UEVENT_CHANGE, false, LC_STEP_REFRESH, false },
        { "change for a block never seen", false, STATE_UNKNOWN, UEVENT_CHANGE, true, LC_STEP_RESCAN, false },
};

START_TEST(uevent_table) {
        for (size_t i = 0; i < ELEMENTSOF(uevent_rows); i++) {
                typeof(uevent_rows[0]) *t = &uevent_rows[i];
                LifecycleUevent u = lifecycle_uevent(t->present, t->state, t->action, t->synthetic);

                ck_assert_msg(u.step == t->step, "%s: step %d, expected %d", t->name, u.step, t->step);
                ck_assert_msg(u.missed_remove == t->missed_remove, "%s: missed_remove %d", t->name, u.missed_remove);
        }
}
END_TEST

static const struct {
        const char *action, *devpath, *subsystem, *synth;
        int r;
        UeventAction a;
        UeventSubsystem kind;
        uint32_t index;
} parse_rows[] = {
        { "add", "/devices/system/memory/memory32", "memory", NULL, 0, UEVENT_ADD, UEVENT_MEMORY, 32 },
        { "offline", "/devices/system/memory/memory0", "memory", NULL, 0, UEVENT_OFFLINE, UEVENT_MEMORY, 0 },
        { "add", "/devices/system/memory/memory4294967294", "memory", NULL, 0, UEVENT_ADD, UEVENT_MEMORY, 4294967294u },
        { "change", "/devices/system/memory/memory7", "memory", "5f3c", 0, UEVENT_CHANGE, UEVENT_MEMORY, 7 },
        { "online", "/devices/system/node/node1", "node", NULL, 0, UEVENT_ONLINE, UEVENT_NODE, 1 },
        { "add", "/devices/system/node/node1023", "node", NULL, 0, UEVENT_ADD, UEVENT_NODE, 1023 },
        { "bind", "/devices/pci0000:00/0000:00:01.0", "pci", NULL, 0, UEVENT_BIND, UEVENT_OTHER, 0 },
        { "add", "/devices/system/node/node1024", "node", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/system/memory/memory4294967295", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/system/memory/memory032", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/system/memory/memory", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/system/memory/node1", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/system/node/memory1", "node", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/virtual/memory/memory1", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "explode", "/devices/system/memory/memory1", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "", "/devices/system/memory/memory1", "memory", NULL, -EINVAL, 0, 0, 0 },
        { NULL, "/devices/system/memory/memory1", "memory", NULL, -EINVAL, 0, 0, 0 },
        { "add", NULL, "memory", NULL, -EINVAL, 0, 0, 0 },
        { "add", "/devices/system/memory/memory1", NULL, NULL, -EINVAL, 0, 0, 0 },
};

START_TEST(parse_table) {
        for (size_t i = 0; i < ELEMENTSOF(parse_rows); i++) {
                typeof(parse_rows[0]) *t = &parse_rows[i];
                Uevent u = { .index = 12345 };
                const char *why = NULL;
                int r = uevent_parse(t->action, t->devpath, t->subsystem, t->synth, &u, &why);

                ck_assert_msg(r == t->r, "row %zu (%s %s): %d, expected %d", i, strna(t->action), strna(t->devpath), r,
                              t->r);
                if (r < 0) {
                        ck_assert_msg(why && *why, "row %zu: no reason given", i);
                        ck_assert_uint_eq(u.index, 12345); /* untouched on failure */
                        continue;
                }
                ck_assert_int_eq(u.action, t->a);
                ck_assert_int_eq(u.subsystem, t->kind);
                if (t->kind != UEVENT_OTHER)
                        ck_assert_uint_eq(u.index, t->index);
                ck_assert_int_eq(u.synthetic, t->synth != NULL);
                ck_assert_str_eq(uevent_action_to_string(u.action), t->action);
        }
        ck_assert_ptr_null(uevent_action_to_string(_UEVENT_ACTION_MAX));
}
END_TEST

static Suite *lifecycle_suite(void) {
        Suite *s = suite_create("lifecycle");
        TCase *tc = tcase_create("tables");

        tcase_add_test(tc, report_table);
        tcase_add_test(tc, uevent_table);
        tcase_add_test(tc, parse_table);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(lifecycle_suite());
}
