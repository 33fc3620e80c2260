/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * The offline engine: every offline memhpd does runs outside the event loop, in a child process that
 * writes "offline" to memoryN/state and exits with the write's errno. The loop watches the child
 * (sd_event_add_child), kills it with SIGKILL at OfflineTimeoutSec= (the kernel retries a migration
 * until the writer gets a signal), and retries up to Retries= times with back-off. offline-job.c is the
 * pure state machine of one job; this file does its I/O and writes one audit record per attempt
 * (offline-started, offline-retry) and per outcome (offlined, offline-failed).
 *
 * Jobs run one at a time, in the order submitted (a job waiting out a back-off does not hold the slot):
 * the kernel serialises offlines under the memory hot-plug lock, so a second child would only wait on
 * it while its own timeout ran.
 */

typedef struct Manager Manager;
typedef struct OfflineWorker OfflineWorker;

typedef enum OfflineCause {
        OFFLINE_CAUSE_ADMIN,   /* memhpctl offline: the administrator's intent */
        OFFLINE_CAUSE_DRAIN,   /* memhpctl drain: the administrator's intent */
        OFFLINE_CAUSE_POISON,  /* poison.c: a block with hardware-poisoned pages */
        OFFLINE_CAUSE_REBALANCE, /* rebalance.c: a Zone=auto block on its way to a kernel zone */
        _OFFLINE_CAUSE_MAX,
} OfflineCause;

/*
 * Called once per submitted job, from the event loop, after its outcome was recorded: 'result' is 0
 * (the block is offline, also if it already was), -EBUSY (still busy after the retries), -ETIME (timed
 * out after the retries), -EHWPOISON, -ENODEV (the block vanished), -ECANCELED (memhpd stops), or
 * another -errno of the write (-EINVAL, -EPERM, ...).
 */
typedef void (*offline_done_t)(Manager *m, uint32_t index, int result, void *userdata);

/*
 * Queue an offline of block 'index'. Returns 0, -ENOENT if the block is not present, -EALREADY if a job
 * for it is queued or running (its outcome goes to the first submitter only), -EROFS with --dry-run.
 * 'done' may be NULL. With OFFLINE_CAUSE_ADMIN and _DRAIN, a block that ends offline is marked
 * BLOCK_BY_ADMIN: policy never onlines it again, across restarts (kept-offline.c saves it).
 */
int offline_job_submit(Manager *m, uint32_t index, OfflineCause cause, offline_done_t done, void *userdata);

/* The same, naming who asked ("uid=0 pid=123 comm=memhpctl", NULL: nobody in particular) in the records. */
int offline_job_submit_as(Manager *m, uint32_t index, OfflineCause cause, const char *who, offline_done_t done,
                          void *userdata);

/* Is a job for 'index' queued or running? */
bool offline_job_pending(Manager *m, uint32_t index);

/* Cancel the job of one submitter (e.g. a drain that goes away): its callbacks are not called again. A
 * running child is killed; the block is re-read when it is reaped. */
void offline_jobs_forget_userdata(Manager *m, void *userdata);

/* Blocks SIGCHLD (sd_event_add_child needs it) and sets up the worker. */
int offline_worker_attach(Manager *m);
/* At exit: kill and reap every child; each job's callback gets -ECANCELED (no records). */
void offline_worker_free(Manager *m);

const char *offline_cause_to_string(OfflineCause c);
