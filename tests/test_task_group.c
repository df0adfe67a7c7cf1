/*
 * test_task_group.c - task groups (cio_task_group_*), with what CPython's
 * test_taskgroups.py checks translated to C: success, explicit child
 * cancel, the first failure cancelling siblings and interrupting the
 * parent, parent cancellation, failures winning over cancellation, nested
 * groups, no new task after a failure, every failure reported.
 * All on the virtual clock.
 */
#include "combine_util.h"

/* A child that sleeps, counts its cancellation, and may fail, or fail
 * only when cancelled (test_taskgroup_08's "1 / 0 in except"). */
struct kid {
    double delay;
    int code;          /* returned after the sleep */
    int fail_on_cancel;/* returned instead of -ECANCELED when cancelled */
    int *ncancelled;   /* incremented when its sleep is cancelled */
    int done;
};

static int kid(void *arg, void **result)
{
    struct kid *k = arg;
    int rc = cio_sleep(k->delay);
    k->done = 1;
    if (rc == -ECANCELED) {
        if (k->ncancelled)
            (*k->ncancelled)++;
        return k->fail_on_cancel ? k->fail_on_cancel : rc;
    }
    if (rc)
        return rc;
    *result = (void *)(intptr_t)42;
    return k->code;
}

static int basic_main(void *arg, void **result)
{
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid k1 = {.delay = 1}, k2 = {.delay = 0.2};
    cio_task *t1, *t2;
    CHECK_RC(cio_task_group_create_task(g, kid, &k1, "one", &t1), 0);
    CHECK(strcmp(cio_task_get_name(t1), "one") == 0);
    CHECK_RC(cio_sleep(0.15), 0);
    cio_task_cancel(t1, NULL); /* test_taskgroup_03: no abort */
    CHECK_RC(cio_task_group_create_task(g, kid, &k2, NULL, &t2), 0);
    CHECK_EQ(cio_task_group_pending(g), 2);
    CHECK_RC(cio_task_group_wait(g), 0);
    CHECK_NEAR(now(), 0.35);
    CHECK(cio_task_cancelled(t1));
    void *r;
    CHECK_RC(cio_task_result(t2, &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    CHECK_EQ(cio_task_group_errors(g, NULL, NULL, 0), 0);
    CHECK_EQ(cio_task_group_pending(g), 0);
    /* finished: waiting again returns the same, no new tasks */
    CHECK_RC(cio_task_group_wait(g), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &k2, NULL, NULL), CIO_EINVALSTATE);
    CHECK_RC(cio_task_group_free(g), 0);
    cio_task_unref(t1);
    cio_task_unref(t2);
    /* an empty group */
    CHECK_RC(cio_task_group_new(&g), 0);
    CHECK_RC(cio_task_group_wait(g), 0);
    CHECK_RC(cio_task_group_free(g), 0);
    /* many tasks (compaction of finished ones while creating) */
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid many = {.delay = 0.001};
    for (int i = 0; i < 1000; i++) {
        CHECK_RC(cio_task_group_create_task(g, kid, &many, NULL, NULL), 0);
        if (i % 10 == 0)
            cio_sleep(0.01);
    }
    CHECK_RC(cio_task_group_wait(g), 0);
    CHECK_RC(cio_task_group_free(g), 0);
    return 0;
}

static void test_task_group_basic(void) { run_clean(basic_main); }

/* test_cancel_children_on_child_error / 04 / 09: a child fails while the
 * parent sleeps in its body: siblings cancelled, the parent's sleep
 * interrupted once, the wait reports the failure. */
static int runner_fail(void *arg, void **result)
{
    int *state = arg; /* [0] ncancelled, [1] parent interrupted, [2] NUM */
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid f1 = {.delay = 0.1, .code = -EDOM};
    struct kid f2 = {.delay = 5, .ncancelled = &state[0]};
    cio_task *t1, *t2;
    CHECK_RC(cio_task_group_create_task(g, kid, &f1, NULL, &t1), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &f2, NULL, &t2), 0);
    int rc = cio_sleep(10);
    if (rc == -ECANCELED)
        state[1] = 1;
    CHECK_NEAR(now(), 0.1);
    /* not left cancelled: the parent may still suspend */
    CHECK(!cio_task_cancelling(cio_current_task()));
    CHECK_RC(cio_task_group_create_task(g, kid, &f2, NULL, NULL), CIO_ESHUTDOWN);
    int wrc = cio_task_group_wait(g);
    CHECK_RC(wrc, -EDOM);
    cio_task *ft[4];
    int codes[4];
    CHECK_EQ(cio_task_group_errors(g, ft, codes, 4), 1);
    CHECK(ft[0] == t1);
    CHECK_EQ(codes[0], -EDOM);
    CHECK(cio_task_cancelled(t2));
    cio_task_unref(t1);
    cio_task_unref(t2);
    CHECK_RC(cio_task_group_free(g), 0);
    if (wrc == 0)
        state[2] += 10;
    return wrc;
}

static int fail_main(void *arg, void **result)
{
    int state[3] = {0};
    cio_task *r;
    CHECK_RC(cio_create_task(runner_fail, state, NULL, &r), 0);
    CHECK_RC(cio_task_await(r, NULL), -EDOM);
    CHECK_EQ(state[0], 1);
    CHECK_EQ(state[1], 1);
    CHECK_EQ(state[2], 0);
    cio_task_unref(r);
    return 0;
}

static void test_task_group_fail(void) { run_clean(fail_main); }

/* Several failures: all reported, in order; siblings failing at the same
 * instant as the first still count (test_taskgroup_19's two errors). */
static int multi_main(void *arg, void **result)
{
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid a = {.delay = 1, .code = -EIO}, b = {.delay = 1, .code = -EPIPE},
               c = {.delay = 5, .fail_on_cancel = -EBADMSG}, d = {.delay = 5};
    CHECK_RC(cio_task_group_create_task(g, kid, &a, "a", NULL), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &b, "b", NULL), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &c, "c", NULL), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &d, "d", NULL), 0);
    CHECK_RC(cio_task_group_wait(g), -EIO);
    CHECK_NEAR(now(), 1);
    cio_task *ft[4];
    int codes[4];
    CHECK_EQ(cio_task_group_errors(g, ft, codes, 4), 3);
    CHECK_EQ(codes[0], -EIO);
    CHECK_EQ(codes[1], -EPIPE);
    CHECK_EQ(codes[2], -EBADMSG);
    CHECK(strcmp(cio_task_get_name(ft[2]), "c") == 0);
    CHECK_EQ(cio_task_group_errors(g, ft, NULL, 1), 3); /* cap respected */
    CHECK_RC(cio_task_group_free(g), 0);
    return 0;
}

static void test_task_group_multi(void) { run_clean(multi_main); }

/* test_cancellation / 07 / 08 / 17: the parent is cancelled. */
struct prun {
    int n;             /* children */
    int fail_on_cancel;
    int body_sleep;    /* the parent sleeps in its body first */
    int ncancelled;
    int wrc;
    int body_rc;
    double shielded_unwind; /* one child unwinds slowly */
};

static int slow_unwinder(void *arg, void **result)
{
    double *d = arg;
    int rc = cio_sleep(100);
    cio_shield_begin();
    cio_sleep(*d);
    cio_shield_end();
    return rc;
}

static int parent_runner(void *arg, void **result)
{
    struct prun *p = arg;
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid k = {.delay = 5, .ncancelled = &p->ncancelled, .fail_on_cancel = p->fail_on_cancel};
    for (int i = 0; i < p->n; i++)
        CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, NULL), 0);
    if (p->shielded_unwind > 0)
        CHECK_RC(cio_task_group_create_task(g, slow_unwinder, &p->shielded_unwind, NULL, NULL), 0);
    if (p->body_sleep)
        p->body_rc = cio_sleep(10);
    p->wrc = cio_task_group_wait(g);
    CHECK_EQ(cio_task_group_pending(g), 0);
    CHECK_RC(cio_task_group_free(g), 0);
    return p->wrc;
}

static int cancel_main(void *arg, void **result)
{
    struct prun *p = arg;
    cio_task *r;
    CHECK_RC(cio_create_task(parent_runner, p, NULL, &r), 0);
    CHECK_RC(cio_sleep(0.1), 0);
    CHECK(!cio_task_done(r));
    cio_task_cancel(r, NULL);
    p->wrc = 1;
    cio_task_await(r, NULL);
    cio_task_unref(r);
    return 0;
}

static void test_task_group_cancel(void)
{
    struct prun p = {.n = 5};
    reports = 0;
    double end;
    /* cancelled while in the wait */
    CHECK_RC(run_virtual(cancel_main, &p, &end), 0);
    CHECK_EQ(p.ncancelled, 5);
    CHECK_RC(p.wrc, -ECANCELED);
    /* cancelled in the body: the wait still cancels and waits */
    p = (struct prun){.n = 5, .body_sleep = 1};
    CHECK_RC(run_virtual(cancel_main, &p, &end), 0);
    CHECK_RC(p.body_rc, -ECANCELED);
    CHECK_EQ(p.ncancelled, 5);
    CHECK_RC(p.wrc, -ECANCELED);
    /* a child fails when cancelled: the failure wins (test_taskgroup_08) */
    p = (struct prun){.n = 3, .fail_on_cancel = -EDOM};
    CHECK_RC(run_virtual(cancel_main, &p, &end), 0);
    CHECK_RC(p.wrc, -EDOM);
    /* the wait lasts until the slowest child has unwound */
    p = (struct prun){.n = 2, .shielded_unwind = 3};
    CHECK_RC(run_virtual(cancel_main, &p, &end), 0);
    CHECK_RC(p.wrc, -ECANCELED);
    CHECK_NEAR(end, 3.1);
    CHECK_EQ(reports, 0);
}

/* Nested groups (11-14): the inner group's failure fails the task that
 * waits on it, which fails the outer group. */
struct nest {
    double outer_crash, inner_crash;
    int inner_rc;
};

static int crash_after(void *arg, void **result)
{
    double *t = arg;
    int rc = cio_sleep(*t);
    return rc ? rc : -ERANGE;
}

static int crash_after2(void *arg, void **result)
{
    double *t = arg;
    int rc = cio_sleep(*t);
    return rc ? rc : -EILSEQ;
}

static int nest_runner(void *arg, void **result)
{
    struct nest *n = arg;
    cio_task_group *g1, *g2;
    CHECK_RC(cio_task_group_new(&g1), 0);
    CHECK_RC(cio_task_group_create_task(g1, crash_after, &n->outer_crash, NULL, NULL), 0);
    CHECK_RC(cio_task_group_new(&g2), 0);
    CHECK_RC(cio_task_group_create_task(g2, crash_after2, &n->inner_crash, NULL, NULL), 0);
    n->inner_rc = cio_task_group_wait(g2);
    cio_task_group_free(g2);
    if (n->inner_rc && n->inner_rc != -ECANCELED)
        cio_task_group_cancel(g1); /* as an exception in the body would */
    int rc = cio_task_group_wait(g1);
    cio_task_group_free(g1);
    return rc ? rc : n->inner_rc;
}

static int nest_main(void *arg, void **result)
{
    cio_task *r;
    CHECK_RC(cio_create_task(nest_runner, arg, NULL, &r), 0);
    int rc = cio_task_await(r, NULL);
    cio_task_unref(r);
    return rc;
}

/* A group whose tasks run in a group of their own. */
static int inner_grouped(void *arg, void **result)
{
    int *ncancelled = arg;
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid k = {.delay = 10, .ncancelled = ncancelled};
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, NULL), 0);
    int rc = cio_task_group_wait(g);
    cio_task_group_free(g);
    return rc;
}

static int tree_main(void *arg, void **result)
{
    int ncancelled = 0;
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_task_group_create_task(g, inner_grouped, &ncancelled, NULL, NULL), 0);
    double t = 1;
    CHECK_RC(cio_task_group_create_task(g, crash_after, &t, NULL, NULL), 0);
    CHECK_RC(cio_task_group_wait(g), -ERANGE);
    CHECK_EQ(ncancelled, 6); /* the grandchildren were cancelled too */
    CHECK_NEAR(now(), 1);
    CHECK_RC(cio_task_group_free(g), 0);
    return 0;
}

static void test_task_group_nested(void)
{
    reports = 0;
    struct nest n = {.outer_crash = 0.1, .inner_crash = 10};
    /* 13: the outer group's task crashes first: the parent, waiting on the
     * inner group, is interrupted once: the inner group is cancelled */
    CHECK_RC(run_virtual(nest_main, &n, NULL), -ERANGE);
    CHECK_RC(n.inner_rc, -ECANCELED);
    /* 14: the inner crashes first */
    n = (struct nest){.outer_crash = 10, .inner_crash = 0.1};
    CHECK_RC(run_virtual(nest_main, &n, NULL), -EILSEQ);
    CHECK_RC(n.inner_rc, -EILSEQ);
    CHECK_RC(run_virtual(tree_main, NULL, NULL), 0);
    CHECK_EQ(reports, 0);
}

/* Children add tasks to the group while the parent waits; free without a
 * wait cancels; bad arguments. */
static int spawner(void *arg, void **result)
{
    cio_task_group *g = arg;
    static struct kid k = {.delay = 2};
    CHECK_RC(cio_sleep(1), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, NULL), 0);
    return 0;
}

static int misc_main(void *arg, void **result)
{
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    CHECK_RC(cio_task_group_create_task(g, spawner, g, NULL, NULL), 0);
    CHECK_RC(cio_task_group_wait(g), 0);
    CHECK_NEAR(now(), 3);
    CHECK_RC(cio_task_group_free(g), 0);
    /* freed without a wait: the tasks are cancelled and finish alone */
    CHECK_RC(cio_task_group_new(&g), 0);
    struct kid k = {.delay = 5};
    cio_task *t;
    CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, &t), 0);
    CHECK_RC(cio_sleep(0), 0);
    CHECK_RC(cio_task_group_free(g), 0);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    /* cio_task_group_cancel */
    CHECK_RC(cio_task_group_new(&g), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, NULL), 0);
    CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, NULL), 0);
    CHECK_EQ(cio_task_group_cancel(g), 2);
    CHECK_RC(cio_task_group_create_task(g, kid, &k, NULL, NULL), CIO_ESHUTDOWN);
    CHECK_RC(cio_task_group_wait(g), 0);
    CHECK_RC(cio_task_group_free(g), 0);
    /* errors */
    CHECK_RC(cio_task_group_new(NULL), -EINVAL);
    CHECK_RC(cio_task_group_create_task(NULL, kid, &k, NULL, NULL), -EINVAL);
    CHECK_RC(cio_task_group_new(&g), 0);
    CHECK_RC(cio_task_group_create_task(g, NULL, &k, NULL, NULL), -EINVAL);
    CHECK_RC(cio_task_group_wait(NULL), -EINVAL);
    CHECK_RC(cio_task_group_cancel(NULL), -EINVAL);
    CHECK_EQ(cio_task_group_errors(NULL, NULL, NULL, 0), 0);
    CHECK_RC(cio_task_group_free(NULL), 0);
    CHECK_RC(cio_task_group_free(g), 0);
    /* inside a timeout scope: the scope expiring cancels the group */
    CHECK_RC(cio_task_group_new(&g), 0);
    int nc = 0;
    struct kid k2 = {.delay = 5, .ncancelled = &nc};
    CHECK_RC(cio_task_group_create_task(g, kid, &k2, NULL, NULL), 0);
    cio_timeout *tm;
    double t0 = now();
    CHECK_RC(cio_timeout_begin(1, &tm), 0);
    CHECK_RC(cio_task_group_wait(g), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_NEAR(now() - t0, 1);
    CHECK_EQ(nc, 1);
    CHECK_RC(cio_task_group_free(g), 0);
    return 0;
}

static int not_parent(void *arg, void **result)
{
    CHECK_RC(cio_task_group_wait(arg), -EINVAL);
    return 0;
}

static int misc2_main(void *arg, void **result)
{
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), 0);
    cio_task *t;
    CHECK_RC(cio_create_task(not_parent, g, NULL, &t), 0);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(cio_task_group_free(g), 0);
    return 0;
}

static void test_task_group_misc(void)
{
    reports = 0;
    CHECK_RC(run_virtual(misc_main, NULL, NULL), 0);
    CHECK_RC(run_virtual(misc2_main, NULL, NULL), 0);
    CHECK_EQ(reports, 0);
    cio_task_group *g;
    CHECK_RC(cio_task_group_new(&g), CIO_ENOTASK);
}

int main(void)
{
    RUN(test_task_group_basic);
    RUN(test_task_group_fail);
    RUN(test_task_group_multi);
    RUN(test_task_group_cancel);
    RUN(test_task_group_nested);
    RUN(test_task_group_misc);
    return test_finish();
}
