/*
 * timer.c - the timer heap: a 4-ary min-heap of (deadline, handle) pairs.
 *
 * Why 4-ary, and why pairs: the four children of a node are contiguous,
 * and the array is laid out so that they fill exactly one 64-byte cache
 * line (logical node i lives at a[i + 3], its children at a[4i + 4 ..
 * 4i + 7], and a is 64-byte aligned).  A sift-down reads one line per
 * level, half the levels of a binary heap, and never dereferences a
 * handle: the deadline is copied into the entry.  Handles are touched only
 * to break ties, so equal deadlines fire in the order they were set.
 *
 * Cancellation is lazy, as in asyncio: a cancelled handle stays in the
 * heap until it reaches the top, unless cancelled entries grow past half
 * of the heap, when the heap is rebuilt without them.
 */
#include <stdlib.h>

#include "loop.h"

#define ROOT 3
#define PREFETCH_MIN 16384 /* entries: 256 KiB of heap array */
#define AT(hp, i) ((hp)->a[(i) + ROOT])

static inline int before(const struct cio__timer_entry *x, const struct cio__timer_entry *y)
{
    return x->when < y->when || (x->when == y->when && x->h->seq < y->h->seq);
}

static void sift_up(struct cio__timer_heap *hp, size_t i)
{
    struct cio__timer_entry e = AT(hp, i);
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!before(&e, &AT(hp, p)))
            break;
        AT(hp, i) = AT(hp, p);
        i = p;
    }
    AT(hp, i) = e;
}

/* Whichever of entries a and b comes first (a on a tie, which the
 * sequence numbers make impossible). */
static inline size_t min_of(const struct cio__timer_heap *hp, size_t a, size_t b)
{
    return before(&AT(hp, b), &AT(hp, a)) ? b : a;
}

/*
 * Bottom-up sift-down (Floyd): the hole left at i first sinks to a leaf,
 * always taking the earliest child, then e climbs back from there.  e is
 * the heap's last entry when a timer is popped, so it nearly always
 * belongs near the bottom: the climb is short, and each level costs three
 * comparisons (among the children) instead of four.  Firing 200k timers
 * took 746 instructions per timer with the top-down sift, 555 with this.
 */
static inline __attribute__((always_inline)) void sift_down_at(struct cio__timer_heap *hp,
                                                                size_t i, int far)
{
    struct cio__timer_entry *a = &AT(hp, 0); /* a[k]: logical entry k */
    struct cio__timer_entry e = a[i];
    size_t n = hp->n, top = i;
    /* Levels where all four children exist: the earliest is found by a
     * running minimum kept in registers (its deadline and address), which
     * takes fewer instructions per level than a tournament of indices. */
    while (4 * i + 5 <= n) {
        const struct cio__timer_entry *c = &a[4 * i + 1], *m = c;
        if (far && 16 * i + 20 <= n)
            for (int k = 0; k < 4; k++)
                __builtin_prefetch(&a[16 * i + 5 + 4 * k]);
        int64_t mw = c[0].when;
        for (int k = 1; k < 4; k++) {
            if (c[k].when < mw || (c[k].when == mw && c[k].h->seq < m->h->seq)) {
                m = &c[k];
                mw = c[k].when;
            }
        }
        a[i] = *m;
        i = (size_t)(m - a);
    }
    /* The last parent may have one to three children. */
    size_t c = 4 * i + 1;
    if (c < n) {
        size_t best = c;
        for (size_t k = c + 1; k < n; k++)
            best = min_of(hp, best, k);
        a[i] = a[best];
        i = best;
    }
    while (i > top) {
        size_t p = (i - 1) / 4;
        if (!before(&e, &a[p]))
            break;
        a[i] = a[p];
        i = p;
    }
    a[i] = e;
}

/* Past PREFETCH_MIN entries the lower levels are out of the cache: each
 * level then asks for the next level's four lines while it compares
 * (firing 1M timers: 200-250 -> 172-197 ns per timer, the handle's line
 * asked for too, cio__timers_run).  A smaller heap gets the loop without
 * them, which would only cost it instructions; two functions, as one
 * with both loops cost the small heap 19 instructions per timer. */
static __attribute__((noinline)) void sift_down_near(struct cio__timer_heap *hp, size_t i)
{
    sift_down_at(hp, i, 0);
}

static __attribute__((noinline)) void sift_down_far(struct cio__timer_heap *hp, size_t i)
{
    sift_down_at(hp, i, 1);
}

static inline void sift_down(struct cio__timer_heap *hp, size_t i)
{
    if (CIO_LIKELY(hp->n < PREFETCH_MIN))
        sift_down_near(hp, i);
    else
        sift_down_far(hp, i);
}

/*
 * The array is allocated 64 bytes larger than needed; the aligned base is
 * stored, and the raw pointer sits in the slot just before the base.  It
 * grows by realloc, not malloc + copy: a large array is its own mapping,
 * which realloc moves with mremap, so its pages are not copied into fresh
 * ones: a million timers touch 16 MiB of heap array, not 32 (half the
 * heap's page faults; a first touch cost 8-20 us on the VMs of issue 14).
 */
static int grow(struct cio__timer_heap *hp)
{
    size_t cap = hp->cap ? hp->cap * 2 : 64;
    size_t bytes = (cap + ROOT) * sizeof(struct cio__timer_entry) + 64 + sizeof(void *);
    char *old_raw = hp->a ? ((char **)(void *)hp->a)[-1] : NULL;
    size_t old_off = hp->a ? (size_t)((char *)hp->a - old_raw) : 0;
    char *raw = cio__realloc(old_raw, bytes);
    if (!raw)
        return -ENOMEM; /* the old array is intact */
    uintptr_t base = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    struct cio__timer_entry *a = (struct cio__timer_entry *)base;
    /* Moved to an address of another alignment: the entries shift. */
    if (old_raw && (size_t)((char *)a - raw) != old_off)
        memmove(a + ROOT, raw + old_off + ROOT * sizeof *a, hp->n * sizeof *a);
    ((void **)base)[-1] = raw;
    hp->a = a;
    hp->cap = cap;
    return 0;
}

/* Enters h at when; the heap has room. */
static inline void timer_push(cio_loop *loop, struct cio__timer_heap *hp, cio_handle *h,
                              int64_t when)
{
    h->when = when;
    h->seq = loop->seq++;
    h->flags |= CIO__H_TIMER | CIO__H_IN_HEAP;
    h->refs++;
    size_t i = hp->n++;
    AT(hp, i).when = when;
    AT(hp, i).h = h;
    sift_up(hp, i);
}

/* cio__timer_start when the heap is full: out of line, so the common
 * case saves no registers for the realloc. */
static __attribute__((noinline)) int timer_start_grow(cio_loop *loop, cio_handle *h, int64_t when)
{
    struct cio__timer_heap *hp = &loop->timers;
    if (grow(hp) < 0)
        return -ENOMEM;
    timer_push(loop, hp, h, when);
    return 0;
}

int cio__timer_start(cio_loop *loop, cio_handle *h, int64_t when)
{
    struct cio__timer_heap *hp = &loop->timers;
    if (CIO_UNLIKELY(hp->n == hp->cap))
        return timer_start_grow(loop, h, when);
    timer_push(loop, hp, h, when);
    return 0;
}

static cio_handle *pop_top(struct cio__timer_heap *hp)
{
    cio_handle *h = AT(hp, 0).h;
    if (--hp->n) {
        AT(hp, 0) = AT(hp, hp->n);
        sift_down(hp, 0);
    }
    h->flags &= ~(uint32_t)CIO__H_IN_HEAP;
    return h;
}

void cio__timers_run(cio_loop *loop)
{
    struct cio__timer_heap *hp = &loop->timers;
    int64_t now = loop->now;
    while (hp->n && AT(hp, 0).when <= now) {
        /* The handle is read after the sift-down that pop_top makes: in
         * a large heap, ask for its line first, so the sift hides the
         * miss. */
        if (hp->n >= PREFETCH_MIN)
            __builtin_prefetch(AT(hp, 0).h, 1);
        cio_handle *h = pop_top(hp);
        if (h->flags & CIO__H_CANCELLED) {
            hp->cancelled--;
            cio__handle_unref(h);
        } else if (h->flags & CIO__H_WAKE) {
            /* A sleeping task's timer: wake it now rather than queueing a
             * callback that would wake it one iteration later. */
            h->cb(h->arg);
            cio__handle_unref(h);
        } else {
            /* The heap's reference becomes the queue's. */
            h->flags |= CIO__H_QUEUED;
            loop->ready_handles++;
            cio__queue_push(&loop->ready, &h->node);
        }
    }
}

int64_t cio__timers_next(cio_loop *loop)
{
    struct cio__timer_heap *hp = &loop->timers;
    while (hp->n && (AT(hp, 0).h->flags & CIO__H_CANCELLED)) {
        cio_handle *h = pop_top(hp);
        hp->cancelled--;
        cio__handle_unref(h);
    }
    return hp->n ? AT(hp, 0).when : INT64_MAX;
}

void cio__timer_cancelled(cio_loop *loop)
{
    struct cio__timer_heap *hp = &loop->timers;
    hp->cancelled++;
    if (hp->cancelled <= 64 || hp->cancelled * 2 <= hp->n)
        return;
    size_t j = 0;
    for (size_t i = 0; i < hp->n; i++) {
        cio_handle *h = AT(hp, i).h;
        if (h->flags & CIO__H_CANCELLED) {
            h->flags &= ~(uint32_t)CIO__H_IN_HEAP;
            cio__handle_unref(h);
        } else {
            AT(hp, j++) = AT(hp, i);
        }
    }
    hp->n = j;
    hp->cancelled = 0;
    for (size_t i = hp->n / 4 + 1; i-- > 0;)
        if (i < hp->n)
            sift_down(hp, i);
}

void cio__timers_fini(cio_loop *loop)
{
    struct cio__timer_heap *hp = &loop->timers;
    for (size_t i = 0; i < hp->n; i++) {
        cio_handle *h = AT(hp, i).h;
        h->flags &= ~(uint32_t)CIO__H_IN_HEAP;
        cio__handle_unref(h);
    }
    if (hp->a)
        cio__free(((void **)(void *)hp->a)[-1]);
    memset(hp, 0, sizeof *hp);
}
