/*
 * task_util.h - what the task tests (test_task.c, test_task_cancel.c)
 * share beyond helpers.h: running a loop to a virtual time, and small
 * task bodies.
 */
#ifndef CIO_TASK_UTIL_H
#define CIO_TASK_UTIL_H

#include "helpers.h"
#include "task/task.h" /* white box: t->stack, to see a task never got one */

/* Runs the loop until its virtual clock reaches `when`. */
static inline void run_until(cio_loop *loop, double when)
{
    cio_future *f;
    cio_handle *h;
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_call_at(loop, when, (cio_callback_fn *)(void *)cio_future_set_result, f, &h), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), 0);
    cio_handle_unref(h);
    cio_future_unref(f);
}

static inline int return_arg(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static inline int mark_ran(void *arg, void **result)
{
    (*(int *)arg)++;
    return 0;
}

/* Sleeps; records how the sleep ended. */
struct sleeper {
    double seconds;
    int rc;
    int after_rc[3];
    double woke_at;
};

static inline int sleeper(void *arg, void **result)
{
    struct sleeper *s = arg;
    s->rc = cio_sleep(s->seconds);
    s->woke_at = cio_loop_time(cio_get_running_loop());
    /* Level-triggered: every later suspension point fails at once. */
    s->after_rc[0] = cio_sleep(1);
    s->after_rc[1] = cio_sleep(0);
    s->after_rc[2] = cio_checkpoint();
    return s->rc;
}

#endif
