/*
 * event.c - cio_event, asyncio.Event: a flag tasks can wait to be set.
 *
 * set() wakes every waiter at once (head first) and empties the queue, so
 * a waiter cancelled after being woken has nothing to hand on: it only
 * reports the cancellation, as asyncio's wait raises CancelledError then.
 *
 * Divided into: creation and freeing; wait; set, clear and state.
 */
#include "waitq.h"

struct cio_event {
    cio_loop *loop;            /* bound loop, NULL until first use */
    int is_set;                /* the flag */
    struct cio__waitq waiters; /* tasks waiting for the flag */
};

int cio_event_new(cio_loop *loop, cio_event **out)
{
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    cio_event *e = cio__malloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    e->loop = cio__sync_loop(loop);
    e->is_set = 0;
    cio__waitq_init(&e->waiters);
    *out = e;
    return 0;
}

void cio_event_free(cio_event *e)
{
    if (!e)
        return;
    cio__waitq_wake_all(&e->waiters, CIO_ECLOSED);
    cio__free(e);
}

/* ---- wait ---------------------------------------------------------- */

int cio_event_wait(cio_event *e)
{
    if (!e)
        return cio__bad_arg(NULL, __func__, "event is NULL");
    cio_task *t;
    int rc = cio__sync_task(&e->loop, &t, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc || e->is_set)
        return rc;
    struct cio__waitq_entry w;
    rc = cio__waitq_park(&e->waiters, &w, t, e, cio__waitq_interrupt);
    if (rc)
        return rc;
    return cio__checkpoint(t);
}

/* ---- set, clear and state ------------------------------------------- */

int cio_event_set(cio_event *e)
{
    if (!e)
        return cio__bad_arg(NULL, __func__, "event is NULL");
    if (!e->is_set) {
        e->is_set = 1;
        cio__waitq_wake_all(&e->waiters, 0);
    }
    return 0;
}

int cio_event_clear(cio_event *e)
{
    if (!e)
        return cio__bad_arg(NULL, __func__, "event is NULL");
    e->is_set = 0;
    return 0;
}

int cio_event_is_set(const cio_event *e) { return e && e->is_set; }
