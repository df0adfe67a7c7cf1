/*
 * combine_util.h - what the combinator tests share: a loop on the virtual
 * clock whose exception handler counts reports (a failure nobody
 * retrieved shows up there), child coroutines driven by a spec, and
 * helpers to await a task from a test's main task.
 */
#ifndef CIO_COMBINE_UTIL_H
#define CIO_COMBINE_UTIL_H

#include <math.h>
#include <stdint.h>

#include "helpers.h"

static int reports; /* exception handler calls in the current run */

static void count_report(cio_loop *loop, const cio_exception_context *c, void *ud)
{
    (void)loop;
    (void)ud;
    fprintf(stderr, "  report: %s (%s)\n", c->message, cio_strerror(c->code));
    reports++;
}

/* Runs fn(arg) as the main task of a fresh loop on the virtual clock;
 * returns its status, and the virtual time it ended at in *end. */
static int run_virtual(cio_coro_fn *fn, void *arg, double *end)
{
    cio_loop *loop;
    if (end)
        *end = 0;
    int rc = cio_loop_new(&loop);
    if (rc < 0)
        return rc;
    cio_loop_set_virtual_clock(loop, 1);
    cio_loop_set_exception_handler(loop, count_report, NULL);
    rc = cio_run_loop(loop, fn, arg, NULL);
    if (end)
        *end = cio_loop_time(loop);
    cio_loop_free(loop);
    return rc;
}

/* Runs fn on a fresh virtual loop: it must return 0 and nothing may be
 * reported to the exception handler. */
static inline void run_clean(cio_coro_fn *fn)
{
    reports = 0;
    CHECK_RC(run_virtual(fn, NULL, NULL), 0);
    CHECK_EQ(reports, 0);
}

/* What a child does: sleep `delay` seconds (in a shield for `shielded`
 * of them first), then return `code` with result `value`. */
struct spec {
    double delay;     /* seconds to sleep */
    double shielded;  /* seconds slept first inside a shield, ignoring cancel */
    int code;         /* what to return after the sleep */
    intptr_t value;   /* result on success */
    int started;      /* it ran */
    int slept;        /* what cio_sleep returned */
    int finished;     /* it returned */
    double end;       /* loop time when it returned */
};

static int child(void *arg, void **result)
{
    struct spec *s = arg;
    s->started = 1;
    int rc = 0;
    if (s->shielded > 0) {
        cio_shield_begin();
        cio_sleep(s->shielded);
        cio_shield_end();
    }
    rc = cio_sleep(s->delay);
    s->slept = rc;
    s->finished = 1;
    s->end = cio_loop_time(cio_get_running_loop());
    if (rc)
        return rc;
    *result = (void *)s->value;
    if (s->code < 0)
        cio_set_error_message("child failed on purpose");
    return s->code;
}

/* Spawns n children from specs; fills tasks and futs. */
static inline void spawn(struct spec *specs, size_t n, cio_task **tasks, cio_future **futs)
{
    for (size_t i = 0; i < n; i++) {
        CHECK_RC(cio_create_task(child, &specs[i], NULL, &tasks[i]), 0);
        futs[i] = cio_task_future(tasks[i]);
    }
}

/* Waits (shielded) until each task is done, reads and releases it. */
static inline void reap(cio_task **tasks, size_t n)
{
    cio_shield_begin();
    for (size_t i = 0; i < n; i++) {
        while (!cio_task_done(tasks[i]))
            cio_sleep(0.001);
        cio_task_result(tasks[i], NULL);
        cio_task_unref(tasks[i]);
    }
    cio_shield_end();
}

#define now test_loop_now

#define CHECK_NEAR(a, b) CHECK(fabs((double)(a) - (double)(b)) < 1e-6)

#endif
