/*
 * cio/queue.h - queues between tasks: asyncio.Queue, LifoQueue and
 * PriorityQueue, with Python 3.13's shutdown.
 *
 * Items are void pointers.  The queue stores them and never frees or
 * dereferences them (a priority queue passes them to its comparator): who
 * owns what an item points to is the caller's business, with one
 * exception, items the queue drops itself (cio_queue_shutdown with
 * immediate, or cio_queue_free of a non-empty queue), which go to the
 * discard callback if one is set (cio_queue_set_discard).
 *
 * Fairness: getters are served in the order they started waiting, and so
 * are putters.  A put does not hand its item to a waiting getter: it
 * stores it and wakes the first getter, and the item is claimed for that
 * getter until it runs (a newcomer cannot take it).  A getter cancelled
 * before it takes its item takes nothing: the item stays in the queue and
 * the next getter is woken instead.  So no item is ever lost or duplicated
 * by a cancellation, and no wake-up is lost.  Putters of a bounded queue
 * work the same way with free slots.  Consequence: get_nowait fails with
 * CIO_EEMPTY while every item is claimed, and put_nowait with CIO_EFULL
 * while every free slot is claimed; empty and full say what those calls
 * would do, and qsize counts every stored item.
 *
 * A queue belongs to one loop (the one given at creation, else the
 * running one, else the loop of the first task that waits on it); use it
 * only from that loop's thread.  No call here is thread-safe.
 *
 * Calls marked "Suspends" may only be called inside a task (else
 * CIO_ENOTASK) and, cancellation being level-triggered, fail at once with
 * -ECANCELED (-ETIMEDOUT in an expired timeout scope) in a task that is
 * being cancelled, unless it is shielded.
 *
 * A worker pool, asyncio's Queue tutorial:
 *
 *     static int worker(void *arg, void **result)
 *     {
 *         cio_queue *q = arg;
 *         for (;;) {
 *             void *job;
 *             int rc = cio_queue_get(q, &job);
 *             if (rc < 0)
 *                 return rc == CIO_ESHUTDOWN ? 0 : rc;   // no more work
 *             process(job);
 *             cio_queue_task_done(q);
 *         }
 *     }
 *     // main: put the jobs, cio_queue_join(q), then cio_queue_shutdown(q, 0).
 */
#ifndef CIO_QUEUE_H
#define CIO_QUEUE_H

#include "iter.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_queue cio_queue;

/* Orders two items of a priority queue: < 0 if a leaves before b, 0 if
 * equal (then they leave in arrival order), > 0 otherwise. */
typedef int cio_queue_cmp_fn(const void *a, const void *b, void *ud);

/* Receives an item the queue dropped (see the top of this file). */
typedef void cio_queue_discard_fn(void *item, void *ud);

/*
 * Creates a FIFO queue (asyncio.Queue) holding at most maxsize items (0:
 * unbounded) on loop (NULL: the running loop, or bound at first use).
 * *out must be freed with cio_queue_free.  Storage grows as items arrive;
 * nothing is allocated up front, so a large maxsize costs nothing.  Errors: -EINVAL (out NULL), -ENOMEM.
 * Does not suspend.
 */
CIO_EXTERN int cio_queue_new(cio_loop *loop, size_t maxsize, cio_queue **out);

/* As cio_queue_new, last in first out (asyncio.LifoQueue). */
CIO_EXTERN int cio_lifo_queue_new(cio_loop *loop, size_t maxsize, cio_queue **out);

/*
 * As cio_queue_new, least item first by cmp(a, b, ud) (asyncio.
 * PriorityQueue); equal items leave in arrival order (Python's heapq does
 * not promise that).  cmp must not call
 * into the queue.  ud must stay valid while the queue lives.
 * Errors: -EINVAL (cmp or out NULL), -ENOMEM.
 */
CIO_EXTERN int cio_priority_queue_new(cio_loop *loop, size_t maxsize, cio_queue_cmp_fn *cmp,
                                      void *ud, cio_queue **out);

/*
 * Frees the queue.  Items still in it go to the discard callback (if
 * set).  Tasks still parked in put, get or join wake with CIO_ECLOSED;
 * free the queue only when no task it has just woken is still to run
 * (simplest: when no task uses it any more).  NULL is a no-op.
 */
CIO_EXTERN void cio_queue_free(cio_queue *q);

/*
 * Sets the callback that receives items the queue drops: on
 * cio_queue_shutdown(q, 1) and on cio_queue_free.  fn NULL (the default):
 * dropped items are forgotten, and whatever they point to stays the
 * caller's to free (take items back with get_nowait first if needed).
 * fn must not call into the queue.  Errors: -EINVAL (q NULL).
 */
CIO_EXTERN int cio_queue_set_discard(cio_queue *q, cio_queue_discard_fn *fn, void *ud);

/*
 * Puts item, waiting while the queue is full.  Suspends.  Returns 0, or
 * CIO_ESHUTDOWN (the queue is shut down, before or while waiting: item
 * was not queued), -ECANCELED / -ETIMEDOUT (not queued), -ENOMEM (storage
 * could not grow; not queued), CIO_ECLOSED (freed while waiting),
 * CIO_ENOTASK, -EINVAL.  Counts one more unfinished item for join.
 */
CIO_EXTERN int cio_queue_put(cio_queue *q, void *item);

/*
 * Takes the next item into *item, waiting while there is none for it.
 * Suspends.  Returns 0 with *item set; else *item is untouched and the
 * code is CIO_ESHUTDOWN (shut down and nothing left to take: after a
 * plain shutdown getters first drain what remains), -ECANCELED /
 * -ETIMEDOUT (nothing taken: an item made available to this getter stays
 * queued for the next one), CIO_ECLOSED, CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_queue_get(cio_queue *q, void **item);

/*
 * Puts item if there is room now.  Returns 0, CIO_EFULL (full),
 * CIO_ESHUTDOWN, -ENOMEM, -EINVAL.  Slots promised to putters that were
 * woken but have not run yet count as full.  Does not suspend; may be
 * called outside a task (from a callback of the queue's loop).
 */
CIO_EXTERN int cio_queue_put_nowait(cio_queue *q, void *item);

/*
 * Takes an item if one is available now.  Returns 0 with *item set,
 * CIO_EEMPTY (empty, or every item is reserved for a woken getter that has
 * not run yet), CIO_ESHUTDOWN (shut down and empty), -EINVAL.  Does not
 * suspend; may be called outside a task.
 */
CIO_EXTERN int cio_queue_get_nowait(cio_queue *q, void **item);

/* Number of items stored in the queue, claimed ones included (asyncio's
 * qsize); 0 for NULL. */
CIO_EXTERN size_t cio_queue_qsize(const cio_queue *q);
/* The maxsize given at creation (0: unbounded). */
CIO_EXTERN size_t cio_queue_maxsize(const cio_queue *q);
/* 1 if get_nowait would find nothing to take (no item, or every item is
 * claimed by a woken getter that has not run yet). */
CIO_EXTERN int cio_queue_empty(const cio_queue *q);
/* 1 if put_nowait would fail with CIO_EFULL: bounded, and its maxsize
 * slots are taken by items or claimed by woken putters. */
CIO_EXTERN int cio_queue_full(const cio_queue *q);
/* 1 once cio_queue_shutdown was called. */
CIO_EXTERN int cio_queue_is_shutdown(const cio_queue *q);

/*
 * Marks one item taken earlier as processed (asyncio's task_done); when
 * every put item has been marked, join waiters wake.  Errors: -EINVAL
 * (called more times than items were put: ValueError in asyncio).  Does
 * not suspend.
 */
CIO_EXTERN int cio_queue_task_done(cio_queue *q);

/* Number of put items not yet marked with task_done. */
CIO_EXTERN size_t cio_queue_unfinished_tasks(const cio_queue *q);

/*
 * Waits until every item put so far was marked with task_done (at once
 * if none is pending).  Suspends.  Returns 0, -ECANCELED, -ETIMEDOUT,
 * CIO_ECLOSED, CIO_ENOTASK, -EINVAL.
 */
CIO_EXTERN int cio_queue_join(cio_queue *q);

/*
 * Shuts the queue down (Python 3.13's Queue.shutdown).  From now on put
 * and put_nowait fail with CIO_ESHUTDOWN, and so do get and get_nowait
 * once the queue is empty.  Waiting putters wake with CIO_ESHUTDOWN, and
 * so do waiting getters (they wait only when every remaining item is
 * claimed by another).
 * With immediate non-zero the items still queued are dropped (each goes
 * to the discard callback, if set) and count as task_done, so join
 * waiters wake if nothing else is unfinished; items already taken but not
 * yet marked with task_done still hold join.  A getter woken for an item
 * that an immediate shutdown dropped fails with CIO_ESHUTDOWN.  Calling it
 * again is allowed (a later immediate call still drops items).  Errors: -EINVAL.
 * Does not suspend.
 */
CIO_EXTERN int cio_queue_shutdown(cio_queue *q, int immediate);

/*
 * q as an asynchronous iterator (cio/iter.h), for CIO_FOR: next is
 * cio_queue_get (it suspends while the queue is empty) and the iteration
 * ends (CIO_ITER_END) once q is shut down and drained (CIO_ESHUTDOWN);
 * other errors (-ECANCELED...) are next's.  Items are the queue's, owned
 * as with cio_queue_get; call cio_queue_task_done as usual.  aclose does
 * nothing (q stays open for other consumers, who may share the pointer).
 * The pointer lives inside q: valid while q is.  NULL if q is NULL (and
 * CIO_FOR then ends at once with -EINVAL).  Does not suspend (its next
 * does; a cancelled next takes nothing).
 *
 *     void *item;
 *     int rc;
 *     CIO_FOR(cio_queue_aiter(q), item, rc) {
 *         handle(item);
 *         cio_queue_task_done(q);
 *     }
 *     // rc == CIO_ITER_END once a producer called cio_queue_shutdown(q, 0)
 */
CIO_EXTERN cio_aiter *cio_queue_aiter(cio_queue *q);

#ifdef __cplusplus
}
#endif
#endif
