/*
 * gather_calls.c - cio_gather_calls, asyncio.gather(f(a), g(b)) written
 * with coroutine functions and arguments: it makes the tasks itself, waits
 * for every one of them, and releases them, so nothing it started outlives
 * it (TaskGroup's rule, where cio_gather returns at the first failure and
 * leaves the others running).
 *
 * As in gather.c, one state struct on the calling task's stack is a
 * synchronous completion callback (cio__direct) on every task: it counts
 * them down, records the first failure and, without
 * CIO_GATHER_RETURN_ERRORS, cancels the others then.  The caller parks
 * until the count is zero, whatever interrupts it: an interruption
 * (cancellation, an expired timeout scope) cancels the tasks and the wait
 * goes on.  The parked caller's stack is never compacted (only sleep and
 * await park compactably), so the struct stays put.
 *
 * Divided as: the callbacks, cio_gather_calls.
 */
#include "combine.h"

/* Tasks held without allocating; more come from the allocator. */
#define INLINE_TASKS 8

struct gcalls {
    struct cio__direct d;       /* registered on every task */
    cio_task *caller;           /* the gathering task */
    cio_task **tasks;           /* the tasks, in call order (our refs) */
    size_t n;                   /* their number */
    size_t left;                /* tasks not done yet */
    cio_task *first_failed;     /* first failure in completion order */
    int fail_fast;              /* no CIO_GATHER_RETURN_ERRORS */
    int aborting;               /* the tasks were cancelled by us */
    int interrupted;            /* code that interrupted the caller */
};

/* Cancels every task not done; marks the gather as aborting first, so the
 * cancellations it causes are not taken for failures. */
static void gcalls_cancel_all(struct gcalls *g)
{
    g->aborting = 1;
    for (size_t i = 0; i < g->n; i++)
        if (g->tasks[i]->state != CIO__T_DONE)
            cio_task_cancel(g->tasks[i], NULL);
}

static void gcalls_one(struct cio__direct *d, cio_future *f)
{
    struct gcalls *g = (struct gcalls *)d;
    g->left--;
    /* A task cancelled by us is not a failure; one that cancelled itself
     * is (cio_gather counts it too). */
    if (f->status < 0 && !g->first_failed && !(f->status == -ECANCELED && g->aborting)) {
        g->first_failed = (cio_task *)f;
        if (g->fail_fast)
            gcalls_cancel_all(g);
    }
    if (!g->left)
        cio__wake(g->caller, 0);
}

/* The caller cancelled or timed out while waiting: the tasks are
 * cancelled, and it keeps waiting until they have unwound. */
static void gcalls_interrupt(cio_task *t, int code)
{
    struct gcalls *g = t->wait_obj;
    if (!g->interrupted)
        g->interrupted = code;
    gcalls_cancel_all(g);
}

/* Every call's outcome is code: what an early return reports. */
static int fill_all(size_t n, void **results, int *statuses, int code)
{
    for (size_t i = 0; i < n; i++) {
        if (results)
            results[i] = NULL;
        if (statuses)
            statuses[i] = code;
    }
    return code;
}

int cio_gather_calls(const cio_call *calls, size_t n, int flags, void **results, int *statuses)
{
    cio_task *t = cio__current();
    if (!t)
        return fill_all(n, results, statuses, CIO_ENOTASK);
    cio_loop *loop = t->fut.loop;
    if (flags & ~CIO_GATHER_RETURN_ERRORS)
        return fill_all(n, results, statuses,
                        cio__bad_arg(loop, __func__, "unknown flags"));
    if (n && !calls)
        return fill_all(n, results, statuses,
                        cio__bad_arg(loop, __func__, "calls is NULL"));
    for (size_t i = 0; i < n; i++)
        if (!calls[i].fn)
            return fill_all(n, results, statuses,
                            cio__bad_arg(loop, __func__, "a call's fn is NULL"));
    int rc = cio__checkpoint(t);
    if (rc)
        return fill_all(n, results, statuses, rc);
    if (!n)
        return 0;

    cio_task *inline_tasks[INLINE_TASKS];
    cio_task **tasks = inline_tasks;
    if (n > INLINE_TASKS) {
        if (n > SIZE_MAX / sizeof *tasks ||
            !(tasks = cio__malloc(n * sizeof *tasks)))
            return fill_all(n, results, statuses, -ENOMEM);
    }
    struct gcalls g = {
        .d.fn = gcalls_one,
        .caller = t,
        .tasks = tasks,
        .fail_fast = !(flags & CIO_GATHER_RETURN_ERRORS),
    };
    for (size_t i = 0; i < n; i++) {
        rc = cio_task_new(loop, calls[i].fn, calls[i].arg, NULL, &tasks[i]);
        if (CIO_UNLIKELY(rc < 0)) {
            /* None has run yet: cancelled before they start, they never
             * will, and finish on their own. */
            for (size_t j = 0; j < i; j++) {
                cio__future_remove_cb(&tasks[j]->fut, cio__direct_cb, &g.d);
                cio_task_cancel(tasks[j], NULL);
                cio_task_unref(tasks[j]);
            }
            if (tasks != inline_tasks)
                cio__free(tasks);
            return fill_all(n, results, statuses, rc);
        }
        /* A new task's inline callback slot is free: this cannot fail. */
        cio__future_add_cb(&tasks[i]->fut, cio__direct_cb, &g.d);
        g.n++;
        g.left++;
    }
    /* Even a cancelled caller waits: nothing started here may outlive the
     * call (its tasks may point into the caller's frame).  A shield would
     * not do: interruptions must reach gcalls_interrupt to cancel them. */
    while (g.left)
        cio__park(t, gcalls_interrupt, &g);

    for (size_t i = 0; i < n; i++) {
        cio_future *f = &tasks[i]->fut;
        f->flags |= CIO__FF_RETRIEVED;
        if (results)
            results[i] = f->status == 0 ? f->result : NULL;
        if (statuses)
            statuses[i] = f->status;
    }
    /* A failure wins over the caller's interruption (TaskGroup). */
    rc = g.interrupted;
    if (g.fail_fast && g.first_failed) {
        rc = g.first_failed->fut.status;
        /* It goes on as the caller's failure, with its message, as an
         * exception would: `return cio_gather_calls(...)` keeps both. */
        if (g.first_failed->fut.message) {
            char *m = cio__strdup(g.first_failed->fut.message);
            if (m) {
                cio__free(t->pending_message);
                t->pending_message = m;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        cio_task_unref(tasks[i]);
    if (tasks != inline_tasks)
        cio__free(tasks);
    return rc;
}
