/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Who owns the onlining decision, as far as the kernel's own auto-online goes: auto_online_blocks and the
 * memory_hotplug module parameters. This module detects what the kernel does with hot-added memory (a
 * "conflict" record), applies KernelAutoOnline= (take the kernel's auto-online over, keep it, or delegate
 * the work to it), keeps the kernel's previous values in /run/memhpd/kernel-auto-online and puts them
 * back at a clean stop, also after a crash and restart. The other agents (memhp_default_state=, udev
 * rules, daxctl) are found by agents.c; ownership_detect() gathers both.
 *
 * The saved-file parser and the policy-set analysis are pure functions over text and plain structs; the
 * I/O (struct Ownership) is thin and reaches every file through sysfs.c's root helpers.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agents.h"
#include "audit.h"
#include "inventory.h"
#include "policy.h"
#include "settings.h"

/* The kernel's knobs memhpd may change, in the order it programs them (auto_online_blocks last, so
 * that the kernel starts onlining only with the rest in place); restoring goes the other way. */
typedef enum Knob {
        KNOB_ONLINE_POLICY,          /* memory_hotplug.online_policy: contig-zones | auto-movable */
        KNOB_AUTO_MOVABLE_RATIO,     /* memory_hotplug.auto_movable_ratio: percent */
        KNOB_AUTO_MOVABLE_NUMA_AWARE,/* memory_hotplug.auto_movable_numa_aware: Y | N */
        KNOB_AUTO_ONLINE_BLOCKS,     /* offline | online | online_kernel | online_movable */
        _KNOB_MAX,
} Knob;

#define KNOB_VALUE_MAX 32

typedef struct KnobValues {
        bool set[_KNOB_MAX];
        char value[_KNOB_MAX][KNOB_VALUE_MAX];
} KnobValues;

const char *knob_name(Knob k);                 /* "auto_online_blocks" */
const char *knob_path(Knob k);                 /* relative to the root */
/* 0 if 'value' is one the kernel shows or takes for 'k', else -EINVAL. */
int knob_value_check(Knob k, const char *value);
void knob_values_put(KnobValues *v, Knob k, const char *value);

/*
 * The saved file: "# comment" and "knob=value" lines. Returns 0 with every value in *ret, or -EINVAL
 * for anything else (an unknown knob, a value the kernel would not take, a repeated knob, a line that
 * is not knob=value), with the first bad line's number in *ret_bad_line. An empty file is valid.
 */
int knob_values_parse(const char *text, KnobValues *ret, unsigned *ret_bad_line);
/* The file's text for 'v'. Returns the length, or -ENOBUFS. */
int knob_values_format(const KnobValues *v, char *buf, size_t size);

/*
 * Can the kernel do what the policy set says for every hot-added block? Returns 1 with the knobs to
 * program in *ret and the deciding policy in *ret_policy when every policy that can match a hot-added
 * block resolves to one kernel action: Zone=movable (online_movable), Zone=kernel (online_kernel), or
 * Zone=auto (online with online_policy=auto-movable and the policy's MaxMovableRatio=). Returns 0 with
 * the reason in 'why' otherwise: When= other than immediate, a narrower [Match] (Device=, Node=,
 * Block=, PhysAddress=: the kernel cannot see them) that decides differently, Zone=offline, no policy
 * for some hot-added block. Pure.
 */
int ownership_delegate_plan(const PolicySet *set, KnobValues *ret, const Policy **ret_policy, char *why,
                            size_t why_size);

/*
 * Find every other agent under 'rootfd': the kernel (here), then those of agents.c. 'saved' (may be
 * NULL) holds the kernel's values from before memhpd changed them: what the kernel does without memhpd.
 * 'mode' is only used for the wording.
 */
void ownership_detect(int rootfd, const KnobValues *saved, KernelAutoOnline mode, Conflicts *ret);

/* For memhpd --check: the conflicts as text lines on 'out'. */
void ownership_print_conflicts(int rootfd, KernelAutoOnline mode, FILE *out);

typedef struct Ownership Ownership;

int ownership_new(int rootfd, bool dry_run, Ownership **ret);
/* Puts the kernel's saved values back first (a stop, clean or after an error), then frees. */
Ownership *ownership_free(Ownership *o);

/* --once: audit the conflicts, change nothing. */
void ownership_report(Ownership *o, const Settings *s);

/*
 * Start and reload: audit the conflicts, then make the kernel's knobs what KernelAutoOnline= and the
 * policy set ask for, saving each previous value first (or, under --dry-run, say what it would do).
 */
void ownership_apply(Ownership *o, const Settings *s, const PolicySet *set);

/* Put every saved value back and remove the saved file. Returns 0 or the first -errno. */
int ownership_release(Ownership *o);

/*
 * A block memhpd did not online came online. Under KernelAutoOnline=delegate that was the kernel
 * acting for memhpd: audit it as onlined by policy (with the policy's file:line) and return true.
 * Otherwise return false and the caller records it as someone else's.
 */
bool ownership_kernel_onlined(Ownership *o, const PolicySet *set, Inventory *inv, uint32_t index, AuditFields *f);
