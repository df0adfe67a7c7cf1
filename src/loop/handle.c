/*
 * handle.c - callback handles: call_soon, call_later, call_at, cancel,
 * and the per-loop pool that recycles them.
 *
 * A handle is referenced by whoever may still touch it: the ready queue
 * or the timer heap (one reference while it is in either), a descriptor
 * slot, and the user if it asked for the handle.  The last reference puts
 * it back in the loop's pool.
 *
 * When the pool is empty, handles are allocated HANDLE_BLOCK at a time:
 * a million timers cost a malloc and a free each, a third of their
 * instructions.  A block counts the handles not yet given back to it (in
 * use or in the pool) and is freed when the last comes back; the pool
 * still keeps at most HANDLE_POOL_MAX handles, so what a past burst leaves
 * behind is bounded.  Handles made by other threads
 * (cio_call_soon_threadsafe) are allocated alone.
 */
#include <math.h>

#include "loop.h"

#define HANDLE_POOL_MAX 4096
#ifdef CIO_ASAN
#define HANDLE_BLOCK 1 /* one allocation each: ASan sees a use after free */
#else
#define HANDLE_BLOCK 32
#endif

struct cio__handle_block {
    size_t out;                /* handles not given back (in use or pooled) */
    cio_handle h[];            /* HANDLE_BLOCK of them */
};

void (*cio__handle_drop_arg2)(void *obj);

void cio__handle_node_run(struct cio__node *node)
{
    cio_handle *h = CIO_CONTAINER_OF(node, cio_handle, node);
    h->flags &= ~(uint32_t)CIO__H_QUEUED;
    h->loop->ready_handles--;
    if (!(h->flags & CIO__H_CANCELLED)) {
        if (h->flags & CIO__H_DONE_CB) {
            void *fut = h->arg2;
            h->arg2 = NULL;
            ((cio_done_fn *)(void *)h->cb)(fut, h->arg);
            cio__handle_drop_arg2(fut);
        } else {
            h->cb(h->arg);
        }
    } else if ((h->flags & CIO__H_DONE_CB) && h->arg2) {
        cio__handle_drop_arg2(h->arg2);
        h->arg2 = NULL;
    }
    cio__handle_unref(h);
}

/* The pool is empty: a new block, its first handle returned, the rest
 * pooled.  NULL on -ENOMEM. */
static __attribute__((noinline)) cio_handle *handle_alloc(cio_loop *loop)
{
    if (HANDLE_BLOCK == 1) {
        cio_handle *h = cio__malloc(sizeof *h);
        if (h)
            h->block = NULL;
        return h;
    }
    struct cio__handle_block *b =
        cio__malloc(sizeof *b + HANDLE_BLOCK * sizeof(cio_handle));
    if (!b)
        return NULL;
    b->out = HANDLE_BLOCK;
    for (size_t i = HANDLE_BLOCK; i-- > 1;) {
        cio_handle *h = &b->h[i];
        h->block = b;
        h->node.next = (struct cio__node *)(void *)loop->free_handles;
        loop->free_handles = h;
        loop->nfree_handles++;
    }
    b->h[0].block = b;
    return &b->h[0];
}

cio_handle *cio__handle_new(cio_loop *loop)
{
    cio_handle *h = loop->free_handles;
    if (h) {
        loop->free_handles = (cio_handle *)(void *)h->node.next;
        loop->nfree_handles--;
    } else if (!(h = handle_alloc(loop))) {
        return NULL;
    }
    cio__handle_init(loop, h);
    return h;
}

void cio__handle_dispose(cio_handle *h)
{
    struct cio__handle_block *b = h->block;
    if (!b)
        cio__free(h);
    else if (--b->out == 0)
        cio__free(b);
}

void cio__handle_init(cio_loop *loop, cio_handle *h)
{
    h->node.next = NULL;
    h->node.run = cio__handle_node_run;
    h->loop = loop;
    h->arg2 = NULL;
    h->when = 0;
    h->seq = 0;
    h->refs = 0;
    h->flags = 0;
}

void cio__handle_unref(cio_handle *h)
{
    if (--h->refs)
        return;
    cio_loop *loop = h->loop;
    if (loop->nfree_handles < HANDLE_POOL_MAX && !loop->closed) {
        h->node.next = (struct cio__node *)(void *)loop->free_handles;
        loop->free_handles = h;
        loop->nfree_handles++;
    } else {
        cio__handle_dispose(h);
    }
}

void cio__handle_schedule(cio_handle *h)
{
    if (h->flags & CIO__H_QUEUED)
        return;
    h->flags |= CIO__H_QUEUED;
    h->loop->ready_handles++;
    h->refs++;
    cio__queue_push(&h->loop->ready, &h->node);
}

static int check_call(cio_loop *loop, cio_callback_fn *cb, const char *fn)
{
    if (!loop)
        return cio__bad_arg(NULL, fn, "loop is NULL");
    if (!cb)
        return cio__bad_arg(loop, fn, "callback is NULL");
    if (loop->closed)
        return CIO_ECLOSED;
    return cio__check_thread(loop, fn);
}

int cio_call_soon(cio_loop *loop, cio_callback_fn *cb, void *arg, cio_handle **out)
{
    int rc = check_call(loop, cb, __func__);
    if (rc)
        return rc;
    cio_handle *h = cio__handle_new(loop);
    if (!h)
        return -ENOMEM;
    h->cb = cb;
    h->arg = arg;
    h->seq = loop->seq++;
    cio__handle_schedule(h);
    if (out) {
        h->refs++;
        *out = h;
    }
    return 0;
}

void cio__ready_drop_all(cio_loop *loop)
{
    struct cio__node *n;
    while ((n = cio__queue_pop(&loop->ready))) {
        if (n->run != cio__handle_node_run)
            continue;
        cio_handle *h = CIO_CONTAINER_OF(n, cio_handle, node);
        h->flags &= ~(uint32_t)CIO__H_QUEUED;
        loop->ready_handles--;
        if ((h->flags & CIO__H_DONE_CB) && h->arg2)
            cio__handle_drop_arg2(h->arg2);
        h->arg2 = NULL;
        cio__threadsafe_dropped(h);
        cio__handle_unref(h);
    }
}

static int call_at_ns(cio_loop *loop, int64_t when, cio_callback_fn *cb, void *arg,
                      cio_handle **out)
{
    cio_handle *h = cio__handle_new(loop);
    if (!h)
        return -ENOMEM;
    h->cb = cb;
    h->arg = arg;
    h->refs = out ? 1 : 0;
    int rc = cio__timer_start(loop, h, when);
    if (rc < 0) {
        h->refs = 1;
        cio__handle_unref(h);
        return rc;
    }
    if (out)
        *out = h;
    return 0;
}

int cio_call_later(cio_loop *loop, double delay, cio_callback_fn *cb, void *arg,
                   cio_handle **out)
{
    int rc = check_call(loop, cb, __func__);
    if (rc)
        return rc;
    if (isnan(delay))
        return cio__bad_arg(loop, __func__, "delay is NaN");
    return call_at_ns(loop, cio__loop_now(loop) + cio__sec_to_ns(delay), cb, arg, out);
}

int cio_call_at(cio_loop *loop, double when, cio_callback_fn *cb, void *arg, cio_handle **out)
{
    int rc = check_call(loop, cb, __func__);
    if (rc)
        return rc;
    if (isnan(when))
        return cio__bad_arg(loop, __func__, "when is NaN");
    return call_at_ns(loop, cio__sec_to_ns(when), cb, arg, out);
}

int cio_handle_cancel(cio_handle *h)
{
    if (!h)
        return cio__bad_arg(NULL, __func__, "handle is NULL");
    int rc = cio__check_thread(h->loop, __func__);
    if (rc)
        return rc; /* another thread would race with the timer heap */
    if (h->flags & CIO__H_CANCELLED)
        return 0;
    h->flags |= CIO__H_CANCELLED;
    if (h->flags & CIO__H_IN_HEAP)
        cio__timer_cancelled(h->loop);
    return 0;
}

int cio_handle_cancelled(const cio_handle *h) { return h && (h->flags & CIO__H_CANCELLED) != 0; }

double cio_handle_when(const cio_handle *h)
{
    return h && (h->flags & CIO__H_TIMER) ? (double)h->when / 1e9 : 0;
}

void cio_handle_unref(cio_handle *h)
{
    if (h)
        cio__handle_unref(h);
}
