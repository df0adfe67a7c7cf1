/*
 * run.c - cio_run, asyncio.run's counterpart: run the main task, then
 * cancel what is left and wait for it to unwind, then close the loop.
 * While it runs in the main thread with SIGINT at its default disposition,
 * SIGINT cancels the main task, as asyncio.Runner does.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>

#include "task.h"

static int future_is_done(void *fut) { return cio_future_done(fut); }

int cio_loop_run_until_complete(cio_loop *loop, cio_future *fut, void **result)
{
    if (!fut)
        return cio__bad_arg(loop, __func__, "fut is NULL");
    if (loop && fut->loop != loop)
        return cio__bad_arg(loop, __func__, "fut belongs to another loop");
    if (!loop)
        return cio__bad_arg(NULL, "cio_loop_run", "loop is NULL");
    cio_future_ref(fut);
    int rc = cio__loop_run_until(loop, future_is_done, fut);
    if (rc == 0)
        rc = cio_future_result(fut, result);
    cio_future_unref(fut);
    return rc;
}

/*
 * Cancels every pending task and runs the loop until all have finished.
 * It needs no memory: under allocation failure (tests/test_alloc.c) an
 * earlier version, which allocated a future and a done callback per task,
 * gave up and left the tasks to be destroyed pending by loop close, so
 * their cleanup never ran.  Instead it runs the loop until each remaining
 * task in turn is done.  Waiting must not count as retrieving a leftover
 * task's outcome, or its failure would never be reported.
 */
static void cancel_and_drain(cio_loop *loop)
{
    struct cio__sched *s = loop->sched;
    if (!s || !s->ntasks)
        return;
    cio__cancel_all(loop);
    while (s->tasks || s->compacted) {
        cio_task *t = s->tasks ? s->tasks : s->compacted;
        uint8_t retrieved = t->fut.flags & CIO__FF_RETRIEVED;
        cio_task_ref(t);
        int rc = cio_loop_run_until_complete(loop, &t->fut, NULL);
        if (!retrieved)
            t->fut.flags &= (uint8_t)~CIO__FF_RETRIEVED;
        int done = cio_task_done(t);
        cio_task_unref(t);
        if (!done) {
            cio_log(CIO_LOG_WARNING, "cio_run: %zu task(s) did not finish after cancellation (%s)",
                    s->ntasks, cio_strerror(rc));
            return;
        }
    }
}

/*
 * asyncio.run ends with a few more loop iterations (shutdown_asyncgens,
 * shutdown_default_executor) in which the callbacks already scheduled
 * run: a transport that main closed or aborted on its way out (a stream
 * released at the end) closes its socket in the connection_lost callback
 * it queued.  Same here: iterations run while plain callbacks are queued,
 * a few at most (one may queue the next).
 */
struct settle {
    cio_loop *loop;
    int left;                  /* iterations still allowed */
};

static int settled(void *ctx)
{
    struct settle *st = ctx;
    return !st->loop->ready_handles || st->left-- <= 0;
}

static void run_scheduled_callbacks(cio_loop *loop)
{
    struct settle st = {loop, 8};
    cio__loop_run_until(loop, settled, &st);
}

/* asyncio.Runner._on_sigint: the first SIGINT cancels the main task; a
 * second one, while it is still unwinding, is the default action. */
struct sigint_state {
    cio_task *main;
    int count;
};

static void on_sigint(void *arg)
{
    struct sigint_state *s = arg;
    if (++s->count == 1 && !cio_task_done(s->main)) {
        cio_task_cancel(s->main, "interrupted by SIGINT");
        return;
    }
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
}

/* Installs the SIGINT handler if this is the main thread and SIGINT has
 * its default disposition; returns whether it did. */
static int sigint_install(cio_loop *loop, struct sigint_state *s)
{
    struct sigaction cur;
    if (getpid() != gettid() || sigaction(SIGINT, NULL, &cur) < 0 ||
        (cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL)
        return 0;
    return cio__loop_add_signal_handler(loop, SIGINT, on_sigint, s, 1) == 0;
}

int cio_run_loop(cio_loop *loop, cio_coro_fn *main, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (!main)
        return cio__bad_arg(loop, __func__, "main is NULL");
    if (cio__running_loop)
        return CIO_ERUNNING;
    cio_task *t;
    int rc = cio_task_new(loop, main, arg, &(cio_task_options){.name = "main"}, &t);
    if (rc < 0)
        return rc;
    struct sigint_state sigint = {t, 0};
    int sigint_on = sigint_install(loop, &sigint);
    rc = cio_loop_run_until_complete(loop, &t->fut, result);
    if (rc == CIO_ESTALLED)
        cio_log(CIO_LOG_ERROR, "cio_run: main task is blocked and nothing can wake it");
    cancel_and_drain(loop);
    run_scheduled_callbacks(loop);
    if (sigint_on)
        cio_loop_remove_signal_handler(loop, SIGINT);
    cio_task_unref(t);
    int crc = cio_loop_close(loop);
    return crc < 0 && rc == 0 ? crc : rc;
}

int cio_run(cio_coro_fn *main, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!main)
        return cio__bad_arg(NULL, __func__, "main is NULL");
    if (cio__running_loop)
        return CIO_ERUNNING;
    cio_loop *loop;
    int rc = cio_loop_new(&loop);
    if (rc < 0)
        return rc;
    rc = cio_run_loop(loop, main, arg, result);
    cio_loop_free(loop);
    return rc;
}
