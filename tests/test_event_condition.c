/*
 * test_event_condition.c - cio_event and cio_condition: asyncio's
 * behaviour, setting from a callback, notify/notify_all order,
 * cancellation of a waiter before and after a notify (no wake-up lost),
 * wait_for with a predicate, misuse (split from test_sync.c).
 *
 * Divided into: event; condition.
 */
#include "sync_util.h"

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
        t[i] = test_spawn(ev_waiter, &a[i]);
    }
    test_step(2);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(a[i].done, 0);
    CHECK_RC(cio_event_set(ev), 0);
    CHECK_EQ(cio_event_is_set(ev), 1);
    /* test_clear_with_waiters: cleared before they run, they still return */
    CHECK_RC(cio_event_clear(ev), 0);
    CHECK_EQ(cio_event_is_set(ev), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
    }
    /* test_wait_on_set */
    CHECK_RC(cio_event_set(ev), 0);
    CHECK_RC(cio_event_set(ev), 0);
    CHECK_RC(cio_event_wait(ev), 0);
    CHECK_RC(cio_event_clear(ev), 0);
    /* test_wait_cancel */
    struct ev_arg c = {ev, 1, 0};
    cio_task *tc = test_spawn(ev_waiter, &c);
    test_step(1);
    cio_task_cancel(tc, NULL);
    CHECK_RC(test_join(tc), 0);
    CHECK_RC(c.rc, -ECANCELED);
    /* Woken by set, then cancelled before running: reports the cancel. */
    struct ev_arg d = {ev, 1, 0};
    cio_task *td = test_spawn(ev_waiter, &d);
    test_step(1);
    cio_event_set(ev);
    cio_task_cancel(td, NULL);
    CHECK_RC(test_join(td), 0);
    CHECK_RC(d.rc, -ECANCELED);
    /* Freed with a waiter. */
    cio_event_clear(ev);
    struct ev_arg e = {ev, 1, 0};
    cio_task *te = test_spawn(ev_waiter, &e);
    test_step(1);
    cio_event_free(ev);
    CHECK_RC(test_join(te), 0);
    CHECK_RC(e.rc, CIO_ECLOSED);
    CHECK_RC(cio_event_set(NULL), -EINVAL);
    CHECK_RC(cio_event_clear(NULL), -EINVAL);
    CHECK_RC(cio_event_wait(NULL), -EINVAL);
    CHECK_RC(cio_event_new(NULL, NULL), -EINVAL);
    return 0;
}

static void event_basic(void) { CHECK_RC(test_run_virtual(event_main, NULL), 0); }

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

static void event_from_callback(void) { CHECK_RC(test_run_virtual(event_cb_main, NULL), 0); }

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
        t[i] = test_spawn(cond_waiter, &a[i]);
    }
    test_step(2);
    CHECK_EQ(c.tr.n, 0);
    CHECK_EQ(cio_condition_locked(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 1), -EPERM); /* unacquired */
    CHECK_RC(cio_condition_notify_all(c.cond), -EPERM);
    CHECK_RC(cio_condition_wait(c.cond), -EPERM);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 1), 1);
    test_step(2);
    CHECK_EQ(c.tr.n, 0); /* woken, but the lock is ours */
    CHECK_RC(cio_condition_release(c.cond), 0);
    test_step(2);
    CHECK_EQ(c.tr.n, 1);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 2), 2);
    CHECK_RC(cio_condition_release(c.cond), 0);
    test_step(3);
    CHECK_EQ(c.tr.n, 3);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify_all(c.cond), 1);
    CHECK_RC(cio_condition_notify_all(c.cond), 0);
    CHECK_RC(cio_condition_release(c.cond), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(test_join(t[i]), 0);
        CHECK_RC(a[i].rc, 0);
        CHECK_EQ(a[i].held_after, 1);
        CHECK_EQ(c.tr.ev[i], i); /* FIFO */
    }
    cio_condition_free(c.cond);
    return 0;
}

static void cond_notify(void) { CHECK_RC(test_run_virtual(cond_notify_main, NULL), 0); }

/* test_wait_cancel: a waiter cancelled while waiting gets the lock back. */
static int cond_wait_cancel_main(void *arg, void **res)
{
    struct cond_ctx c = {0};
    CHECK_RC(cio_condition_new(NULL, NULL, &c.cond), 0);
    struct cond_arg a = {&c, 1, 1, 0};
    cio_task *t = test_spawn(cond_waiter, &a);
    test_step(1);
    CHECK_EQ(cio_condition_locked(c.cond), 0);
    /* Cancelled while the lock is held elsewhere: it waits for the lock. */
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    cio_task_cancel(t, NULL);
    test_step(2);
    CHECK_EQ(cio_task_done(t), 0);
    CHECK_RC(cio_condition_release(c.cond), 0);
    CHECK_RC(test_join(t), 0);
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

static void cond_wait_cancel(void) { CHECK_RC(test_run_virtual(cond_wait_cancel_main, NULL), 0); }

/* Notified, then cancelled before it ran: the notification goes to the
 * next waiter (no wake-up lost), and the cancelled one gets the lock back. */
static int cond_cancel_after_notify_main(void *arg, void **res)
{
    struct cond_ctx c = {0};
    CHECK_RC(cio_condition_new(NULL, NULL, &c.cond), 0);
    struct cond_arg a = {&c, 1, 1, 0}, b = {&c, 2, 1, 0};
    cio_task *ta = test_spawn(cond_waiter, &a), *tb = test_spawn(cond_waiter, &b);
    test_step(1);
    CHECK_RC(cio_condition_acquire(c.cond), 0);
    CHECK_RC(cio_condition_notify(c.cond, 1), 1);
    cio_task_cancel(ta, NULL);
    CHECK_RC(cio_condition_release(c.cond), 0);
    CHECK_RC(test_join(ta), 0);
    CHECK_RC(a.rc, -ECANCELED);
    CHECK_EQ(a.held_after, 1);
    CHECK_RC(test_join(tb), 0);
    CHECK_RC(b.rc, 0);
    CHECK_EQ(c.tr.n, 2);
    cio_condition_free(c.cond);
    return 0;
}

static void cond_cancel_after_notify(void)
{
    CHECK_RC(test_run_virtual(cond_cancel_after_notify_main, NULL), 0);
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
    cio_task *t = test_spawn(cond_wait_for_task, &c);
    for (int i = 0; i < 3; i++) {
        test_step(1);
        CHECK_EQ(c.tr.n, 0);
        CHECK_RC(cio_lock_acquire(lock), 0);
        CHECK_EQ(cio_condition_locked(c.cond), 1);
        c.state++;
        CHECK_RC(cio_condition_notify(c.cond, 1), 1);
        CHECK_RC(cio_lock_release(lock), 0);
    }
    CHECK_RC(test_join(t), 0);
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

static void cond_wait_for(void) { CHECK_RC(test_run_virtual(cond_wait_for_main, NULL), 0); }

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
    cio_task *t = test_spawn(cond_waiter, &a);
    test_step(1);
    cio__task_interrupt(t, -ETIMEDOUT);
    CHECK_RC(test_join(t), 0);
    CHECK_RC(a.rc, -ETIMEDOUT);
    CHECK_EQ(a.held_after, 1);
    /* Freed with a waiter: CIO_ECLOSED, lock not re-acquired. */
    struct cond_arg b = {&cc, 2, 1, 0};
    cio_task *tb = test_spawn(cond_waiter, &b);
    test_step(1);
    cio_condition_free(c);
    test_step(1);
    CHECK_EQ(cio_task_done(tb), 1);
    CHECK_RC(b.rc, CIO_ECLOSED);
    cio_task_unref(tb);
    return 0;
}

static void cond_misc(void) { CHECK_RC(test_run_virtual(cond_misc_main, NULL), 0); }

int main(void)
{
    RUN(event_basic);
    RUN(event_from_callback);
    RUN(cond_notify);
    RUN(cond_wait_cancel);
    RUN(cond_cancel_after_notify);
    RUN(cond_wait_for);
    RUN(cond_misc);
    return test_finish();
}
