/*
 * cio/sync.h - synchronisation between tasks of one loop: Lock, Event,
 * Condition, Semaphore, BoundedSemaphore and Barrier, with asyncio's
 * semantics (asyncio.Lock, ...).
 *
 * Objects are opaque and heap-allocated: cio_X_new(loop, ..., &obj) and
 * cio_X_free(obj).  loop NULL means the running loop or, if none runs
 * yet, the loop of the first task that waits on the object (asyncio binds
 * its primitives the same way); using it from a task of another loop
 * fails with -EINVAL.  Use an object only from its loop's thread; nothing
 * here is thread-safe.  Freeing an object wakes the tasks
 * still parked on it with CIO_ECLOSED; free it only when no task it has
 * just woken is still to run (simplest: when no task uses it any more).
 *
 * Waiting is fair: tasks are served in the order they started waiting,
 * and a release hands the lock (or semaphore slot) directly to the first
 * waiter, which becomes the owner before it even runs, so no newcomer can
 * take it first.  Waiting allocates nothing: the waiter's node lives on
 * its own stack.
 *
 * Calls marked "Suspends" may only be called inside a task (else
 * CIO_ENOTASK).  Cancellation is level-triggered: in a task that is being
 * cancelled (or inside an expired timeout scope) they fail at once with
 * -ECANCELED (-ETIMEDOUT), even when they would not have to wait, unless
 * the task is shielded (cio_shield_begin).  A wait that fails never leaves
 * anything held and loses no wake-up: a lock or slot handed to a waiter that was
 * cancelled before it could run is passed on to the next waiter, and a
 * notification to such a waiter goes to the next one.
 *
 * The equivalent of "async with lock:" is below.  The release never
 * suspends, so it runs even in a cancelled task; cleanup that must itself
 * wait goes inside a shield (see examples/09_resource_cleanup.c).
 *
 *     int rc = cio_lock_acquire(lock);
 *     if (rc < 0)
 *         return rc;                 // not acquired: nothing to release
 *     rc = work();                   // may fail with -ECANCELED
 *     cio_lock_release(lock);        // never suspends: always runs
 *     return rc;
 */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Lock (asyncio.Lock) ------------------------------------------------- */

typedef struct cio_lock cio_lock;

/*
 * Creates an unlocked lock; free it with cio_lock_free.
 * Errors: -EINVAL (out NULL), -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_lock_new(cio_loop *loop, cio_lock **out);

/* Frees the lock (see the top of this file about waiters).  NULL: no-op. */
CIO_EXTERN void cio_lock_free(cio_lock *lock);

/*
 * Acquires the lock for the calling task, waiting (FIFO) while another
 * task holds it.  Suspends.  Returns 0 when the caller holds the lock;
 * any error means it does not: -ECANCELED, -ETIMEDOUT, -EDEADLK (the
 * caller holds it already: the lock is not recursive; asyncio would
 * hang), CIO_ECLOSED (freed
 * while waiting), CIO_ENOTASK, -EINVAL (NULL, or a lock of another loop).
 */
CIO_EXTERN int cio_lock_acquire(cio_lock *lock);

/*
 * Releases the lock; the first waiting task, if any, becomes its owner at
 * once.  Only the task that holds the lock may release it (asyncio lets
 * anyone release; cio treats a release by another task, or from a
 * callback, as the bug it almost always is).  Errors: -EPERM if the calling task does not hold it (including when
 * it is not locked at all: asyncio's RuntimeError), -EINVAL.  Does not
 * suspend, so it is safe in cleanup paths of a cancelled task.
 */
CIO_EXTERN int cio_lock_release(cio_lock *lock);

/* 1 if some task holds the lock (or it was handed to a waiter that has not
 * run yet), else 0. */
CIO_EXTERN int cio_lock_locked(const cio_lock *lock);

/* ---- Event (asyncio.Event) ---------------------------------------------- */

typedef struct cio_event cio_event;

/* Creates an event, initially not set / frees it (see the top of this file
 * about waiters).  Errors: -EINVAL, -ENOMEM.  Does not suspend. */
CIO_EXTERN int cio_event_new(cio_loop *loop, cio_event **out);
CIO_EXTERN void cio_event_free(cio_event *ev);

/*
 * Waits until the event is set (at once if it is).  Suspends.  Returns 0,
 * -ECANCELED, -ETIMEDOUT (also when the task was cancelled after set()
 * woke it but before it ran, as asyncio raises then), CIO_ECLOSED,
 * CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_event_wait(cio_event *ev);

/* Sets the event and wakes every waiting task (they return 0 even if the
 * flag is cleared again before they run).  Errors: -EINVAL.  Does not
 * suspend; may be called from a callback of the event's loop. */
CIO_EXTERN int cio_event_set(cio_event *ev);

/* Clears the flag; later waits wait again.  Errors: -EINVAL. */
CIO_EXTERN int cio_event_clear(cio_event *ev);

/* 1 if set, else 0. */
CIO_EXTERN int cio_event_is_set(const cio_event *ev);

/* ---- Condition (asyncio.Condition) ---------------------------------------- */

typedef struct cio_condition cio_condition;

/* A predicate for cio_condition_wait_for: non-zero when satisfied. */
typedef int cio_predicate_fn(void *ud);

/*
 * Creates a condition variable using lock (not owned: it must outlive the
 * condition and belong to the same loop), or a lock of its own if lock is
 * NULL (freed with the condition).  Errors: -EINVAL (out NULL, lock of
 * another loop), -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_condition_new(cio_loop *loop, cio_lock *lock, cio_condition **out);
CIO_EXTERN void cio_condition_free(cio_condition *cond);

/* The underlying lock's cio_lock_acquire (suspends), cio_lock_release and
 * cio_lock_locked, with their errors. */
CIO_EXTERN int cio_condition_acquire(cio_condition *cond);
CIO_EXTERN int cio_condition_release(cio_condition *cond);
CIO_EXTERN int cio_condition_locked(const cio_condition *cond);

/*
 * Releases the lock (which the calling task must hold), waits until
 * notified, and re-acquires the lock.  Suspends.  Whatever the outcome,
 * the caller holds the lock again when it returns (the re-acquire is
 * shielded from cancellation, as asyncio retries it on cancellation),
 * except for CIO_ECLOSED.  Returns 0 (notified), -ECANCELED / -ETIMEDOUT
 * (a notification that had reached the task goes to the next waiter, as
 * asyncio 3.13 does), -EPERM (lock not held by the caller:
 * nothing done), CIO_ECLOSED (condition freed while waiting: lock not
 * re-acquired), CIO_ENOTASK, -EINVAL.  As with any condition variable,
 * re-check the predicate after waking (or use cio_condition_wait_for).
 */
CIO_EXTERN int cio_condition_wait(cio_condition *cond);

/*
 * Waits until pred(ud) returns non-zero, checking it first and after each
 * notification, with the lock held (the caller must hold it).  Suspends.
 * Returns pred's last (positive) result (1 if it returned a negative
 * "true"), or an error of cio_condition_wait (with the lock held again as
 * described there), or -EINVAL (pred NULL).
 */
CIO_EXTERN int cio_condition_wait_for(cio_condition *cond, cio_predicate_fn *pred, void *ud);

/*
 * Wakes up to n waiting tasks (FIFO); they return from wait once they
 * have re-acquired the lock.  The calling task must hold the lock.
 * Returns how many were woken, -EPERM (lock not held by the caller),
 * -EINVAL.  Does not suspend.
 */
CIO_EXTERN int cio_condition_notify(cio_condition *cond, size_t n);

/* cio_condition_notify for every waiting task. */
CIO_EXTERN int cio_condition_notify_all(cio_condition *cond);

/* ---- Semaphore and BoundedSemaphore -------------------------------------- */

typedef struct cio_semaphore cio_semaphore;

/* Creates a semaphore with value free slots.  Errors: -EINVAL, -ENOMEM.
 * Does not suspend. */
CIO_EXTERN int cio_semaphore_new(cio_loop *loop, size_t value, cio_semaphore **out);

/* As cio_semaphore_new, but release beyond the initial value fails with
 * -EINVAL (asyncio.BoundedSemaphore's ValueError; nothing changes). */
CIO_EXTERN int cio_bounded_semaphore_new(cio_loop *loop, size_t value, cio_semaphore **out);

/* Frees the semaphore (see the top of this file about waiters). */
CIO_EXTERN void cio_semaphore_free(cio_semaphore *sem);

/*
 * Takes a slot, waiting (FIFO) while none is free.  Suspends.  Returns 0
 * when a slot is held; any error means none is: -ECANCELED, -ETIMEDOUT,
 * CIO_ECLOSED, CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_semaphore_acquire(cio_semaphore *sem);

/*
 * Gives a slot back: to the first waiting task, if any, else to the
 * count.  Any task or callback of the loop may release.  Errors: -EINVAL (NULL; a
 * bounded semaphore already at its initial value; the count would
 * overflow).  Does not suspend.
 */
CIO_EXTERN int cio_semaphore_release(cio_semaphore *sem);

/* 1 if acquire would have to wait (no free slot). */
CIO_EXTERN int cio_semaphore_locked(const cio_semaphore *sem);

/* The number of free slots (a slot handed to a waiter that has not run
 * yet is no longer free). */
CIO_EXTERN size_t cio_semaphore_value(const cio_semaphore *sem);

/* ---- Barrier (asyncio.Barrier) ------------------------------------------- */

typedef struct cio_barrier cio_barrier;

/* Creates a barrier for parties tasks (1..INT32_MAX).
 * Errors: -EINVAL, -ENOMEM. */
CIO_EXTERN int cio_barrier_new(cio_loop *loop, size_t parties, cio_barrier **out);
CIO_EXTERN void cio_barrier_free(cio_barrier *b);

/*
 * Waits until parties tasks have called wait, then all go on; the
 * barrier is at once ready for another round (asyncio's "draining" phase
 * is not needed: each woken task carries its result).  Suspends (the last arrival
 * does not wait).  Returns the arrival index, 0 .. parties-1 (the task
 * that completes the round gets parties-1), or CIO_EBROKEN (the barrier
 * is broken, or was aborted or reset while waiting), -ECANCELED /
 * -ETIMEDOUT (the task leaves the round, which then needs another
 * arrival, as in asyncio; or the round completed but the task was cancelled before it
 * ran), CIO_ECLOSED, CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_barrier_wait(cio_barrier *b);

/*
 * Breaks the barrier: waiting tasks and every later wait fail with
 * CIO_EBROKEN until cio_barrier_reset.  Errors: -EINVAL.  Does not
 * suspend (asyncio's abort is a coroutine; nothing here needs to wait).
 */
CIO_EXTERN int cio_barrier_abort(cio_barrier *b);

/*
 * Returns the barrier to its empty, unbroken state; tasks waiting fail
 * with CIO_EBROKEN.  Errors: -EINVAL.  Does not suspend.
 */
CIO_EXTERN int cio_barrier_reset(cio_barrier *b);

/* The number of tasks that make a round. */
CIO_EXTERN size_t cio_barrier_parties(const cio_barrier *b);
/* Tasks waiting in the current round. */
CIO_EXTERN size_t cio_barrier_n_waiting(const cio_barrier *b);
/* 1 if broken (aborted and not reset). */
CIO_EXTERN int cio_barrier_broken(const cio_barrier *b);

#ifdef __cplusplus
}
#endif
#endif
