/*
 * test_gather.c - cio_gather and cio_shield, with what CPython's
 * test_tasks.py checks for gather() and shield() translated to C: order of
 * results, the first error, return_exceptions, a cancelled child, the
 * cancellation broadcast, duplicates, empty input, exception marking; and
 * shield's result, error, inner/outer cancellation, shortcut and effect.
 * All on the virtual clock.
 */
#include "combine_util.h"
#include "task/task.h" /* to check no callback is left behind */

/* ---- gather ------------------------------------------------------------ */

static int gather_success_main(void *arg, void **result)
{
    /* Completion order 2, 0, 1; results must come in submission order. */
    struct spec s[3] = {{.delay = 2, .value = 10}, {.delay = 3, .value = 11}, {.delay = 1, .value = 12}};
    cio_task *t[3];
    cio_future *f[3];
    spawn(s, 3, t, f);
    void *res[3];
    int st[3];
    CHECK_RC(cio_gather(f, 3, 0, res, st), 0);
    CHECK_NEAR(now(), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ((intptr_t)res[i], 10 + i);
        CHECK_EQ(st[i], 0);
    }
    reap(t, 3);
    return 0;
}

static void test_gather_success(void) { run_clean(gather_success_main); }

static int gather_one_error_main(void *arg, void **result)
{
    struct spec s[3] = {{.delay = 1, .value = 1}, {.delay = 2, .code = -EIO}, {.delay = 5, .value = 3}};
    cio_task *t[3];
    cio_future *f[3];
    spawn(s, 3, t, f);
    void *res[3];
    int st[3];
    /* asyncio: the first error is raised at once; the others keep running. */
    CHECK_RC(cio_gather(f, 3, 0, res, st), -EIO);
    CHECK_NEAR(now(), 2);
    CHECK_EQ(st[0], 0);
    CHECK_EQ((intptr_t)res[0], 1);
    CHECK_EQ(st[1], -EIO);
    CHECK(res[1] == NULL);
    CHECK_EQ(st[2], CIO_PENDING);
    CHECK(!cio_task_done(t[2]));
    CHECK(!cio_task_cancelling(t[2]));
    void *r = NULL;
    CHECK_RC(cio_task_await(t[2], &r), 0);
    CHECK_EQ((intptr_t)r, 3);
    CHECK_NEAR(now(), 5);
    reap(t, 3);
    return 0;
}

static void test_gather_one_error(void)
{
    reports = 0;
    CHECK_RC(run_virtual(gather_one_error_main, NULL, NULL), 0);
    CHECK_EQ(reports, 0); /* gather retrieved the failure */
}

static int gather_return_errors_main(void *arg, void **result)
{
    struct spec s[4] = {{.delay = 3, .code = -EIO},
                        {.delay = 1, .value = 7},
                        {.delay = 2, .code = -EPIPE},
                        {.delay = 10}};
    cio_task *t[4];
    cio_future *f[4];
    spawn(s, 4, t, f);
    cio_task_cancel(t[3], NULL); /* a cancelled child: its status in place */
    void *res[4];
    int st[4];
    CHECK_RC(cio_gather(f, 4, CIO_GATHER_RETURN_ERRORS, res, st), 0);
    CHECK_NEAR(now(), 3);
    CHECK_EQ(st[0], -EIO);
    CHECK_EQ(st[1], 0);
    CHECK_EQ((intptr_t)res[1], 7);
    CHECK_EQ(st[2], -EPIPE);
    CHECK_EQ(st[3], -ECANCELED);
    CHECK(!cio_task_cancelled(cio_current_task()));
    CHECK(strcmp(cio_task_error_message(t[0]), "child failed on purpose") == 0);
    reap(t, 4);
    return 0;
}

static void test_gather_return_errors(void) { run_clean(gather_return_errors_main); }

static int gather_one_cancellation_main(void *arg, void **result)
{
    /* asyncio test_one_cancellation: a child cancelled is "raised" by
     * gather, but the gathering task itself is not cancelled. */
    struct spec s[3] = {{.delay = 1}, {.delay = 5}, {.delay = 3}};
    cio_task *t[3];
    cio_future *f[3];
    spawn(s, 3, t, f);
    cio_task *canceller;
    struct spec cs = {.delay = 2};
    CHECK_RC(cio_create_task(child, &cs, NULL, &canceller), 0);
    int st[3];
    /* cancel t[1] at time 2 from a callback */
    cio_handle *h;
    CHECK_RC(cio_call_later(cio_get_running_loop(), 2, (cio_callback_fn *)(void *)cio_task_cancel, t[1], &h), 0);
    CHECK_RC(cio_gather(f, 3, 0, NULL, st), -ECANCELED);
    CHECK_NEAR(now(), 2);
    CHECK(!cio_task_cancelling(cio_current_task()));
    CHECK_EQ(st[0], 0);
    CHECK_EQ(st[1], -ECANCELED);
    CHECK_EQ(st[2], CIO_PENDING);
    CHECK_RC(cio_sleep(0), 0); /* still free to suspend */
    cio_handle_unref(h);
    reap(t, 3);
    reap(&canceller, 1);
    return 0;
}

static void test_gather_one_cancellation(void) { run_clean(gather_one_cancellation_main); }

struct gatherer {
    cio_future **f;
    size_t n;
    int flags;
    int rc;
    int st[4];
    double end;
};

static int gatherer(void *arg, void **result)
{
    struct gatherer *g = arg;
    g->rc = cio_gather(g->f, g->n, g->flags, NULL, g->st);
    g->end = now();
    return g->rc;
}

static int gather_cancel_main(void *arg, void **result)
{
    int flags = (int)(intptr_t)arg;
    /* asyncio test_cancellation_broadcast: cancelling the gathering task
     * cancels every child; gather waits until they have unwound (child 2
     * shields itself until time 4). */
    struct spec s[3] = {{.delay = 1, .value = 1}, {.delay = 10}, {.delay = 10, .shielded = 4}};
    cio_task *t[3];
    cio_future *f[3];
    spawn(s, 3, t, f);
    struct gatherer g = {.f = f, .n = 3, .flags = flags};
    cio_task *gt;
    CHECK_RC(cio_create_task(gatherer, &g, "gatherer", &gt), 0);
    CHECK_RC(cio_sleep(2), 0);
    CHECK_EQ(cio_task_cancel(gt, "stop"), 1);
    CHECK_RC(cio_task_await(gt, NULL), -ECANCELED);
    CHECK_RC(g.rc, -ECANCELED);
    CHECK_NEAR(g.end, 4); /* waited for the shielded child */
    CHECK_EQ(g.st[0], 0);
    CHECK_EQ(g.st[1], -ECANCELED);
    CHECK_EQ(g.st[2], -ECANCELED);
    for (int i = 0; i < 3; i++)
        CHECK(cio_task_done(t[i]));
    CHECK(strcmp(cio_task_error_message(gt), "stop") == 0);
    cio_task_unref(gt);
    reap(t, 3);
    return 0;
}

static void test_gather_cancel_broadcast(void)
{
    reports = 0;
    CHECK_RC(run_virtual(gather_cancel_main, (void *)(intptr_t)0, NULL), 0);
    CHECK_RC(run_virtual(gather_cancel_main, (void *)(intptr_t)CIO_GATHER_RETURN_ERRORS, NULL), 0);
    CHECK_EQ(reports, 0);
}

static int gather_misc_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    /* empty */
    CHECK_RC(cio_gather(NULL, 0, 0, NULL, NULL), 0);
    /* duplicates: the same future twice */
    struct spec s = {.delay = 1, .value = 5};
    cio_task *t;
    CHECK_RC(cio_create_task(child, &s, NULL, &t), 0);
    cio_future *f[3] = {cio_task_future(t), cio_task_future(t), cio_task_future(t)};
    void *res[3];
    CHECK_RC(cio_gather(f, 3, 0, res, NULL), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ((intptr_t)res[i], 5);
    /* all done already: no suspension (the clock does not move, nothing
     * else runs) */
    double t0 = now();
    CHECK_RC(cio_gather(f, 3, 0, res, NULL), 0);
    CHECK_NEAR(now(), t0);
    /* plain futures completed from a callback */
    cio_future *pf[2];
    CHECK_RC(cio_future_new(NULL, &pf[0]), 0);
    CHECK_RC(cio_future_new(NULL, &pf[1]), 0);
    cio_call_later(loop, 1, (cio_callback_fn *)(void *)cio_future_cancel, pf[1], NULL);
    int st[2];
    CHECK_RC(cio_future_set_result(pf[0], (void *)9), 0);
    CHECK_RC(cio_gather(pf, 2, CIO_GATHER_RETURN_ERRORS, res, st), 0);
    CHECK_EQ((intptr_t)res[0], 9);
    CHECK_EQ(st[1], -ECANCELED);
    /* a failure already done at entry ends a fail-fast gather at once */
    cio_future *ef[2];
    CHECK_RC(cio_future_new(NULL, &ef[0]), 0);
    CHECK_RC(cio_future_new(NULL, &ef[1]), 0);
    CHECK_RC(cio_future_set_error(ef[1], -EIO, "bad"), 0);
    CHECK_RC(cio_gather(ef, 2, 0, NULL, st), -EIO);
    CHECK_EQ(st[0], CIO_PENDING);
    CHECK(!cio_future_done(ef[0]));
    CHECK_EQ(ef[0]->ncbs + (ef[0]->cb0.fn != NULL), 0); /* no callback left */
    cio_future_cancel(ef[0], NULL);
    /* bad arguments */
    cio_future *nul[1] = {NULL};
    CHECK_RC(cio_gather(NULL, 1, 0, NULL, NULL), -EINVAL);
    CHECK_RC(cio_gather(nul, 1, 0, NULL, NULL), -EINVAL);
    CHECK_RC(cio_gather(pf, 2, 0x100, NULL, NULL), -EINVAL);
    cio_future *self[1] = {cio_task_future(cio_current_task())};
    CHECK_RC(cio_gather(self, 1, 0, NULL, NULL), -EDEADLK);
    cio_loop *other;
    CHECK_RC(cio_loop_new(&other), 0);
    cio_future *of;
    CHECK_RC(cio_future_new(other, &of), 0);
    CHECK_RC(cio_gather(&of, 1, 0, NULL, NULL), -EINVAL);
    cio_future_unref(of);
    cio_loop_free(other);
    /* a cancelled task's gather returns at once, with no side effect */
    cio_future *lf;
    CHECK_RC(cio_future_new(NULL, &lf), 0);
    cio_task_cancel(cio_current_task(), NULL);
    CHECK_RC(cio_gather(&lf, 1, 0, NULL, NULL), -ECANCELED);
    CHECK(!cio_future_done(lf));
    cio_future_unref(lf);
    for (int i = 0; i < 2; i++) {
        cio_future_unref(pf[i]);
        cio_future_unref(ef[i]);
    }
    cio_task_unref(t);
    return 0;
}

static void test_gather_misc(void) { run_clean(gather_misc_main); }

static void test_gather_outside_task(void)
{
    CHECK_RC(cio_gather(NULL, 0, 0, NULL, NULL), CIO_ENOTASK);
}

/* test_cancel_gather_2: a task looping over gather(sleep) with
 * return_exceptions, cancelled from outside: the cancellation propagates. */
static int gather_loop(void *arg, void **result)
{
    for (;;) {
        struct spec s = {.delay = 0.05};
        cio_task *t;
        int rc = cio_create_task(child, &s, NULL, &t);
        if (rc)
            return rc;
        cio_future *f = cio_task_future(t);
        rc = cio_gather(&f, 1, CIO_GATHER_RETURN_ERRORS, NULL, NULL);
        CHECK(cio_task_done(t));
        cio_task_unref(t);
        if (rc)
            return rc;
    }
}

static int cancel_gather_2_main(void *arg, void **result)
{
    cio_task *t;
    CHECK_RC(cio_create_task(gather_loop, NULL, NULL, &t), 0);
    CHECK_RC(cio_sleep(0.2), 0);
    cio_task_cancel(t, "my message");
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    CHECK(strcmp(cio_task_error_message(t), "my message") == 0);
    cio_task_unref(t);
    return 0;
}

static void test_cancel_gather_2(void) { run_clean(cancel_gather_2_main); }

/* gather inside an expired timeout scope: children cancelled, -ETIMEDOUT. */
static int gather_timeout_main(void *arg, void **result)
{
    struct spec s[2] = {{.delay = 1}, {.delay = 5}};
    cio_task *t[2];
    cio_future *f[2];
    spawn(s, 2, t, f);
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(2, &tm), 0);
    int st[2];
    CHECK_RC(cio_gather(f, 2, CIO_GATHER_RETURN_ERRORS, NULL, st), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_NEAR(now(), 2);
    CHECK_EQ(st[0], 0);
    CHECK_EQ(st[1], -ECANCELED);
    reap(t, 2);
    return 0;
}

static void test_gather_timeout(void)
{
    CHECK_RC(run_virtual(gather_timeout_main, NULL, NULL), 0);
}

/* Many children: counts, order, no leaks. */
static int empty_child(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int gather_many_main(void *arg, void **result)
{
    enum { N = 10000 };
    cio_task **t = malloc(N * sizeof *t);
    cio_future **f = malloc(N * sizeof *f);
    void **res = malloc(N * sizeof *res);
    for (intptr_t i = 0; i < N; i++) {
        CHECK_RC(cio_create_task(empty_child, (void *)i, NULL, &t[i]), 0);
        f[i] = cio_task_future(t[i]);
    }
    CHECK_RC(cio_gather(f, N, 0, res, NULL), 0);
    int bad = 0;
    for (intptr_t i = 0; i < N; i++) {
        bad += (intptr_t)res[i] != i;
        cio_task_unref(t[i]);
    }
    CHECK_EQ(bad, 0);
    free(t);
    free(f);
    free(res);
    return 0;
}

static void test_gather_many(void)
{
    CHECK_RC(run_virtual(gather_many_main, NULL, NULL), 0);
}

/* ---- shield ------------------------------------------------------------ */

static int shield_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    /* result */
    cio_future *inner, *outer;
    CHECK_RC(cio_future_new(NULL, &inner), 0);
    CHECK_RC(cio_shield(inner, &outer), 0);
    CHECK(outer != inner);
    CHECK_RC(cio_future_set_result(inner, (void *)42), 0);
    void *r = NULL;
    CHECK_RC(cio_await(outer, &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    cio_future_unref(outer);
    /* shortcut: a done inner comes back itself */
    CHECK_RC(cio_shield(inner, &outer), 0);
    CHECK(outer == inner);
    cio_future_unref(outer);
    cio_future_unref(inner);
    /* error */
    CHECK_RC(cio_future_new(NULL, &inner), 0);
    CHECK_RC(cio_shield(inner, &outer), 0);
    CHECK_RC(cio_future_set_error(inner, -EPIPE, "pipe"), 0);
    CHECK_RC(cio_await(outer, NULL), -EPIPE);
    CHECK(strcmp(cio_future_error_message(outer), "pipe") == 0);
    cio_future_unref(outer);
    cio_future_unref(inner); /* retrieved through the shield */
    /* cancel inner -> outer cancelled */
    CHECK_RC(cio_future_new(NULL, &inner), 0);
    CHECK_RC(cio_shield(inner, &outer), 0);
    cio_future_cancel(inner, NULL);
    CHECK_RC(cio_await(outer, NULL), -ECANCELED);
    CHECK(cio_future_cancelled(outer));
    cio_future_unref(outer);
    cio_future_unref(inner);
    /* cancel outer -> inner untouched, completes later */
    CHECK_RC(cio_future_new(NULL, &inner), 0);
    CHECK_RC(cio_shield(inner, &outer), 0);
    CHECK_EQ(cio_future_cancel(outer, NULL), 1);
    CHECK_RC(cio_sleep(0), 0);
    CHECK(!cio_future_done(inner));
    CHECK_RC(cio_future_set_result(inner, (void *)1), 0);
    CHECK_RC(cio_sleep(0), 0);
    CHECK(cio_future_cancelled(outer));
    cio_future_unref(outer);
    cio_future_unref(inner);
    /* both callbacks scheduled before either runs */
    CHECK_RC(cio_future_new(NULL, &inner), 0);
    CHECK_RC(cio_shield(inner, &outer), 0);
    cio_future_cancel(outer, NULL);
    cio_future_set_result(inner, NULL);
    cio_future_unref(outer);
    cio_future_unref(inner);
    CHECK_RC(cio_sleep(0), 0);
    /* released before anything completes: the link keeps both alive */
    CHECK_RC(cio_future_new(NULL, &inner), 0);
    CHECK_RC(cio_shield(inner, &outer), 0);
    cio_future_unref(outer);
    cio_call_later(loop, 1, (cio_callback_fn *)(void *)cio_future_set_result, inner, NULL);
    CHECK_RC(cio_sleep(2), 0);
    /* bad arguments */
    CHECK_RC(cio_shield(NULL, &outer), -EINVAL);
    CHECK_RC(cio_shield(inner, NULL), -EINVAL);
    cio_future_unref(inner);
    return 0;
}

static void test_shield(void) { run_clean(shield_main); }

/* test_shield_effect: a task awaiting a shielded task is cancelled; the
 * shielded task runs on to its end.  Also gather(shield(x)) and
 * shield(gather) equivalents. */
struct awaiter {
    cio_future *f;
    int rc;
};

static int awaiter(void *arg, void **result)
{
    struct awaiter *a = arg;
    a->rc = cio_await(a->f, NULL);
    return a->rc;
}

static int shield_effect_main(void *arg, void **result)
{
    struct spec s = {.delay = 3, .value = 8};
    cio_task *inner;
    CHECK_RC(cio_create_task(child, &s, NULL, &inner), 0);
    cio_future *outer;
    CHECK_RC(cio_shield(cio_task_future(inner), &outer), 0);
    struct awaiter a = {.f = outer};
    cio_task *w;
    CHECK_RC(cio_create_task(awaiter, &a, NULL, &w), 0);
    CHECK_RC(cio_sleep(1), 0);
    cio_task_cancel(w, NULL);
    CHECK_RC(cio_task_await(w, NULL), -ECANCELED);
    CHECK_NEAR(now(), 1);
    CHECK(cio_future_cancelled(outer));
    CHECK(!cio_task_done(inner));
    void *r;
    CHECK_RC(cio_task_await(inner, &r), 0);
    CHECK_EQ((intptr_t)r, 8);
    CHECK_NEAR(now(), 3);
    cio_future_unref(outer);
    cio_task_unref(w);
    cio_task_unref(inner);
    /* gather of shielded children: cancelling the gatherer leaves them */
    struct spec s2[2] = {{.delay = 2, .value = 1}, {.delay = 2, .value = 2}};
    cio_task *t[2];
    cio_future *f[2], *sh[2];
    spawn(s2, 2, t, f);
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_shield(f[i], &sh[i]), 0);
    struct gatherer g = {.f = sh, .n = 2};
    cio_task *gt;
    CHECK_RC(cio_create_task(gatherer, &g, NULL, &gt), 0);
    CHECK_RC(cio_sleep(1), 0);
    cio_task_cancel(gt, NULL);
    CHECK_RC(cio_task_await(gt, NULL), -ECANCELED);
    CHECK(!cio_task_done(t[0]) && !cio_task_done(t[1]));
    reap(t, 2);
    CHECK_EQ(s2[0].slept, 0);
    CHECK_EQ(s2[1].slept, 0);
    for (int i = 0; i < 2; i++)
        cio_future_unref(sh[i]);
    cio_task_unref(gt);
    return 0;
}

static void test_shield_effect(void) { run_clean(shield_effect_main); }

int main(void)
{
    RUN(test_gather_success);
    RUN(test_gather_one_error);
    RUN(test_gather_return_errors);
    RUN(test_gather_one_cancellation);
    RUN(test_gather_cancel_broadcast);
    RUN(test_gather_misc);
    RUN(test_gather_outside_task);
    RUN(test_cancel_gather_2);
    RUN(test_gather_timeout);
    RUN(test_gather_many);
    RUN(test_shield);
    RUN(test_shield_effect);
    return test_finish();
}
