/*
 * test_lock.c - cio_lock: asyncio's behaviour (translated from CPython's
 * Lib/test/test_asyncio/test_locks.py where it applies), FIFO hand-off,
 * cancellation of a waiter before and after the hand-off, the owner
 * check, level-triggered cancellation, -ETIMEDOUT interrupts, freeing
 * with waiters, other and closed loops; then allocation failures of
 * every synchronisation primitive (split from test_sync.c).
 *
 * Divided into: lock; allocation failures.
 */
#include "sync_util.h"

/* ---- lock ------------------------------------------------------------ */

static int lock_basic_main(void *arg, void **res)
{
    cio_lock *l;
    CHECK_RC(cio_lock_new(NULL, &l), 0);
    CHECK_EQ(cio_lock_locked(l), 0);
    CHECK_RC(cio_lock_release(l), -EPERM); /* not acquired */
    CHECK_RC(cio_lock_acquire(l), 0);
    CHECK_EQ(cio_lock_locked(l), 1);
    CHECK_RC(cio_lock_acquire(l), -EDEADLK); /* not recursive */
    CHECK_RC(cio_lock_release(l), 0);
    CHECK_EQ(cio_lock_locked(l), 0);
    CHECK_RC(cio_lock_release(l), -EPERM);
    CHECK_RC(cio_lock_acquire(NULL), -EINVAL);
    CHECK_RC(cio_lock_release(NULL), -EINVAL);
    CHECK_EQ(cio_lock_locked(NULL), 0);
    CHECK_RC(cio_lock_new(NULL, NULL), -EINVAL);
    cio_lock_free(l);
    cio_lock_free(NULL);
    return 0;
}

static void lock_basic(void)
{
    CHECK_RC(test_run_virtual(lock_basic_main, NULL), 0);
    /* Outside any task: acquire cannot wait. */
    cio_lock *l;
    CHECK_RC(cio_lock_new(NULL, &l), 0);
    CHECK_RC(cio_lock_acquire(l), CIO_ENOTASK);
    cio_lock_free(l);
}

struct lock_ctx {
    cio_lock *lock;
    struct trace tr;
    int id;
    int count;
};

struct lock_arg {
    struct lock_ctx *c;
    int id;
    int rc;
};

/* Acquires, records its id, yields while holding, releases. */
static int lock_worker(void *arg, void **res)
{
    struct lock_arg *a = arg;
    int rc = cio_lock_acquire(a->c->lock);
    a->rc = rc;
    if (rc)
        return rc;
    trace_add(&a->c->tr, a->id);
    a->c->count++;
    cio_sleep(0);
    CHECK_RC(cio_lock_release(a->c->lock), 0);
    return 0;
}

/* Makes c's lock, takes it, and queues n lock_workers (ids first_id,
 * first_id + 1, ...) on it, in that order. */
static void lock_queue_up(struct lock_ctx *c, struct lock_arg *a, cio_task **t, int n,
                          int first_id)
{
    CHECK_RC(cio_lock_new(NULL, &c->lock), 0);
    CHECK_RC(cio_lock_acquire(c->lock), 0);
    for (int i = 0; i < n; i++) {
        a[i] = (struct lock_arg){c, first_id + i, 1};
        t[i] = test_spawn(lock_worker, &a[i]);
    }
    test_step(1); /* all queue up */
}

static int lock_fifo_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    struct lock_arg a[6];
    cio_task *t[6];
    lock_queue_up(&c, a, t, 5, 0);
    CHECK_RC(cio_lock_release(c.lock), 0);
    /* Handed to worker 0 already: a newcomer must queue behind 1..4. */
    CHECK_EQ(cio_lock_locked(c.lock), 1);
    a[5] = (struct lock_arg){&c, 5, 1};
    t[5] = test_spawn(lock_worker, &a[5]);
    for (int i = 0; i < 6; i++)
        CHECK_RC(test_join(t[i]), 0);
    CHECK_EQ(c.tr.n, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(c.tr.ev[i], i);
    CHECK_EQ(cio_lock_locked(c.lock), 0);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_fifo(void) { CHECK_RC(test_run_virtual(lock_fifo_main, NULL), 0); }

/* test_acquire_cancel: a cancelled waiter leaves no trace. */
static int lock_acquire_cancel_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    struct lock_arg a;
    cio_task *t;
    lock_queue_up(&c, &a, &t, 1, 1);
    CHECK_EQ(cio_task_cancel(t, NULL), 1);
    CHECK_RC(test_join(t), -ECANCELED);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_RC(cio_lock_release(c.lock), 0);
    CHECK_EQ(cio_lock_locked(c.lock), 0); /* nobody was waiting any more */
    cio_lock_free(c.lock);
    return 0;
}

static void lock_acquire_cancel(void) { CHECK_RC(test_run_virtual(lock_acquire_cancel_main, NULL), 0); }

/* The lock is handed to B, then B is cancelled before it runs: B fails,
 * C gets the lock (the brief's "pass it on"); test_finished_waiter_cancelled
 * and test_cancel_race are variants of it. */
static int lock_handoff_cancel_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    struct lock_arg a[2]; /* B (id 1), C (id 2) */
    cio_task *t[2];
    lock_queue_up(&c, a, t, 2, 1);
    struct lock_arg *b = &a[0];
    cio_task *tb = t[0], *td = t[1];
    CHECK_RC(cio_lock_release(c.lock), 0); /* owner: B, not yet run */
    CHECK_EQ(cio_task_cancel(tb, NULL), 1);
    CHECK_RC(test_join(tb), -ECANCELED);
    CHECK_RC(b->rc, -ECANCELED);
    CHECK_RC(test_join(td), 0);
    CHECK_EQ(c.tr.n, 1);
    CHECK_EQ(c.tr.ev[0], 2);
    CHECK_EQ(cio_lock_locked(c.lock), 0);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_handoff_cancel(void) { CHECK_RC(test_run_virtual(lock_handoff_cancel_main, NULL), 0); }

/* test_cancel_release_race: cancel the first waiter and release at once:
 * exactly one task gets the lock. */
static int lock_cancel_release_race_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    struct lock_arg a[3];
    cio_task *t[3];
    lock_queue_up(&c, a, t, 3, 0);
    cio_task_cancel(t[0], NULL);
    CHECK_RC(cio_lock_release(c.lock), 0);
    CHECK_RC(test_join(t[0]), -ECANCELED);
    CHECK_EQ(c.count, 1); /* only t1 holds it */
    CHECK_EQ(cio_task_done(t[2]), 0);
    CHECK_RC(test_join(t[1]), 0);
    CHECK_RC(test_join(t[2]), 0);
    CHECK_EQ(c.count, 2);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_cancel_release_race(void)
{
    CHECK_RC(test_run_virtual(lock_cancel_release_race_main, NULL), 0);
}

/* A task that holds nothing cannot release; nor can a callback. */
static void release_cb(void *arg)
{
    struct lock_ctx *c = arg;
    c->count = cio_lock_release(c->lock);
}

static int lock_holder(void *arg, void **res)
{
    struct lock_ctx *c = arg;
    CHECK_RC(cio_lock_acquire(c->lock), 0);
    cio_sleep(1);
    CHECK_RC(cio_lock_release(c->lock), 0);
    return 0;
}

static int lock_not_owner_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    cio_task *t = test_spawn(lock_holder, &c);
    test_step(1);
    CHECK_RC(cio_lock_release(c.lock), -EPERM);
    CHECK_RC(cio_call_soon(cio_get_running_loop(), release_cb, &c, NULL), 0);
    test_step(1);
    CHECK_RC(c.count, -EPERM);
    CHECK_EQ(cio_lock_locked(c.lock), 1);
    CHECK_RC(test_join(t), 0);
    CHECK_EQ(cio_lock_locked(c.lock), 0);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_not_owner(void) { CHECK_RC(test_run_virtual(lock_not_owner_main, NULL), 0); }

/* Level-triggered: a cancelled task cannot acquire even a free lock,
 * unless shielded. */
static int lock_cancelled_self(void *arg, void **res)
{
    cio_lock *l = arg;
    cio_task_cancel(cio_current_task(), NULL);
    CHECK_RC(cio_lock_acquire(l), -ECANCELED);
    CHECK_EQ(cio_lock_locked(l), 0);
    cio_shield_begin();
    CHECK_RC(cio_lock_acquire(l), 0);
    CHECK_RC(cio_lock_release(l), 0);
    cio_shield_end();
    return -ECANCELED;
}

static int lock_level_main(void *arg, void **res)
{
    cio_lock *l;
    CHECK_RC(cio_lock_new(NULL, &l), 0);
    CHECK_RC(test_join(test_spawn(lock_cancelled_self, l)), -ECANCELED);
    cio_lock_free(l);
    return 0;
}

static void lock_level(void) { CHECK_RC(test_run_virtual(lock_level_main, NULL), 0); }

/* Any interrupt code is handled the same way: a timeout scope's. */
static int lock_timeout_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    struct lock_arg a[2];
    cio_task *t[2];
    lock_queue_up(&c, a, t, 2, 1);
    cio_task *ta = t[0], *tb = t[1];
    cio__task_interrupt(ta, -ETIMEDOUT);
    test_step(1);
    CHECK_EQ(cio_task_done(ta), 1);
    CHECK_RC(a[0].rc, -ETIMEDOUT);
    CHECK_RC(cio_lock_release(c.lock), 0);
    CHECK_RC(test_join(ta), -ETIMEDOUT); /* lock_worker returns its rc */
    CHECK_RC(test_join(tb), 0);
    CHECK_EQ(c.tr.n, 1);
    CHECK_EQ(c.tr.ev[0], 2);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_timeout(void)
{
    /* lock_worker returns its rc: adapt the expected status. */
    CHECK_RC(test_run_virtual(lock_timeout_main, NULL), 0);
}

/* Freed while a task waits: the waiter fails with CIO_ECLOSED. */
static int lock_free_waiters_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    struct lock_arg a;
    cio_task *t;
    lock_queue_up(&c, &a, &t, 1, 1);
    cio_lock_free(c.lock);
    CHECK_RC(test_join(t), CIO_ECLOSED);
    CHECK_RC(a.rc, CIO_ECLOSED);
    return 0;
}

static void lock_free_waiters(void) { CHECK_RC(test_run_virtual(lock_free_waiters_main, NULL), 0); }

/* An object of one loop used from a task of another. */
static int other_loop_main(void *arg, void **res)
{
    CHECK_RC(cio_lock_acquire(arg), -EINVAL);
    return 0;
}

static void lock_other_loop(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_lock *l;
    CHECK_RC(cio_lock_new(loop, &l), 0);
    CHECK_RC(test_run_virtual(other_loop_main, l), 0);
    cio_lock_free(l);
    cio_loop_close(loop);
    cio_loop_free(loop);
}

/* A loop closed while a task waits on a lock destroys that task; the lock
 * must then no longer reach it (its waiter node was on its stack). */
static int park_on_lock(void *arg, void **res) { return cio_lock_acquire(arg); }

static int close_main(void *arg, void **res)
{
    CHECK_RC(cio_lock_acquire(arg), 0);
    CHECK_RC(cio_create_task(park_on_lock, arg, "parked", NULL), 0);
    cio_sleep(0);
    return 0; /* ends holding the lock, the other task parked in acquire */
}

static void lock_loop_closed(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_lock *l;
    CHECK_RC(cio_lock_new(loop, &l), 0);
    cio_task *m;
    CHECK_RC(cio_loop_create_task(loop, close_main, l, "m", &m), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(m), NULL), 0);
    cio_task_unref(m);
    CHECK_RC(cio_loop_close(loop), 0);
    cio_lock_free(l);
    cio_loop_free(loop);
}

/* ---- allocation failures ---------------------------------------------------- */

/* Every constructor either succeeds or fails with -ENOMEM and no leak;
 * waiting itself never allocates. */
static int alloc_main(void *arg, void **res)
{
    cio_lock *l = NULL;
    cio_event *e = NULL;
    cio_condition *c = NULL;
    cio_semaphore *s = NULL;
    cio_barrier *b = NULL;
    int rc;
    if ((rc = cio_lock_new(NULL, &l)) || (rc = cio_event_new(NULL, &e)) ||
        (rc = cio_condition_new(NULL, NULL, &c)) || (rc = cio_semaphore_new(NULL, 1, &s)) ||
        (rc = cio_barrier_new(NULL, 2, &b))) {
        CHECK_RC(rc, -ENOMEM);
        goto out;
    }
    /* contended waits: no allocation may be needed */
    struct lock_ctx lc = {0};
    lc.lock = l;
    struct lock_arg la = {&lc, 1, 1};
    CHECK_RC(cio_lock_acquire(l), 0);
    cio_task *t = NULL;
    rc = cio_create_task(lock_worker, &la, NULL, &t);
    if (rc) {
        CHECK_RC(rc, -ENOMEM);
        cio_lock_release(l);
        goto out;
    }
    long before = test_alloc_calls();
    cio_sleep(0);
    CHECK_RC(cio_lock_release(l), 0);
    rc = test_join(t);
    CHECK(rc == 0 || rc == -ENOMEM); /* -ENOMEM: its stack */
    if (rc == 0)
        CHECK_EQ(test_alloc_calls(), before);
    rc = 0;
out:
    cio_lock_free(l);
    cio_event_free(e);
    cio_condition_free(c);
    cio_semaphore_free(s);
    cio_barrier_free(b);
    return rc;
}

static int alloc_run(long n, void *arg) { return test_run_virtual(alloc_main, NULL); }

static void alloc_failures(void) { test_alloc_sweep(alloc_run, NULL, 400, TEST_ALLOC_ENOMEM); }

int main(void)
{
    RUN(lock_basic);
    RUN(lock_fifo);
    RUN(lock_acquire_cancel);
    RUN(lock_handoff_cancel);
    RUN(lock_cancel_release_race);
    RUN(lock_not_owner);
    RUN(lock_level);
    RUN(lock_timeout);
    RUN(lock_free_waiters);
    RUN(lock_other_loop);
    RUN(lock_loop_closed);
    RUN(alloc_failures);
    return test_finish();
}
