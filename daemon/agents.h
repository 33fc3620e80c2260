/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The other agents that online hot-added memory, as they are configured on the host: memhp_default_state=
 * on the kernel command line, udev rules that write a memory block's state, and daxctl (its udev rule and
 * daxctl.conf.d). Each finding is one Conflict; a list of them is audited (one "conflict" record each) or
 * printed for --check. The kernel's own auto-online knobs are ownership.c's: it adds its findings to the
 * same list.
 *
 * The scanners are pure functions over a file's text; the I/O reads whole search paths (same-name and
 * /dev/null masking as for policies) through sysfs.c's root helpers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

/* The last memhp_default_state= on a kernel command line: 1 with the value in 'buf', 0 if none. */
int cmdline_memhp_default_state(const char *cmdline, char *buf, size_t size);

/* What a udev rules file does with memory blocks. */
typedef enum UdevRuleKind {
        UDEV_RULE_NONE,
        UDEV_RULE_ONLINES_MEMORY,   /* assigns a memory block's state (ATTR{state}="online", a RUN that writes it) */
        UDEV_RULE_RUNS_DAXCTL,      /* hands dax devices to daxctl (daxdev-reconfigure@.service) */
} UdevRuleKind;

typedef struct UdevRuleScan {
        UdevRuleKind kind;          /* the first finding (memory first, then daxctl) */
        unsigned line;              /* its line (the first line of a continued rule) */
        char what[160];             /* the assignment that does it, as written */
        unsigned bad_line;          /* first line that does not parse as KEY[{attr}]OP"value", ...; 0 none */
        char bad[160];              /* why */
} UdevRuleScan;

/*
 * Scan a udev rules file's text. A rule concerns memory blocks when it matches SUBSYSTEM=="memory"
 * (or a pattern that matches it, or DEVPATH/KERNEL of a memory block), or when it sits between a
 * SUBSYSTEM!="memory", GOTO="X" and LABEL="X" (as RHEL's 40-redhat.rules does). Lines that do not
 * parse are reported and skipped, as udevd skips them.
 */
void udev_rules_scan(const char *text, UdevRuleScan *ret);

typedef struct DaxctlConfScan {
        unsigned n_online;          /* [reconfigure-device X] sections with mode = system-ram that online */
        unsigned line;              /* the first such section */
        char name[64];              /* its X */
        unsigned bad_line;          /* first line that is not a section, key = value or comment */
        unsigned n_system_ram;      /* sections with mode = system-ram, online or not (daxctl binds kmem) */
        unsigned system_ram_line;   /* the first of them */
} DaxctlConfScan;

/* Scan a daxctl.conf.d file (an INI file; "online" defaults to true for mode = system-ram). */
void daxctl_conf_scan(const char *text, DaxctlConfScan *ret);

/* One other agent that onlines memory, as found on the host. */
typedef struct Conflict {
        const char *agent;          /* kernel, cmdline, udev, daxctl */
        char file[320];             /* "PATH" or "PATH:LINE", as the administrator knows it */
        char text[480];             /* what it does and how to resolve it */
        bool unknown;               /* it could not be read or parsed: memhpd cannot tell */
        int error;                  /* why it could not be read (errno), or 0 */
} Conflict;

#define CONFLICTS_MAX 64

typedef struct Conflicts {
        Conflict items[CONFLICTS_MAX];
        size_t n;
} Conflicts;

/* Add one finding ('file' may be NULL, 'line' 0). While formatting, %m names 'error'. Beyond
 * CONFLICTS_MAX findings the rest are dropped. */
void conflicts_add(Conflicts *c, const char *agent, const char *file, unsigned line, bool unknown, int error,
                   const char *fmt, ...) _printf_(7, 8);

/* One "conflict" audit record per finding. */
void conflicts_audit(const Conflicts *c);
/* For memhpd --check: one "conflict: ..." line per finding on 'out'. */
void conflicts_print(const Conflicts *c, FILE *out);

/*
 * Scan one file of an agent's configuration: 'shown' is its path as the administrator knows it
 * ("/etc/udev/rules.d/x.rules"), 'name' its file name, 'text' its contents.
 */
typedef void (*agents_file_scan_t)(Conflicts *c, const char *shown, const char *name, const char *text,
                                   void *userdata);

/*
 * Read every file named '*suffix' of the search path 'dirs' (relative to 'rootfd', first directory
 * first; a same-name file in a later one is masked, as for policies) and pass each to 'scan'. A file
 * that cannot be read is an "unknown" finding of 'agent', and so is a search path that cannot be listed.
 */
void agents_scan_files(int rootfd, const char *const *dirs, const char *suffix, const char *agent,
                       agents_file_scan_t scan, void *userdata, Conflicts *c);

/* memhp_default_state= other than offline on /proc/cmdline. */
void agents_detect_cmdline(int rootfd, Conflicts *c);
/* udev rules that online memory blocks or run daxctl; daxctl.conf.d sections that online. */
void agents_detect_udev_and_daxctl(int rootfd, Conflicts *c);

/* dax.c: whether daxctl.conf.d has a mode = system-ram section, so that daxctl reconfigures dax devices
 * itself. 1 with "PATH:LINE" of the first in 'ret_file', 0 if none. */
int agents_daxctl_claims_dax(int rootfd, char *ret_file, size_t size);
