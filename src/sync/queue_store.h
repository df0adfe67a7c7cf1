/*
 * queue_store.h - where a cio_queue keeps its items: a ring (FIFO), a
 * stack (LIFO) or a binary min-heap (priority), behind one small
 * interface, so queue.c deals only with waiting and never with layout.
 */
#ifndef CIO_SYNC_QUEUE_STORE_H
#define CIO_SYNC_QUEUE_STORE_H

#include "../util/internal.h"

enum { CIO__QS_FIFO = 0, CIO__QS_LIFO = 1, CIO__QS_PRIO = 2 };

/* A heap entry: the sequence number keeps equal items in FIFO order. */
struct cio__qs_entry {
    void *item;                /* the caller's pointer */
    uint64_t seq;              /* order of arrival */
};

struct cio__qstore {
    int kind;                  /* CIO__QS_* */
    void **items;              /* FIFO ring or LIFO stack */
    struct cio__qs_entry *heap; /* priority heap, heap[0] the least */
    size_t cap;                /* slots allocated (power of two for FIFO) */
    size_t head;               /* FIFO: index of the oldest item */
    size_t n;                  /* items stored */
    uint64_t seq;              /* next arrival number (priority) */
    cio_queue_cmp_fn *cmp;     /* priority: the caller's comparator */
    void *ud;                  /* its user data */
};

void cio__qstore_init(struct cio__qstore *s, int kind, cio_queue_cmp_fn *cmp, void *ud);
void cio__qstore_fini(struct cio__qstore *s);
/* Makes room for one more item; 0 or -ENOMEM (nothing changed). */
int cio__qstore_reserve(struct cio__qstore *s);
/* The LIFO and priority cases of push and pop (queue_store.c). */
void cio__qstore_push_other(struct cio__qstore *s, void *item);
void *cio__qstore_pop_other(struct cio__qstore *s);

/* Stores item; room must have been reserved.  The FIFO ring is inline:
 * a call and a switch on the kind cost ~20 instructions each way. */
static inline void cio__qstore_push(struct cio__qstore *s, void *item)
{
    if (CIO_LIKELY(s->kind == CIO__QS_FIFO))
        s->items[(s->head + s->n++) & (s->cap - 1)] = item;
    else
        cio__qstore_push_other(s, item);
}

/* Removes and returns the next item; s->n must be > 0. */
static inline void *cio__qstore_pop(struct cio__qstore *s)
{
    if (CIO_LIKELY(s->kind == CIO__QS_FIFO)) {
        void *item = s->items[s->head];
        s->head = (s->head + 1) & (s->cap - 1);
        s->n--;
        return item;
    }
    return cio__qstore_pop_other(s);
}

#endif
