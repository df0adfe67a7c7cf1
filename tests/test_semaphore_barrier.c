/*
 * test_semaphore_barrier.c - cio_semaphore (and bounded), cio_barrier:
 * asyncio's behaviour, FIFO order of waiters, cancellation of a waiter
 * before and after the hand-off, barrier abort, and the barrier's
 * cancellation at every step (split from test_sync.c).
 *
 * Divided into: semaphore; barrier; barrier cancelled at every step.
 */
#include "sync_util.h"

/* ---- semaphore --------------------------------------------------------- */

struct sem_arg {
    cio_semaphore *sem;
    struct trace *tr;
    int id;
    int rc;
    int hold; /* release after acquiring */
};

static int sem_worker(void *arg, void **res)
{
    struct sem_arg *a = arg;
    a->rc = cio_semaphore_acquire(a->sem);
    if (a->rc)
        return 0;
    trace_add(a->tr, a->id);
    if (!a->hold) {
        cio_sleep(0.01);
        CHECK_RC(cio_semaphore_release(a->sem), 0);
    }
    return 0;
}

static int sem_basic_main(void *arg, void **res)
{
    cio_semaphore *s;
    CHECK_RC(cio_semaphore_new(NULL, 0, &s), 0);
    CHECK_EQ(cio_semaphore_locked(s), 1); /* test_initial_value_zero */
    cio_semaphore_free(s);
    CHECK_RC(cio_semaphore_new(NULL, 3, &s), 0);
    CHECK_EQ(cio_semaphore_value(s), 3);
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_semaphore_acquire(s), 0);
    CHECK_EQ(cio_semaphore_locked(s), 1);
    CHECK_RC(cio_semaphore_release(s), 0);
    CHECK_EQ(cio_semaphore_locked(s), 0);
    /* An ordinary semaphore may grow past its initial value. */
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_semaphore_release(s), 0);
    CHECK_EQ(cio_semaphore_value(s), 4);
    cio_semaphore_free(s);
    /* Bounded: over-release is an error with no effect. */
    CHECK_RC(cio_bounded_semaphore_new(NULL, 1, &s), 0);
    CHECK_RC(cio_semaphore_release(s), -EINVAL);
    CHECK_EQ(cio_semaphore_value(s), 1);
    CHECK_RC(cio_semaphore_acquire(s), 0);
    CHECK_RC(cio_semaphore_release(s), 0);
    CHECK_RC(cio_semaphore_release(s), -EINVAL);
    cio_semaphore_free(s);
    CHECK_RC(cio_semaphore_new(NULL, 1, NULL), -EINVAL);
    CHECK_RC(cio_semaphore_acquire(NULL), -EINVAL);
    CHECK_RC(cio_semaphore_release(NULL), -EINVAL);
    CHECK_EQ(cio_semaphore_locked(NULL), 0);
    return 0;
}

static void sem_basic(void) { CHECK_RC(test_run_virtual(sem_basic_main, NULL), 0); }

/* test_acquire_fifo_order: three tasks, each acquiring twice. */
struct fifo_arg {
    cio_semaphore *sem;
    struct trace *tr;
    int id;
};

static int sem_twice(void *arg, void **res)
{
    struct fifo_arg *a = arg;
    for (int k = 1; k <= 2; k++) {
        CHECK_RC(cio_semaphore_acquire(a->sem), 0);
        trace_add(a->tr, a->id * 10 + k);
        cio_sleep(0.01);
        CHECK_RC(cio_semaphore_release(a->sem), 0);
    }
    return 0;
}

static int sem_fifo_main(void *arg, void **res)
{
    struct trace tr = {0};
    cio_semaphore *s;
    CHECK_RC(cio_semaphore_new(NULL, 1, &s), 0);
    struct fifo_arg a[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (struct fifo_arg){s, &tr, i + 1};
        t[i] = test_spawn(sem_twice, &a[i]);
    }
    for (int i = 0; i < 3; i++)
        CHECK_RC(test_join(t[i]), 0);
    int want[] = {11, 21, 31, 12, 22, 32};
    CHECK_EQ(tr.n, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(tr.ev[i], want[i]);
    cio_semaphore_free(s);
    return 0;
}

static void sem_fifo(void) { CHECK_RC(test_run_virtual(sem_fifo_main, NULL), 0); }

/* test_acquire_fifo_order_3 and test_acquire_cancel_before_awoken:
 * cancelled waiters are skipped, slots go to the next in line. */
static int sem_cancel_main(void *arg, void **res)
{
    struct trace tr = {0};
    cio_semaphore *s;
    CHECK_RC(cio_semaphore_new(NULL, 0, &s), 0);
    struct sem_arg a[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct sem_arg){s, &tr, i + 1, 1, 1};
        t[i] = test_spawn(sem_worker, &a[i]);
    }
    test_step(1);
    cio_task_cancel(t[0], NULL);
    cio_task_cancel(t[1], NULL);
    CHECK_RC(cio_semaphore_release(s), 0);
    test_step(2);
    CHECK_EQ(cio_task_done(t[2]), 1);
    CHECK_EQ(cio_task_done(t[3]), 0);
    CHECK_RC(a[0].rc, -ECANCELED);
    CHECK_RC(a[1].rc, -ECANCELED);
    CHECK_RC(a[2].rc, 0);
    CHECK_EQ(cio_semaphore_locked(s), 1);
    CHECK_RC(cio_semaphore_release(s), 0);
    for (int i = 0; i < 4; i++)
        CHECK_RC(test_join(t[i]), 0);
    CHECK_EQ(tr.n, 2);
    CHECK_EQ(tr.ev[0], 3);
    CHECK_EQ(tr.ev[1], 4);
    CHECK_EQ(cio_semaphore_value(s), 0);
    cio_semaphore_free(s);
    return 0;
}

static void sem_cancel(void) { CHECK_RC(test_run_virtual(sem_cancel_main, NULL), 0); }

/* A slot handed to a waiter that is then cancelled before it runs goes
 * to the next waiter (test_acquire_hang's cousin, with the handoff made
 * first); with nobody next, back to the count. */
static int sem_handoff_cancel_main(void *arg, void **res)
{
    struct trace tr = {0};
    cio_semaphore *s;
    CHECK_RC(cio_bounded_semaphore_new(NULL, 1, &s), 0);
    CHECK_RC(cio_semaphore_acquire(s), 0);
    struct sem_arg a = {s, &tr, 1, 1, 1}, b = {s, &tr, 2, 1, 0};
    cio_task *ta = test_spawn(sem_worker, &a), *tb = test_spawn(sem_worker, &b);
    test_step(1);
    CHECK_RC(cio_semaphore_release(s), 0); /* to a */
    cio_task_cancel(ta, NULL);
    CHECK_RC(test_join(ta), 0);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_RC(test_join(tb), 0);
    CHECK_RC(b.rc, 0);
    CHECK_EQ(cio_semaphore_value(s), 1); /* b released: count restored */
    CHECK_RC(cio_semaphore_acquire(s), 0);
    struct sem_arg c = {s, &tr, 3, 1, 1};
    cio_task *tc = test_spawn(sem_worker, &c);
    test_step(1);
    CHECK_RC(cio_semaphore_release(s), 0);
    cio_task_cancel(tc, NULL);
    CHECK_RC(test_join(tc), 0);
    CHECK_RC(c.rc, -ECANCELED);
    CHECK_EQ(cio_semaphore_value(s), 1);
    CHECK_RC(cio_semaphore_release(s), -EINVAL); /* still bounded */
    cio_semaphore_free(s);
    return 0;
}

static void sem_handoff_cancel(void) { CHECK_RC(test_run_virtual(sem_handoff_cancel_main, NULL), 0); }

/* test_acquire_fifo_order_2: every acquisition happens in request order.
 * c2 gets its second slot after c3 got its first; c3 simply has not run
 * yet when c2 records (handed slots make no task re-compete). */
struct fifo2 {
    cio_semaphore *sem;
    struct trace *tr;
};

static int f2_c1(void *arg, void **res)
{
    struct fifo2 *f = arg;
    CHECK_RC(cio_semaphore_acquire(f->sem), 0);
    trace_add(f->tr, 1);
    return 0;
}

static int f2_c2(void *arg, void **res)
{
    struct fifo2 *f = arg;
    CHECK_RC(cio_semaphore_acquire(f->sem), 0);
    trace_add(f->tr, 2);
    CHECK_EQ(cio_semaphore_value(f->sem), 0); /* c3 holds the other slot */
    CHECK_RC(cio_semaphore_release(f->sem), 0);
    CHECK_RC(cio_semaphore_acquire(f->sem), 0);
    trace_add(f->tr, 4);
    return 0;
}

static int f2_c3(void *arg, void **res)
{
    struct fifo2 *f = arg;
    CHECK_RC(cio_semaphore_acquire(f->sem), 0);
    trace_add(f->tr, 3);
    return 0;
}

static int sem_fifo2_main(void *arg, void **res)
{
    struct trace tr = {0};
    struct fifo2 f = {NULL, &tr};
    CHECK_RC(cio_semaphore_new(NULL, 1, &f.sem), 0);
    cio_task *t1 = test_spawn(f2_c1, &f), *t2 = test_spawn(f2_c2, &f), *t3 = test_spawn(f2_c3, &f);
    test_step(1);
    CHECK_RC(cio_semaphore_release(f.sem), 0);
    CHECK_RC(cio_semaphore_release(f.sem), 0);
    CHECK_RC(test_join(t1), 0);
    CHECK_RC(test_join(t2), 0);
    CHECK_RC(test_join(t3), 0);
    CHECK_EQ(tr.n, 4);
    CHECK_EQ(tr.ev[0], 1);
    CHECK_EQ(tr.ev[1], 2);
    cio_semaphore_free(f.sem);
    return 0;
}

static void sem_fifo2(void) { CHECK_RC(test_run_virtual(sem_fifo2_main, NULL), 0); }

/* ---- barrier ----------------------------------------------------------- */

struct bar_arg {
    cio_barrier *b;
    int rounds;
    int idx[4];
    int rc;
};

static int bar_worker(void *arg, void **res)
{
    struct bar_arg *a = arg;
    for (int r = 0; r < a->rounds; r++) {
        int rc = cio_barrier_wait(a->b);
        if (rc < 0) {
            a->rc = rc;
            return 0;
        }
        a->idx[r] = rc;
    }
    a->rc = 0;
    return 0;
}

static int barrier_main(void *arg, void **res)
{
    cio_barrier *b;
    CHECK_RC(cio_barrier_new(NULL, 0, &b), -EINVAL);
    CHECK_RC(cio_barrier_new(NULL, 3, NULL), -EINVAL);
    CHECK_RC(cio_barrier_new(NULL, 3, &b), 0);
    CHECK_EQ(cio_barrier_parties(b), 3);
    struct bar_arg a[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (struct bar_arg){b, 2, {0}, 1};
        t[i] = test_spawn(bar_worker, &a[i]);
    }
    for (int i = 0; i < 3; i++)
        CHECK_RC(test_join(t[i]), 0);
    for (int r = 0; r < 2; r++) {
        int seen = 0;
        for (int i = 0; i < 3; i++) {
            CHECK_RC(a[i].rc, 0);
            seen |= 1 << a[i].idx[r];
        }
        CHECK_EQ(seen, 7); /* indices 0, 1, 2 */
    }
    CHECK_EQ(a[2].idx[0], 2); /* the last arrival completes the round */
    CHECK_EQ(cio_barrier_n_waiting(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 0);
    cio_barrier_free(b);
    /* One party: never waits. */
    CHECK_RC(cio_barrier_new(NULL, 1, &b), 0);
    CHECK_RC(cio_barrier_wait(b), 0);
    CHECK_RC(cio_barrier_wait(b), 0);
    cio_barrier_free(b);
    return 0;
}

static void barrier_basic(void) { CHECK_RC(test_run_virtual(barrier_main, NULL), 0); }

/* test_filling_tasks_cancel_one. */
static int barrier_cancel_main(void *arg, void **res)
{
    cio_barrier *b;
    CHECK_RC(cio_barrier_new(NULL, 3, &b), 0);
    struct bar_arg a[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        a[i] = (struct bar_arg){b, 1, {0}, 1};
    t[0] = test_spawn(bar_worker, &a[0]);
    test_step(1);
    CHECK_EQ(cio_barrier_n_waiting(b), 1);
    t[1] = test_spawn(bar_worker, &a[1]);
    test_step(1);
    CHECK_EQ(cio_barrier_n_waiting(b), 2);
    cio_task_cancel(t[0], NULL);
    CHECK_EQ(cio_barrier_n_waiting(b), 1);
    CHECK_RC(test_join(t[0]), 0);
    CHECK_RC(a[0].rc, -ECANCELED);
    t[2] = test_spawn(bar_worker, &a[2]);
    test_step(1);
    CHECK_EQ(cio_barrier_n_waiting(b), 2);
    t[3] = test_spawn(bar_worker, &a[3]);
    for (int i = 1; i < 4; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
    }
    CHECK_EQ(cio_barrier_n_waiting(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 0);
    cio_barrier_free(b);
    return 0;
}

static void barrier_cancel(void) { CHECK_RC(test_run_virtual(barrier_cancel_main, NULL), 0); }

/* test_abort_barrier, test_reset_barrier_while_tasks_waiting. */
static int barrier_abort_main(void *arg, void **res)
{
    cio_barrier *b;
    CHECK_RC(cio_barrier_new(NULL, 3, &b), 0);
    struct bar_arg a[2];
    cio_task *t[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (struct bar_arg){b, 1, {0}, 1};
        t[i] = test_spawn(bar_worker, &a[i]);
    }
    test_step(1);
    CHECK_RC(cio_barrier_reset(b), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(a[i].rc, CIO_EBROKEN);
    }
    CHECK_EQ(cio_barrier_broken(b), 0);
    CHECK_EQ(cio_barrier_n_waiting(b), 0);
    /* usable again after reset */
    for (int i = 0; i < 2; i++) {
        a[i] = (struct bar_arg){b, 1, {0}, 1};
        t[i] = test_spawn(bar_worker, &a[i]);
    }
    test_step(1);
    CHECK_RC(cio_barrier_wait(b), 2);
    for (int i = 0; i < 2; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
    }
    /* abort: waiters and later arrivals fail until reset */
    a[0] = (struct bar_arg){b, 1, {0}, 1};
    t[0] = test_spawn(bar_worker, &a[0]);
    test_step(1);
    CHECK_RC(cio_barrier_abort(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 1);
    CHECK_RC(test_join(t[0]), 0);
    CHECK_RC(a[0].rc, CIO_EBROKEN);
    CHECK_RC(cio_barrier_wait(b), CIO_EBROKEN);
    CHECK_RC(cio_barrier_reset(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 0);
    /* freed with a waiter */
    a[0] = (struct bar_arg){b, 1, {0}, 1};
    t[0] = test_spawn(bar_worker, &a[0]);
    test_step(1);
    cio_barrier_free(b);
    CHECK_RC(test_join(t[0]), 0);
    CHECK_RC(a[0].rc, CIO_ECLOSED);
    CHECK_RC(cio_barrier_wait(NULL), -EINVAL);
    CHECK_RC(cio_barrier_abort(NULL), -EINVAL);
    CHECK_RC(cio_barrier_reset(NULL), -EINVAL);
    return 0;
}

static void barrier_abort(void) { CHECK_RC(test_run_virtual(barrier_abort_main, NULL), 0); }

/* ---- barrier cancelled at every step ------------------------------------ */

/* As test_sync.c's cancel_every_step, for the barrier: for k = 0, 1, ...
 * the victim is cancelled after k steps.  It arrives first, the others
 * later; a victim cancelled before the round completes leaves it
 * (n_waiting drops) and a replacement completes it; nobody is left
 * waiting. */
struct bar_late {
    struct bar_arg a;
    double delay;
};

static int bar_late_worker(void *arg, void **res)
{
    struct bar_late *l = arg;
    cio_sleep(l->delay);
    return bar_worker(&l->a, res);
}

static int bar_scen_main(void *arg, void **res)
{
    int k = *(int *)arg;
    cio_barrier *b;
    CHECK_RC(cio_barrier_new(NULL, 3, &b), 0);
    struct bar_late w[4];
    cio_task *t[4] = {0};
    for (int i = 0; i < 3; i++) {
        w[i] = (struct bar_late){{b, 1, {0}, 1}, i == 0 ? 0.0 : 1.0};
        t[i] = test_spawn(bar_late_worker, &w[i]);
    }
    for (int i = 0; i < k; i++)
        cio_sleep(0.5);
    cio_task_cancel(t[0], NULL);
    cio_task_await(t[0], NULL);
    cio_sleep(2);
    int passed = cio_task_done(t[1]) && cio_task_done(t[2]);
    /* The round completes at t = 1; at k = 2 the victim was woken for it
     * at t = 1 and cancelled before it ran: the round still counts. */
    CHECK_EQ(passed, k >= 2);
    if (!passed) {
        CHECK_EQ(cio_barrier_n_waiting(b), 2);
        CHECK(w[0].a.rc != 0);
        w[3] = (struct bar_late){{b, 1, {0}, 1}, 0.0};
        t[3] = test_spawn(bar_late_worker, &w[3]);
    } else {
        CHECK(w[0].a.rc == 0 || (k == 2 && w[0].a.rc == -ECANCELED));
    }
    for (int i = 0; i < 4; i++) {
        if (!t[i])
            continue;
        if (i == 0)
            cio_task_unref(t[i]);
        else {
            CHECK_RC(test_join(t[i]), 0);
            CHECK_RC(w[i].a.rc, 0);
        }
    }
    CHECK_EQ(cio_barrier_n_waiting(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 0);
    cio_barrier_free(b);
    return 0;
}

static void barrier_cancel_every_step(void)
{
    for (int k = 0; k < 6; k++)
        CHECK_RC(test_run_virtual(bar_scen_main, &k), 0);
}

int main(void)
{
    RUN(sem_basic);
    RUN(sem_fifo);
    RUN(sem_fifo2);
    RUN(sem_cancel);
    RUN(sem_handoff_cancel);
    RUN(barrier_basic);
    RUN(barrier_cancel);
    RUN(barrier_abort);
    RUN(barrier_cancel_every_step);
    return test_finish();
}
