/*
 * wait.c - cio_wait, asyncio.wait: wait until the first future completes,
 * the first fails, or all complete, with an optional timeout; report which
 * are done.  Nothing is cancelled (asyncio).
 *
 * As gather.c, one state struct on the waiting task's stack is registered
 * as a synchronous callback on every pending future and counts them down;
 * the timeout is a timer that wakes the task straight from the timer heap.
 *
 * Divided as: callbacks (completion, timeout, interruption), cio_wait.
 */
#include "combine.h"

struct waitst {
    struct cio__direct d;       /* registered on every pending future */
    cio_task *task;             /* the waiting task */
    size_t left;                /* registrations not yet completed */
    int return_when;            /* CIO_ALL_COMPLETED, ... */
};

/* Whether a completed future ends the wait under return_when. */
static int wait_met(int return_when, const cio_future *f)
{
    if (return_when == CIO_FIRST_COMPLETED)
        return 1;
    return return_when == CIO_FIRST_EXCEPTION && f->status < 0 && f->status != -ECANCELED;
}

static void wait_one(struct cio__direct *d, cio_future *f)
{
    struct waitst *w = (struct waitst *)d;
    w->left--;
    if (!w->left || wait_met(w->return_when, f))
        cio__wake(w->task, 0);
}

static void wait_timeout(void *arg)
{
    struct waitst *w = arg;
    cio__wake(w->task, 0);
}

/* asyncio.wait does not cancel the futures when the waiter is cancelled:
 * just stop waiting. */
static void wait_interrupt(cio_task *t, int code) { cio__wake(t, code); }

int cio_wait(cio_future *const *futs, size_t n, int return_when, double timeout, uint8_t *done)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (!n)
        return cio__bad_arg(loop, __func__, "no futures to wait for");
    if (return_when != CIO_ALL_COMPLETED && return_when != CIO_FIRST_COMPLETED &&
        return_when != CIO_FIRST_EXCEPTION)
        return cio__bad_arg(loop, __func__, "unknown return_when");
    if (isnan(timeout))
        return cio__bad_arg(loop, __func__, "timeout is NaN");
    int rc = cio__check_futs(t, futs, n, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc)
        return rc;
    struct waitst w = {.d.fn = wait_one, .task = t, .return_when = return_when};
    int met = 0;
    for (size_t i = 0; i < n; i++) {
        if (futs[i]->state == CIO__F_DONE)
            met |= wait_met(return_when, futs[i]);
        else
            w.left++;
    }
    int64_t deadline = cio__timeout_deadline(loop, timeout);
    if (w.left && !met && deadline > cio__loop_now(loop)) {
        cio_handle *timer = NULL;
        if (deadline != INT64_MAX && !(timer = cio__deadline_start(loop, deadline, wait_timeout, &w)))
            return -ENOMEM;
        size_t i;
        for (i = 0; i < n; i++) {
            if (futs[i]->state != CIO__F_DONE &&
                cio__future_add_cb(futs[i], cio__direct_cb, &w.d) < 0)
                break;
        }
        if (i == n)
            rc = cio__park(t, wait_interrupt, &w);
        else
            rc = -ENOMEM;
        cio__deadline_stop(timer);
        for (size_t j = 0; j < i; j++)
            if (futs[j]->state != CIO__F_DONE)
                cio__future_remove_cb(futs[j], cio__direct_cb, &w.d);
        if (rc < 0)
            return rc;
    }
    int ndone = 0;
    for (size_t i = 0; i < n; i++) {
        int d = futs[i]->state == CIO__F_DONE;
        ndone += d;
        if (done)
            done[i] = (uint8_t)d;
    }
    return ndone;
}
