/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "poison-parse.h"
#include "quarantine.h"

/*
 * Memory-failure events in, quarantined blocks out.
 *
 * memhpd reads ras:memory_failure_event from its own tracefs instance, as rasdaemon does, so the two
 * never disturb each other: <tracefs>/instances/memhpd (tracefs at sys/kernel/tracing or
 * sys/kernel/debug/tracing under the Root), the event enabled there, its trace_pipe read through an
 * sd-event io source; the instance is removed at stop. The event's format file is parsed at start
 * (poison-parse.c). Without tracefs, or on a kernel without CONFIG_MEMORY_FAILURE (Debian's 6.1 cloud
 * kernel), memhpd says so once and keeps onlining.
 *
 * A poisoned pfn puts its block in the quarantine (quarantine.c; one "poisoned" record), and the
 * block's policy [Poison] Action= says what else happens: offline drains it through the offline
 * engine, keep leaves it online (it stays quarantined if it is ever offlined).
 *
 * Soft-offlined pages fire no event: at start, if /proc/meminfo's HardwareCorrupted is not 0, memhpd
 * scans /proc/kpageflags (KPF_HWPOISON) over the online hot-added blocks, at most
 * POISON_SCAN_BLOCKS_MAX of them. Offline blocks cannot be scanned: the kernel reports their pages
 * as KPF_NOPAGE.
 */

typedef struct Manager Manager;
typedef struct Poison Poison;

#define POISON_INSTANCE "memhpd"
#define POISON_SCAN_BLOCKS_MAX 1024

/* At start, before the first scan: read the quarantine (also for --once). */
int poison_load_quarantine(Manager *m);

/* Open the tracefs instance and attach its source. Never fails the daemon: a missing tracefs or event is
 * said once and returns 0 with m->poison NULL; only -ENOMEM is returned. */
int poison_start(Manager *m);
/* Disable the event and remove the instance. */
void poison_stop(Manager *m);

/* After the start-up scan: the /proc/kpageflags scan for pages poisoned before memhpd ran. Returns the
 * number of blocks quarantined, or -errno (logged). */
int poison_scan_kpageflags(Manager *m);

/*
 * Quarantine block 'index' for 'reason' ('mf': the event, or NULL), record "poisoned", save the file,
 * and apply the block's [Poison] Action=. 'pfn' is the poisoned page where known (UINT64_MAX if not).
 * Returns 1 if the block was newly quarantined, 0 if it already was, -errno.
 */
int poison_block(Manager *m, uint32_t index, QuarantineReason reason, uint64_t pfn, const MemoryFailure *mf);

/* Handle one memory_failure_event (exposed for the tests). */
void poison_event(Manager *m, const MemoryFailure *mf);
