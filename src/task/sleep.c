/*
 * sleep.c - cio_sleep: a timer that wakes the task directly when it fires
 * (no callback round through the ready queue), or, for 0, one trip to the
 * back of the ready queue.
 */
#include <math.h>

#include "task.h"

static void sleep_wake(void *task) { cio__wake(task, 0); }

void cio__sleep_interrupt(cio_task *t, int code)
{
    cio_handle_cancel(t->wait_obj);
    cio__wake(t, code);
}

/* The timed half of cio_sleep, out of line so that a yield (seconds 0)
 * saves no registers for it. */
static __attribute__((noinline)) int sleep_timed(cio_task *t, cio_loop *loop, double seconds)
{
    cio_handle *h = cio__handle_new(loop);
    if (!h)
        return -ENOMEM;
    h->cb = sleep_wake;
    h->arg = t;
    h->flags = CIO__H_WAKE;
    int rc = cio__timer_start(loop, h, cio__loop_now(loop) + cio__sec_to_ns(seconds));
    if (rc < 0) {
        h->refs = 1;
        cio__handle_unref(h);
        return rc;
    }
    return cio__park(t, cio__sleep_interrupt, h);
}

int cio_sleep(double seconds)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (CIO_UNLIKELY(isnan(seconds)))
        return cio__bad_arg(loop, __func__, "seconds is NaN");
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (seconds > 0)
        return sleep_timed(t, loop, seconds);
    t->state = CIO__T_READY;
    cio__queue_push(&loop->ready, &t->node);
    cio__switch_away(loop, t);
    return cio__checkpoint(t);
}
