/*
 * queue.c - cio_queue: asyncio.Queue, LifoQueue and PriorityQueue with
 * Python 3.13's shutdown, built on the item stores of queue_store.c.
 *
 * Waking without handing over.  A put does not give its item to a waiting
 * getter: it stores the item and wakes the first getter, which takes an
 * item from the store when it runs.  So an item is never in flight on a
 * task's stack: a getter cancelled after it was woken takes nothing, and
 * the item stays queued.  To keep the order fair anyway (no newcomer
 * taking the item the woken getter was woken for), the queue counts woken
 * getters that have not run yet (gwoken) and reserves that many items for
 * them: get, get_nowait and qsize-based checks see only items beyond the
 * reservations.  A woken getter that finds itself cancelled gives its
 * reservation to the next waiting getter (asyncio's _wakeup_next), so no
 * wake-up is lost.  Putters on a bounded queue mirror this with free
 * slots (pwoken).  Invariants: gwoken <= n (until an immediate shutdown
 * drops items), and n + pwoken <= maxsize when bounded.
 *
 * Divided into: creation and freeing; wake-up passing; put; get;
 * task_done and join; shutdown and state.
 */
#include "queue_store.h"
#include "waitq.h"

struct cio_queue {
    cio_loop *loop;            /* bound loop, NULL until first use */
    struct cio__qstore store;  /* the items */
    size_t maxsize;            /* 0: unbounded */
    size_t gwoken;             /* getters woken for an item, not yet run */
    size_t pwoken;             /* putters woken for a slot, not yet run */
    size_t unfinished;         /* put items not yet marked task_done */
    int shutdown;              /* cio_queue_shutdown was called */
    struct cio__waitq getters; /* tasks waiting for an item */
    struct cio__waitq putters; /* tasks waiting for a free slot */
    struct cio__waitq joiners; /* tasks waiting in join */
    cio_queue_discard_fn *discard; /* receives items the queue drops */
    void *discard_ud;
    cio_aiter iter;            /* what cio_queue_aiter hands out */
};

static int make(cio_loop *loop, size_t maxsize, int kind, cio_queue_cmp_fn *cmp, void *ud,
                cio_queue **out, const char *fn)
{
    if (!out)
        return cio__bad_arg(loop, fn, "out is NULL");
    if (kind == CIO__QS_PRIO && !cmp)
        return cio__bad_arg(loop, fn, "cmp is NULL");
    cio_queue *q = cio__calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->loop = cio__sync_loop(loop);
    q->maxsize = maxsize;
    cio__qstore_init(&q->store, kind, cmp, ud);
    cio__waitq_init(&q->getters);
    cio__waitq_init(&q->putters);
    cio__waitq_init(&q->joiners);
    *out = q;
    return 0;
}

int cio_queue_new(cio_loop *loop, size_t maxsize, cio_queue **out)
{
    return make(loop, maxsize, CIO__QS_FIFO, NULL, NULL, out, __func__);
}

int cio_lifo_queue_new(cio_loop *loop, size_t maxsize, cio_queue **out)
{
    return make(loop, maxsize, CIO__QS_LIFO, NULL, NULL, out, __func__);
}

int cio_priority_queue_new(cio_loop *loop, size_t maxsize, cio_queue_cmp_fn *cmp, void *ud,
                           cio_queue **out)
{
    return make(loop, maxsize, CIO__QS_PRIO, cmp, ud, out, __func__);
}

/* Drops every stored item to the discard callback; returns how many. */
static size_t drop_items(cio_queue *q)
{
    size_t n = 0;
    while (q->store.n) {
        void *item = cio__qstore_pop(&q->store);
        if (q->discard)
            q->discard(item, q->discard_ud);
        n++;
    }
    return n;
}

void cio_queue_free(cio_queue *q)
{
    if (!q)
        return;
    cio__waitq_wake_all(&q->getters, CIO_ECLOSED);
    cio__waitq_wake_all(&q->putters, CIO_ECLOSED);
    cio__waitq_wake_all(&q->joiners, CIO_ECLOSED);
    drop_items(q);
    cio__qstore_fini(&q->store);
    cio__free(q);
}

int cio_queue_set_discard(cio_queue *q, cio_queue_discard_fn *fn, void *ud)
{
    if (!q)
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    q->discard = fn;
    q->discard_ud = ud;
    return 0;
}

/* ---- wake-up passing ----------------------------------------------------- */

/* Items no woken getter has claimed. */
static inline size_t available(const cio_queue *q)
{
    return q->store.n > q->gwoken ? q->store.n - q->gwoken : 0;
}

/* 1 if a putter may store an item now without overrunning maxsize once
 * the woken putters have stored theirs. */
static inline int has_room(const cio_queue *q)
{
    return !q->maxsize || q->store.n + q->pwoken < q->maxsize;
}

/* Wakes the first waiting getter if an unclaimed item is there for it. */
static inline void wake_getter(cio_queue *q)
{
    if (q->getters.head && available(q)) {
        struct cio__waitq_entry *w = cio__waitq_pop(&q->getters);
        q->gwoken++;
        cio__wake(w->task, 0);
    }
}

/* Wakes the first waiting putter if an unclaimed slot is there for it. */
static inline void wake_putter(cio_queue *q)
{
    if (q->putters.head && has_room(q)) {
        struct cio__waitq_entry *w = cio__waitq_pop(&q->putters);
        q->pwoken++;
        cio__wake(w->task, 0);
    }
}

/* ---- put ------------------------------------------------------------- */

/* Stores item (room checked) and wakes a getter for it. */
static inline int store_item(cio_queue *q, void *item)
{
    int rc = cio__qstore_reserve(&q->store);
    if (CIO_UNLIKELY(rc))
        return rc;
    cio__qstore_push(&q->store, item);
    q->unfinished++;
    wake_getter(q);
    return 0;
}

int cio_queue_put_nowait(cio_queue *q, void *item)
{
    if (!q)
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    if (q->shutdown)
        return CIO_ESHUTDOWN;
    if (!has_room(q))
        return CIO_EFULL;
    return store_item(q, item);
}

int cio_queue_put(cio_queue *q, void *item)
{
    if (CIO_UNLIKELY(!q))
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    cio_task *t;
    int rc = cio__sync_task(&q->loop, &t, __func__);
    if (CIO_UNLIKELY(rc))
        return rc;
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc))
        return rc;
    if (q->shutdown)
        return CIO_ESHUTDOWN;
    if (CIO_LIKELY(has_room(q)))
        return store_item(q, item);
    struct cio__waitq_entry w;
    rc = cio__waitq_park(&q->putters, &w, t, q, cio__waitq_interrupt);
    if (rc)
        return rc; /* interrupted while queued: no slot was claimed */
    /* Woken by a get with a slot claimed for us. */
    q->pwoken--;
    if (q->shutdown)
        return CIO_ESHUTDOWN;
    rc = cio__checkpoint(t);
    if (!rc)
        rc = store_item(q, item);
    if (CIO_UNLIKELY(rc))
        wake_putter(q); /* the slot goes to the next putter */
    return rc;
}

/* ---- get ------------------------------------------------------------- */

/* Takes the next item and hands the freed slot to a waiting putter. */
static inline void *take_item(cio_queue *q)
{
    void *item = cio__qstore_pop(&q->store);
    wake_putter(q);
    return item;
}

int cio_queue_get_nowait(cio_queue *q, void **item)
{
    if (!q)
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    if (!item)
        return cio__bad_arg(q->loop, __func__, "item is NULL");
    if (!available(q))
        return q->shutdown && !q->store.n ? CIO_ESHUTDOWN : CIO_EEMPTY;
    *item = take_item(q);
    return 0;
}

int cio_queue_get(cio_queue *q, void **item)
{
    if (CIO_UNLIKELY(!q))
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    if (CIO_UNLIKELY(!item))
        return cio__bad_arg(q->loop, __func__, "item is NULL");
    cio_task *t;
    int rc = cio__sync_task(&q->loop, &t, __func__);
    if (CIO_UNLIKELY(rc))
        return rc;
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc))
        return rc;
    if (CIO_LIKELY(available(q))) {
        *item = take_item(q);
        return 0;
    }
    /* After shutdown nothing more arrives: what is left is claimed. */
    if (q->shutdown)
        return CIO_ESHUTDOWN;
    struct cio__waitq_entry w;
    rc = cio__waitq_park(&q->getters, &w, t, q, cio__waitq_interrupt);
    if (rc)
        return rc; /* interrupted while queued: nothing was claimed */
    /* Woken by a put with an item claimed for us. */
    q->gwoken--;
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc)) {
        wake_getter(q); /* the item goes to the next getter */
        return rc;
    }
    if (CIO_UNLIKELY(!q->store.n))
        return CIO_ESHUTDOWN; /* an immediate shutdown dropped it */
    *item = take_item(q);
    return 0;
}

/* ---- task_done and join --------------------------------------------------- */

int cio_queue_task_done(cio_queue *q)
{
    if (!q)
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    if (!q->unfinished)
        return cio__bad_arg(q->loop, __func__, "task_done() called too many times");
    if (--q->unfinished == 0)
        cio__waitq_wake_all(&q->joiners, 0);
    return 0;
}

size_t cio_queue_unfinished_tasks(const cio_queue *q) { return q ? q->unfinished : 0; }

int cio_queue_join(cio_queue *q)
{
    if (!q)
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    cio_task *t;
    int rc = cio__sync_task(&q->loop, &t, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc || !q->unfinished)
        return rc;
    struct cio__waitq_entry w;
    rc = cio__waitq_park(&q->joiners, &w, t, q, cio__waitq_interrupt);
    if (rc)
        return rc;
    return cio__checkpoint(t);
}

/* ---- shutdown and state ----------------------------------------------------- */

int cio_queue_shutdown(cio_queue *q, int immediate)
{
    if (!q)
        return cio__bad_arg(NULL, __func__, "queue is NULL");
    q->shutdown = 1;
    if (immediate) {
        size_t n = drop_items(q);
        q->unfinished -= n < q->unfinished ? n : q->unfinished;
        if (!q->unfinished)
            cio__waitq_wake_all(&q->joiners, 0);
    }
    /* Waiting getters wait only when every item left is claimed by a
     * woken getter; with nothing more to come they fail.  Putters fail. */
    cio__waitq_wake_all(&q->getters, CIO_ESHUTDOWN);
    cio__waitq_wake_all(&q->putters, CIO_ESHUTDOWN);
    return 0;
}

size_t cio_queue_qsize(const cio_queue *q) { return q ? q->store.n : 0; }
size_t cio_queue_maxsize(const cio_queue *q) { return q ? q->maxsize : 0; }
int cio_queue_empty(const cio_queue *q) { return !q || !available(q); }
int cio_queue_full(const cio_queue *q) { return q && !has_room(q); }
int cio_queue_is_shutdown(const cio_queue *q) { return q && q->shutdown; }

/* ---- as an asynchronous iterator (cio/iter.h) ------------------------------ */

/* next is cio_queue_get; a queue shut down and drained is the end. */
static int queue_next(void *self, void **value)
{
    int rc = cio_queue_get(self, value);
    return rc == CIO_ESHUTDOWN ? CIO_ITER_END : rc;
}

/* Nothing to release: the queue belongs to its creator, and closing one
 * consumer's iteration must not shut it down for the others. */
static const cio_aiter_ops queue_iter_ops = {.next = queue_next, .aclose = NULL};

cio_aiter *cio_queue_aiter(cio_queue *q)
{
    if (!q) {
        cio__bad_arg(NULL, __func__, "q is NULL");
        return NULL;
    }
    /* Stateless (ops, q): every consumer may share it. */
    cio_aiter_init(&q->iter, &queue_iter_ops, q);
    return &q->iter;
}
