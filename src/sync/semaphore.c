/*
 * semaphore.c - cio_semaphore, asyncio.Semaphore and BoundedSemaphore.
 *
 * value counts free slots.  release() with tasks waiting hands its slot
 * straight to the first waiter (value stays 0), so waiters are served in
 * FIFO order and a newcomer never takes a slot a waiter was promised;
 * hence value > 0 implies that nobody waits.  A waiter handed a slot and
 * cancelled before it ran releases the slot again (to the next waiter),
 * so a failed acquire never holds a slot and no wake-up is lost.
 *
 * A bounded semaphore refuses a release that would raise value above its
 * initial value (asyncio's ValueError), with -EINVAL.
 *
 * Divided into: creation and freeing; acquire; release and state.
 */
#include "waitq.h"

struct cio_semaphore {
    cio_loop *loop;            /* bound loop, NULL until first use */
    size_t value;              /* free slots */
    size_t bound;              /* bounded: the initial value */
    int bounded;               /* a BoundedSemaphore */
    struct cio__waitq waiters; /* tasks waiting for a slot, FIFO */
};

static int make(cio_loop *loop, size_t value, int bounded, cio_semaphore **out,
                const char *fn)
{
    if (!out)
        return cio__bad_arg(loop, fn, "out is NULL");
    cio_semaphore *s = cio__malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = cio__sync_loop(loop);
    s->value = value;
    s->bound = value;
    s->bounded = bounded;
    cio__waitq_init(&s->waiters);
    *out = s;
    return 0;
}

int cio_semaphore_new(cio_loop *loop, size_t value, cio_semaphore **out)
{
    return make(loop, value, 0, out, __func__);
}

int cio_bounded_semaphore_new(cio_loop *loop, size_t value, cio_semaphore **out)
{
    return make(loop, value, 1, out, __func__);
}

void cio_semaphore_free(cio_semaphore *s)
{
    if (!s)
        return;
    cio__waitq_wake_all(&s->waiters, CIO_ECLOSED);
    cio__free(s);
}

/* ---- acquire ------------------------------------------------------- */

/* Gives one slot back: to the first waiter, else to the count. */
static void give(cio_semaphore *s)
{
    struct cio__waitq_entry *w = cio__waitq_pop(&s->waiters);
    if (w)
        cio__wake(w->task, 0);
    else
        s->value++;
}

int cio_semaphore_acquire(cio_semaphore *s)
{
    if (CIO_UNLIKELY(!s))
        return cio__bad_arg(NULL, __func__, "semaphore is NULL");
    cio_task *t;
    int rc = cio__sync_task(&s->loop, &t, __func__);
    if (CIO_UNLIKELY(rc))
        return rc;
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc))
        return rc;
    if (CIO_LIKELY(s->value > 0)) {
        s->value--;
        return 0;
    }
    struct cio__waitq_entry w;
    rc = cio__waitq_park(&s->waiters, &w, t, s, cio__waitq_interrupt);
    if (rc)
        return rc;
    /* A releaser handed us its slot; cancelled since: hand it on. */
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc))
        give(s);
    return rc;
}

/* ---- release and state ------------------------------------------------ */

int cio_semaphore_release(cio_semaphore *s)
{
    if (CIO_UNLIKELY(!s))
        return cio__bad_arg(NULL, __func__, "semaphore is NULL");
    if (s->bounded && s->value >= s->bound)
        return cio__bad_arg(s->loop, __func__, "bounded semaphore released too many times");
    if (!s->bounded && s->value == SIZE_MAX)
        return cio__bad_arg(s->loop, __func__, "semaphore value would overflow");
    give(s);
    return 0;
}

int cio_semaphore_locked(const cio_semaphore *s) { return s && s->value == 0; }

size_t cio_semaphore_value(const cio_semaphore *s) { return s ? s->value : 0; }
