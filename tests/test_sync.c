/*
 * test_sync.c - the synchronisation primitives together: a scenario where
 * workers contend for a lock, a semaphore, a condition and an event, with
 * the victim cancelled at every suspension point in turn.  Each
 * primitive's own cases are in test_lock.c, test_event_condition.c and
 * test_semaphore_barrier.c.
 */
#include "sync_util.h"

/* ---- cancellation at every step ------------------------------------------- */

/*
 * A scenario where workers contend for a lock, a semaphore, a condition
 * and an event, each suspending at several points.  For k = 0, 1, 2, ...
 * the victim (worker 0) is cancelled after k steps of the main task, so
 * in turn at every suspension point it reaches; the others must finish
 * every round, and at the end nothing is held.
 */
struct scen {
    cio_lock *lock;
    cio_semaphore *sem;
    cio_condition *cond;
    cio_event *ev;
    cio_barrier *bar;
    int inside;    /* tasks inside the lock: must stay <= 1 */
    int in_sem;    /* tasks holding a slot: <= 2 */
    int rounds;    /* completed rounds of the non-victims */
    int ready;     /* condition's predicate state */
};

static int cond_ready(void *ud) { return ((struct scen *)ud)->ready > 0; }

static int scen_worker(void *arg, void **res)
{
    struct scen *s = arg;
    int rc;
    for (int r = 0; r < 3; r++) {
        if ((rc = cio_lock_acquire(s->lock)))
            return rc;
        s->inside++;
        CHECK(s->inside == 1);
        rc = cio_sleep(0.5);
        s->inside--;
        cio_lock_release(s->lock);
        if (rc)
            return rc;
        if ((rc = cio_semaphore_acquire(s->sem)))
            return rc;
        s->in_sem++;
        CHECK(s->in_sem <= 2);
        rc = cio_sleep(0.25);
        s->in_sem--;
        cio_semaphore_release(s->sem);
        if (rc)
            return rc;
        if ((rc = cio_condition_acquire(s->cond)))
            return rc;
        rc = cio_condition_wait_for(s->cond, cond_ready, s);
        cio_condition_release(s->cond);
        if (rc < 0)
            return rc;
        if ((rc = cio_event_wait(s->ev)))
            return rc;
    }
    return 0;
}

static int scen_other(void *arg, void **res)
{
    struct scen *s = arg;
    int rc = scen_worker(arg, res);
    CHECK_RC(rc, 0);
    if (!rc)
        s->rounds++;
    return rc;
}

static int scen_main(void *arg, void **res)
{
    int k = *(int *)arg;
    struct scen s = {0};
    CHECK_RC(cio_lock_new(NULL, &s.lock), 0);
    CHECK_RC(cio_semaphore_new(NULL, 2, &s.sem), 0);
    CHECK_RC(cio_condition_new(NULL, NULL, &s.cond), 0);
    CHECK_RC(cio_event_new(NULL, &s.ev), 0);
    cio_task *victim = test_spawn(scen_worker, &s);
    cio_task *o[3];
    for (int i = 0; i < 3; i++)
        o[i] = test_spawn(scen_other, &s);
    /* The main task drives the condition and the event over time. */
    int steps = 0;
    for (int i = 0; i < 40; i++) {
        if (steps++ == k)
            cio_task_cancel(victim, NULL);
        cio_sleep(0.125);
        if (i == 10) {
            cio_condition_acquire(s.cond);
            s.ready = 1;
            cio_condition_notify_all(s.cond);
            cio_condition_release(s.cond);
            cio_event_set(s.ev);
        }
    }
    int vrc = test_join(victim);
    for (int i = 0; i < 3; i++)
        CHECK_RC(test_join(o[i]), 0);
    CHECK_EQ(s.rounds, 3);
    CHECK(vrc == 0 || vrc == -ECANCELED);
    /* Nothing held, nothing waiting. */
    CHECK_EQ(cio_lock_locked(s.lock), 0);
    CHECK_EQ(cio_semaphore_value(s.sem), 2);
    CHECK_EQ(cio_condition_locked(s.cond), 0);
    cio_lock_free(s.lock);
    cio_semaphore_free(s.sem);
    cio_condition_free(s.cond);
    cio_event_free(s.ev);
    *res = (void *)(intptr_t)(vrc == 0);
    return 0;
}

static void cancel_every_step(void)
{
    int completed = 0;
    for (int k = 0; k < 41 && !completed; k++) {
        cio_loop *loop;
        CHECK_RC(cio_loop_new(&loop), 0);
        cio_loop_set_virtual_clock(loop, 1);
        void *r = NULL;
        CHECK_RC(cio_run_loop(loop, scen_main, &k, &r), 0);
        cio_loop_free(loop);
        completed = r != NULL;
    }
    CHECK(completed); /* the scenario ends before the last k */
}

int main(void)
{
    RUN(cancel_every_step);
    return test_finish();
}
