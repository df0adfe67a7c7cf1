/*
 * test_combine_faults.c - the combinators under systematic faults
 * (DESIGN.md section 8): one scenario uses each combinator in turn, and is
 *   1. cancelled at every half second of its (virtual) run, which hits
 *      each of its suspension points in turn, and before it starts;
 *   2. run inside a timeout scope ending at each of those instants;
 *   3. run with the Nth allocation failing, for every N until it passes.
 * Each run must end with the right code, leave no task running, lose no
 * failure (no "never retrieved" report), and leak nothing (ASan).
 */
#include "combine_util.h"

/* Tasks the scenario spawned, so that it can always reap them. */
struct sc {
    cio_task *t[16];
    size_t n;
    int strict;          /* check values (not under allocation faults) */
};

static int sc_spawn(struct sc *sc, struct spec *s, size_t n, cio_future **f)
{
    for (size_t i = 0; i < n; i++) {
        int rc = cio_create_task(child, &s[i], NULL, &sc->t[sc->n]);
        if (rc)
            return rc;
        f[i] = cio_task_future(sc->t[sc->n++]);
    }
    return 0;
}

/* Cancels what is left, waits (shielded) until all are done, reads and
 * releases them.  Waits with await, which allocates nothing here; should
 * it fail (injected -ENOMEM), yields once and tries again. */
static void sc_reap(struct sc *sc)
{
    cio_shield_begin();
    for (size_t i = 0; i < sc->n; i++) {
        cio_task *t = sc->t[i];
        if (!cio_task_done(t))
            cio_task_cancel(t, NULL);
        while (!cio_task_done(t))
            if (cio_task_await(t, NULL) == -ENOMEM && !cio_task_done(t))
                cio_sleep(0);
        cio_task_result(t, NULL);
        cio_task_unref(t);
    }
    sc->n = 0;
    cio_shield_end();
}

#define STEP(call)                      \
    do {                                \
        rc = (call);                    \
        if (rc < 0)                     \
            goto out;                   \
    } while (0)

static int scenario(void *arg, void **result)
{
    struct sc *sc = arg;
    int rc;
    cio_future *f[4];
    uint8_t done[4];
    /* gather: 0 .. 3 */
    struct spec g[3] = {{.delay = 1, .value = 1}, {.delay = 3, .value = 2}, {.delay = 2, .value = 3}};
    void *res[3];
    STEP(sc_spawn(sc, g, 3, f));
    STEP(cio_gather(f, 3, 0, res, NULL));
    if (sc->strict)
        CHECK_EQ((intptr_t)res[1], 2);
    sc_reap(sc);
    /* wait: 3 .. 5 */
    struct spec w[2] = {{.delay = 1}, {.delay = 2}};
    STEP(sc_spawn(sc, w, 2, f));
    STEP(cio_wait(f, 2, CIO_FIRST_COMPLETED, -1, done));
    if (sc->strict)
        CHECK(done[0] && !done[1]);
    STEP(cio_wait(f, 2, CIO_ALL_COMPLETED, 10, done));
    sc_reap(sc);
    /* wait_for with a timeout: 5 .. 6 */
    struct spec wf = {.delay = 10};
    STEP(sc_spawn(sc, &wf, 1, f));
    rc = cio_wait_for(f[0], 1, NULL);
    if (rc != -ETIMEDOUT)
        goto out;
    STEP(cio_checkpoint()); /* the harness's own scope may have fired */
    sc_reap(sc);
    /* as_completed: 6 .. 8 */
    struct spec ac[2] = {{.delay = 2}, {.delay = 1}};
    STEP(sc_spawn(sc, ac, 2, f));
    cio_as_completed *it;
    STEP(cio_as_completed_new(f, 2, 5, &it));
    size_t idx;
    while ((rc = cio_as_completed_next(it, &idx, NULL)) == 1)
        if (sc->strict)
            CHECK_EQ(cio_future_result(f[idx], NULL), 0);
    cio_as_completed_free(it);
    STEP(rc);
    sc_reap(sc);
    /* a timeout scope that fires: 8 .. 9 */
    cio_timeout *tm;
    STEP(cio_timeout_begin(1, &tm));
    int src = cio_sleep(5);
    int erc = cio_timeout_end(tm);
    /* Level-triggered: a cancellation, or an outer scope that fired, is
     * still there to see after this scope has ended. */
    STEP(cio_checkpoint());
    if (src != -ETIMEDOUT || erc != -ETIMEDOUT) {
        rc = src < 0 ? src : -EPROTO;
        goto out;
    }
    /* task group: 9 .. 10 */
    cio_task_group *tg;
    STEP(cio_task_group_new(&tg));
    struct spec k = {.delay = 1};
    for (int i = 0; i < 3 && (rc = cio_task_group_create_task(tg, child, &k, NULL, NULL)) == 0; i++)
        ;
    if (rc < 0)
        cio_task_group_cancel(tg);
    int wrc = cio_task_group_wait(tg);
    cio_task_group_free(tg);
    STEP(rc);
    STEP(wrc);
    /* shield: 10 .. 11 */
    struct spec sh = {.delay = 1, .value = 9};
    STEP(sc_spawn(sc, &sh, 1, f));
    cio_future *outer;
    STEP(cio_shield(f[0], &outer));
    void *r = NULL;
    rc = cio_await(outer, &r);
    cio_future_unref(outer);
    if (rc < 0)
        goto out;
    if (sc->strict)
        CHECK_EQ((intptr_t)r, 9);
    rc = 0;
out:
    sc_reap(sc);
    return rc;
}

#define SCENARIO_END 11.0

struct harness {
    double at;          /* cancel (or time out) the scenario at this time;
                           -1: cancel before it starts; -2: never */
    int by_timeout;     /* use a timeout scope instead of cancel */
    int strict;
    int rc;             /* the scenario's status */
    int left;           /* tasks other than main left when it ended */
};

static int timed_scenario(void *arg, void **result)
{
    struct harness *h = arg;
    struct sc sc = {.strict = h->strict};
    cio_timeout *tm;
    int rc = cio_timeout_begin(h->at, &tm);
    if (rc)
        return rc;
    rc = scenario(&sc, result);
    int trc = cio_timeout_end(tm);
    return rc ? rc : trc;
}

static int harness_main(void *arg, void **result)
{
    struct harness *h = arg;
    struct sc sc = {.strict = h->strict};
    cio_task *t;
    int rc = h->by_timeout ? cio_create_task(timed_scenario, h, "scenario", &t)
                           : cio_create_task(scenario, &sc, "scenario", &t);
    if (rc)
        return rc;
    if (!h->by_timeout && h->at != -2) {
        if (h->at > 0)
            cio_sleep(h->at);
        cio_task_cancel(t, NULL);
    }
    cio_shield_begin();
    while (!cio_task_done(t))
        if (cio_task_await(t, NULL) == -ENOMEM && !cio_task_done(t))
            cio_sleep(0);
    cio_shield_end();
    h->rc = cio_task_result(t, NULL);
    cio_task_unref(t);
    h->left = (int)cio_all_tasks(NULL, NULL, 0) - 1;
    return 0;
}

static void test_cancel_each_point(void)
{
    for (int i = -1; i <= 2 * (int)SCENARIO_END + 2; i++) {
        double at = i < 0 ? -1 : i * 0.5;
        struct harness h = {.at = at, .strict = 1};
        reports = 0;
        double end;
        CHECK_RC(run_virtual(harness_main, &h, &end), 0);
        if (at <= SCENARIO_END) {
            if (h.rc != -ECANCELED)
                fprintf(stderr, "  cancel at %.1f\n", at);
            CHECK_RC(h.rc, -ECANCELED);
            CHECK(end <= (at < 0 ? 0 : at) + 1e-6);
        } else {
            CHECK_RC(h.rc, 0);
            CHECK_NEAR(end, at); /* the harness slept until then */
        }
        CHECK_EQ(h.left, 0);
        CHECK_EQ(reports, 0);
    }
}

static void test_timeout_each_point(void)
{
    for (double at = 0; at <= SCENARIO_END + 1; at += 0.5) {
        struct harness h = {.at = at, .by_timeout = 1, .strict = 1};
        reports = 0;
        double end;
        CHECK_RC(run_virtual(harness_main, &h, &end), 0);
        if (at <= SCENARIO_END) {
            if (h.rc != -ETIMEDOUT)
                fprintf(stderr, "  timeout at %.1f\n", at);
            CHECK_RC(h.rc, -ETIMEDOUT);
            CHECK(end <= at + 1e-6);
        } else {
            CHECK_RC(h.rc, 0);
        }
        CHECK_EQ(h.left, 0);
        CHECK_EQ(reports, 0);
    }
}

/* ---- a loop closed while tasks wait in combinators ---------------------- */

/* The loop is closed with the task still parked in a combinator whose
 * state lives on the task's stack: the children's futures complete (as
 * cancelled) during the close and their callbacks must find that state
 * intact (ASan checks).  (wait and wait_for are left out: a destroyed
 * frame leaks what it holds, here their timer handle and reference.) */
static int parked(void *arg, void **result)
{
    int which = (int)(intptr_t)arg;
    static struct spec s[2] = {{.delay = 10}, {.delay = 20}};
    cio_future *f[2];
    for (int i = 0; i < 2; i++) {
        cio_task *t;
        CHECK_RC(cio_create_task(child, &s[i], NULL, &t), 0);
        f[i] = cio_task_future(t);
        cio_task_unref(t); /* the loop keeps it while pending */
    }
    cio_timeout *tm;
    switch (which) {
    case 0:
        return cio_gather(f, 2, 0, NULL, NULL);
    case 1:
        return cio_gather(f, 2, CIO_GATHER_RETURN_ERRORS, NULL, NULL);
    default:
        cio_timeout_begin(5, &tm);
        return cio_gather(f, 2, 0, NULL, NULL);
    }
}

static void test_loop_close_while_parked(void)
{
    for (int which = 0; which < 3; which++) {
        cio_loop *loop;
        CHECK_RC(cio_loop_new(&loop), 0);
        cio_loop_set_virtual_clock(loop, 1);
        CHECK_RC(cio_loop_create_task(loop, parked, (void *)(intptr_t)which, NULL, NULL), 0);
        cio_future *stop;
        CHECK_RC(cio_future_new(loop, &stop), 0);
        cio_call_later(loop, 1, (cio_callback_fn *)(void *)cio_future_cancel, stop, NULL);
        CHECK_RC(cio_loop_run_until_complete(loop, stop, NULL), -ECANCELED);
        cio_future_unref(stop);
        CHECK_RC(cio_loop_close(loop), 0);
        cio_loop_free(loop);
    }
}

/* ---- allocation faults ------------------------------------------------- */

static int alloc_run(long n, void *arg)
{
    struct harness h = {.at = -2};
    reports = 0;
    int rc = run_virtual(harness_main, &h, NULL);
    if (getenv("CIO_TEST_VERBOSE"))
        fprintf(stderr, "  fail #%ld: run %d, scenario %d\n", n, rc, h.rc);
    if (!test_alloc_injected())
        CHECK_RC(h.rc, 0);
    if (rc == 0)
        CHECK_EQ(h.left, 0);
    return rc;
}

static void test_alloc_faults(void)
{
    fprintf(stderr, "  %ld allocation points\n", test_alloc_sweep(alloc_run, NULL, 5000, 0));
}

int main(void)
{
    RUN(test_cancel_each_point);
    RUN(test_timeout_each_point);
    RUN(test_loop_close_while_parked);
    RUN(test_alloc_faults);
    return test_finish();
}
