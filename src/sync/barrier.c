/*
 * barrier.c - cio_barrier, asyncio.Barrier: parties tasks wait until all
 * have arrived, then all go on together.
 *
 * Each arrival takes the next index; the one that completes the party
 * (index parties-1) wakes the others and the barrier is at once ready for
 * the next round, so asyncio's "draining" phase, which blocks newcomers
 * until the woken tasks have left, is not needed: woken tasks carry their
 * index in their own waiter node.  A waiter cancelled while waiting
 * leaves the round (the count drops by one, as in asyncio, where a later
 * arrival then takes the same index).  abort() breaks the barrier: waiters
 * and later arrivals fail with CIO_EBROKEN until reset(); reset() fails
 * the current waiters with CIO_EBROKEN and empties the barrier.
 *
 * Divided into: creation and freeing; wait; abort, reset and state.
 */
#include "waitq.h"

struct cio_barrier {
    cio_loop *loop;            /* bound loop, NULL until first use */
    size_t parties;            /* tasks that make a round */
    size_t count;              /* arrived in the current round */
    int broken;                /* aborted, until reset */
    struct cio__waitq waiters; /* arrived tasks of this round */
};

int cio_barrier_new(cio_loop *loop, size_t parties, cio_barrier **out)
{
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    if (parties < 1 || parties > INT32_MAX)
        return cio__bad_arg(loop, __func__, "parties must be in 1..INT32_MAX");
    cio_barrier *b = cio__malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    b->loop = cio__sync_loop(loop);
    b->parties = parties;
    b->count = 0;
    b->broken = 0;
    cio__waitq_init(&b->waiters);
    *out = b;
    return 0;
}

void cio_barrier_free(cio_barrier *b)
{
    if (!b)
        return;
    cio__waitq_wake_all(&b->waiters, CIO_ECLOSED);
    cio__free(b);
}

/* ---- wait ---------------------------------------------------------- */

/* A waiting task is cancelled or timed out: it leaves the round. */
static void barrier_interrupt(cio_task *t, int code)
{
    struct cio__waitq_entry *w = t->wait_obj;
    cio_barrier *b = w->obj;
    cio__waitq_remove(w);
    b->count--;
    cio__wake(t, code);
}

int cio_barrier_wait(cio_barrier *b)
{
    if (!b)
        return cio__bad_arg(NULL, __func__, "barrier is NULL");
    cio_task *t;
    int rc = cio__sync_task(&b->loop, &t, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (b->broken)
        return CIO_EBROKEN;
    size_t index = b->count++;
    if (b->count == b->parties) {
        b->count = 0;
        cio__waitq_wake_all(&b->waiters, 0);
        return (int)index;
    }
    struct cio__waitq_entry w;
    w.data = index;
    rc = cio__waitq_park(&b->waiters, &w, t, b, barrier_interrupt);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    return rc ? rc : (int)w.data;
}

/* ---- abort, reset and state ---------------------------------------------- */

int cio_barrier_abort(cio_barrier *b)
{
    if (!b)
        return cio__bad_arg(NULL, __func__, "barrier is NULL");
    b->broken = 1;
    b->count = 0;
    cio__waitq_wake_all(&b->waiters, CIO_EBROKEN);
    return 0;
}

int cio_barrier_reset(cio_barrier *b)
{
    if (!b)
        return cio__bad_arg(NULL, __func__, "barrier is NULL");
    b->count = 0;
    cio__waitq_wake_all(&b->waiters, CIO_EBROKEN);
    b->broken = 0;
    return 0;
}

size_t cio_barrier_parties(const cio_barrier *b) { return b ? b->parties : 0; }
size_t cio_barrier_n_waiting(const cio_barrier *b) { return b ? b->waiters.n : 0; }
int cio_barrier_broken(const cio_barrier *b) { return b && b->broken; }
