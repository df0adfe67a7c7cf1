/*
 * test_sync.c - Lock, Event, Condition, Semaphore, BoundedSemaphore and
 * Barrier: asyncio's behaviour (translated from CPython's
 * Lib/test/test_asyncio/test_locks.py where it applies), FIFO order,
 * errors, cancellation of a waiter at every step (nothing left held, no
 * wake-up lost), interrupts with -ETIMEDOUT, and allocation failures.
 * Timed waits run on the virtual clock.
 *
 * Divided into: helpers; lock; event; condition; semaphore; barrier;
 * cancellation at every step; allocation failures.
 */
#include "test.h"
#include "task/task.h"

/* ---- helpers ---------------------------------------------------------- */

/* Runs fn(arg) as the main task of a fresh loop with the virtual clock. */
static int run_main(cio_coro_fn *fn, void *arg)
{
    cio_loop *loop;
    int rc = cio_loop_new(&loop);
    if (rc)
        return rc;
    cio_loop_set_virtual_clock(loop, 1);
    rc = cio_run_loop(loop, fn, arg, NULL);
    cio_loop_free(loop);
    return rc;
}

static cio_task *spawn(cio_coro_fn *fn, void *arg)
{
    cio_task *t = NULL;
    CHECK_RC(cio_create_task(fn, arg, NULL, &t), 0);
    return t;
}

/* Awaits t, releases it, returns its status. */
static int finish(cio_task *t)
{
    int rc = cio_task_await(t, NULL);
    cio_task_release(t);
    return rc;
}

/* Lets the other ready tasks run n times. */
static void step(int n)
{
    for (int i = 0; i < n; i++)
        cio_sleep(0);
}

/* A record of the order in which tasks did something. */
struct trace {
    int ev[64];
    int n;
};

static void trace_add(struct trace *tr, int v)
{
    if (tr->n < 64)
        tr->ev[tr->n++] = v;
}

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
    CHECK_RC(run_main(lock_basic_main, NULL), 0);
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

static int lock_fifo_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    CHECK_RC(cio_lock_acquire(c.lock), 0);
    struct lock_arg a[6];
    cio_task *t[6];
    for (int i = 0; i < 5; i++) {
        a[i] = (struct lock_arg){&c, i, 1};
        t[i] = spawn(lock_worker, &a[i]);
    }
    step(1); /* all five queue up */
    CHECK_RC(cio_lock_release(c.lock), 0);
    /* Handed to worker 0 already: a newcomer must queue behind 1..4. */
    CHECK_EQ(cio_lock_locked(c.lock), 1);
    a[5] = (struct lock_arg){&c, 5, 1};
    t[5] = spawn(lock_worker, &a[5]);
    for (int i = 0; i < 6; i++)
        CHECK_RC(finish(t[i]), 0);
    CHECK_EQ(c.tr.n, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(c.tr.ev[i], i);
    CHECK_EQ(cio_lock_locked(c.lock), 0);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_fifo(void) { CHECK_RC(run_main(lock_fifo_main, NULL), 0); }

/* test_acquire_cancel: a cancelled waiter leaves no trace. */
static int lock_acquire_cancel_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    CHECK_RC(cio_lock_acquire(c.lock), 0);
    struct lock_arg a = {&c, 1, 1};
    cio_task *t = spawn(lock_worker, &a);
    step(1);
    CHECK_EQ(cio_task_cancel(t, NULL), 1);
    CHECK_RC(finish(t), -ECANCELED);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_RC(cio_lock_release(c.lock), 0);
    CHECK_EQ(cio_lock_locked(c.lock), 0); /* nobody was waiting any more */
    cio_lock_free(c.lock);
    return 0;
}

static void lock_acquire_cancel(void) { CHECK_RC(run_main(lock_acquire_cancel_main, NULL), 0); }

/* The lock is handed to B, then B is cancelled before it runs: B fails,
 * C gets the lock (the brief's "pass it on"); test_finished_waiter_cancelled
 * and test_cancel_race are variants of it. */
static int lock_handoff_cancel_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    CHECK_RC(cio_lock_acquire(c.lock), 0);
    struct lock_arg b = {&c, 1, 1}, d = {&c, 2, 1};
    cio_task *tb = spawn(lock_worker, &b), *td = spawn(lock_worker, &d);
    step(1);
    CHECK_RC(cio_lock_release(c.lock), 0); /* owner: B, not yet run */
    CHECK_EQ(cio_task_cancel(tb, NULL), 1);
    CHECK_RC(finish(tb), -ECANCELED);
    CHECK_RC(b.rc, -ECANCELED);
    CHECK_RC(finish(td), 0);
    CHECK_EQ(c.tr.n, 1);
    CHECK_EQ(c.tr.ev[0], 2);
    CHECK_EQ(cio_lock_locked(c.lock), 0);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_handoff_cancel(void) { CHECK_RC(run_main(lock_handoff_cancel_main, NULL), 0); }

/* test_cancel_release_race: cancel the first waiter and release at once:
 * exactly one task gets the lock. */
static int lock_cancel_release_race_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    CHECK_RC(cio_lock_acquire(c.lock), 0);
    struct lock_arg a[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (struct lock_arg){&c, i, 1};
        t[i] = spawn(lock_worker, &a[i]);
    }
    step(1);
    cio_task_cancel(t[0], NULL);
    CHECK_RC(cio_lock_release(c.lock), 0);
    CHECK_RC(finish(t[0]), -ECANCELED);
    CHECK_EQ(c.count, 1); /* only t1 holds it */
    CHECK_EQ(cio_task_done(t[2]), 0);
    CHECK_RC(finish(t[1]), 0);
    CHECK_RC(finish(t[2]), 0);
    CHECK_EQ(c.count, 2);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_cancel_release_race(void)
{
    CHECK_RC(run_main(lock_cancel_release_race_main, NULL), 0);
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
    cio_task *t = spawn(lock_holder, &c);
    step(1);
    CHECK_RC(cio_lock_release(c.lock), -EPERM);
    CHECK_RC(cio_call_soon(cio_get_running_loop(), release_cb, &c, NULL), 0);
    step(1);
    CHECK_RC(c.count, -EPERM);
    CHECK_EQ(cio_lock_locked(c.lock), 1);
    CHECK_RC(finish(t), 0);
    CHECK_EQ(cio_lock_locked(c.lock), 0);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_not_owner(void) { CHECK_RC(run_main(lock_not_owner_main, NULL), 0); }

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
    CHECK_RC(finish(spawn(lock_cancelled_self, l)), -ECANCELED);
    cio_lock_free(l);
    return 0;
}

static void lock_level(void) { CHECK_RC(run_main(lock_level_main, NULL), 0); }

/* Any interrupt code is handled the same way: a timeout scope's. */
static int lock_timeout_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    CHECK_RC(cio_lock_acquire(c.lock), 0);
    struct lock_arg a = {&c, 1, 1}, b = {&c, 2, 1};
    cio_task *ta = spawn(lock_worker, &a), *tb = spawn(lock_worker, &b);
    step(1);
    cio__task_interrupt(ta, -ETIMEDOUT);
    step(1);
    CHECK_EQ(cio_task_done(ta), 1);
    CHECK_RC(a.rc, -ETIMEDOUT);
    CHECK_RC(cio_lock_release(c.lock), 0);
    CHECK_RC(finish(ta), -ETIMEDOUT); /* lock_worker returns its rc */
    CHECK_RC(finish(tb), 0);
    CHECK_EQ(c.tr.n, 1);
    CHECK_EQ(c.tr.ev[0], 2);
    cio_lock_free(c.lock);
    return 0;
}

static void lock_timeout(void)
{
    /* lock_worker returns its rc: adapt the expected status. */
    CHECK_RC(run_main(lock_timeout_main, NULL), 0);
}

/* Freed while a task waits: the waiter fails with CIO_ECLOSED. */
static int lock_free_waiters_main(void *arg, void **res)
{
    struct lock_ctx c = {0};
    CHECK_RC(cio_lock_new(NULL, &c.lock), 0);
    CHECK_RC(cio_lock_acquire(c.lock), 0);
    struct lock_arg a = {&c, 1, 1};
    cio_task *t = spawn(lock_worker, &a);
    step(1);
    cio_lock_free(c.lock);
    CHECK_RC(finish(t), CIO_ECLOSED);
    CHECK_RC(a.rc, CIO_ECLOSED);
    return 0;
}

static void lock_free_waiters(void) { CHECK_RC(run_main(lock_free_waiters_main, NULL), 0); }

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
    CHECK_RC(run_main(other_loop_main, l), 0);
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
    cio_task_release(m);
    CHECK_RC(cio_loop_close(loop), 0);
    cio_lock_free(l);
    cio_loop_free(loop);
}

/* ---- event ----------------------------------------------------------- */

struct ev_arg {
    cio_event *ev;
    int rc;
    int done;
};

static int ev_waiter(void *arg, void **res)
{
    struct ev_arg *a = arg;
    a->rc = cio_event_wait(a->ev);
    a->done = 1;
    return 0;
}

static int event_main(void *arg, void **res)
{
    cio_event *ev;
    CHECK_RC(cio_event_new(NULL, &ev), 0);
    CHECK_EQ(cio_event_is_set(ev), 0);
    struct ev_arg a[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (struct ev_arg){ev, 1, 0};
        t[i] = spawn(ev_waiter, &a[i]);
    }
    step(2);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(a[i].done, 0);
    CHECK_RC(cio_event_set(ev), 0);
    CHECK_EQ(cio_event_is_set(ev), 1);
    /* test_clear_with_waiters: cleared before they run, they still return */
    CHECK_RC(cio_event_clear(ev), 0);
    CHECK_EQ(cio_event_is_set(ev), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
    }
    /* test_wait_on_set */
    CHECK_RC(cio_event_set(ev), 0);
    CHECK_RC(cio_event_set(ev), 0);
    CHECK_RC(cio_event_wait(ev), 0);
    CHECK_RC(cio_event_clear(ev), 0);
    /* test_wait_cancel */
    struct ev_arg c = {ev, 1, 0};
    cio_task *tc = spawn(ev_waiter, &c);
    step(1);
    cio_task_cancel(tc, NULL);
    CHECK_RC(finish(tc), 0);
    CHECK_RC(c.rc, -ECANCELED);
    /* Woken by set, then cancelled before running: reports the cancel. */
    struct ev_arg d = {ev, 1, 0};
    cio_task *td = spawn(ev_waiter, &d);
    step(1);
    cio_event_set(ev);
    cio_task_cancel(td, NULL);
    CHECK_RC(finish(td), 0);
    CHECK_RC(d.rc, -ECANCELED);
    /* Freed with a waiter. */
    cio_event_clear(ev);
    struct ev_arg e = {ev, 1, 0};
    cio_task *te = spawn(ev_waiter, &e);
    step(1);
    cio_event_free(ev);
    CHECK_RC(finish(te), 0);
    CHECK_RC(e.rc, CIO_ECLOSED);
    CHECK_RC(cio_event_set(NULL), -EINVAL);
    CHECK_RC(cio_event_clear(NULL), -EINVAL);
    CHECK_RC(cio_event_wait(NULL), -EINVAL);
    CHECK_RC(cio_event_new(NULL, NULL), -EINVAL);
    return 0;
}

static void event_basic(void) { CHECK_RC(run_main(event_main, NULL), 0); }

/* set() from a loop callback wakes a task. */
static void set_cb(void *ev) { cio_event_set(ev); }

static int event_cb_main(void *arg, void **res)
{
    cio_event *ev;
    CHECK_RC(cio_event_new(NULL, &ev), 0);
    CHECK_RC(cio_call_later(cio_get_running_loop(), 5.0, set_cb, ev, NULL), 0);
    double t0 = cio_loop_time(cio_get_running_loop());
    CHECK_RC(cio_event_wait(ev), 0);
    CHECK(cio_loop_time(cio_get_running_loop()) - t0 >= 5.0);
    cio_event_free(ev);
    return 0;
}

static void event_from_callback(void) { CHECK_RC(run_main(event_cb_main, NULL), 0); }

/* ---- condition --------------------------------------------------------- */

struct cond_ctx {
    cio_condition *cond;
    struct trace tr;
    int state;
};

struct cond_arg {
    struct cond_ctx *c;
    int id;
    int rc;
    int held_after; /* lock held by this task when wait returned */
};

static int cond_waiter(void *arg, void **res)
{
    struct cond_arg *a = arg;
    CHECK_RC(cio_condition_acquire(a->c->cond), 0);
    a->rc = cio_condition_wait(a->c->cond);
    if (a->rc == CIO_ECLOSED)
        return 0; /* the condition is gone */
    a->held_after = cio_condition_locked(a->c->cond);
    trace_add(&a->c->tr, a->id);
    /* release must succeed: the task holds the lock again */
    CHECK_RC(cio_condition_release(a->c->cond), 0);
    return 0;
}

static int cond_notify_main(void *arg, void **res)
{
    struct cond_ctx c = {0};
    CHECK_RC(cio_condition_new(NULL, NULL, &c.cond), 0);
    struct cond_arg a[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct cond_arg){&c, i, 1, 0};
        t[i] = spawn(cond_waiter, &a[i]);
    }
    step(2);
    CHECK_EQ(c.tr.n, 0);
    CHECK_EQ(cio_condition_locked(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 1), -EPERM); /* unacquired */
    CHECK_RC(cio_condition_notify_all(c.cond), -EPERM);
    CHECK_RC(cio_condition_wait(c.cond), -EPERM);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 1), 1);
    step(2);
    CHECK_EQ(c.tr.n, 0); /* woken, but the lock is ours */
    CHECK_RC(cio_condition_release(c.cond), 0);
    step(2);
    CHECK_EQ(c.tr.n, 1);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 2), 2);
    CHECK_RC(cio_condition_release(c.cond), 0);
    step(3);
    CHECK_EQ(c.tr.n, 3);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify_all(c.cond), 1);
    CHECK_RC(cio_condition_notify_all(c.cond), 0);
    CHECK_RC(cio_condition_release(c.cond), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
        CHECK_EQ(a[i].held_after, 1);
        CHECK_EQ(c.tr.ev[i], i); /* FIFO */
    }
    cio_condition_free(c.cond);
    return 0;
}

static void cond_notify(void) { CHECK_RC(run_main(cond_notify_main, NULL), 0); }

/* test_wait_cancel: a waiter cancelled while waiting gets the lock back. */
static int cond_wait_cancel_main(void *arg, void **res)
{
    struct cond_ctx c = {0};
    CHECK_RC(cio_condition_new(NULL, NULL, &c.cond), 0);
    struct cond_arg a = {&c, 1, 1, 0};
    cio_task *t = spawn(cond_waiter, &a);
    step(1);
    CHECK_EQ(cio_condition_locked(c.cond), 0);
    /* Cancelled while the lock is held elsewhere: it waits for the lock. */
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    cio_task_cancel(t, NULL);
    step(2);
    CHECK_EQ(cio_task_done(t), 0);
    CHECK_RC(cio_condition_release(c.cond), 0);
    CHECK_RC(finish(t), 0);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_EQ(a.held_after, 1);
    CHECK_EQ(cio_condition_locked(c.cond), 0);
    /* Nobody is left waiting. */
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify_all(c.cond), 0);
    CHECK_RC(cio_condition_release(c.cond), 0);
    cio_condition_free(c.cond);
    return 0;
}

static void cond_wait_cancel(void) { CHECK_RC(run_main(cond_wait_cancel_main, NULL), 0); }

/* Notified, then cancelled before it ran: the notification goes to the
 * next waiter (no wake-up lost), and the cancelled one gets the lock back. */
static int cond_cancel_after_notify_main(void *arg, void **res)
{
    struct cond_ctx c = {0};
    CHECK_RC(cio_condition_new(NULL, NULL, &c.cond), 0);
    struct cond_arg a = {&c, 1, 1, 0}, b = {&c, 2, 1, 0};
    cio_task *ta = spawn(cond_waiter, &a), *tb = spawn(cond_waiter, &b);
    step(1);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 1), 1);
    cio_task_cancel(ta, NULL);
    CHECK_RC(cio_condition_release(c.cond), 0);
    CHECK_RC(finish(ta), 0);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_EQ(a.held_after, 1);
    CHECK_RC(finish(tb), 0);
    CHECK_RC(b.rc, 0);
    CHECK_EQ(c.tr.n, 2);
    cio_condition_free(c.cond);
    return 0;
}

static void cond_cancel_after_notify(void)
{
    CHECK_RC(run_main(cond_cancel_after_notify_main, NULL), 0);
}

/* test_wait_for, with an explicit lock (test_explicit_lock). */
static int pred_state(void *ud) { return ((struct cond_ctx *)ud)->state >= 3 ? 7 : 0; }

static int cond_wait_for_task(void *arg, void **res)
{
    struct cond_ctx *c = arg;
    CHECK_RC(cio_condition_acquire(c->cond), 0);
    int rc = cio_condition_wait_for(c->cond, pred_state, c);
    trace_add(&c->tr, c->state);
    trace_add(&c->tr, rc);
    CHECK_RC(cio_condition_release(c->cond), 0);
    return 0;
}

static int cond_wait_for_main(void *arg, void **res)
{
    struct cond_ctx c = {0};
    cio_lock *lock;
    CHECK_RC(cio_lock_new(NULL, &lock), 0);
    CHECK_RC(cio_condition_new(NULL, lock, &c.cond), 0);
    CHECK_RC(cio_condition_wait_for(c.cond, pred_state, &c), -EPERM);
    CHECK_RC(cio_condition_wait_for(c.cond, NULL, &c), -EINVAL);
    cio_task *t = spawn(cond_wait_for_task, &c);
    for (int i = 0; i < 3; i++) {
        step(1);
        CHECK_EQ(c.tr.n, 0);
        CHECK_RC(cio_lock_acquire(lock), 0);
        CHECK_EQ(cio_condition_locked(c.cond), 1);
        c.state++;
        CHECK_RC(cio_condition_notify(c.cond, 1), 1);
        CHECK_RC(cio_lock_release(lock), 0);
    }
    CHECK_RC(finish(t), 0);
    CHECK_EQ(c.tr.n, 2);
    CHECK_EQ(c.tr.ev[0], 3);
    CHECK_EQ(c.tr.ev[1], 7); /* wait_for returns the predicate's value */
    /* Already true: returns at once. */
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_wait_for(c.cond, pred_state, &c), 7);
    CHECK_RC(cio_condition_release(c.cond), 0);
    cio_condition_free(c.cond);
    CHECK_EQ(cio_lock_locked(lock), 0);
    cio_lock_free(lock); /* not owned by the condition */
    return 0;
}

static void cond_wait_for(void) { CHECK_RC(run_main(cond_wait_for_main, NULL), 0); }

static int cond_misc_main(void *arg, void **res)
{
    cio_condition *c;
    CHECK_RC(cio_condition_new(NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_condition_wait(NULL), -EINVAL);
    CHECK_RC(cio_condition_notify(NULL, 1), -EINVAL);
    CHECK_RC(cio_condition_acquire(NULL), -EINVAL);
    CHECK_RC(cio_condition_release(NULL), -EINVAL);
    /* Interrupted with -ETIMEDOUT while waiting: lock held again. */
    struct cond_ctx cc = {0};
    CHECK_RC(cio_condition_new(NULL, NULL, &c), 0);
    cc.cond = c;
    struct cond_arg a = {&cc, 1, 1, 0};
    cio_task *t = spawn(cond_waiter, &a);
    step(1);
    cio__task_interrupt(t, -ETIMEDOUT);
    CHECK_RC(finish(t), 0);
    CHECK_RC(a.rc, -ETIMEDOUT);
    CHECK_EQ(a.held_after, 1);
    /* Freed with a waiter: CIO_ECLOSED, lock not re-acquired. */
    struct cond_arg b = {&cc, 2, 1, 0};
    cio_task *tb = spawn(cond_waiter, &b);
    step(1);
    cio_condition_free(c);
    step(1);
    CHECK_EQ(cio_task_done(tb), 1);
    CHECK_RC(b.rc, CIO_ECLOSED);
    cio_task_release(tb);
    return 0;
}

static void cond_misc(void) { CHECK_RC(run_main(cond_misc_main, NULL), 0); }

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

static void sem_basic(void) { CHECK_RC(run_main(sem_basic_main, NULL), 0); }

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
        t[i] = spawn(sem_twice, &a[i]);
    }
    for (int i = 0; i < 3; i++)
        CHECK_RC(finish(t[i]), 0);
    int want[] = {11, 21, 31, 12, 22, 32};
    CHECK_EQ(tr.n, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(tr.ev[i], want[i]);
    cio_semaphore_free(s);
    return 0;
}

static void sem_fifo(void) { CHECK_RC(run_main(sem_fifo_main, NULL), 0); }

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
        t[i] = spawn(sem_worker, &a[i]);
    }
    step(1);
    cio_task_cancel(t[0], NULL);
    cio_task_cancel(t[1], NULL);
    CHECK_RC(cio_semaphore_release(s), 0);
    step(2);
    CHECK_EQ(cio_task_done(t[2]), 1);
    CHECK_EQ(cio_task_done(t[3]), 0);
    CHECK_RC(a[0].rc, -ECANCELED);
    CHECK_RC(a[1].rc, -ECANCELED);
    CHECK_RC(a[2].rc, 0);
    CHECK_EQ(cio_semaphore_locked(s), 1);
    CHECK_RC(cio_semaphore_release(s), 0);
    for (int i = 0; i < 4; i++)
        CHECK_RC(finish(t[i]), 0);
    CHECK_EQ(tr.n, 2);
    CHECK_EQ(tr.ev[0], 3);
    CHECK_EQ(tr.ev[1], 4);
    CHECK_EQ(cio_semaphore_value(s), 0);
    cio_semaphore_free(s);
    return 0;
}

static void sem_cancel(void) { CHECK_RC(run_main(sem_cancel_main, NULL), 0); }

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
    cio_task *ta = spawn(sem_worker, &a), *tb = spawn(sem_worker, &b);
    step(1);
    CHECK_RC(cio_semaphore_release(s), 0); /* to a */
    cio_task_cancel(ta, NULL);
    CHECK_RC(finish(ta), 0);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_RC(finish(tb), 0);
    CHECK_RC(b.rc, 0);
    CHECK_EQ(cio_semaphore_value(s), 1); /* b released: count restored */
    CHECK_RC(cio_semaphore_acquire(s), 0);
    struct sem_arg c = {s, &tr, 3, 1, 1};
    cio_task *tc = spawn(sem_worker, &c);
    step(1);
    CHECK_RC(cio_semaphore_release(s), 0);
    cio_task_cancel(tc, NULL);
    CHECK_RC(finish(tc), 0);
    CHECK_RC(c.rc, -ECANCELED);
    CHECK_EQ(cio_semaphore_value(s), 1);
    CHECK_RC(cio_semaphore_release(s), -EINVAL); /* still bounded */
    cio_semaphore_free(s);
    return 0;
}

static void sem_handoff_cancel(void) { CHECK_RC(run_main(sem_handoff_cancel_main, NULL), 0); }

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
    cio_task *t1 = spawn(f2_c1, &f), *t2 = spawn(f2_c2, &f), *t3 = spawn(f2_c3, &f);
    step(1);
    CHECK_RC(cio_semaphore_release(f.sem), 0);
    CHECK_RC(cio_semaphore_release(f.sem), 0);
    CHECK_RC(finish(t1), 0);
    CHECK_RC(finish(t2), 0);
    CHECK_RC(finish(t3), 0);
    CHECK_EQ(tr.n, 4);
    CHECK_EQ(tr.ev[0], 1);
    CHECK_EQ(tr.ev[1], 2);
    cio_semaphore_free(f.sem);
    return 0;
}

static void sem_fifo2(void) { CHECK_RC(run_main(sem_fifo2_main, NULL), 0); }

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
        t[i] = spawn(bar_worker, &a[i]);
    }
    for (int i = 0; i < 3; i++)
        CHECK_RC(finish(t[i]), 0);
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

static void barrier_basic(void) { CHECK_RC(run_main(barrier_main, NULL), 0); }

/* test_filling_tasks_cancel_one. */
static int barrier_cancel_main(void *arg, void **res)
{
    cio_barrier *b;
    CHECK_RC(cio_barrier_new(NULL, 3, &b), 0);
    struct bar_arg a[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        a[i] = (struct bar_arg){b, 1, {0}, 1};
    t[0] = spawn(bar_worker, &a[0]);
    step(1);
    CHECK_EQ(cio_barrier_n_waiting(b), 1);
    t[1] = spawn(bar_worker, &a[1]);
    step(1);
    CHECK_EQ(cio_barrier_n_waiting(b), 2);
    cio_task_cancel(t[0], NULL);
    CHECK_EQ(cio_barrier_n_waiting(b), 1);
    CHECK_RC(finish(t[0]), 0);
    CHECK_RC(a[0].rc, -ECANCELED);
    t[2] = spawn(bar_worker, &a[2]);
    step(1);
    CHECK_EQ(cio_barrier_n_waiting(b), 2);
    t[3] = spawn(bar_worker, &a[3]);
    for (int i = 1; i < 4; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
    }
    CHECK_EQ(cio_barrier_n_waiting(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 0);
    cio_barrier_free(b);
    return 0;
}

static void barrier_cancel(void) { CHECK_RC(run_main(barrier_cancel_main, NULL), 0); }

/* test_abort_barrier, test_reset_barrier_while_tasks_waiting. */
static int barrier_abort_main(void *arg, void **res)
{
    cio_barrier *b;
    CHECK_RC(cio_barrier_new(NULL, 3, &b), 0);
    struct bar_arg a[2];
    cio_task *t[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (struct bar_arg){b, 1, {0}, 1};
        t[i] = spawn(bar_worker, &a[i]);
    }
    step(1);
    CHECK_RC(cio_barrier_reset(b), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(a[i].rc, CIO_EBROKEN);
    }
    CHECK_EQ(cio_barrier_broken(b), 0);
    CHECK_EQ(cio_barrier_n_waiting(b), 0);
    /* usable again after reset */
    for (int i = 0; i < 2; i++) {
        a[i] = (struct bar_arg){b, 1, {0}, 1};
        t[i] = spawn(bar_worker, &a[i]);
    }
    step(1);
    CHECK_RC(cio_barrier_wait(b), 2);
    for (int i = 0; i < 2; i++) {
        CHECK_RC(finish(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
    }
    /* abort: waiters and later arrivals fail until reset */
    a[0] = (struct bar_arg){b, 1, {0}, 1};
    t[0] = spawn(bar_worker, &a[0]);
    step(1);
    CHECK_RC(cio_barrier_abort(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 1);
    CHECK_RC(finish(t[0]), 0);
    CHECK_RC(a[0].rc, CIO_EBROKEN);
    CHECK_RC(cio_barrier_wait(b), CIO_EBROKEN);
    CHECK_RC(cio_barrier_reset(b), 0);
    CHECK_EQ(cio_barrier_broken(b), 0);
    /* freed with a waiter */
    a[0] = (struct bar_arg){b, 1, {0}, 1};
    t[0] = spawn(bar_worker, &a[0]);
    step(1);
    cio_barrier_free(b);
    CHECK_RC(finish(t[0]), 0);
    CHECK_RC(a[0].rc, CIO_ECLOSED);
    CHECK_RC(cio_barrier_wait(NULL), -EINVAL);
    CHECK_RC(cio_barrier_abort(NULL), -EINVAL);
    CHECK_RC(cio_barrier_reset(NULL), -EINVAL);
    return 0;
}

static void barrier_abort(void) { CHECK_RC(run_main(barrier_abort_main, NULL), 0); }

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
    cio_task *victim = spawn(scen_worker, &s);
    cio_task *o[3];
    for (int i = 0; i < 3; i++)
        o[i] = spawn(scen_other, &s);
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
    int vrc = finish(victim);
    for (int i = 0; i < 3; i++)
        CHECK_RC(finish(o[i]), 0);
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

/* Same for the barrier: the victim arrives first, the others later; a
 * victim cancelled before the round completes leaves it (n_waiting drops)
 * and a replacement completes it; nobody is left waiting. */
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
        t[i] = spawn(bar_late_worker, &w[i]);
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
        t[3] = spawn(bar_late_worker, &w[3]);
    } else {
        CHECK(w[0].a.rc == 0 || (k == 2 && w[0].a.rc == -ECANCELED));
    }
    for (int i = 0; i < 4; i++) {
        if (!t[i])
            continue;
        if (i == 0)
            cio_task_release(t[i]);
        else {
            CHECK_RC(finish(t[i]), 0);
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
        CHECK_RC(run_main(bar_scen_main, &k), 0);
}

/* ---- allocation failures ---------------------------------------------------- */

static long alloc_count, alloc_fail_at;

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (++alloc_count == alloc_fail_at)
        return NULL;
    return realloc(ptr, size);
}

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
    long before = alloc_count;
    cio_sleep(0);
    CHECK_RC(cio_lock_release(l), 0);
    rc = finish(t);
    CHECK(rc == 0 || rc == -ENOMEM); /* -ENOMEM: its stack */
    if (rc == 0)
        CHECK_EQ(alloc_count, before);
    rc = 0;
out:
    cio_lock_free(l);
    cio_event_free(e);
    cio_condition_free(c);
    cio_semaphore_free(s);
    cio_barrier_free(b);
    return rc;
}

static void alloc_failures(void)
{
    int ok = 0;
    for (long n = 1; n < 400 && !ok; n++) {
        alloc_count = 0;
        alloc_fail_at = n;
        CHECK_RC(cio_set_allocator(failing_alloc, NULL), 0);
        int rc = run_main(alloc_main, NULL);
        CHECK(rc == 0 || rc == -ENOMEM);
        ok = rc == 0 && alloc_count < n; /* no failure was injected */
        cio_set_allocator(NULL, NULL);
    }
    CHECK(ok);
}

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
    RUN(event_basic);
    RUN(event_from_callback);
    RUN(cond_notify);
    RUN(cond_wait_cancel);
    RUN(cond_cancel_after_notify);
    RUN(cond_wait_for);
    RUN(cond_misc);
    RUN(sem_basic);
    RUN(sem_fifo);
    RUN(sem_fifo2);
    RUN(sem_cancel);
    RUN(sem_handoff_cancel);
    RUN(barrier_basic);
    RUN(barrier_cancel);
    RUN(barrier_abort);
    RUN(cancel_every_step);
    RUN(barrier_cancel_every_step);
    RUN(alloc_failures);
    return test_finish();
}
