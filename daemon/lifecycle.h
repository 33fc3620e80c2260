/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"
#include "inventory.h"
#include "memory.h"
#include "uevent-parse.h"

/*
 * The life of one memory block as pure functions: what a report (from a scan or a uevent's re-read)
 * means for its flags, which audit record it deserves, and whether policy should decide on it now.
 * No I/O, no clock: block-events.c applies the result. Unit-tested as a table (test-lifecycle.c).
 */

/* Why the outcome is what it is; selects the text of the record. */
typedef enum LifecycleWhy {
        LC_NOTHING,             /* nothing to record: boot memory, a state we expect to change again */
        LC_UNREADABLE,          /* its state could not be read or parsed: leave it alone */
        LC_NEW_OFFLINE,         /* a new offline block, or one back offline without us: decide */
        LC_KEPT_OFFLINE,        /* at start, listed in the kept-offline file: someone else's */
        LC_APPEARED_ONLINE,     /* appeared already online: the kernel or a udev rule was faster */
        LC_BOOT_ONLINE,         /* online at our first scan: boot memory, never touched */
        LC_ONLINED_BY_OTHER,    /* went online and we did not do it */
        LC_OFFLINED_BY_OTHER,   /* went offline from online or going-offline: never fight that */
        LC_OFFLINE_FAILED,      /* going-offline, then online again: someone's offline failed (EBUSY) */
        LC_GOING_OFFLINE,       /* someone is offlining it; the offline uevent follows */
        LC_REMOVED,
} LifecycleWhy;

#define LC_NO_RECORD _AUDIT_MAX

typedef struct LifecycleOutcome {
        uint16_t flags;         /* the block's new flags (unchanged for a vanished block) */
        AuditEvent record;      /* LC_NO_RECORD: none */
        LifecycleWhy why;
        bool decide;            /* hand it to the settle queue and policy */
        bool save_kept_offline; /* the set of blocks someone else keeps offline changed */
        bool unsettle;          /* it vanished while on the settle queue: take it off */
} LifecycleOutcome;

/*
 * 'flags' and 'old_state' are the block's before the report ('flags' of the old block for
 * BLOCK_VANISHED); 'state' is what sysfs says now; 'error' is the report's read error (0 or -errno);
 * 'kept_offline': the block is listed in the file an earlier instance saved.
 */
LifecycleOutcome lifecycle_report(uint16_t flags, BlockChange change, BlockState old_state, BlockState state,
                                  int error, bool kept_offline);

typedef enum LifecycleStep {
        LC_STEP_IGNORE,   /* nothing to read: what we know already (typically our own write confirmed) */
        LC_STEP_REFRESH,  /* re-read the block from sysfs and apply lifecycle_report() */
        LC_STEP_REMOVE,   /* drop it from the inventory and report it removed */
        LC_STEP_RESCAN,   /* an event for a block we never saw: events were lost */
} LifecycleStep;

typedef struct LifecycleUevent {
        LifecycleStep step;
        bool missed_remove; /* a real "add" for a block we know: forget the old one first */
} LifecycleUevent;

/* What a memory uevent means for a block that is 'present' (in the inventory) in 'state'. A
 * 'synthetic' add (SYNTH_UUID: udevadm trigger, "echo add > uevent") only refreshes. */
LifecycleUevent lifecycle_uevent(bool present, BlockState state, UeventAction action, bool synthetic);
