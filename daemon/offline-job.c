/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the offline job state machine (offline-job.h): pure, no I/O, no clock. */
#include <errno.h>

#include "macro.h"
#include "offline-job.h"

static const char *const state_table[_OFFLINE_JOB_STATE_MAX] = {
        [OFFLINE_JOB_QUEUED] = "queued",
        [OFFLINE_JOB_RUNNING] = "running",
        [OFFLINE_JOB_KILLING] = "killing",
        [OFFLINE_JOB_BACKOFF] = "back-off",
        [OFFLINE_JOB_FINISHED] = "finished",
};

const char *offline_job_state_to_string(OfflineJobState s) {
        return s >= 0 && s < _OFFLINE_JOB_STATE_MAX ? state_table[s] : "invalid";
}

void offline_job_init(OfflineJob *j, unsigned retries, uint64_t backoff_usec) {
        *j = (OfflineJob) { .state = OFFLINE_JOB_QUEUED, .retries = retries, .backoff_usec = backoff_usec };
}

uint64_t offline_job_backoff(uint64_t base_usec, unsigned attempt) {
        uint64_t d = base_usec;

        for (unsigned i = 1; i < attempt && d < OFFLINE_BACKOFF_MAX_USEC; i++)
                d *= 2;
        return d < OFFLINE_BACKOFF_MAX_USEC ? d : OFFLINE_BACKOFF_MAX_USEC;
}

static OfflineStep finish(OfflineJob *j, int result, const char *outcome, bool failed) {
        j->state = OFFLINE_JOB_FINISHED;
        j->result = result;
        return (OfflineStep) { .action = OFFLINE_DO_FINISH, .result = result, .outcome = outcome,
                               .attempt_failed = failed };
}

/* Transient: the kernel gave up (EBUSY after its own retries, EAGAIN), our timeout killed the write, or a
 * signal did. Another attempt may succeed once pages moved or were freed. */
static OfflineStep retry_or_finish(OfflineJob *j, int result, const char *outcome) {
        if (j->attempt > j->retries)
                return finish(j, result, outcome, true);
        j->state = OFFLINE_JOB_BACKOFF;
        return (OfflineStep) { .action = OFFLINE_DO_BACKOFF, .delay_usec = offline_job_backoff(j->backoff_usec, j->attempt),
                               .result = result, .outcome = outcome, .attempt_failed = true };
}

static OfflineStep exited(OfflineJob *j, const OfflineAttempt *a) {
        bool timed_out = j->timed_out;

        j->timed_out = false;
        /* Re-read, whatever the write said: sysfs is the truth. Offline is success, even if someone else
         * (or a killed write that finished anyway) did it; a block that vanished is gone, not failed. */
        if (!a->present_after)
                return finish(j, -ENODEV, "gone", false);
        if (a->state_after == STATE_OFFLINE)
                return finish(j, 0, a->error == 0 ? "offlined" : "already", false);
        if (j->cancelled)
                return finish(j, -ECANCELED, "cancelled", true);
        if (timed_out)
                return retry_or_finish(j, -ETIME, "timeout");
        switch (a->error) {
        case 0:
                /* The write succeeded but the block reads online again: someone onlined it in between. */
                return retry_or_finish(j, -EBUSY, "online-again");
        case -EBUSY:
        case -EAGAIN:
                return retry_or_finish(j, -EBUSY, "busy");
        case -EINTR:
                return retry_or_finish(j, -EINTR, "killed");
        case -EHWPOISON:
                return finish(j, -EHWPOISON, "hwpoison", true);
        case -ENOENT:
        case -ENODEV:
                return finish(j, -ENODEV, "gone", false);
        default:
                /* EINVAL (a state the kernel does not offline from), EPERM, EIO...: retrying changes nothing. */
                return finish(j, a->error < 0 ? a->error : -EIO, "failed", true);
        }
}

OfflineStep offline_job_step(OfflineJob *j, OfflineJobInput in, const OfflineAttempt *a) {
        static const OfflineStep nothing = { .action = OFFLINE_DO_NOTHING };

        if (in == OFFLINE_INPUT_CANCEL) {
                switch (j->state) {
                case OFFLINE_JOB_RUNNING:
                case OFFLINE_JOB_KILLING:
                        /* The child must not outlive the job: kill it, and finish once it is reaped. */
                        j->state = OFFLINE_JOB_KILLING;
                        j->cancelled = true;
                        return (OfflineStep) { .action = OFFLINE_DO_KILL };
                case OFFLINE_JOB_QUEUED:
                case OFFLINE_JOB_BACKOFF:
                        return finish(j, -ECANCELED, "cancelled", true);
                default:
                        return nothing;
                }
        }

        switch (j->state) {
        case OFFLINE_JOB_BACKOFF:
                if (in != OFFLINE_INPUT_BACKOFF_OVER)
                        return nothing;
                j->state = OFFLINE_JOB_QUEUED;
                return (OfflineStep) { .action = OFFLINE_DO_REQUEUE };
        case OFFLINE_JOB_QUEUED:
                if (in != OFFLINE_INPUT_START)
                        return nothing;
                j->state = OFFLINE_JOB_RUNNING;
                j->attempt++;
                return (OfflineStep) { .action = OFFLINE_DO_SPAWN };
        case OFFLINE_JOB_RUNNING:
                if (in == OFFLINE_INPUT_TIMEOUT) {
                        j->state = OFFLINE_JOB_KILLING;
                        j->timed_out = true;
                        return (OfflineStep) { .action = OFFLINE_DO_KILL };
                }
                if (in == OFFLINE_INPUT_EXITED && a)
                        return exited(j, a);
                return nothing;
        case OFFLINE_JOB_KILLING:
                if (in == OFFLINE_INPUT_EXITED && a)
                        return exited(j, a);
                return nothing;
        default:
                return nothing;
        }
}
