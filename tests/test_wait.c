/*
 * test_wait.c - cio_wait, cio_wait_for and cio_as_completed, with what
 * CPython's test_tasks.py (wait, as_completed) and test_waitfor.py check,
 * translated to C.  All on the virtual clock.
 */
#include "combine_util.h"

/* ---- wait -------------------------------------------------------------- */

static int wait_main(void *arg, void **result)
{
    struct spec s[3] = {{.delay = 1}, {.delay = 3, .code = -EIO}, {.delay = 2}};
    cio_task *t[3];
    cio_future *f[3];
    spawn(s, 3, t, f);
    uint8_t done[3];
    /* FIRST_COMPLETED: one done, the others pending, nothing cancelled */
    CHECK_RC(cio_wait(f, 3, CIO_FIRST_COMPLETED, -1, done), 1);
    CHECK_NEAR(now(), 1);
    CHECK(done[0] && !done[1] && !done[2]);
    /* really done: returns at once without moving time */
    CHECK_RC(cio_wait(f, 3, CIO_FIRST_COMPLETED, -1, done), 1);
    CHECK_NEAR(now(), 1);
    /* FIRST_EXCEPTION: t[2] succeeds at 2, t[1] fails at 3 */
    CHECK_RC(cio_wait(f, 3, CIO_FIRST_EXCEPTION, -1, done), 3);
    CHECK_NEAR(now(), 3);
    /* ALL_COMPLETED with an error inside: all done */
    CHECK_RC(cio_wait(f, 3, CIO_ALL_COMPLETED, -1, done), 3);
    CHECK(done[0] && done[1] && done[2]);
    /* the failure was not retrieved by wait: read it */
    CHECK_RC(cio_task_result(t[1], NULL), -EIO);
    reap(t, 3);

    /* ALL_COMPLETED: ends at the last */
    struct spec s2[2] = {{.delay = 1}, {.delay = 4}};
    spawn(s2, 2, t, f);
    double t0 = now();
    CHECK_RC(cio_wait(f, 2, CIO_ALL_COMPLETED, -1, NULL), 2);
    CHECK_NEAR(now() - t0, 4);
    reap(t, 2);

    /* timeout: returns what is done, cancels nothing */
    struct spec s3[2] = {{.delay = 1}, {.delay = 10}};
    spawn(s3, 2, t, f);
    t0 = now();
    CHECK_RC(cio_wait(f, 2, CIO_ALL_COMPLETED, 2, done), 1);
    CHECK_NEAR(now() - t0, 2);
    CHECK(done[0] && !done[1]);
    CHECK(!cio_task_cancelling(t[1]));
    /* timeout 0: just look */
    CHECK_RC(cio_wait(f, 2, CIO_ALL_COMPLETED, 0, done), 1);
    CHECK_NEAR(now() - t0, 2);
    CHECK_RC(cio_wait(f, 2, CIO_ALL_COMPLETED, INFINITY, done), 2);
    CHECK_NEAR(now() - t0, 10);
    reap(t, 2);

    /* FIRST_EXCEPTION: a cancelled future does not count, an error does */
    struct spec s4[3] = {{.delay = 5}, {.delay = 2, .code = -EPIPE}, {.delay = 8}};
    spawn(s4, 3, t, f);
    cio_call_later(cio_get_running_loop(), 1, (cio_callback_fn *)(void *)cio_task_cancel, t[0], NULL);
    t0 = now();
    CHECK_RC(cio_wait(f, 3, CIO_FIRST_EXCEPTION, -1, done), 2);
    CHECK_NEAR(now() - t0, 2);
    CHECK(done[0] && done[1] && !done[2]);
    reap(t, 3);

    /* concurrent completion: both done at the same time are reported */
    struct spec s5[3] = {{.delay = 1}, {.delay = 1}, {.delay = 3}};
    spawn(s5, 3, t, f);
    CHECK_RC(cio_wait(f, 3, CIO_FIRST_COMPLETED, -1, done), 2);
    reap(t, 3);

    /* duplicates */
    struct spec s6 = {.delay = 1};
    spawn(&s6, 1, t, f);
    f[1] = f[0];
    CHECK_RC(cio_wait(f, 2, CIO_ALL_COMPLETED, -1, done), 2);
    reap(t, 1);

    /* errors */
    CHECK_RC(cio_wait(f, 0, CIO_ALL_COMPLETED, -1, done), -EINVAL);
    CHECK_RC(cio_wait(f, 1, 7, -1, done), -EINVAL);
    CHECK_RC(cio_wait(f, 1, CIO_ALL_COMPLETED, NAN, done), -EINVAL);
    CHECK_RC(cio_wait(NULL, 1, CIO_ALL_COMPLETED, -1, done), -EINVAL);
    return 0;
}

static void test_wait(void) { run_clean(wait_main); }

struct waiter {
    cio_future **f;
    size_t n;
    int how;
    double timeout;
    int rc;
};

static int waiter(void *arg, void **result)
{
    struct waiter *w = arg;
    w->rc = cio_wait(w->f, w->n, w->how, w->timeout, NULL);
    return w->rc < 0 ? w->rc : 0;
}

static int wait_cancel_main(void *arg, void **result)
{
    /* the waiting task is cancelled: wait returns at once, the futures are
     * not cancelled (asyncio.wait does not cancel them) */
    struct spec s[2] = {{.delay = 3}, {.delay = 4}};
    cio_task *t[2];
    cio_future *f[2];
    spawn(s, 2, t, f);
    struct waiter w = {.f = f, .n = 2, .how = CIO_ALL_COMPLETED, .timeout = 10};
    cio_task *wt;
    CHECK_RC(cio_create_task(waiter, &w, NULL, &wt), 0);
    CHECK_RC(cio_sleep(1), 0);
    cio_task_cancel(wt, NULL);
    CHECK_RC(cio_task_await(wt, NULL), -ECANCELED);
    CHECK_NEAR(now(), 1);
    CHECK_RC(w.rc, -ECANCELED);
    CHECK(!cio_task_cancelling(t[0]) && !cio_task_cancelling(t[1]));
    reap(t, 2);
    CHECK_EQ(s[0].slept, 0);
    cio_task_unref(wt);
    /* inside an expired scope */
    spawn(s, 2, t, f);
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(1, &tm), 0);
    CHECK_RC(cio_wait(f, 2, CIO_FIRST_COMPLETED, -1, NULL), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK(!cio_task_cancelling(t[0]));
    reap(t, 2);
    return 0;
}

static void test_wait_cancel(void)
{
    CHECK_RC(run_virtual(wait_cancel_main, NULL, NULL), 0);
}

/* ---- wait_for ---------------------------------------------------------- */

/* A child that, when cancelled, does something else than unwind at once. */
struct stubborn {
    int mode;        /* 0 result anyway, 1 other error, 2 slow unwind */
    int cancelled;   /* it saw the cancellation */
    double end;
};

static int stubborn(void *arg, void **result)
{
    struct stubborn *s = arg;
    int rc = cio_sleep(10);
    if (rc == 0)
        return 0;
    s->cancelled = 1;
    cio_shield_begin();
    if (s->mode == 2)
        cio_sleep(1); /* cleanup that takes time */
    cio_shield_end();
    s->end = now();
    if (s->mode == 0) {
        *result = (void *)77;
        return 0;
    }
    if (s->mode == 1)
        return -EPROTO;
    return rc;
}

static int wait_for_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    void *r = NULL;
    /* in time */
    struct spec s = {.delay = 1, .value = 5};
    cio_task *t;
    CHECK_RC(cio_create_task(child, &s, NULL, &t), 0);
    CHECK_RC(cio_wait_for(cio_task_future(t), 2, &r), 0);
    CHECK_EQ((intptr_t)r, 5);
    CHECK_NEAR(now(), 1);
    cio_task_unref(t);
    /* timeout: the task is cancelled and awaited */
    struct spec s2 = {.delay = 10};
    CHECK_RC(cio_create_task(child, &s2, NULL, &t), 0);
    double t0 = now();
    CHECK_RC(cio_wait_for(cio_task_future(t), 2, &r), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 2);
    CHECK(cio_task_cancelled(t));
    CHECK_EQ(s2.slept, -ECANCELED);
    cio_task_unref(t);
    /* timeout: waits for a slow unwind */
    struct stubborn st = {.mode = 2};
    CHECK_RC(cio_create_task(stubborn, &st, NULL, &t), 0);
    t0 = now();
    CHECK_RC(cio_wait_for(cio_task_future(t), 1, NULL), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 2);
    CHECK(cio_task_done(t));
    cio_task_unref(t);
    /* timeout with timeout 0 too */
    st.mode = 2;
    CHECK_RC(cio_create_task(stubborn, &st, NULL, &t), 0);
    CHECK_RC(cio_sleep(0), 0); /* let it start */
    t0 = now();
    CHECK_RC(cio_wait_for(cio_task_future(t), 0, NULL), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 1);
    CHECK(cio_task_done(t));
    cio_task_unref(t);
    /* the future ignores the cancellation and returns a result: kept */
    st.mode = 0;
    CHECK_RC(cio_create_task(stubborn, &st, NULL, &t), 0);
    CHECK_RC(cio_wait_for(cio_task_future(t), 1, &r), 0);
    CHECK_EQ((intptr_t)r, 77);
    cio_task_unref(t);
    /* the future fails otherwise during cancellation: that error */
    st.mode = 1;
    CHECK_RC(cio_create_task(stubborn, &st, NULL, &t), 0);
    CHECK_RC(cio_wait_for(cio_task_future(t), 1, &r), -EPROTO);
    cio_task_unref(t);
    /* timeout <= 0 with a future already done: its result */
    cio_future *pf;
    CHECK_RC(cio_future_new(NULL, &pf), 0);
    cio_future_set_result(pf, (void *)3);
    CHECK_RC(cio_wait_for(pf, 0, &r), 0);
    CHECK_EQ((intptr_t)r, 3);
    cio_future_unref(pf);
    /* timeout 0 with a task not started: cancelled without running */
    struct spec s3 = {.delay = 1};
    CHECK_RC(cio_create_task(child, &s3, NULL, &t), 0);
    CHECK_RC(cio_wait_for(cio_task_future(t), 0, NULL), -ETIMEDOUT);
    CHECK(!s3.started);
    CHECK(cio_task_cancelled(t));
    cio_task_unref(t);
    /* plain future, no timeout (-1) */
    CHECK_RC(cio_future_new(NULL, &pf), 0);
    cio_call_later(loop, 1, (cio_callback_fn *)(void *)cio_future_cancel, pf, NULL);
    CHECK_RC(cio_wait_for(pf, -1, NULL), -ECANCELED);
    cio_future_unref(pf);
    /* race: the future completes at the deadline's instant */
    CHECK_RC(cio_future_new(NULL, &pf), 0);
    t0 = now();
    cio_call_later(loop, 1, (cio_callback_fn *)(void *)cio_future_cancel, pf, NULL);
    int rc = cio_wait_for(pf, 1, NULL);
    CHECK(rc == -ECANCELED || rc == -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 1);
    cio_future_unref(pf);
    /* errors */
    CHECK_RC(cio_wait_for(NULL, 1, NULL), -EINVAL);
    CHECK_RC(cio_wait_for(cio_task_future(cio_current_task()), 1, NULL), -EDEADLK);
    CHECK_RC(cio_future_new(NULL, &pf), 0);
    CHECK_RC(cio_wait_for(pf, NAN, NULL), -EINVAL);
    cio_future_unref(pf);
    return 0;
}

static void test_wait_for(void) { run_clean(wait_for_main); }

struct wf {
    cio_future *f;
    double timeout;
    int rc;
};

static int wf_task(void *arg, void **result)
{
    struct wf *w = arg;
    w->rc = cio_wait_for(w->f, w->timeout, NULL);
    return w->rc;
}

static int wait_for_cancel_main(void *arg, void **result)
{
    /* test_cancel_wait_for: the caller is cancelled: the inner task is
     * cancelled and awaited; the caller ends cancelled */
    struct stubborn st = {.mode = 2};
    cio_task *inner, *outer;
    CHECK_RC(cio_create_task(stubborn, &st, NULL, &inner), 0);
    struct wf w = {.f = cio_task_future(inner), .timeout = 5};
    CHECK_RC(cio_create_task(wf_task, &w, NULL, &outer), 0);
    CHECK_RC(cio_sleep(1), 0);
    cio_task_cancel(outer, NULL);
    CHECK_RC(cio_task_await(outer, NULL), -ECANCELED);
    CHECK_NEAR(now(), 2); /* inner's one-second unwind was awaited */
    CHECK(st.cancelled);
    CHECK(cio_task_done(inner));
    cio_task_unref(inner);
    cio_task_unref(outer);
    /* cancelled and timed out at once: the cancellation wins */
    st.mode = 2;
    st.cancelled = 0;
    CHECK_RC(cio_create_task(stubborn, &st, NULL, &inner), 0);
    w.f = cio_task_future(inner);
    w.timeout = 1;
    CHECK_RC(cio_create_task(wf_task, &w, NULL, &outer), 0);
    CHECK_RC(cio_sleep(1.5), 0); /* timed out at 1, inner unwinds till 2 */
    cio_task_cancel(outer, NULL);
    CHECK_RC(cio_task_await(outer, NULL), -ECANCELED);
    cio_task_unref(inner);
    cio_task_unref(outer);
    return 0;
}

static void test_wait_for_cancel(void)
{
    CHECK_RC(run_virtual(wait_for_cancel_main, NULL, NULL), 0);
}

/* ---- as_completed ------------------------------------------------------ */

static int as_completed_main(void *arg, void **result)
{
    struct spec s[4] = {{.delay = 3, .value = 0}, {.delay = 1, .value = 1},
                        {.delay = 2, .value = 2, .code = -EIO}, {.delay = 0.5, .value = 3}};
    cio_task *t[4];
    cio_future *f[4];
    spawn(s, 4, t, f);
    cio_as_completed *ac;
    CHECK_RC(cio_as_completed_new(f, 4, -1, &ac), 0);
    size_t want[4] = {3, 1, 2, 0}, idx;
    cio_future *got;
    for (int k = 0; k < 4; k++) {
        CHECK_RC(cio_as_completed_next(ac, &idx, &got), 1);
        CHECK_EQ(idx, want[k]);
        CHECK(got == f[want[k]]);
        CHECK_NEAR(now(), s[want[k]].delay);
        CHECK_RC(cio_future_result(got, NULL), s[want[k]].code);
    }
    CHECK_RC(cio_as_completed_next(ac, &idx, &got), 0);
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 0);
    CHECK_RC(cio_as_completed_free(ac), 0);
    reap(t, 4);

    /* overall timeout: completed ones first, then -ETIMEDOUT; nothing
     * cancelled; "reverse wait": read after the timeout passed */
    struct spec s2[3] = {{.delay = 1}, {.delay = 5}, {.delay = 0.5}};
    spawn(s2, 3, t, f);
    double t0 = now();
    CHECK_RC(cio_as_completed_new(f, 3, 2, &ac), 0);
    CHECK_RC(cio_sleep(3), 0);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), 1);
    CHECK_EQ(idx, 2);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), 1);
    CHECK_EQ(idx, 0);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), -ETIMEDOUT);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 3);
    CHECK(!cio_task_cancelling(t[1]));
    CHECK_RC(cio_as_completed_free(ac), 0);
    reap(t, 3);

    /* timeout while waiting in next */
    spawn(s2, 3, t, f);
    t0 = now();
    CHECK_RC(cio_as_completed_new(f, 3, 2, &ac), 0);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), 1);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), 1);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 2);
    CHECK_RC(cio_as_completed_free(ac), 0);
    reap(t, 3);

    /* unused timeout: everything in time */
    spawn(s2, 3, t, f);
    CHECK_RC(cio_as_completed_new(f, 3, 100, &ac), 0);
    for (int k = 0; k < 3; k++)
        CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 1);
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 0);
    CHECK_RC(cio_as_completed_free(ac), 0);
    reap(t, 3);

    /* concurrent + already done + duplicates + empty */
    struct spec s3[2] = {{.delay = 1}, {.delay = 1}};
    spawn(s3, 2, t, f);
    cio_future *pf;
    CHECK_RC(cio_future_new(NULL, &pf), 0);
    cio_future_set_result(pf, NULL);
    cio_future *g[4] = {f[0], f[1], pf, f[0]};
    CHECK_RC(cio_as_completed_new(g, 4, -1, &ac), 0);
    CHECK_RC(cio_as_completed_next(ac, &idx, NULL), 1);
    CHECK_EQ(idx, 2);
    int n = 0;
    while (cio_as_completed_next(ac, &idx, NULL) == 1)
        n++;
    CHECK_EQ(n, 3);
    CHECK_RC(cio_as_completed_free(ac), 0);
    cio_future_unref(pf);
    reap(t, 2);
    CHECK_RC(cio_as_completed_new(NULL, 0, -1, &ac), 0);
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 0);
    CHECK_RC(cio_as_completed_free(ac), 0);

    /* freed before the futures complete: they run on, not cancelled */
    spawn(s3, 2, t, f);
    CHECK_RC(cio_as_completed_new(f, 2, 0.5, &ac), 0);
    CHECK_RC(cio_as_completed_free(ac), 0);
    reap(t, 2);
    CHECK_EQ(s3[0].slept, 0);

    /* errors */
    CHECK_RC(cio_as_completed_new(f, 1, -1, NULL), -EINVAL);
    CHECK_RC(cio_as_completed_new(NULL, 1, -1, &ac), -EINVAL);
    CHECK_RC(cio_as_completed_new(f, 0, NAN, &ac), -EINVAL);
    CHECK_RC(cio_as_completed_next(NULL, NULL, NULL), -EINVAL);
    CHECK_RC(cio_as_completed_free(NULL), 0);
    return 0;
}

static void test_as_completed(void) { run_clean(as_completed_main); }

struct acw {
    cio_as_completed *ac;
    int rc;
};

static int ac_waiter(void *arg, void **result)
{
    struct acw *a = arg;
    a->rc = cio_as_completed_next(a->ac, NULL, NULL);
    return a->rc < 0 ? a->rc : 0;
}

static int as_completed_cancel_main(void *arg, void **result)
{
    struct spec s[2] = {{.delay = 2}, {.delay = 3}};
    cio_task *t[2];
    cio_future *f[2];
    spawn(s, 2, t, f);
    cio_as_completed *ac;
    CHECK_RC(cio_as_completed_new(f, 2, -1, &ac), 0);
    struct acw a = {.ac = ac};
    cio_task *w;
    CHECK_RC(cio_create_task(ac_waiter, &a, NULL, &w), 0);
    CHECK_RC(cio_sleep(1), 0);
    /* a second waiter is refused; freeing while one waits too */
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), -EBUSY);
    CHECK_RC(cio_as_completed_free(ac), -EBUSY);
    cio_task_cancel(w, NULL);
    CHECK_RC(cio_task_await(w, NULL), -ECANCELED);
    CHECK_RC(a.rc, -ECANCELED);
    cio_task_unref(w);
    /* the iterator still works; nothing was lost */
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 1);
    CHECK_NEAR(now(), 2);
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 1);
    CHECK_RC(cio_as_completed_next(ac, NULL, NULL), 0);
    CHECK_RC(cio_as_completed_free(ac), 0);
    reap(t, 2);
    return 0;
}

static void test_as_completed_cancel(void)
{
    CHECK_RC(run_virtual(as_completed_cancel_main, NULL, NULL), 0);
}

int main(void)
{
    RUN(test_wait);
    RUN(test_wait_cancel);
    RUN(test_wait_for);
    RUN(test_wait_for_cancel);
    RUN(test_as_completed);
    RUN(test_as_completed_cancel);
    return test_finish();
}
