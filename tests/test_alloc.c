/*
 * test_alloc.c - allocation-failure injection (SQLite's and neco's
 * approach): cio_set_allocator installs a counting allocator that fails
 * the Nth allocation, and a representative program (a loop, tasks,
 * futures, timers, callbacks, done callbacks, a cancellation, a
 * thread-safe call) runs for N = 1, 2, ... until it runs without meeting
 * the failure.  Every run must either succeed with the full, exact outcome
 * or fail with -ENOMEM cleanly: no crash, no leak (the allocator counts
 * live blocks, and ASan checks too), and no callback lost - every call
 * that returned 0 had its callback run.
 *
 * Two modes: the Nth allocation alone fails (a transient failure), and
 * every allocation from the Nth on fails (memory stays exhausted, so
 * cleanup paths must not need memory).
 */
#include <fcntl.h>
#include <unistd.h>

#include "helpers.h"

/* ---- the counting allocator ----------------------------------------------- */

/* helpers.h's: calls, fail_at, sticky, live blocks, injected failures. */
#define A (*test_alloc())

/* ---- the program ------------------------------------------------------------ */

struct prog {
    int scheduled;   /* callbacks whose scheduling call returned 0 */
    int ran;         /* callbacks that ran */
    int child_ok;    /* children that finished with their result */
    int victim_cancelled;
    int future_ok;
    int leftover_started;  /* the task left running when main returns */
    int leftover_cleaned;  /* ... was cancelled and ran its cleanup */
    int pipe[2];
};

static struct prog P;

static void cb(void *arg)
{
    P.ran++;
}

static void done_cb(cio_future *f, void *arg)
{
    if (cio_future_done(f))
        P.ran++;
}

static void set_result_cb(void *arg)
{
    P.ran++;
    cio_future_set_result(arg, (void *)(intptr_t)11);
}

static int child(void *arg, void **result)
{
    int i = (int)(intptr_t)arg;
    int rc = cio_sleep(0.001 * i);
    if (rc)
        return rc;
    if (cio_call_soon(cio_get_running_loop(), cb, NULL, NULL) == 0)
        P.scheduled++;
    rc = cio_set_error_message("child %d", i);
    if (rc)
        return rc;
    *result = (void *)(intptr_t)(100 + i);
    return 0;
}

static int victim(void *arg, void **result)
{
    int rc = cio_sleep(10);
    if (rc == -ECANCELED)
        P.victim_cancelled = 1;
    return rc;
}

/* Left running when main returns: cio_run must cancel it and wait. */
static int leftover(void *arg, void **result)
{
    P.leftover_started = 1;
    int rc = cio_sleep(1000);
    P.leftover_cleaned = rc == -ECANCELED || rc == -ENOMEM; /* its own sleep may fail */
    return rc;
}

static void on_readable(void *arg)
{
    cio_loop *loop = arg;
    char c;
    if (read(P.pipe[0], &c, 1) == 1)
        P.ran++;
    cio_loop_remove_reader(loop, P.pipe[0]);
}

#define TRY(call)                  \
    do {                           \
        rc = (call);               \
        if (rc < 0)                \
            goto out;              \
    } while (0)

static int prog_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    cio_future *f = NULL;
    cio_task *kids[3] = {NULL, NULL, NULL}, *v = NULL;
    cio_handle *h = NULL;
    int rc;

    TRY(cio_future_new(NULL, &f));
    TRY(cio_call_soon(loop, cb, NULL, NULL));
    P.scheduled++;
    TRY(cio_call_later(loop, 0.01, cb, NULL, &h));
    P.scheduled++;
    TRY(cio_call_soon_threadsafe(loop, cb, NULL));
    P.scheduled++;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "child-%d", i);
        TRY(cio_create_task(child, (void *)(intptr_t)i, name, &kids[i]));
    }
    TRY(cio_create_task(victim, NULL, NULL, &v));
    for (int i = 0; i < 3; i++) { /* the first is inline, then an array */
        TRY(cio_future_add_done_callback(f, done_cb, NULL));
        P.scheduled++;
    }
    for (int i = 0; i < 100; i++) { /* grows the timer heap */
        TRY(cio_call_later(loop, 0.0001 * i, cb, NULL, NULL));
        P.scheduled++;
    }
    TRY(cio_loop_add_reader(loop, P.pipe[0], on_readable, loop));
    P.scheduled++;
    if (write(P.pipe[1], "x", 1) != 1)
        return -EIO;
    TRY(cio_create_task(leftover, NULL, "leftover", NULL));
    TRY(cio_call_later(loop, 0.005, set_result_cb, f, NULL));
    P.scheduled++;
    void *r = NULL;
    TRY(cio_await(f, &r));
    P.future_ok = (intptr_t)r == 11;
    for (int i = 0; i < 3; i++) {
        r = NULL;
        TRY(cio_task_await(kids[i], &r));
        if ((intptr_t)r == 100 + i)
            P.child_ok++;
    }
    TRY(cio_sleep(0.001));
    cio_task_cancel(v, "enough");
    rc = cio_task_await(v, NULL);
    if (rc != -ECANCELED)
        goto out;
    rc = 0;
    *result = (void *)(intptr_t)1;
out:
    /* A done callback runs once its future completes: complete it. */
    if (f && !cio_future_done(f))
        cio_future_cancel(f, NULL);
    /* Whatever failed, let every timer scheduled so far come due, so a
     * callback that was accepted and then not run shows as lost.  The
     * sleep itself may meet an injected failure: retry (sticky mode may
     * never let it succeed: then timers are legitimately dropped at
     * close, which the caller accounts for). */
    for (int tries = 0; tries < 3; tries++) {
        int s = cio_sleep(0.05);
        if (s != -ENOMEM)
            break;
    }
    if (rc < 0)
        cio_loop_remove_reader(loop, P.pipe[0]); /* its byte may be unread */
    if (h)
        cio_handle_unref(h);
    for (int i = 0; i < 3; i++)
        if (kids[i]) {
            cio_task_result(kids[i], NULL); /* retrieved: no report */
            cio_task_unref(kids[i]);
        }
    if (v) {
        cio_task_result(v, NULL);
        cio_task_unref(v);
    }
    if (f) {
        cio_future_result(f, NULL);
        cio_future_unref(f);
    }
    return rc;
}

static int reports;
static void count_reports(cio_loop *loop, const cio_exception_context *c, void *ud)
{
    reports++;
}

/* One run with the Nth allocation failing.  Returns 1 once no failure was
 * injected (N is past the program's last allocation). */
static int run_once(long n, int sticky, int *failures)
{
    memset(&P, 0, sizeof P);
    CHECK_EQ(pipe2(P.pipe, O_NONBLOCK | O_CLOEXEC), 0);
    test_alloc_begin(n, sticky);
    cio_loop *loop = NULL;
    int rc = cio_loop_new(&loop);
    void *result = NULL;
    if (rc == 0) {
        cio_loop_set_virtual_clock(loop, 1);
        cio_loop_set_exception_handler(loop, count_reports, NULL);
        rc = cio_run_loop(loop, prog_main, NULL, &result);
        cio_loop_free(loop);
    }
    int before = test_failures;
    if (rc == 0) {
        CHECK_EQ((intptr_t)result, 1);
        CHECK_EQ(P.child_ok, 3);
        CHECK_EQ(P.future_ok, 1);
        CHECK_EQ(P.victim_cancelled, 1);
        CHECK_EQ(P.scheduled, 111);
    } else {
        CHECK_RC(rc, -ENOMEM);
        (*failures)++;
    }
    /* No callback lost: all accepted ones ran (in sticky mode the final
     * sleep may have been impossible, and close drops what is pending). */
    if (!sticky || rc == 0)
        CHECK_EQ(P.ran, P.scheduled);
    else
        CHECK(P.ran <= P.scheduled);
    CHECK_EQ(A.live, 0); /* no leak */
    /* A task still running when main returned was cancelled and unwound. */
    if (P.leftover_started)
        CHECK_EQ(P.leftover_cleaned, 1);
    close(P.pipe[0]);
    close(P.pipe[1]);
    if (test_failures != before)
        fprintf(stderr, "  ... with allocation %ld failing (%s), rc %d\n", n,
                sticky ? "sticky" : "once", rc);
    CHECK_RC(cio_set_allocator(NULL, NULL), 0);
    return A.injected == 0;
}

static void sweep(int sticky)
{
    int failures = 0;
    long n;
    for (n = 1; n < 100000; n++)
        if (run_once(n, sticky, &failures))
            break;
    fprintf(stderr, "  %s: %ld allocation points, %d runs failed with -ENOMEM\n",
            sticky ? "sticky" : "once", n - 1, failures);
    CHECK(n > 10);      /* the program does allocate */
    CHECK(failures > 0); /* and failures were seen */
}

/* Done callbacks whose scheduling fails are called at once instead: they
 * must still each run exactly once, whatever they do to the future's
 * other callbacks meanwhile (here: try to remove them, which on the
 * normal path finds them already scheduled). */
static int cb_runs[4];
static void remover_cb(cio_future *f, void *arg)
{
    cb_runs[(intptr_t)arg]++;
    for (intptr_t i = 0; i < 4; i++)
        if (i != (intptr_t)arg)
            cio_future_remove_done_callback(f, remover_cb, (void *)i);
}

static void test_done_callbacks_nomem(void)
{
    long n;
    for (n = 1; n < 1000; n++) {
        memset(cb_runs, 0, sizeof cb_runs);
        test_alloc_begin(0, 0);
        cio_loop *loop;
        CHECK_RC(cio_loop_new(&loop), 0);
        cio_future *f;
        CHECK_RC(cio_future_new(loop, &f), 0);
        int added = 0;
        for (intptr_t i = 0; i < 4; i++)
            added += cio_future_add_done_callback(f, remover_cb, (void *)i) == 0;
        CHECK_EQ(added, 4);
        test_alloc_fail_in(n, 1); /* fail the nth allocation from here on */
        CHECK_RC(cio_future_set_result(f, NULL), 0);
        cio_future_unref(f);
        cio_future *never = NULL;
        test_alloc_fail_in(0, 0);
        CHECK_RC(cio_future_new(loop, &never), 0);
        CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
        cio_future_unref(never);
        long injected = A.injected;
        cio_loop_free(loop);
        CHECK_EQ(A.live, 0);
        CHECK_RC(cio_set_allocator(NULL, NULL), 0);
        for (int i = 0; i < 4; i++)
            if (cb_runs[i] != 1) {
                fprintf(stderr, "  allocation %ld failing: callback %d ran %d times\n", n, i,
                        cb_runs[i]);
                CHECK(!"a done callback was lost or doubled");
            }
        if (!injected)
            break;
    }
    CHECK(n > 1);
}

static void test_fail_once(void) { sweep(0); }
static void test_fail_sticky(void) { sweep(1); }

int main(void)
{
    cio_log_set_level(CIO_LOG_OFF); /* runs that fail may log */
    RUN(test_fail_once);
    RUN(test_fail_sticky);
    RUN(test_done_callbacks_nomem);
    return test_finish();
}
