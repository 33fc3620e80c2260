/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the offline jobs' I/O (offline-worker.h): the queue, the child processes that write "offline",
 * their timeouts and back-off timers, re-reading the block after each attempt, and the audit records. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "block-events.h"
#include "engine.h"
#include "kept-offline.h"
#include "log.h"
#include "manager.h"
#include "offline-job.h"
#include "offline-worker.h"
#include "origin.h"
#include "status.h"

#define OFFLINE_BACKOFF_USEC (1000ULL * 1000)
#define OFFLINE_RUNNING_MAX 1

typedef struct Job Job;
struct Job {
        Manager *m;
        uint32_t index;
        OfflineCause cause;
        offline_done_t done;
        void *userdata;
        OfflineJob sm;
        uint64_t timeout_usec;
        Zone zone;               /* when submitted, for the records */
        pid_t pid;
        sd_event_source *child_source, *timer_source;
        uint64_t started;        /* CLOCK_MONOTONIC of the first attempt */
        char who[176];           /* "; asked by ..." or "" */
        Job *next;
};

struct OfflineWorker {
        Job *head, *tail;        /* every job not finished, in submission order */
        unsigned n_running;      /* RUNNING or KILLING */
};

static const char *const cause_table[_OFFLINE_CAUSE_MAX] = {
        [OFFLINE_CAUSE_ADMIN] = "administrator",
        [OFFLINE_CAUSE_DRAIN] = "drain",
        [OFFLINE_CAUSE_POISON] = "poison",
        [OFFLINE_CAUSE_REBALANCE] = "rebalance",
};

const char *offline_cause_to_string(OfflineCause c) {
        return c >= 0 && c < _OFFLINE_CAUSE_MAX ? cause_table[c] : "invalid";
}

static uint64_t now_usec(Manager *m) {
        uint64_t t = 0;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static Job *job_find(OfflineWorker *w, uint32_t index) {
        for (Job *j = w ? w->head : NULL; j; j = j->next)
                if (j->index == index)
                        return j;
        return NULL;
}

bool offline_job_pending(Manager *m, uint32_t index) {
        return job_find(m->offline, index);
}

static void job_unlink(OfflineWorker *w, Job *job) {
        Job **p = &w->head, *prev = NULL;

        for (; *p && *p != job; prev = *p, p = &(*p)->next)
                ;
        if (!*p)
                return;
        *p = job->next;
        if (w->tail == job)
                w->tail = prev;
}

static AuditFields job_fields(Job *job) {
        Manager *m = job->m;
        AuditFields f = AUDIT_FIELDS_INIT;

        if (inventory_block(m->inv, job->index))
                f = engine_block_fields(m, job->index);
        else
                f.block = job->index;
        f.action = offline_cause_to_string(job->cause);
        if (job->zone != ZONE_UNKNOWN)
                f.zone = zone_to_string(job->zone);
        return f;
}

static void job_apply(Job *job, OfflineStep s);
static void dispatch(Manager *m);

static int on_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Job *job = userdata;
        OfflineJobInput in = job->sm.state == OFFLINE_JOB_BACKOFF ? OFFLINE_INPUT_BACKOFF_OVER : OFFLINE_INPUT_TIMEOUT;

        job->timer_source = sd_event_source_disable_unref(job->timer_source);
        job_apply(job, offline_job_step(&job->sm, in, NULL));
        return 0;
}

static int arm_timer(Job *job, uint64_t usec) {
        job->timer_source = sd_event_source_disable_unref(job->timer_source);
        return sd_event_add_time_relative(job->m->event, &job->timer_source, CLOCK_MONOTONIC, usec, 0, on_timer, job);
}

/* In the child: write and exit with the errno. Nothing here may touch the parent's event loop. */
_noreturn_ static void child_write(int memory_fd, uint32_t index, pid_t parent) {
        sigset_t none;
        char path[48];
        int r;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        /* If memhpd dies (kill -9), the write must not go on alone: the next instance decides anew. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(EINTR);
        snprintf(path, sizeof(path), "memory%" PRIu32 "/state", index);
        r = root_write(memory_fd, path, "offline");
        _exit(r < 0 ? (-r & 0xff) : 0);
}

static int on_child(sd_event_source *s _unused_, const siginfo_t *si, void *userdata) {
        Job *job = userdata;
        Manager *m = job->m;
        OfflineAttempt a = { .state_after = STATE_UNKNOWN };
        BlockReport rep;
        char detail[160];
        const Block *b;
        int r;

        job->child_source = sd_event_source_disable_unref(job->child_source);
        job->timer_source = sd_event_source_disable_unref(job->timer_source);
        job->pid = 0;
        m->offline->n_running--;
        a.error = si->si_code == CLD_EXITED ? -si->si_status : -EINTR;

        /* Re-read: sysfs is the truth, whatever the write said. BLOCK_OFFLINING is still set, so the
         * lifecycle takes an offline it finds as ours. */
        r = inventory_block_refresh(m->inv, job->index, &rep, detail, sizeof(detail));
        if (r == -ENOMEM)
                log_oom_abort();
        if (r > 0)
                block_events_report(m->inv, &rep, m);
        b = inventory_block(m->inv, job->index);
        a.present_after = b;
        if (b)
                a.state_after = b->state;
        job_apply(job, offline_job_step(&job->sm, OFFLINE_INPUT_EXITED, &a));
        dispatch(m);
        return 0;
}

static int job_spawn(Job *job) {
        Manager *m = job->m;
        pid_t parent = getpid(), pid;
        int r;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_write(m->root->memory_fd, job->index, parent);
        job->pid = pid;
        if (job->started == 0)
                job->started = now_usec(m);
        r = sd_event_add_child(m->event, &job->child_source, pid, WEXITED, on_child, job);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                job->pid = 0;
                return r;
        }
        (void) sd_event_source_set_description(job->child_source, "offline-child");
        r = arm_timer(job, job->timeout_usec);
        if (r < 0)
                log_warning_errno(r, "Cannot arm the offline timeout of memory%" PRIu32 ": %m", job->index);
        m->offline->n_running++;
        return 0;
}

static void job_finish(Job *job, OfflineStep s) {
        Manager *m = job->m;
        Block *b = inventory_block(m->inv, job->index);
        AuditFields f = job_fields(job);
        uint64_t ms = (now_usec(m) - job->started) / 1000;

        job_unlink(m->offline, job);
        if (b)
                b->flags &= ~BLOCK_OFFLINING;
        if (s.result == 0) {
                if (b && (job->cause == OFFLINE_CAUSE_ADMIN || job->cause == OFFLINE_CAUSE_DRAIN)) {
                        /* The administrator's intent: policy never onlines it again (saved across restarts). */
                        kept_offline_mark_admin(m, job->index);
                }
                f.result = s.outcome;
                audit_record(AUDIT_OFFLINED, &f, "offlined memory%" PRIu32 " (%s) in %" PRIu64 ".%03" PRIu64 "s, "
                             "attempt %u%s%s", job->index, f.action, ms / 1000, ms % 1000, job->sm.attempt,
                             strcmp(s.outcome, "already") == 0 ? "; it was already offline" : "", job->who);
        } else {
                f.result = s.outcome;
                f.error = s.result;
                if (s.result == -ENODEV)
                        audit_record(AUDIT_OFFLINE_FAILED, &f, "memory%" PRIu32 " vanished during its offline (%s): "
                                     "its device was removed", job->index, f.action);
                else
                        audit_record(AUDIT_OFFLINE_FAILED, &f, "could not offline memory%" PRIu32 " (%s%s%s): %s "
                                     "after %u %s (%m); it stays online%s", job->index, f.action,
                                     job->zone != ZONE_UNKNOWN ? ", zone " : "", job->zone != ZONE_UNKNOWN ? f.zone : "",
                                     s.outcome, job->sm.attempt, plural(job->sm.attempt, "attempt", "attempts"), job->who);
                if (s.result != -ENODEV && s.result != -ECANCELED)
                        m->n_failed++;
        }
        if (job->done)
                job->done(m, job->index, s.result, job->userdata);
        status_changed(m);
        free(job);
}

static void job_apply(Job *job, OfflineStep s) {
        AuditFields f;
        int r;

        switch (s.action) {
        case OFFLINE_DO_NOTHING:
                return;
        case OFFLINE_DO_SPAWN:
                f = job_fields(job);
                f.result = "ok";
                audit_record(AUDIT_OFFLINE_STARTED, &f, "offlining memory%" PRIu32 " (%s), attempt %u of %u, "
                             "timeout %llus%s", job->index, f.action, job->sm.attempt, job->sm.retries + 1,
                             (unsigned long long) (job->timeout_usec / 1000000), job->who);
                r = job_spawn(job);
                if (r < 0) {
                        /* No child, no attempt: the job ends with the fork's error. */
                        OfflineAttempt a = { .error = r, .present_after = true, .state_after = STATE_ONLINE };
                        log_error_errno(r, "Cannot start the offline of memory%" PRIu32 ": %m", job->index);
                        job->sm.retries = 0;
                        job_apply(job, offline_job_step(&job->sm, OFFLINE_INPUT_EXITED, &a));
                }
                return;
        case OFFLINE_DO_KILL:
                if (job->pid > 0)
                        (void) kill(job->pid, SIGKILL);
                f = job_fields(job);
                log_info("memory%" PRIu32 ": the offline write did not return; killed it", job->index);
                return;
        case OFFLINE_DO_BACKOFF:
                f = job_fields(job);
                f.result = s.outcome;
                f.error = s.result;
                audit_record(AUDIT_OFFLINE_RETRY, &f, "offline of memory%" PRIu32 " (%s), attempt %u: %s (%m); "
                             "trying again in %llu.%03llus", job->index, f.action, job->sm.attempt, s.outcome,
                             (unsigned long long) (s.delay_usec / 1000000),
                             (unsigned long long) (s.delay_usec / 1000 % 1000));
                r = arm_timer(job, s.delay_usec);
                if (r < 0) {
                        log_error_errno(r, "Cannot arm the back-off of memory%" PRIu32 ": %m", job->index);
                        job_apply(job, offline_job_step(&job->sm, OFFLINE_INPUT_BACKOFF_OVER, NULL));
                }
                return;
        case OFFLINE_DO_REQUEUE:
                /* It runs when the slot is free, after the jobs already waiting. */
                dispatch(job->m);
                return;
        case OFFLINE_DO_FINISH:
                job_finish(job, s);
                return;
        }
}

static void dispatch(Manager *m) {
        OfflineWorker *w = m->offline;

        /* From the head each time: a job that finishes (its callback may submit or cancel others)
         * leaves the list, a started one is no longer queued. */
        while (w->n_running < OFFLINE_RUNNING_MAX) {
                Job *j = w->head;

                while (j && j->sm.state != OFFLINE_JOB_QUEUED)
                        j = j->next;
                if (!j)
                        break;
                job_apply(j, offline_job_step(&j->sm, OFFLINE_INPUT_START, NULL));
        }
}

int offline_job_submit(Manager *m, uint32_t index, OfflineCause cause, offline_done_t done, void *userdata) {
        return offline_job_submit_as(m, index, cause, NULL, done, userdata);
}

int offline_job_submit_as(Manager *m, uint32_t index, OfflineCause cause, const char *who, offline_done_t done,
                          void *userdata) {
        Block *b = inventory_block(m->inv, index);
        Job *job;

        if (!b)
                return -ENOENT;
        if (m->opts.dry_run)
                return -EROFS;
        if (!m->offline)
                return -ESRCH;
        if (job_find(m->offline, index))
                return -EALREADY;
        job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;
        *job = (Job) { .m = m, .index = index, .cause = cause, .done = done, .userdata = userdata,
                       .timeout_usec = m->settings.offline_timeout_usec, .zone = inventory_block_zone(m->inv, index) };
        offline_job_init(&job->sm, m->settings.offline_retries, OFFLINE_BACKOFF_USEC);
        if (who && *who)
                (void) snprintf(job->who, sizeof(job->who), "; asked by %s", who);
        b->flags |= BLOCK_OFFLINING;
        if (m->offline->tail)
                m->offline->tail->next = job;
        else
                m->offline->head = job;
        m->offline->tail = job;
        dispatch(m);
        return 0;
}

void offline_jobs_forget_userdata(Manager *m, void *userdata) {
        for (Job *j = m->offline ? m->offline->head : NULL, *next; j; j = next) {
                next = j->next;
                if (j->userdata != userdata)
                        continue;
                j->done = NULL;
                job_apply(j, offline_job_step(&j->sm, OFFLINE_INPUT_CANCEL, NULL));
        }
}

int offline_worker_attach(Manager *m) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        m->offline = calloc(1, sizeof(OfflineWorker));
        return m->offline ? 0 : -ENOMEM;
}

void offline_worker_free(Manager *m) {
        OfflineWorker *w = m->offline;

        if (!w)
                return;
        for (Job *j = w->head, *next; j; j = next) {
                next = j->next;
                if (j->pid > 0) {
                        /* The write retries until it gets a signal; SIGKILL ends it at once. */
                        (void) kill(j->pid, SIGKILL);
                        (void) waitpid(j->pid, NULL, 0);
                }
                sd_event_source_disable_unref(j->child_source);
                sd_event_source_disable_unref(j->timer_source);
                /* Owners (a pending Offline call) free what they hold; no record at exit. */
                if (j->done)
                        j->done(m, j->index, -ECANCELED, j->userdata);
                free(j);
        }
        m->offline = mfree(w);
}
