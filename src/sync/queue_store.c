/*
 * queue_store.c - the item stores of cio_queue: a power-of-two ring for
 * FIFO, an array used as a stack for LIFO, a binary min-heap for priority
 * order (ties broken by arrival, so equal items leave in FIFO order, which
 * Python's heapq does not promise).  Storage grows by doubling on demand
 * and is never allocated up front, so a queue with a large maxsize costs
 * only what it holds.
 *
 * Divided into: setup; growth; FIFO/LIFO; heap.
 */
#include "queue_store.h"

void cio__qstore_init(struct cio__qstore *s, int kind, cio_queue_cmp_fn *cmp, void *ud)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->cmp = cmp;
    s->ud = ud;
}

void cio__qstore_fini(struct cio__qstore *s)
{
    cio__free(s->items);
    cio__free(s->heap);
    s->items = NULL;
    s->heap = NULL;
    s->cap = s->n = 0;
}

/* ---- growth ---------------------------------------------------------- */

int cio__qstore_reserve(struct cio__qstore *s)
{
    if (CIO_LIKELY(s->n < s->cap))
        return 0;
    size_t ncap = s->cap ? s->cap * 2 : 16;
    if (ncap < s->cap || ncap > SIZE_MAX / sizeof(struct cio__qs_entry))
        return -ENOMEM;
    if (s->kind == CIO__QS_PRIO) {
        struct cio__qs_entry *h = cio__realloc(s->heap, ncap * sizeof *h);
        if (!h)
            return -ENOMEM;
        s->heap = h;
    } else if (s->kind == CIO__QS_LIFO) {
        void **a = cio__realloc(s->items, ncap * sizeof *a);
        if (!a)
            return -ENOMEM;
        s->items = a;
    } else {
        /* The ring is full: copy it out unwrapped into a fresh block. */
        void **a = cio__malloc(ncap * sizeof *a);
        if (!a)
            return -ENOMEM;
        for (size_t i = 0; i < s->n; i++)
            a[i] = s->items[(s->head + i) & (s->cap - 1)];
        cio__free(s->items);
        s->items = a;
        s->head = 0;
    }
    s->cap = ncap;
    return 0;
}

/* ---- heap ------------------------------------------------------------ */

static int before(const struct cio__qstore *s, const struct cio__qs_entry *a,
                  const struct cio__qs_entry *b)
{
    int c = s->cmp(a->item, b->item, s->ud);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void heap_push(struct cio__qstore *s, void *item)
{
    struct cio__qs_entry e = {item, s->seq++};
    size_t i = s->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(s, &e, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static void *heap_pop(struct cio__qstore *s)
{
    void *top = s->heap[0].item;
    struct cio__qs_entry last = s->heap[--s->n];
    size_t i = 0, n = s->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(s, &s->heap[c + 1], &s->heap[c]))
            c++;
        if (!before(s, &s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* ---- push and pop (the FIFO ring is inline, in queue_store.h) -------- */

void cio__qstore_push_other(struct cio__qstore *s, void *item)
{
    if (s->kind == CIO__QS_LIFO)
        s->items[s->n++] = item;
    else
        heap_push(s, item);
}

void *cio__qstore_pop_other(struct cio__qstore *s)
{
    if (s->kind == CIO__QS_LIFO)
        return s->items[--s->n];
    return heap_pop(s);
}
