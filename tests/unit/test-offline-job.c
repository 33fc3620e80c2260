/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The offline job state machine as a table: each row is a sequence of inputs and what the job must answer
 * to each, with timeouts, retries, back-off and every way an attempt can end. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "offline-job.h"
#include "unit-helpers.h"

#define S1 (1000ULL * 1000)

/* One input and the expected answer. 'a' is read for EXITED only. */
typedef struct Step {
        OfflineJobInput in;
        OfflineAttempt a;
        OfflineJobAction action;
        uint64_t delay;     /* OFFLINE_DO_BACKOFF */
        int result;         /* OFFLINE_DO_FINISH */
        const char *outcome;
        OfflineJobState state_after;
} Step;

#define START { OFFLINE_INPUT_START, {}, OFFLINE_DO_SPAWN, 0, 0, NULL, OFFLINE_JOB_RUNNING }
#define OVER { OFFLINE_INPUT_BACKOFF_OVER, {}, OFFLINE_DO_REQUEUE, 0, 0, NULL, OFFLINE_JOB_QUEUED }, START
#define TIMEOUT { OFFLINE_INPUT_TIMEOUT, {}, OFFLINE_DO_KILL, 0, 0, NULL, OFFLINE_JOB_KILLING }
#define EXIT(err, present, st) OFFLINE_INPUT_EXITED, { err, present, st }
#define END { _OFFLINE_INPUT_MAX, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_QUEUED }

static const struct {
        const char *name;
        unsigned retries;
        Step steps[14];
} rows[] = {
        { "offlined at the first attempt", 2,
          { START, { EXIT(0, true, STATE_OFFLINE), OFFLINE_DO_FINISH, 0, 0, "offlined", OFFLINE_JOB_FINISHED }, END } },
        { "already offline (EINVAL, reads offline): success", 2,
          { START, { EXIT(-EINVAL, true, STATE_OFFLINE), OFFLINE_DO_FINISH, 0, 0, "already", OFFLINE_JOB_FINISHED }, END } },
        { "EBUSY twice then offline: back-off 1s, 2s", 3,
          { START,
            { EXIT(-EBUSY, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 1 * S1, -EBUSY, "busy", OFFLINE_JOB_BACKOFF },
            OVER,
            { EXIT(-EBUSY, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 2 * S1, -EBUSY, "busy", OFFLINE_JOB_BACKOFF },
            OVER,
            { EXIT(0, true, STATE_OFFLINE), OFFLINE_DO_FINISH, 0, 0, "offlined", OFFLINE_JOB_FINISHED }, END } },
        { "EBUSY after every retry: -EBUSY", 1,
          { START,
            { EXIT(-EBUSY, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 1 * S1, -EBUSY, "busy", OFFLINE_JOB_BACKOFF },
            OVER,
            { EXIT(-EBUSY, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -EBUSY, "busy", OFFLINE_JOB_FINISHED }, END } },
        { "Retries=0: one attempt only", 0,
          { START, { EXIT(-EAGAIN, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -EBUSY, "busy", OFFLINE_JOB_FINISHED }, END } },
        { "a write that never returns: killed at the timeout, retried, -ETIME at the end", 1,
          { START, TIMEOUT,
            { EXIT(-EINTR, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 1 * S1, -ETIME, "timeout", OFFLINE_JOB_BACKOFF },
            OVER, TIMEOUT,
            { EXIT(-EINTR, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -ETIME, "timeout", OFFLINE_JOB_FINISHED }, END } },
        { "killed at the timeout but it finished anyway: offline wins", 1,
          { START, TIMEOUT,
            { EXIT(-EINTR, true, STATE_OFFLINE), OFFLINE_DO_FINISH, 0, 0, "already", OFFLINE_JOB_FINISHED }, END } },
        { "timeout while going-offline is still a timeout", 1,
          { START, TIMEOUT,
            { EXIT(-EINTR, true, STATE_GOING_OFFLINE), OFFLINE_DO_BACKOFF, 1 * S1, -ETIME, "timeout", OFFLINE_JOB_BACKOFF }, END } },
        { "a second timeout while killing changes nothing", 1,
          { START, TIMEOUT, { OFFLINE_INPUT_TIMEOUT, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_KILLING }, END } },
        { "EHWPOISON: no retry", 3,
          { START, { EXIT(-EHWPOISON, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -EHWPOISON, "hwpoison", OFFLINE_JOB_FINISHED }, END } },
        { "the block vanished (DIMM removed): gone, not failed", 3,
          { START, { EXIT(-ENOENT, false, STATE_UNKNOWN), OFFLINE_DO_FINISH, 0, -ENODEV, "gone", OFFLINE_JOB_FINISHED }, END } },
        { "vanished after a timeout: gone", 3,
          { START, TIMEOUT, { EXIT(-EINTR, false, STATE_UNKNOWN), OFFLINE_DO_FINISH, 0, -ENODEV, "gone", OFFLINE_JOB_FINISHED }, END } },
        { "EINVAL and still online: a hard error, no retry", 3,
          { START, { EXIT(-EINVAL, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -EINVAL, "failed", OFFLINE_JOB_FINISHED }, END } },
        { "EPERM: no retry", 3,
          { START, { EXIT(-EPERM, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -EPERM, "failed", OFFLINE_JOB_FINISHED }, END } },
        { "the write worked but someone onlined it again: retried", 1,
          { START, { EXIT(0, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 1 * S1, -EBUSY, "online-again", OFFLINE_JOB_BACKOFF }, END } },
        { "killed by someone else's signal: retried", 1,
          { START, { EXIT(-EINTR, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 1 * S1, -EINTR, "killed", OFFLINE_JOB_BACKOFF }, END } },
        { "cancelled while queued", 1,
          { { OFFLINE_INPUT_CANCEL, {}, OFFLINE_DO_FINISH, 0, -ECANCELED, "cancelled", OFFLINE_JOB_FINISHED }, END } },
        { "cancelled while waiting out a back-off", 1,
          { START, { EXIT(-EBUSY, true, STATE_ONLINE), OFFLINE_DO_BACKOFF, 1 * S1, -EBUSY, "busy", OFFLINE_JOB_BACKOFF },
            { OFFLINE_INPUT_CANCEL, {}, OFFLINE_DO_FINISH, 0, -ECANCELED, "cancelled", OFFLINE_JOB_FINISHED }, END } },
        { "cancelled while running: killed, finished once reaped, no retry", 3,
          { START, { OFFLINE_INPUT_CANCEL, {}, OFFLINE_DO_KILL, 0, 0, NULL, OFFLINE_JOB_KILLING },
            { EXIT(-EINTR, true, STATE_ONLINE), OFFLINE_DO_FINISH, 0, -ECANCELED, "cancelled", OFFLINE_JOB_FINISHED }, END } },
        { "unexpected inputs change nothing", 1,
          { { OFFLINE_INPUT_TIMEOUT, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_QUEUED },
            { OFFLINE_INPUT_BACKOFF_OVER, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_QUEUED },
            START,
            { OFFLINE_INPUT_START, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_RUNNING },
            { OFFLINE_INPUT_BACKOFF_OVER, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_RUNNING },
            { EXIT(0, true, STATE_OFFLINE), OFFLINE_DO_FINISH, 0, 0, "offlined", OFFLINE_JOB_FINISHED },
            { OFFLINE_INPUT_TIMEOUT, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_FINISHED },
            { OFFLINE_INPUT_CANCEL, {}, OFFLINE_DO_NOTHING, 0, 0, NULL, OFFLINE_JOB_FINISHED }, END } },
};

START_TEST(job_table) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                OfflineJob j;

                offline_job_init(&j, rows[i].retries, S1);
                for (size_t k = 0; rows[i].steps[k].in != _OFFLINE_INPUT_MAX; k++) {
                        const Step *t = &rows[i].steps[k];
                        OfflineStep s = offline_job_step(&j, t->in, &t->a);

                        ck_assert_msg(s.action == t->action, "%s, step %zu: action %d, expected %d", rows[i].name, k,
                                      s.action, t->action);
                        ck_assert_msg(j.state == t->state_after, "%s, step %zu: state %s, expected %s", rows[i].name, k,
                                      offline_job_state_to_string(j.state), offline_job_state_to_string(t->state_after));
                        if (t->action == OFFLINE_DO_BACKOFF)
                                ck_assert_msg(s.delay_usec == t->delay, "%s, step %zu: back-off %llu", rows[i].name, k,
                                              (unsigned long long) s.delay_usec);
                        if (t->action == OFFLINE_DO_FINISH || t->action == OFFLINE_DO_BACKOFF) {
                                ck_assert_msg(s.result == t->result, "%s, step %zu: result %d, expected %d", rows[i].name,
                                              k, s.result, t->result);
                                ck_assert_msg(s.outcome && strcmp(s.outcome, t->outcome) == 0, "%s, step %zu: outcome %s",
                                              rows[i].name, k, s.outcome ?: "(null)");
                                ck_assert(s.attempt_failed == (t->result != 0 && t->result != -ENODEV));
                        }
                        if (t->action == OFFLINE_DO_FINISH)
                                ck_assert_int_eq(j.result, t->result);
                }
        }
}
END_TEST

START_TEST(attempts_counted) {
        OfflineJob j;

        offline_job_init(&j, 2, S1);
        ck_assert_uint_eq(j.attempt, 0);
        (void) offline_job_step(&j, OFFLINE_INPUT_START, NULL);
        ck_assert_uint_eq(j.attempt, 1);
        (void) offline_job_step(&j, OFFLINE_INPUT_TIMEOUT, NULL);
        /* EXITED without an attempt (a bug in the caller) is ignored, not a crash. */
        ck_assert_int_eq(offline_job_step(&j, OFFLINE_INPUT_EXITED, NULL).action, OFFLINE_DO_NOTHING);
}
END_TEST

START_TEST(backoff_doubles_and_caps) {
        ck_assert_uint_eq(offline_job_backoff(S1, 1), S1);
        ck_assert_uint_eq(offline_job_backoff(S1, 2), 2 * S1);
        ck_assert_uint_eq(offline_job_backoff(S1, 5), 16 * S1);
        ck_assert_uint_eq(offline_job_backoff(S1, 7), OFFLINE_BACKOFF_MAX_USEC);
        ck_assert_uint_eq(offline_job_backoff(S1, 4000000000u), OFFLINE_BACKOFF_MAX_USEC);
        ck_assert_uint_eq(offline_job_backoff(OFFLINE_BACKOFF_MAX_USEC * 4, 1), OFFLINE_BACKOFF_MAX_USEC);
}
END_TEST

static Suite *offline_job_suite(void) {
        Suite *s = suite_create("offline-job");
        TCase *tc = tcase_create("tables");

        tcase_add_test(tc, job_table);
        tcase_add_test(tc, attempts_counted);
        tcase_add_test(tc, backoff_doubles_and_caps);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return unit_main(offline_job_suite());
}
