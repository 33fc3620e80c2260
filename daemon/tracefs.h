/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * A private tracefs instance under the Root, as rasdaemon makes its own: events enabled there change
 * nothing for anyone else (the top-level buffer, perf, other instances). poison.c reads
 * ras:memory_failure_event from "memhpd", rebalance.c the reclaim wake-ups from "memhpd-reclaim".
 * Each instance has its own per-CPU ring buffer, so memhpd sizes it for its rare events. It also writes
 * buffer_percent 0 ("wake a waiting reader on any data"; the default 50 is documented for blocking
 * readers of trace_pipe_raw, and poll() on trace_pipe woke on single events on 6.1 and 6.12 without it:
 * a precaution, not a fix).
 */

#include "sysfs.h"

typedef struct TracefsInstance {
        int instances_fd;     /* <tracefs>/instances */
        int fd;               /* <tracefs>/instances/NAME */
        const char *tracefs;  /* "sys/kernel/tracing" or "sys/kernel/debug/tracing", relative to the Root */
        const char *name;
        bool created;         /* remove it at close (also one left by a memhpd that crashed: taken over) */
} TracefsInstance;

#define TRACEFS_INSTANCE_INIT { .instances_fd = -1, .fd = -1 }

/*
 * Find tracefs under 'root', create (or take over) instance 'name' and open it; with 'buffer_kb' > 0,
 * set its per-CPU buffer to that size. Returns 0, -ENOENT if tracefs is not mounted (*ret_what says
 * so), or -errno with *ret_what naming the step that failed. On failure nothing is left behind.
 */
int tracefs_instance_open(Root *root, const char *name, unsigned buffer_kb, TracefsInstance *ret,
                          const char **ret_what);

/* Write '1' or '0' to events/GROUP/EVENT/enable of the instance. */
int tracefs_event_enable(TracefsInstance *t, const char *group_event, bool enable);

/* Open the instance's trace_pipe, non-blocking. Returns the fd or -errno. */
int tracefs_pipe_open(TracefsInstance *t);

/* Close the instance's fds and, if memhpd made it, remove it (its trace_pipe must be closed: EBUSY). */
void tracefs_instance_close(TracefsInstance *t);
