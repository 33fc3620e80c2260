/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "memory.h"

/*
 * The life of one offline job as a pure state machine: no I/O, no clock. offline-worker.c feeds it what
 * happened (the worker started, the child exited, the timeout fired, the back-off is over) and does what
 * it answers (spawn a child, SIGKILL it, wait, finish). Unit-tested as a table (test-offline-job.c).
 *
 *   queued --start--> running --exited--> done (offline, already offline, gone, a hard error)
 *                       |        \------> back-off --over--> queued    (EBUSY, timeout, killed; retries left)
 *                       |                 or done -EBUSY / -ETIME      (no retries left)
 *                       +--timeout--> killing --exited--> (as "exited", counted as a timeout)
 */

typedef enum OfflineJobState {
        OFFLINE_JOB_QUEUED,
        OFFLINE_JOB_RUNNING,   /* a child is writing "offline" */
        OFFLINE_JOB_KILLING,   /* the timeout fired, SIGKILL sent, waiting for the child to be reaped */
        OFFLINE_JOB_BACKOFF,   /* an attempt failed, the next one waits */
        OFFLINE_JOB_FINISHED,
        _OFFLINE_JOB_STATE_MAX,
} OfflineJobState;

typedef enum OfflineJobInput {
        OFFLINE_INPUT_START,        /* the worker has a free slot for it */
        OFFLINE_INPUT_EXITED,       /* the child was reaped; the attempt says how it ended */
        OFFLINE_INPUT_TIMEOUT,      /* OfflineTimeoutSec= passed */
        OFFLINE_INPUT_BACKOFF_OVER,
        OFFLINE_INPUT_CANCEL,       /* memhpd stops, or the block vanished while queued */
        _OFFLINE_INPUT_MAX,
} OfflineJobInput;

typedef enum OfflineJobAction {
        OFFLINE_DO_NOTHING,
        OFFLINE_DO_SPAWN,
        OFFLINE_DO_KILL,
        OFFLINE_DO_BACKOFF,  /* wait 'delay_usec', then OFFLINE_INPUT_BACKOFF_OVER */
        OFFLINE_DO_REQUEUE,  /* the back-off is over: queued again, behind the jobs already waiting */
        OFFLINE_DO_FINISH,   /* report 'result' to whoever submitted the job */
} OfflineJobAction;

/* How an attempt ended, as offline-worker.c saw it after reaping the child and re-reading the block. */
typedef struct OfflineAttempt {
        int error;             /* the child's write: 0 or -errno; -EINTR if a signal killed it */
        bool present_after;    /* memoryN still exists */
        BlockState state_after;
} OfflineAttempt;

typedef struct OfflineJob {
        OfflineJobState state;
        unsigned attempt;      /* attempts started, 1 for the first */
        unsigned retries;      /* Retries=: attempts after the first */
        uint64_t backoff_usec; /* the first back-off; doubled per retry, capped at OFFLINE_BACKOFF_MAX_USEC */
        bool timed_out;        /* the attempt in progress was killed at the timeout */
        bool cancelled;        /* cancelled while its child ran: finish once it is reaped */
        int result;            /* OFFLINE_JOB_FINISHED: 0, or -errno */
} OfflineJob;

#define OFFLINE_BACKOFF_MAX_USEC (60ULL * 1000 * 1000)

typedef struct OfflineStep {
        OfflineJobAction action;
        uint64_t delay_usec;   /* OFFLINE_DO_BACKOFF */
        int result;            /* OFFLINE_DO_FINISH: 0 offline, -EBUSY, -ETIME, -EHWPOISON, -ENODEV (gone), ... */
        const char *outcome;   /* for the record after an attempt: offlined, already, busy, timeout, ... */
        bool attempt_failed;   /* an attempt ended without the block offline (OFFLINE_DO_BACKOFF or a failure) */
} OfflineStep;

void offline_job_init(OfflineJob *j, unsigned retries, uint64_t backoff_usec);

/* Pure: feed one input; 'a' is read only for OFFLINE_INPUT_EXITED. An input the state does not expect
 * (a bug, or a late timer) changes nothing and answers OFFLINE_DO_NOTHING. */
OfflineStep offline_job_step(OfflineJob *j, OfflineJobInput in, const OfflineAttempt *a);

/* The back-off before attempt 'attempt' + 1: base, 2*base, 4*base, ... capped. */
uint64_t offline_job_backoff(uint64_t base_usec, unsigned attempt);

const char *offline_job_state_to_string(OfflineJobState s);
