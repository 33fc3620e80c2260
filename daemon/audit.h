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
