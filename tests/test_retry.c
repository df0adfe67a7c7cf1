/*
 * test_retry.c - cio_retry: success after failures, giving up after the
 * last attempt, backoff growth and cap, jitter bounds and seeding, the
 * retryable predicate, the deadline, cancellation at each point (during an
 * attempt and during a backoff sleep), the log lines (only when asked for:
 * quiet by default, as tenacity is), misuse, and every
 * allocation failing in turn.  The virtual clock measures the delays.
 */
#include <math.h>

#include "helpers.h"

/* The warnings retries log, captured (helpers.h) at level WARNING; the
 * quiet case captures every level. */
#define nlines (test_log()->n)
#define lines (test_log()->lines)

/* A flaky operation: fails with codes[i] on call i while codes[i] != 0;
 * each call takes `cost` seconds; records when it was called. */
struct flaky {
    int codes[16];
    double cost;
    int calls;
    double when[16];
    int cost_rc;
};

/* Resets f to fail every call with code. */
static void flaky_always(struct flaky *f, int code)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 16; i++)
        f->codes[i] = code;
}

static int flaky_op(void *arg, void **result)
{
    struct flaky *f = arg;
    int i = f->calls++;
    if (i < 16)
        f->when[i] = test_loop_now();
    if (f->cost > 0 && (f->cost_rc = cio_sleep(f->cost)) != 0)
        return f->cost_rc;
    if (i < 16 && f->codes[i])
        return f->codes[i];
    *result = (void *)(intptr_t)(100 + i);
    return 0;
}

static cio_retry_policy exact(int attempts, double initial, double mult)
{
    cio_retry_policy p;
    cio_retry_policy_init(&p);
    p.max_attempts = attempts;
    p.initial_delay = initial;
    p.multiplier = mult;
    p.jitter = 0;
    p.name = "flaky";
    p.log_attempts = 1; /* the cases below read the lines */
    return p;
}

static int succeed_main(void *arg, void **result)
{
    struct flaky f = {.codes = {-ECONNREFUSED, -ECONNREFUSED}};
    cio_retry_policy p = exact(5, 1.0, 2.0);
    test_log_reset();
    void *r = NULL;
    CHECK_RC(cio_retry(&p, flaky_op, &f, &r), 0);
    CHECK_EQ((intptr_t)r, 102);
    CHECK_EQ(f.calls, 3);
    CHECK(f.when[0] == 0 && f.when[1] == 1.0 && f.when[2] == 3.0);
    /* One warning per failed attempt: number, error name, next delay. */
    CHECK_EQ(nlines, 2);
    char want[256];
    snprintf(want, sizeof want, "retry flaky: attempt 1/5 failed: %s; next in 1.000 s",
             cio_strerror(-ECONNREFUSED));
    CHECK(strstr(lines[0], want) != NULL);
    CHECK(strstr(lines[0], "cio warning [main]: ") == lines[0]); /* task-name prefix */
    CHECK(strstr(lines[1], "attempt 2/5 failed") && strstr(lines[1], "next in 2.000 s"));

    /* The default policy: success at once, nothing logged, result passed. */
    struct flaky ok = {.calls = 0};
    test_log_reset();
    CHECK_RC(cio_retry(NULL, flaky_op, &ok, &r), 0);
    CHECK_EQ((intptr_t)r, 100);
    CHECK_RC(cio_retry(NULL, flaky_op, &ok, NULL), 0);
    CHECK_EQ(nlines, 0);
    return 0;
}

static void test_succeed(void) { CHECK_RC(test_run_virtual(succeed_main, NULL), 0); }

/* Quiet unless asked: a policy from cio_retry_policy_init, or none, logs
 * nothing at any level - not the failed attempts, not the late success,
 * not giving up, not "not retried" - and still returns the codes. */
static int quiet_main(void *arg, void **result)
{
    cio_log_set_level(CIO_LOG_DEBUG);
    test_log_reset();
    cio_retry_policy p;
    cio_retry_policy_init(&p);
    CHECK_EQ(p.log_attempts, 0);
    p.initial_delay = 1.0;
    struct flaky f = {.codes = {-ECONNREFUSED, -ECONNREFUSED}};
    void *r = NULL;
    CHECK_RC(cio_retry(&p, flaky_op, &f, &r), 0); /* two failures, then success */
    CHECK_EQ((intptr_t)r, 102);
    flaky_always(&f, -EIO);
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO); /* gives up after 3 */
    CHECK_EQ(f.calls, 3);
    flaky_always(&f, -EIO);
    CHECK_RC(cio_retry(NULL, flaky_op, &f, NULL), -EIO); /* the defaults */
    CHECK_EQ(f.calls, 3);
    struct flaky c = {.codes = {-ECANCELED}};
    CHECK_RC(cio_retry(&p, flaky_op, &c, NULL), -ECANCELED); /* not retried */
    p.deadline = 0.5;
    flaky_always(&f, -EIO);
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO); /* the deadline */
    CHECK_EQ(f.calls, 1);
    CHECK_EQ(test_log()->total, 0);

    /* The same policy with log_attempts: the lines appear. */
    p.deadline = 0;
    p.log_attempts = 1;
    flaky_always(&f, -EIO);
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO);
    CHECK_EQ(test_log()->total, 3);
    CHECK(test_log_find("retry operation: attempt 1/3 failed", "next in ") >= 0);
    CHECK(test_log_find("attempt 3/3 failed", "giving up") >= 0);
    cio_log_set_level(CIO_LOG_WARNING);
    return 0;
}

static void test_quiet_by_default(void) { CHECK_RC(test_run_virtual(quiet_main, NULL), 0); }

static int give_up_main(void *arg, void **result)
{
    struct flaky f;
    flaky_always(&f, -EIO);
    cio_retry_policy p = exact(4, 1.0, 2.0);
    test_log_reset();
    void *r = (void *)1;
    CHECK_RC(cio_retry(&p, flaky_op, &f, &r), -EIO);
    CHECK(r == NULL);
    CHECK_EQ(f.calls, 4);
    CHECK(f.when[3] == 7.0); /* 1 + 2 + 4 */
    CHECK_EQ(nlines, 4);
    CHECK(strstr(lines[3], "attempt 4/4 failed") && strstr(lines[3], "giving up"));
    CHECK(strstr(lines[3], cio_strerror(-EIO)));

    /* The delay stops growing at max_delay. */
    flaky_always(&f, -EIO);
    p = exact(5, 1.0, 10.0);
    p.max_delay = 5.0;
    double t0 = test_loop_now();
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO);
    CHECK(f.when[1] - t0 == 1.0 && f.when[2] - t0 == 6.0 && f.when[4] - t0 == 16.0);

    /* One attempt: no retry, no sleep. */
    memset(&f, 0, sizeof f);
    f.codes[0] = -EIO;
    p = exact(1, 1.0, 2.0);
    t0 = test_loop_now();
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO);
    CHECK_EQ(f.calls, 1);
    CHECK(test_loop_now() == t0);
    return 0;
}

static void test_give_up(void) { CHECK_RC(test_run_virtual(give_up_main, NULL), 0); }

static int jitter_main(void *arg, void **result)
{
    double first[8];
    for (int round = 0; round < 2; round++) {
        struct flaky f;
        flaky_always(&f, -EIO);
        cio_retry_policy p = exact(8, 1.0, 2.0);
        p.jitter = 0.5;
        p.max_delay = 1000;
        p.seed = 42;
        double t0 = test_loop_now();
        CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO);
        int spread = 0;
        for (int i = 1; i < 8; i++) {
            double d = f.when[i] - f.when[i - 1];
            double base = pow(2, i - 1);
            CHECK(d >= base * 0.5 - 1e-9 && d <= base + 1e-9);
            if (fabs(d - base) > 1e-6)
                spread++;
            if (round == 0)
                first[i] = f.when[i] - t0;
            else
                CHECK(fabs(first[i] - (f.when[i] - t0)) < 1e-9); /* same seed, same delays */
        }
        CHECK(spread > 0);
    }
    return 0;
}

static void test_jitter(void) { CHECK_RC(test_run_virtual(jitter_main, NULL), 0); }

static int only_again(int code, void *ud)
{
    (*(int *)ud)++;
    return code == -EAGAIN;
}

static int predicate_main(void *arg, void **result)
{
    struct flaky f = {.codes = {-EAGAIN, -EPERM, -EAGAIN}};
    cio_retry_policy p = exact(10, 0.5, 1.0);
    int asked = 0;
    p.retryable = only_again;
    p.retryable_ud = &asked;
    test_log_reset();
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EPERM);
    CHECK_EQ(f.calls, 2);
    CHECK_EQ(asked, 2);
    CHECK(strstr(lines[nlines - 1], "not retried"));

    /* -ECANCELED from the operation is never retried, whatever the predicate. */
    struct flaky c = {.codes = {-ECANCELED}};
    p.retryable = NULL;
    CHECK_RC(cio_retry(&p, flaky_op, &c, NULL), -ECANCELED);
    CHECK_EQ(c.calls, 1);
    return 0;
}

static void test_predicate(void) { CHECK_RC(test_run_virtual(predicate_main, NULL), 0); }

static int deadline_main(void *arg, void **result)
{
    struct flaky f;
    flaky_always(&f, -ETIMEDOUT);
    cio_retry_policy p = exact(0, 1.0, 2.0); /* no attempt limit */
    p.deadline = 4.0;
    test_log_reset();
    double t0 = test_loop_now();
    /* Attempts at 0, 1, 3; the next would start at 7 > 4. */
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -ETIMEDOUT);
    CHECK_EQ(f.calls, 3);
    CHECK(test_loop_now() - t0 == 3.0);
    CHECK(strstr(lines[nlines - 1], "deadline"));
    CHECK(strstr(lines[0], "attempt 1 failed") != NULL);

    /* The attempts' own duration counts. */
    flaky_always(&f, -EIO);
    f.cost = 1.5;
    p = exact(0, 0.5, 1.0);
    p.deadline = 3.9;
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -EIO);
    CHECK_EQ(f.calls, 2); /* 0-1.5, 2.0-3.5, the next would start at 4.0 */
    return 0;
}

static void test_deadline(void) { CHECK_RC(test_run_virtual(deadline_main, NULL), 0); }

/* ---- cancellation ------------------------------------------------------- */

struct cancel_case {
    double at;
    struct flaky f;
    int rc;
    double ended;
};

static int retrier(void *arg, void **result)
{
    struct cancel_case *k = arg;
    cio_retry_policy p = exact(10, 1.0, 1.0);
    k->rc = cio_retry(&p, flaky_op, &k->f, NULL);
    k->ended = test_loop_now();
    return 0;
}

static int cancel_main(void *arg, void **result)
{
    struct cancel_case *k = arg;
    cio_task *t;
    CHECK_RC(cio_create_task(retrier, k, "retrier", &t), 0);
    CHECK_RC(cio_sleep(k->at), 0);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    return 0;
}

static void test_cancel_each_point(void)
{
    /* Attempts take 1 s and fail; backoff 1 s: cancelling every 0.25 s
     * lands inside attempts, inside sleeps and on their boundaries.  The
     * call must return -ECANCELED at the moment of the cancellation. */
    for (int step = 0; step <= 24; step++) {
        struct cancel_case k;
        memset(&k, 0, sizeof k);
        k.at = step * 0.25 + 0.125 * (step & 1);
        for (int i = 0; i < 16; i++)
            k.f.codes[i] = -EIO;
        k.f.cost = 1.0;
        CHECK_RC(test_run_virtual(cancel_main, &k), 0);
        CHECK_RC(k.rc, -ECANCELED);
        CHECK(k.ended == k.at);
        CHECK_EQ(k.f.calls, (int)floor(k.at / 2.0) + 1 - (k.at > 0 && fmod(k.at, 2.0) == 0));
    }
}

/* An enclosing timeout scope ends the retries at its deadline, whether it
 * fires during an attempt or during a backoff sleep. */
static int timeout_main(void *arg, void **result)
{
    for (int i = 0; i < 2; i++) {
        struct flaky f;
        flaky_always(&f, -EIO);
        f.cost = 1.0;
        cio_retry_policy p = exact(10, 1.0, 1.0);
        double t0 = test_loop_now();
        /* Attempts run 0-1 and 2-3, sleeps 1-2 and 3-4: fire in the second
         * sleep (3.5), then in the second attempt (2.5). */
        double limit = i ? 2.5 : 3.5;
        cio_timeout *tm;
        CHECK_RC(cio_timeout_begin(limit, &tm), 0);
        CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -ETIMEDOUT);
        CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
        CHECK(test_loop_now() - t0 == limit);
        CHECK_EQ(f.calls, 2);
    }
    return 0;
}

static void test_timeout(void) { CHECK_RC(test_run_virtual(timeout_main, NULL), 0); }

/* ---- misuse and allocation failures ------------------------------------ */

static int misuse_main(void *arg, void **result)
{
    cio_retry_policy p;
    cio_retry_policy_init(&p);
    CHECK_RC(cio_retry(&p, NULL, NULL, NULL), -EINVAL);
    cio_retry_policy bad = p;
    bad.multiplier = 0.5;
    CHECK_RC(cio_retry(&bad, flaky_op, NULL, NULL), -EINVAL);
    bad = p;
    bad.jitter = 1.5;
    CHECK_RC(cio_retry(&bad, flaky_op, NULL, NULL), -EINVAL);
    bad = p;
    bad.initial_delay = 0.0 / 0.0;
    CHECK_RC(cio_retry(&bad, flaky_op, NULL, NULL), -EINVAL);
    bad = p;
    bad.max_attempts = -1;
    CHECK_RC(cio_retry(&bad, flaky_op, NULL, NULL), -EINVAL);
    bad = p;
    bad.deadline = -1;
    CHECK_RC(cio_retry(&bad, flaky_op, NULL, NULL), -EINVAL);
    memset(&bad, 0, sizeof bad); /* not initialised */
    CHECK_RC(cio_retry(&bad, flaky_op, NULL, NULL), -EINVAL);
    cio_retry_policy_init(NULL);
    /* Cancelled before it starts: no attempt. */
    struct flaky f = {.calls = 0};
    cio_task_cancel(cio_current_task(), NULL);
    CHECK_RC(cio_retry(&p, flaky_op, &f, NULL), -ECANCELED);
    CHECK_EQ(f.calls, 0);
    return 0;
}

static void test_misuse(void)
{
    CHECK_RC(test_run_virtual(misuse_main, NULL), 0);
    CHECK_RC(cio_retry(NULL, flaky_op, NULL, NULL), CIO_ENOTASK);
}

static int alloc_main(void *arg, void **result)
{
    struct flaky *f = arg;
    cio_retry_policy p = exact(5, 1.0, 2.0);
    int rc = cio_retry(&p, flaky_op, f, NULL);
    /* Either it got through, or a sleep had no memory for its timer. */
    if (rc != 0 && rc != -ENOMEM)
        CHECK_RC(rc, 0);
    return 0;
}

static int alloc_run(long n, void *arg)
{
    struct flaky f = {.codes = {-EIO, -EIO, -EIO}, .cost = 0.5};
    return test_run_virtual(alloc_main, &f);
}

static void test_alloc_failures(void)
{
    cio_log_set_level(CIO_LOG_OFF);
    test_alloc_sweep(alloc_run, NULL, 10001, TEST_ALLOC_ENOMEM);
    cio_log_set_level(CIO_LOG_WARNING);
}

int main(void)
{
    test_log_start(CIO_LOG_WARNING);
    RUN(test_succeed);
    RUN(test_quiet_by_default);
    RUN(test_give_up);
    RUN(test_jitter);
    RUN(test_predicate);
    RUN(test_deadline);
    RUN(test_cancel_each_point);
    RUN(test_timeout);
    RUN(test_misuse);
    RUN(test_alloc_failures);
    test_log_stop();
    return test_finish();
}
