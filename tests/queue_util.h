/*
 * queue_util.h - what the queue tests (test_queue.c,
 * test_queue_shutdown.c) share beyond helpers.h: items as pointers, and
 * getter and putter tasks that record their outcome.
 */
#ifndef CIO_QUEUE_UTIL_H
#define CIO_QUEUE_UTIL_H

#include "helpers.h"
#include "task/task.h"

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

/* A getter or putter task's arguments and outcome. */
struct op {
    cio_queue *q;
    int item;      /* put: what to put; get: what was got */
    int rc;        /* the call's return, 1 until it returns */
};

static inline int getter(void *arg, void **res)
{
    struct op *o = arg;
    void *it = I2P(-1);
    o->rc = cio_queue_get(o->q, &it);
    if (o->rc == 0)
        o->item = P2I(it);
    return 0;
}

static inline int putter(void *arg, void **res)
{
    struct op *o = arg;
    o->rc = cio_queue_put(o->q, I2P(o->item));
    return 0;
}

/* A task that joins the queue arg and ends with join's status. */
static inline int join_task(void *arg, void **res) { return cio_queue_join(arg); }

#endif
