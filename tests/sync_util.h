/*
 * sync_util.h - what the synchronisation tests (test_lock.c,
 * test_event_condition.c, test_semaphore_barrier.c, test_sync.c) share
 * beyond helpers.h: a record of the order in which tasks did something.
 */
#ifndef CIO_SYNC_UTIL_H
#define CIO_SYNC_UTIL_H

#include "helpers.h"
#include "task/task.h"

/* A record of the order in which tasks did something. */
struct trace {
    int ev[64]; /* what each step recorded, in order */
    int n;      /* steps recorded */
};

static inline void trace_add(struct trace *tr, int v)
{
    if (tr->n < 64)
        tr->ev[tr->n++] = v;
}

#endif
