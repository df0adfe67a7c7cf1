/*
 * condition.c - cio_condition, asyncio.Condition: tasks wait, holding a
 * lock, until another task notifies them.
 *
 * wait() queues the task, releases the lock, parks, and re-acquires the
 * lock before it returns, whatever happened: notified, cancelled, timed
 * out.  The re-acquire runs shielded (as asyncio's loop that retries
 * acquire on CancelledError), so the caller's cleanup always runs with the
 * lock held and can release it.  A waiter notified and then cancelled
 * before it ran passes the notification on to the next waiter (asyncio
 * 3.13 does the same), so a notify is never lost to a cancellation.
 *
 * Divided into: creation and freeing; the lock's operations; wait;
 * notify.
 */
#include "lock.h"

struct cio_condition {
    cio_loop *loop;            /* bound loop, NULL until first use */
    cio_lock *lock;            /* the lock waits release and re-acquire */
    int own_lock;              /* lock was made here (freed with us) */
    struct cio__waitq waiters; /* tasks waiting for a notify, FIFO */
};

int cio_condition_new(cio_loop *loop, cio_lock *lock, cio_condition **out)
{
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    loop = cio__sync_loop(loop);
    if (lock && loop && lock->loop && lock->loop != loop)
        return cio__bad_arg(loop, __func__, "lock belongs to another loop");
    cio_condition *c = cio__malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->own_lock = !lock;
    if (!lock) {
        int rc = cio_lock_new(loop, &lock);
        if (rc) {
            cio__free(c);
            return rc;
        }
    }
    c->loop = loop;
    c->lock = lock;
    cio__waitq_init(&c->waiters);
    *out = c;
    return 0;
}

void cio_condition_free(cio_condition *c)
{
    if (!c)
        return;
    cio__waitq_wake_all(&c->waiters, CIO_ECLOSED);
    if (c->own_lock)
        cio_lock_free(c->lock);
    cio__free(c);
}

/* ---- the lock's operations ---------------------------------------------- */

int cio_condition_acquire(cio_condition *c)
{
    if (!c)
        return cio__bad_arg(NULL, __func__, "condition is NULL");
    return cio_lock_acquire(c->lock);
}

int cio_condition_release(cio_condition *c)
{
    if (!c)
        return cio__bad_arg(NULL, __func__, "condition is NULL");
    return cio_lock_release(c->lock);
}

int cio_condition_locked(const cio_condition *c) { return c && cio_lock_locked(c->lock); }

/* ---- wait ---------------------------------------------------------- */

/* Wakes up to n waiters; returns how many. */
static size_t notify(cio_condition *c, size_t n)
{
    size_t i = 0;
    struct cio__waitq_entry *w;
    while (i < n && (w = cio__waitq_pop(&c->waiters))) {
        cio__wake(w->task, 0);
        i++;
    }
    return i;
}

/* The calling task, which must hold c's lock: 0, -EPERM, or the errors of
 * cio__sync_task (not in a task, wrong loop). */
static int enter_held(cio_condition *c, cio_task **t, const char *fn)
{
    int rc = cio__sync_task(&c->loop, t, fn);
    if (rc)
        return rc;
    if (c->lock->owner != *t) {
        cio__bad_arg(c->loop, fn, "lock is not held by the calling task");
        return -EPERM;
    }
    return 0;
}

int cio_condition_wait(cio_condition *c)
{
    if (!c)
        return cio__bad_arg(NULL, __func__, "condition is NULL");
    cio_task *t;
    int rc = enter_held(c, &t, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc)
        return rc; /* still holding the lock, as on every return */
    struct cio__waitq_entry w;
    w.task = t;
    w.obj = c;
    cio__waitq_push_back(&c->waiters, &w);
    cio__lock_pass(c->lock);
    rc = cio__park(t, cio__waitq_interrupt, &w);
    if (rc == CIO_ECLOSED)
        return rc; /* the condition was freed: its lock may be gone too */
    int notified = rc == 0;
    /* Re-acquire even when cancelled: shielded, the acquire can only
     * succeed (the lock outlives the condition that uses it). */
    t->shield++;
    int arc = cio_lock_acquire(c->lock);
    t->shield--;
    if (arc)
        return arc;
    if (notified) {
        rc = cio__checkpoint(t);
        if (rc)
            notify(c, 1); /* hand the notification on */
    }
    return rc;
}

int cio_condition_wait_for(cio_condition *c, cio_predicate_fn *pred, void *ud)
{
    if (!c)
        return cio__bad_arg(NULL, __func__, "condition is NULL");
    if (!pred)
        return cio__bad_arg(c->loop, __func__, "predicate is NULL");
    cio_task *t;
    int rc = enter_held(c, &t, __func__);
    if (rc)
        return rc;
    rc = cio__checkpoint(t);
    if (rc)
        return rc;
    int r;
    while (!(r = pred(ud))) {
        rc = cio_condition_wait(c);
        if (rc)
            return rc;
    }
    return r < 0 ? 1 : r;
}

/* ---- notify ---------------------------------------------------------- */

static int check_notify(cio_condition *c, const char *fn)
{
    if (!c)
        return cio__bad_arg(NULL, fn, "condition is NULL");
    cio_task *t = cio__current();
    if (!t || c->lock->owner != t) {
        cio__bad_arg(c->loop, fn, "lock is not held by the calling task");
        return -EPERM;
    }
    return 0;
}

int cio_condition_notify(cio_condition *c, size_t n)
{
    int rc = check_notify(c, __func__);
    if (rc)
        return rc;
    size_t k = notify(c, n);
    return k > INT32_MAX ? INT32_MAX : (int)k;
}

int cio_condition_notify_all(cio_condition *c)
{
    int rc = check_notify(c, __func__);
    if (rc)
        return rc;
    size_t k = notify(c, SIZE_MAX);
    return k > INT32_MAX ? INT32_MAX : (int)k;
}
