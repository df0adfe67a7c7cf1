/*
 * test_gather_calls.c - cio_gather_calls and CIO_GATHER, gather over
 * coroutine calls: results in call order, the first failure cancelling
 * the others and still waiting for them (nothing outlives the call, so
 * the children may point into the caller's frame), the failure's message
 * passed on, return_exceptions, the caller cancelled or timed out, bad
 * arguments with no child run, more calls than the inline array, and
 * every allocation failing in turn.  All on the virtual clock.
 */
#include "combine_util.h"

/* ---- outcomes ----------------------------------------------------------- */

static int success_main(void *arg, void **result)
{
    /* Completion order 2, 0, 1; results come in call order. */
    struct spec s[3] = {{.delay = 2, .value = 10}, {.delay = 3, .value = 11}, {.delay = 1, .value = 12}};
    cio_call calls[] = {{child, &s[0]}, {child, &s[1]}, {child, &s[2]}};
    void *res[3];
    int st[3];
    CHECK_RC(cio_gather_calls(calls, 3, 0, res, st), 0);
    CHECK_NEAR(now(), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ((intptr_t)res[i], 10 + i);
        CHECK_EQ(st[i], 0);
    }
    /* The literal form. */
    struct spec a = {.delay = 1}, b = {.delay = 2};
    CHECK_RC(CIO_GATHER({child, &a}, {child, &b}), 0);
    CHECK(a.finished && b.finished);
    CHECK_NEAR(now(), 5);
    /* No call: nothing to wait for. */
    CHECK_RC(cio_gather_calls(NULL, 0, 0, NULL, NULL), 0);
    return 0;
}

static void test_success(void) { run_clean(success_main); }

/* The first failure cancels the others, which are waited for: when the
 * call returns, every child has finished (they use this frame). */
static int first_error_main(void *arg, void **result)
{
    struct spec s[3] = {{.delay = 1, .value = 1},
                        {.delay = 2, .code = -EIO},
                        {.delay = 5, .shielded = 1, .value = 3}};
    void *res[3];
    int st[3];
    cio_call calls[] = {{child, &s[0]}, {child, &s[1]}, {child, &s[2]}};
    CHECK_RC(cio_gather_calls(calls, 3, 0, res, st), -EIO);
    /* s[2] spent its first second shielded, then saw the cancellation. */
    CHECK_NEAR(now(), 2);
    for (int i = 0; i < 3; i++)
        CHECK(s[i].finished);
    CHECK_EQ(s[2].slept, -ECANCELED);
    CHECK_EQ(st[0], 0);
    CHECK_EQ(st[1], -EIO);
    CHECK_EQ(st[2], -ECANCELED);
    CHECK_EQ((intptr_t)res[0], 1);
    CHECK(res[1] == NULL && res[2] == NULL);
    /* The failure's message became this task's, as a raised exception. */
    const char *m = cio_task_error_message(cio_current_task());
    CHECK(m && strcmp(m, "child failed on purpose") == 0);
    cio_set_error_message(NULL);

    /* A child that cancels itself fails the gather, as in cio_gather. */
    struct spec c[2] = {{.delay = 1, .code = -ECANCELED}, {.delay = 3}};
    CHECK_RC(CIO_GATHER({child, &c[0]}, {child, &c[1]}), -ECANCELED);
    CHECK(c[1].finished);
    CHECK_EQ(c[1].slept, -ECANCELED);
    return 0;
}

static void test_first_error(void) { run_clean(first_error_main); }

static int return_errors_main(void *arg, void **result)
{
    struct spec s[3] = {{.delay = 1, .value = 1}, {.delay = 2, .code = -EIO}, {.delay = 5, .value = 3}};
    cio_call calls[] = {{child, &s[0]}, {child, &s[1]}, {child, &s[2]}};
    void *res[3];
    int st[3];
    CHECK_RC(cio_gather_calls(calls, 3, CIO_GATHER_RETURN_ERRORS, res, st), 0);
    CHECK_NEAR(now(), 5);
    CHECK_EQ(st[0], 0);
    CHECK_EQ(st[1], -EIO);
    CHECK_EQ(st[2], 0);
    CHECK_EQ((intptr_t)res[2], 3);
    CHECK_EQ(s[2].slept, 0); /* not cancelled */
    CHECK(cio_task_error_message(cio_current_task()) == NULL);
    return 0;
}

static void test_return_errors(void) { run_clean(return_errors_main); }

/* ---- the caller interrupted -------------------------------------------- */

struct gatherer {
    struct spec s[2];          /* its children's specs */
    int rc;                    /* what the gather returned */
    int all_finished;          /* every child had finished by then */
    double end;                /* when it returned */
    int timeout;               /* inside a 1 s timeout scope */
};

static int gatherer(void *arg, void **result)
{
    struct gatherer *g = arg;
    cio_timeout *tm = NULL;
    if (g->timeout)
        CHECK_RC(cio_timeout_begin(1, &tm), 0);
    g->rc = CIO_GATHER({child, &g->s[0]}, {child, &g->s[1]});
    g->all_finished = g->s[0].finished && g->s[1].finished;
    g->end = now();
    if (tm)
        CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    return g->rc == -ETIMEDOUT ? 0 : g->rc;
}

static int cancelled_main(void *arg, void **result)
{
    /* Cancelled at 1 s; a child sleeps shielded until 3 s. */
    struct gatherer g = {.s = {{.delay = 10}, {.delay = 10, .shielded = 3}}};
    cio_task *t;
    CHECK_RC(cio_create_task(gatherer, &g, "gatherer", &t), 0);
    CHECK_RC(cio_sleep(1), 0);
    CHECK_EQ(cio_task_cancel(t, NULL), 1);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    CHECK_RC(g.rc, -ECANCELED);
    CHECK(g.all_finished);
    CHECK_NEAR(g.end, 3);
    CHECK_EQ(g.s[0].slept, -ECANCELED);

    /* Its timeout scope expires at 1 s: the same, with -ETIMEDOUT. */
    struct gatherer h = {.s = {{.delay = 10}, {.delay = 10}}, .timeout = 1};
    double start = now();
    CHECK_RC(cio_create_task(gatherer, &h, "timed", &t), 0);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(h.rc, -ETIMEDOUT);
    CHECK(h.all_finished);
    CHECK_NEAR(h.end - start, 1);
    return 0;
}

static void test_cancelled(void) { run_clean(cancelled_main); }

/* ---- bad arguments and limits ------------------------------------------- */

static int already_cancelled(void *arg, void **result)
{
    struct spec *s = arg;
    cio_task_cancel(cio_current_task(), NULL);
    int st[1] = {99};
    cio_call calls[] = {{child, s}};
    int rc = cio_gather_calls(calls, 1, 0, NULL, st);
    CHECK_EQ(st[0], rc);
    return rc;
}

static int bad_args_main(void *arg, void **result)
{
    struct spec s = {.delay = 1};
    int st[2] = {99, 99};
    cio_call with_null[] = {{child, &s}, {NULL, NULL}};
    CHECK_RC(cio_gather_calls(with_null, 2, 0, NULL, st), -EINVAL);
    CHECK_EQ(st[0], -EINVAL);
    CHECK_RC(cio_gather_calls(NULL, 2, 0, NULL, NULL), -EINVAL);
    CHECK_RC(cio_gather_calls(with_null, 1, 8, NULL, NULL), -EINVAL);
    CHECK_RC(cio_sleep(2), 0);
    CHECK(!s.started); /* nothing ran */

    /* A cancelled caller starts nothing. */
    cio_task *t;
    CHECK_RC(cio_create_task(already_cancelled, &s, NULL, &t), 0);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    CHECK_RC(cio_sleep(2), 0);
    CHECK(!s.started);
    return 0;
}

static void test_bad_args(void)
{
    CHECK_RC(CIO_GATHER({child, NULL}), CIO_ENOTASK);
    run_clean(bad_args_main);
}

/* More calls than the inline array holds. */
#define MANY 100

static int many_main(void *arg, void **result)
{
    static struct spec s[MANY];
    static cio_call calls[MANY];
    static void *res[MANY];
    for (int i = 0; i < MANY; i++) {
        s[i] = (struct spec){.delay = (double)(MANY - i) / 100, .value = i};
        calls[i] = (cio_call){child, &s[i]};
    }
    CHECK_RC(cio_gather_calls(calls, MANY, 0, res, NULL), 0);
    for (int i = 0; i < MANY; i++)
        CHECK_EQ((intptr_t)res[i], i);
    return 0;
}

static void test_many(void) { run_clean(many_main); }

/* ---- allocation failures -------------------------------------------------- */

static int alloc_main(void *arg, void **result)
{
    struct spec s[12];
    cio_call calls[12];
    int st[12];
    for (int i = 0; i < 12; i++) {
        s[i] = (struct spec){.delay = 1 + i % 3, .value = i};
        calls[i] = (cio_call){child, &s[i]};
    }
    int rc = cio_gather_calls(calls, 12, 0, NULL, st);
    if (rc == 0)
        for (int i = 0; i < 12; i++)
            CHECK_EQ(st[i], 0);
    /* Whatever happened, no child is left running on this frame. */
    for (int i = 0; i < 12; i++)
        CHECK(!s[i].started || s[i].finished);
    return rc;
}

static int alloc_run(long n, void *arg)
{
    reports = 0;
    int rc = run_virtual(alloc_main, NULL, NULL);
    CHECK_EQ(reports, 0);
    return rc;
}

static void test_alloc_failures(void)
{
    fprintf(stderr, "  %ld allocation points\n",
            test_alloc_sweep(alloc_run, NULL, 2000, TEST_ALLOC_ENOMEM));
}

int main(void)
{
    RUN(test_success);
    RUN(test_first_error);
    RUN(test_return_errors);
    RUN(test_cancelled);
    RUN(test_bad_args);
    RUN(test_many);
    RUN(test_alloc_failures);
    return test_finish();
}
