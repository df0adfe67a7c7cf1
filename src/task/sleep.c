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

/* cio_sleep for a NaN or a positive delay. */
static __attribute__((noinline)) int sleep_not_yield(cio_task *t, cio_loop *loop, double seconds)
{
    if (isnan(seconds))
        return cio__bad_arg(loop, "cio_sleep", "seconds is NaN");
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    return sleep_timed(t, loop, seconds);
}

int cio_sleep(double seconds)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    /* One comparison sends both a NaN and a real sleep out of the
     * yield's path. */
    if (CIO_UNLIKELY(!(seconds <= 0)))
        return sleep_not_yield(t, loop, seconds);
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    /* A yield.  Its common case, a started task at the head of the ready
     * queue and budget left in this iteration, is a swap: the head comes
     * off, this task goes to the back, and the switch goes straight to
     * the head; exactly what the push and cio__switch_away's
     * cio__ready_next would do (same order, same budget), without the
     * queue's count going up and down and the checks that cannot fail. */
    struct cio__node *n = loop->ready.head;
    if (CIO_LIKELY(n && n->run == cio__task_node_run && !loop->debug)) {
        cio_task *next = CIO_CONTAINER_OF(n, cio_task, node);
        if (CIO_LIKELY(next->state != CIO__T_CREATED && cio__stack_canary_ok(t->stack))) {
            if (CIO_UNLIKELY(!loop->budget)) {
                /* cio__ready_next's refill, counting this task, which
                 * the push would have queued by now. */
                if (loop->ticks <= 1 || loop->ready_handles || loop->stopping)
                    goto slow;
                loop->ticks--;
                loop->budget = loop->ready.n + 1;
            }
            t->node.next = NULL;
            if (n->next) {
                loop->ready.head = n->next;
                *loop->ready.tailp = &t->node;
            } else {
                loop->ready.head = &t->node;
            }
            loop->ready.tailp = &t->node.next;
            loop->budget--;
            t->state = CIO__T_READY;
            next->state = CIO__T_RUNNING;
            cio__running_task = next;
            cio__ctx_switch(&t->ctx, &next->ctx, 0);
            return cio__checkpoint(t);
        }
    }
slow:
    t->state = CIO__T_READY;
    cio__queue_push(&loop->ready, &t->node);
    cio__switch_away(loop, t);
    return cio__checkpoint(t);
}
