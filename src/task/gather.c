/*
 * gather.c - cio_gather, asyncio.gather: wait for many futures, outcomes
 * in submission order.
 *
 * The cost per child is one done-callback registration and one counter
 * decrement: a single state struct lives on the gathering task's stack and
 * is registered as a synchronous callback (cio__direct_cb) on every pending
 * future, so nothing is allocated per child (a task's inline callback slot
 * holds it) and no callback handle is scheduled per completion.  The
 * gathering task is woken once: when the last child is done, or, without
 * CIO_GATHER_RETURN_ERRORS, at the first failure.
 *
 * Divided as: the completion callback, the interruption (the gathering
 * task cancelled: cancel the children and keep waiting), cio_gather.
 */
#include "combine.h"

struct gather {
    struct cio__direct d;       /* registered on every pending future */
    cio_task *task;             /* the gathering task */
    cio_future *const *futs;    /* the caller's array */
    size_t n;                   /* its length */
    size_t left;                /* registrations not yet completed */
    cio_future *first_failed;   /* first failure seen, in completion order */
    int fail_fast;              /* no CIO_GATHER_RETURN_ERRORS */
    int interrupted;            /* code that interrupted the gathering task */
};

static void gather_one(struct cio__direct *d, cio_future *f)
{
    struct gather *g = (struct gather *)d;
    g->left--;
    if (CIO_UNLIKELY(f->status < 0) && !g->first_failed) {
        g->first_failed = f;
        if (g->fail_fast && !g->interrupted)
            cio__wake(g->task, 0);
    }
    if (!g->left)
        cio__wake(g->task, 0);
}

/* asyncio: cancelling gather cancels its children; we then wait for all of
 * them (each completion still counts down) and report the interruption. */
static void gather_interrupt(cio_task *t, int code)
{
    struct gather *g = t->wait_obj;
    if (!g->interrupted)
        g->interrupted = code;
    for (size_t i = 0; i < g->n; i++)
        if (g->futs[i]->state != CIO__F_DONE)
            cio_future_cancel(g->futs[i], NULL);
}

int cio_gather(cio_future *const *futs, size_t n, int flags, void **results, int *statuses)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (flags & ~CIO_GATHER_RETURN_ERRORS)
        return cio__bad_arg(t->fut.loop, __func__, "unknown flags");
    int rc = cio__check_futs(t, futs, n, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc)
        return rc;
    struct gather g = {
        .d.fn = gather_one,
        .task = t,
        .futs = futs,
        .n = n,
        .fail_fast = !(flags & CIO_GATHER_RETURN_ERRORS),
    };
    for (size_t i = 0; i < n; i++) {
        cio_future *f = futs[i];
        if (f->state == CIO__F_DONE) {
            if (f->status < 0 && !g.first_failed)
                g.first_failed = f;
            continue;
        }
        if (CIO_UNLIKELY(cio__future_add_cb(f, cio__direct_cb, &g.d) < 0)) {
            for (size_t j = 0; j < i; j++)
                cio__future_remove_cb(futs[j], cio__direct_cb, &g.d);
            return -ENOMEM;
        }
        g.left++;
    }
    if (g.left && !(g.fail_fast && g.first_failed)) {
        cio__park(t, gather_interrupt, &g);
        if (g.left)
            for (size_t i = 0; i < n; i++)
                if (futs[i]->state != CIO__F_DONE)
                    cio__future_remove_cb(futs[i], cio__direct_cb, &g.d);
    } else if (g.left) {
        /* An early failure was already done: nothing to wait for. */
        for (size_t i = 0; i < n; i++)
            if (futs[i]->state != CIO__F_DONE)
                cio__future_remove_cb(futs[i], cio__direct_cb, &g.d);
    }
    for (size_t i = 0; i < n; i++) {
        cio_future *f = futs[i];
        int st;
        void *r = NULL;
        if (f->state == CIO__F_DONE) {
            f->flags |= CIO__FF_RETRIEVED;
            st = f->status;
            if (st == 0)
                r = f->result;
        } else {
            st = CIO_PENDING;
        }
        if (results)
            results[i] = r;
        if (statuses)
            statuses[i] = st;
    }
    if (g.interrupted)
        return g.interrupted;
    if (g.fail_fast && g.first_failed)
        return g.first_failed->status;
    return 0;
}
