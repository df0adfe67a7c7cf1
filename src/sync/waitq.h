/*
 * waitq.h - the FIFO of parked tasks that every primitive in src/sync/
 * waits in, and the few steps every suspending call there shares.
 *
 * A waiter node lives on the waiting task's own stack for the length of
 * the call, so waiting allocates nothing and cannot fail for lack of
 * memory.  The node is in the queue exactly while its task is parked and
 * not yet chosen: whoever wakes the task (a release, a put, an interrupt,
 * freeing the object) first unlinks the node, so a woken task never finds
 * itself still queued and a node never outlives its stack frame in a list.
 *
 * Divided into: the node and queue types; list operations; binding an
 * object to its loop on first use; parking and the generic interrupt.
 */
#ifndef CIO_SYNC_WAITQ_H
#define CIO_SYNC_WAITQ_H

#include "../task/task.h"

struct cio__waitq;

/* One parked task, on that task's stack. */
struct cio__waitq_entry {
    struct cio__waitq_entry *prev;  /* towards the head, NULL at the head */
    struct cio__waitq_entry *next;  /* towards the tail, NULL at the tail */
    struct cio__waitq *q;      /* the queue it is in, NULL once unlinked */
    cio_task *task;            /* the parked task */
    void *obj;                 /* the primitive, for interrupt handlers
                                  that must also update its counters */
    size_t data;               /* per primitive: the barrier's arrival
                                  index */
};

/* FIFO of waiters: tasks are served from the head. */
struct cio__waitq {
    struct cio__waitq_entry *head;  /* first to be served */
    struct cio__waitq_entry *tail;  /* last arrived */
    size_t n;                  /* number of waiters */
};

static inline void cio__waitq_init(struct cio__waitq *q)
{
    q->head = q->tail = NULL;
    q->n = 0;
}

static inline void cio__waitq_push_back(struct cio__waitq *q, struct cio__waitq_entry *w)
{
    w->q = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->n++;
}

static inline void cio__waitq_remove(struct cio__waitq_entry *w)
{
    struct cio__waitq *q = w->q;
    if (!q)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    q->n--;
    w->q = NULL;
}

/* Unlinks and returns the head, or NULL if nobody waits.  (The hot path
 * of every release: cheaper than the general remove.) */
static inline struct cio__waitq_entry *cio__waitq_pop(struct cio__waitq *q)
{
    struct cio__waitq_entry *w = q->head;
    if (w) {
        struct cio__waitq_entry *n = w->next;
        q->head = n;
        if (n)
            n->prev = NULL;
        else
            q->tail = NULL;
        q->n--;
        w->q = NULL;
    }
    return w;
}

/* Wakes every waiter with code, head first (their FIFO order). */
static inline void cio__waitq_wake_all(struct cio__waitq *q, int code)
{
    struct cio__waitq_entry *w;
    while ((w = cio__waitq_pop(q)))
        cio__wake(w->task, code);
}

/*
 * The calling task, for a call on an object bound to *loopp.  An object
 * made without a loop is bound to the loop of the first task that uses it
 * (asyncio's mixin does the same); one used from a task of another loop is
 * a bad argument.  0, CIO_ENOTASK or -EINVAL.
 */
static inline int cio__sync_task(cio_loop **loopp, cio_task **out, const char *fn)
{
    cio_task *t = cio__current();
    *out = t;
    if (CIO_UNLIKELY(!t))
        return CIO_ENOTASK;
    if (CIO_UNLIKELY(*loopp != t->fut.loop)) {
        if (*loopp)
            return cio__bad_arg(t->fut.loop, fn, "object belongs to another loop");
        *loopp = t->fut.loop;
    }
    return 0;
}

/* The loop an object is made for: the one given, else the running one
 * (NULL is fine: bound at first use). */
static inline cio_loop *cio__sync_loop(cio_loop *loop)
{
    return loop ? loop : cio__running_loop;
}

/* The interrupt every simple wait uses: unlink the node, wake with code. */
void cio__waitq_interrupt(cio_task *t, int code);

/* Queues w for t at the tail of q and parks t; returns the wake code. */
static inline int cio__waitq_park(struct cio__waitq *q, struct cio__waitq_entry *w, cio_task *t,
                                  void *obj, cio__interrupt_fn *interrupt)
{
    w->task = t;
    w->obj = obj;
    cio__waitq_push_back(q, w);
    return cio__park(t, interrupt, w);
}

#endif
