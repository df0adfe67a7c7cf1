/*
 * as_completed.c - cio_as_completed_*, asyncio.as_completed: hand out
 * futures in the order they complete, with an overall timeout.
 *
 * Each future gets a synchronous completion callback whose argument is its
 * own entry (so the callback knows the index); completion appends the
 * index to `order`, a queue that each index enters at most once, so it
 * needs no ring.  A task waiting in next() is woken by the first append.
 * The overall timeout, as asyncio's, detaches the callbacks of the futures
 * still pending: what completed before it is still handed out, then
 * next() reports -ETIMEDOUT.
 *
 * Divided as: callbacks, new, next, free.
 */
#include "combine.h"

struct ac_entry {
    struct cio__direct d;       /* registered on the entry's future */
    cio_as_completed *ac;       /* back to the iterator */
    size_t index;               /* position in the caller's array */
    uint8_t registered;         /* the callback is still on the future */
};

struct cio_as_completed {
    cio_loop *loop;             /* where the futures live */
    size_t n;                   /* number of futures */
    cio_future **futs;          /* our references, in the caller's order */
    struct ac_entry *entries;   /* one per future */
    size_t *order;              /* indices in completion order */
    size_t nready;              /* entries in order */
    size_t next;                /* next position of order to hand out */
    cio_task *waiter;           /* task parked in next(), or NULL */
    cio_handle *timer;          /* overall deadline (our reference) */
    int timed_out;              /* the overall deadline passed */
};

static void ac_one(struct cio__direct *d, cio_future *f)
{
    (void)f;
    struct ac_entry *e = (struct ac_entry *)d;
    cio_as_completed *ac = e->ac;
    e->registered = 0;
    ac->order[ac->nready++] = e->index;
    if (ac->waiter)
        cio__wake(ac->waiter, 0);
}

static void ac_detach(cio_as_completed *ac)
{
    for (size_t i = 0; i < ac->n; i++) {
        if (ac->entries[i].registered) {
            cio__future_remove_cb(ac->futs[i], cio__direct_cb, &ac->entries[i].d);
            ac->entries[i].registered = 0;
        }
    }
}

static void ac_timeout(void *arg)
{
    cio_as_completed *ac = arg;
    cio_handle *h = ac->timer;
    ac->timer = NULL;
    cio__handle_unref(h); /* the heap still holds it during this call */
    ac->timed_out = 1;
    ac_detach(ac);
    if (ac->waiter)
        cio__wake(ac->waiter, 0);
}

static void ac_interrupt(cio_task *t, int code) { cio__wake(t, code); }

static void ac_destroy(cio_as_completed *ac)
{
    ac_detach(ac);
    cio__deadline_stop(ac->timer);
    for (size_t i = 0; i < ac->n; i++)
        cio_future_unref(ac->futs[i]);
    cio__free(ac->futs);
    cio__free(ac->entries);
    cio__free(ac->order);
    cio__free(ac);
}

int cio_as_completed_new(cio_future *const *futs, size_t n, double timeout,
                         cio_as_completed **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    *out = NULL;
    if (n && !futs)
        return cio__bad_arg(loop, __func__, "futs is NULL");
    if (isnan(timeout))
        return cio__bad_arg(loop, __func__, "timeout is NaN");
    for (size_t i = 0; i < n; i++) {
        if (!futs[i])
            return cio__bad_arg(loop, __func__, "a future is NULL");
        if (!loop)
            loop = futs[i]->loop;
        if (futs[i]->loop != loop)
            return cio__bad_arg(loop, __func__, "a future belongs to another loop");
    }
    if (!loop)
        return CIO_ENOLOOP;
    cio_as_completed *ac = cio__calloc(1, sizeof *ac);
    if (!ac)
        return -ENOMEM;
    ac->loop = loop;
    ac->futs = cio__calloc(n ? n : 1, sizeof *ac->futs);
    ac->entries = cio__calloc(n ? n : 1, sizeof *ac->entries);
    ac->order = cio__calloc(n ? n : 1, sizeof *ac->order);
    int64_t deadline = cio__timeout_deadline(loop, timeout);
    if (!ac->futs || !ac->entries || !ac->order)
        goto nomem;
    if (deadline != INT64_MAX && !(ac->timer = cio__deadline_start(loop, deadline, ac_timeout, ac)))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        struct ac_entry *e = &ac->entries[i];
        e->d.fn = ac_one;
        e->ac = ac;
        e->index = i;
        if (futs[i]->state == CIO__F_DONE) {
            ac->order[ac->nready++] = i;
        } else if (cio__future_add_cb(futs[i], cio__direct_cb, &e->d) < 0) {
            ac->n = i;
            goto nomem;
        } else {
            e->registered = 1;
        }
        cio_future_ref(futs[i]);
        ac->futs[i] = futs[i];
        ac->n = i + 1;
    }
    *out = ac;
    return 0;
nomem:
    ac_destroy(ac);
    return -ENOMEM;
}

int cio_as_completed_next(cio_as_completed *ac, size_t *index, cio_future **fut)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!ac)
        return cio__bad_arg(t->fut.loop, __func__, "iterator is NULL");
    if (ac->loop != t->fut.loop)
        return cio__bad_arg(t->fut.loop, __func__, "iterator belongs to another loop");
    if (ac->waiter)
        return -EBUSY;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    while (ac->next == ac->nready) {
        if (ac->next == ac->n)
            return 0;
        if (ac->timed_out)
            return -ETIMEDOUT;
        ac->waiter = t;
        rc = cio__park(t, ac_interrupt, ac);
        ac->waiter = NULL;
        if (rc < 0)
            return rc;
    }
    size_t i = ac->order[ac->next++];
    if (index)
        *index = i;
    if (fut)
        *fut = ac->futs[i];
    return 1;
}

int cio_as_completed_free(cio_as_completed *ac)
{
    if (!ac)
        return 0;
    if (ac->waiter)
        return -EBUSY;
    ac_destroy(ac);
    return 0;
}
