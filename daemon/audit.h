/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "macro.h"

/*
 * The audit trail: one record per decision and per action. Under journald a record is a structured
 * journal entry with a fixed MESSAGE_ID (see units/memhpd.catalog) and MEMHPD_* fields; anywhere else
 * (a terminal, a test, an initramfs) the same record is one line on stderr:
 *
 *   memhpd: onlined memory40 as movable: Zone=movable [event=onlined block=40 node=0 ...]
 */

typedef enum AuditEvent {
        AUDIT_STARTED,
        AUDIT_STOPPED,
        AUDIT_ONLINED,
        AUDIT_WOULD_ONLINE,
        AUDIT_ONLINE_FAILED,
        AUDIT_LEFT_OFFLINE,
        AUDIT_ONLINE_BY_OTHER,
        AUDIT_OFFLINE_BY_OTHER,
        AUDIT_BLOCK_REMOVED,
        AUDIT_NODE_ADDED,
        AUDIT_NODE_REMOVED,
        AUDIT_POLICY_LOADED,
        AUDIT_POLICY_REJECTED,
        AUDIT_SETTINGS_REJECTED,
        AUDIT_EVENTS_LOST,
        AUDIT_BAD_UEVENT,
        AUDIT_BAD_SYSFS,
        AUDIT_CONFLICT,           /* another agent onlines memory (ownership.c, agents.c) */
        AUDIT_KERNEL_AUTO_ONLINE, /* memhpd changed, restored or could not touch the kernel's auto-online */
        /* poison.c, quarantine.c */
        AUDIT_POISONED,           /* a page of a block was found poisoned; the block is quarantined */
        AUDIT_QUARANTINED,        /* memhpd refused to online a quarantined block */
        AUDIT_QUARANTINE_CLEARED, /* an administrator cleared quarantined ranges */
        /* offline-worker.c and drain.c */
        AUDIT_OFFLINE_STARTED,    /* one attempt to offline a block began */
        AUDIT_OFFLINE_RETRY,      /* an attempt failed (EBUSY, timeout); another follows after a back-off */
        AUDIT_OFFLINED,           /* memhpd offlined a block (or found it offline) */
        AUDIT_OFFLINE_FAILED,     /* the job gave up, or the block vanished */
        AUDIT_DRAIN_STARTED,
        AUDIT_DRAIN_FINISHED,
        AUDIT_EJECT,              /* a drained device's removal was asked for, or cannot be */
        AUDIT_DEFERRED,           /* When=delay: a hot-add's blocks wait for Delay= (delay.c) */
        AUDIT_RESERVED,           /* When=pressure: a block kept offline as a reserve (pressure.c) */
        AUDIT_RESERVE_STEP,       /* memory pressure: a step of the reserve is onlined, with the figures */
        AUDIT_PRESSURE_SOURCE,    /* the PSI trigger cannot be set up (no PSI, refused): the fallback */
        AUDIT_REBALANCE,          /* a Zone=auto block moves from ZONE_MOVABLE to a kernel zone, with the figures */
        AUDIT_DAX_DEVICE,         /* dax.c: a dax device and what policy says of it, when nothing is written */
        AUDIT_DAX_SYSTEM_RAM,     /* dax.c: a dax device handed to kmem (system RAM) */
        AUDIT_DAX_FAILED,         /* dax.c: a write to make a dax device system RAM failed */
        AUDIT_DAX_LEFT,           /* dax.c: left to another agent (daxctl, someone who bound kmem) or vanished */
        AUDIT_MEMMAP,             /* dax.c: [Memmap] OnMemory= cannot be honoured, and why */
        AUDIT_MEMMAP_RISK,        /* dax.c: a hot-add's memmap from existing memory exceeds what is free */
        _AUDIT_MAX,
} AuditEvent;

typedef struct AuditFields {
        long long block;     /* -1: none */
        int node;            /* -1: unknown */
        const char *device;
        const char *zone;
        const char *action;
        const char *result;  /* ok, failed, skipped, dry-run */
        const char *policy_path;
        unsigned policy_line;
        int error;           /* errno, 0 for none */
        const char *agent;   /* conflict: kernel, cmdline, udev, daxctl */
        const char *file;    /* conflict: where that agent is configured, "PATH" or "PATH:LINE" */
        /* poison.c, quarantine.c */
        const char *range;   /* a physical range "0xSTART-0xEND" */
        const char *reason;  /* why it is quarantined: memory-failure, ehwpoison, kpageflags, ... */
        const char *pfn;     /* the poisoned page frame, "0x..." */
        const char *page_type; /* memory_failure_event's type, as the kernel names it */
        const char *mf_result; /* memory_failure_event's result: Ignored, Failed, Delayed, Recovered */
        const char *caller;  /* who asked through the control channel: "uid=0 pid=123 comm=memhpctl" */
        const char *dax;     /* the dax device (daxX.Y) of a dax-kmem block or of a dax record */
} AuditFields;

#define AUDIT_FIELDS_INIT { .block = -1, .node = -1 }

typedef enum AuditTarget {
        AUDIT_TO_AUTO,    /* journal if stderr is connected to journald, else stderr */
        AUDIT_TO_JOURNAL,
        AUDIT_TO_STDERR,
} AuditTarget;

void audit_init(AuditTarget target);
bool audit_to_journal(void);

const char *audit_event_name(AuditEvent e);     /* "onlined" */
const char *audit_event_id(AuditEvent e);       /* the MESSAGE_ID, 32 hex digits */

/* Emit one record, whatever the diagnostics level (log.h). The message is formatted without allocating
 * on the heap. An 'e' outside the enum is a bug: recorded as "invalid" with a zero MESSAGE_ID. */
void audit_record(AuditEvent e, const AuditFields *f, const char *fmt, ...) _printf_(3, 4);

/* Called after every record (metrics.c counts them); NULL to stop. One observer at a time. */
typedef void (*audit_observer_t)(AuditEvent e, const AuditFields *f, void *userdata);
void audit_set_observer(audit_observer_t observer, void *userdata);
