/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the block lifecycle as pure functions: (block flags and state, report or uevent, kept-offline)
 * -> (new flags, audit record kind, decide or not). No I/O. */
#include "lifecycle.h"

LifecycleOutcome lifecycle_report(uint16_t flags, BlockChange change, BlockState old_state, BlockState state,
                                  int error, bool kept_offline) {
        LifecycleOutcome o = { .flags = flags, .record = LC_NO_RECORD, .why = LC_NOTHING };

        if (error != 0 && change != BLOCK_VANISHED) {
                o.record = AUDIT_BAD_SYSFS;
                o.why = LC_UNREADABLE;
                return o;
        }

        switch (change) {
        case BLOCK_APPEARED:
                if (state == STATE_OFFLINE && (flags & BLOCK_AT_START) && kept_offline) {
                        o.flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        o.record = AUDIT_LEFT_OFFLINE;
                        o.why = LC_KEPT_OFFLINE;
                } else if (state == STATE_OFFLINE) {
                        o.why = LC_NEW_OFFLINE;
                        o.decide = !(flags & BLOCK_DECIDED);
                } else if (state == STATE_ONLINE && !(flags & BLOCK_AT_START)) {
                        o.flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        o.record = AUDIT_ONLINE_BY_OTHER;
                        o.why = LC_APPEARED_ONLINE;
                } else if (state == STATE_ONLINE) {
                        o.flags |= BLOCK_DECIDED;
                        o.why = LC_BOOT_ONLINE;
                }
                break;

        case BLOCK_STATE_CHANGED:
                if ((flags & BLOCK_OFFLINING) && (state == STATE_OFFLINE || state == STATE_GOING_OFFLINE))
                        o.why = LC_NOTHING; /* memhpd's own offline job: offline-worker.c records it */
                else if (state == STATE_ONLINE && old_state == STATE_GOING_OFFLINE)
                        o.why = LC_OFFLINE_FAILED; /* the block simply stayed online */
                else if (state == STATE_GOING_OFFLINE)
                        o.why = LC_GOING_OFFLINE;
                else if (state == STATE_ONLINE) {
                        /* A block someone kept offline is back: the saved list changes. */
                        o.save_kept_offline = flags & (BLOCK_BY_OTHER | BLOCK_BY_ADMIN);
                        o.flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        o.flags &= ~(BLOCK_REDECIDE | BLOCK_BY_ADMIN);
                        o.record = AUDIT_ONLINE_BY_OTHER;
                        o.why = LC_ONLINED_BY_OTHER;
                } else if (state == STATE_OFFLINE &&
                           (old_state == STATE_ONLINE || old_state == STATE_GOING_OFFLINE)) {
                        o.flags |= BLOCK_BY_OTHER | BLOCK_DECIDED;
                        o.flags &= ~BLOCK_REDECIDE;
                        o.record = AUDIT_OFFLINE_BY_OTHER;
                        o.why = LC_OFFLINED_BY_OTHER;
                        o.save_kept_offline = true;
                } else if (state == STATE_OFFLINE) {
                        /* Offline from unknown (unreadable before): decide, unless that was done. An
                         * admin-offlined block stays DECIDED, so it is never onlined again. */
                        o.why = LC_NEW_OFFLINE;
                        o.decide = !(flags & BLOCK_DECIDED);
                }
                break;

        case BLOCK_VANISHED:
                o.save_kept_offline = flags & (BLOCK_BY_OTHER | BLOCK_BY_ADMIN);
                o.unsettle = flags & BLOCK_SETTLING;
                o.record = AUDIT_BLOCK_REMOVED;
                o.why = LC_REMOVED;
                break;
        }
        return o;
}

LifecycleUevent lifecycle_uevent(bool present, BlockState state, UeventAction action, bool synthetic) {
        LifecycleUevent u = { .step = LC_STEP_REFRESH };

        if (present && action == UEVENT_ADD && !synthetic) {
                /* The kernel sends a real "add" only for a new device: this block was removed and added
                 * again and we missed the remove. A new block, whatever was known of the old one. */
                u.missed_remove = true;
                present = false;
        }
        if (action == UEVENT_REMOVE) {
                u.step = present ? LC_STEP_REMOVE : LC_STEP_IGNORE;
                return u;
        }
        if (present && ((action == UEVENT_ONLINE && state == STATE_ONLINE) ||
                        (action == UEVENT_OFFLINE && state == STATE_OFFLINE))) {
                u.step = LC_STEP_IGNORE;
                return u;
        }
        if (!present && action != UEVENT_ADD)
                u.step = LC_STEP_RESCAN; /* an online/offline for a block we never saw: we missed its add */
        return u;
}
