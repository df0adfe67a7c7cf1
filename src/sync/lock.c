/*
 * lock.c - cio_lock, asyncio.Lock: a mutual-exclusion lock for tasks.
 *
 * Ownership passes directly: release gives the lock to the first waiter
 * (owner = that task) and readies it, so no newcomer can slip in between
 * (strict FIFO, no barging) and the woken task need not compete again.
 * The waiter's node is on its own stack: contended acquires allocate
 * nothing.
 *
 * A waiter can lose the race with cancellation in two ways.  Interrupted
 * while still queued, it unlinks itself and never owned anything.  Handed
 * the lock and then cancelled before it ran, it finds itself the owner
 * with cancellation pending: it passes the lock on to the next waiter and
 * fails, so a failed acquire never leaves the lock held (asyncio's
 * acquire does the same with _wake_up_first).
 *
 * Divided into: creation and freeing; acquire; release and state.
 */
#include "lock.h"

int cio_lock_new(cio_loop *loop, cio_lock **out)
{
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    cio_lock *l = cio__malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    l->loop = cio__sync_loop(loop);
    l->owner = NULL;
    cio__waitq_init(&l->waiters);
    *out = l;
    return 0;
}

void cio_lock_free(cio_lock *l)
{
    if (!l)
        return;
    /* Tasks still queued must not keep pointers into freed memory. */
    cio__waitq_wake_all(&l->waiters, CIO_ECLOSED);
    cio__free(l);
}

/* ---- acquire ------------------------------------------------------- */

int cio_lock_acquire(cio_lock *l)
{
    if (CIO_UNLIKELY(!l))
        return cio__bad_arg(NULL, __func__, "lock is NULL");
    cio_task *t;
    int rc = cio__sync_task(&l->loop, &t, __func__);
    if (CIO_UNLIKELY(rc))
        return rc;
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc))
        return rc;
    if (CIO_LIKELY(!l->owner)) {
        /* Free means nobody waits either: release hands a contended
         * lock straight to the next waiter. */
        l->owner = t;
        return 0;
    }
    if (CIO_UNLIKELY(l->owner == t))
        return -EDEADLK; /* asyncio would hang forever here */
    struct cio__waitq_entry w;
    rc = cio__waitq_park(&l->waiters, &w, t, l, cio__waitq_interrupt);
    if (CIO_UNLIKELY(rc))
        return rc; /* interrupted while queued, or the lock was freed */
    /* The releaser made us the owner.  Cancelled since, unshielded: pass
     * the lock on rather than return holding it with a failure. */
    rc = cio__checkpoint(t);
    if (CIO_UNLIKELY(rc))
        cio__lock_pass(l);
    return rc;
}

/* ---- release and state ------------------------------------------------ */

void cio__lock_pass(cio_lock *l)
{
    struct cio__waitq_entry *w = cio__waitq_pop(&l->waiters);
    if (w) {
        l->owner = w->task;
        cio__wake(w->task, 0);
    } else {
        l->owner = NULL;
    }
}

int cio_lock_release(cio_lock *l)
{
    if (CIO_UNLIKELY(!l))
        return cio__bad_arg(NULL, __func__, "lock is NULL");
    if (CIO_UNLIKELY(!l->owner || l->owner != cio__current())) {
        cio__bad_arg(l->loop, __func__, l->owner ? "lock is held by another task"
                                                 : "lock is not acquired");
        return -EPERM;
    }
    cio__lock_pass(l);
    return 0;
}

int cio_lock_locked(const cio_lock *l) { return l && l->owner != NULL; }
