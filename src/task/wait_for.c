/*
 * wait_for.c - cio_wait_for, asyncio.wait_for: await one future for at
 * most a given time.  On timeout the future is cancelled and awaited until
 * it is done (a task has finished unwinding: DESIGN.md section 5), so no
 * work outlives the call unnoticed; then -ETIMEDOUT is returned, unless
 * the future finished some other way despite the cancellation (asyncio
 * 3.12: a result is not lost).
 *
 * Divided as: the timer and interruption callbacks, cio_wait_for.
 */
#include "combine.h"

struct wait_for {
    cio_future *fut;            /* what is awaited */
    int timed_out;              /* our timer fired and cancelled fut */
    int interrupted;            /* code that interrupted the caller */
};

static void wait_for_timeout(void *arg)
{
    struct wait_for *w = arg;
    w->timed_out = 1;
    cio_future_cancel(w->fut, NULL);
}

/* As cio_await: cancel the awaited future and keep waiting for it. */
static void wait_for_interrupt(cio_task *t, int code)
{
    struct wait_for *w = t->wait_obj;
    if (!w->interrupted)
        w->interrupted = code;
    cio_future_cancel(w->fut, NULL);
}

int cio_wait_for(cio_future *fut, double timeout, void **result)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (result)
        *result = NULL;
    if (isnan(timeout))
        return cio__bad_arg(loop, __func__, "timeout is NaN");
    int64_t deadline = cio__timeout_deadline(loop, timeout);
    if (deadline == INT64_MAX)
        return cio_await(fut, result);
    int rc = cio__check_futs(t, &fut, 1, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (fut->state == CIO__F_DONE)
        return cio_future_result(fut, result);
    struct wait_for w = {.fut = fut};
    cio_handle *timer = NULL;
    if (deadline > cio__loop_now(loop) &&
        !(timer = cio__deadline_start(loop, deadline, wait_for_timeout, &w)))
        return -ENOMEM;
    rc = cio__future_add_cb(fut, cio__waiter_cb, t);
    if (rc < 0) {
        cio__deadline_stop(timer);
        return rc;
    }
    cio_future_ref(fut);
    if (!timer)
        wait_for_timeout(&w); /* timeout 0: cancel now, then wait for it */
    if (fut->state != CIO__F_DONE)
        cio__park(t, wait_for_interrupt, &w);
    else
        cio__future_remove_cb(fut, cio__waiter_cb, t);
    cio__deadline_stop(timer);
    if (w.interrupted) {
        cio_future_unref(fut);
        return w.interrupted;
    }
    rc = cio_future_result(fut, result);
    cio_future_unref(fut);
    return w.timed_out && rc == -ECANCELED ? -ETIMEDOUT : rc;
}
