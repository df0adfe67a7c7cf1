/*
 * combine.h - what the combinators (gather.c, wait.c, wait_for.c,
 * as_completed.c, shield.c, timeout.c, task_group.c) share: deadline
 * timers that fire straight from the timer heap, and argument checks.
 */
#ifndef CIO_COMBINE_INTERNAL_H
#define CIO_COMBINE_INTERNAL_H

#include <math.h>

#include "task.h"

/*
 * Starts a timer that calls fn(arg) at when (ns, loop clock) directly from
 * the timer run (as sleep's timers do: no round through the ready queue).
 * Returns the handle, on which the caller holds one reference, or NULL on
 * -ENOMEM.  Stop it with cio__deadline_stop() whether it fired or not.
 */
static inline cio_handle *cio__deadline_start(cio_loop *loop, int64_t when,
                                              void (*fn)(void *), void *arg)
{
    cio_handle *h = cio__handle_new(loop);
    if (!h)
        return NULL;
    h->cb = fn;
    h->arg = arg;
    h->flags = CIO__H_WAKE;
    h->refs = 1;
    if (cio__timer_start(loop, h, when) < 0) {
        cio__handle_unref(h);
        return NULL;
    }
    return h;
}

/* Cancels the timer if it has not fired and drops the caller's reference. */
static inline void cio__deadline_stop(cio_handle *h)
{
    if (h) {
        cio_handle_cancel(h);
        cio__handle_unref(h);
    }
}

/* A relative timeout in seconds as a deadline in ns: INT64_MAX for none
 * (negative or infinite, the convention of wait, wait_for, as_completed). */
static inline int64_t cio__timeout_deadline(cio_loop *loop, double timeout)
{
    if (timeout < 0 || isinf(timeout))
        return INT64_MAX;
    return cio__loop_now(loop) + cio__sec_to_ns(timeout);
}

/* Checks a list of futures for the calling task t: none NULL, all on t's
 * loop, none t's own.  0, -EINVAL (logged in debug mode) or -EDEADLK. */
static inline int cio__check_futs(cio_task *t, cio_future *const *futs, size_t n,
                                  const char *fn)
{
    if (n && !futs)
        return cio__bad_arg(t->fut.loop, fn, "futs is NULL");
    for (size_t i = 0; i < n; i++) {
        cio_future *f = futs[i];
        if (!f)
            return cio__bad_arg(t->fut.loop, fn, "a future is NULL");
        if (f->loop != t->fut.loop)
            return cio__bad_arg(t->fut.loop, fn, "a future belongs to another loop");
        if (f == &t->fut)
            return -EDEADLK;
    }
    return 0;
}

#endif
