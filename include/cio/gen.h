/*
 * cio/gen.h - asynchronous generators (asyncio's `async def` with `yield`).
 *
 * A generator is a producer function that hands values one at a time to a
 * consumer, suspending between them:
 *
 *     static int counter(cio_gen *g, void *arg)
 *     {
 *         for (intptr_t i = 0; i < 5; i++) {
 *             int rc = cio_gen_yield(g, (void *)i);  // wait for "next"
 *             if (rc)
 *                 return rc == CIO_ECLOSED ? 0 : rc;  // closed: clean up
 *             cio_sleep(0.1);
 *         }
 *         return 0;                                   // end of iteration
 *     }
 *
 *     cio_gen *g;
 *     cio_gen_new(counter, NULL, "counter", &g);
 *     void *v; int rc;
 *     CIO_FOR(cio_gen_aiter(g), v, rc)          // async for v in counter()
 *         printf("%d\n", (int)(intptr_t)v);
 *     cio_gen_unref(g);
 *
 * See examples/07_async_generator.c.
 *
 * The producer runs as a task of its own (on its own stack), created on
 * the loop of the first cio_gen_next(); before that the body has not run,
 * as in Python.  Control passes directly between the consumer and the
 * producer (each parks itself and wakes the other): each item costs two
 * task switches and no allocation.
 *
 * Closing.  cio_gen_aclose() makes the producer's pending cio_gen_yield()
 * return CIO_ECLOSED (asyncio's GeneratorExit): the producer runs its
 * cleanup - which may suspend normally - and returns; aclose waits for it.
 * Every later cio_gen_yield() returns CIO_ECLOSED at once, and after a
 * close cio_gen_next() returns CIO_ITER_END.
 *
 * Cancellation.  If the consumer is cancelled (or its timeout scope
 * expires) while it waits in cio_gen_next(), the producer task is cancelled
 * too, as the CancelledError would reach an asyncio generator running in
 * the consumer's task; next waits until the producer has finished and
 * returns -ECANCELED (or -ETIMEDOUT).  The generator is then finished.
 * But a consumer cancelled before it calls next (in the body of its
 * `async for`) gets -ECANCELED at once, the producer not resumed and not
 * finished: close it with aclose on every path but CIO_ITER_END
 * (cio/iter.h says when).  A
 * caller of aclose that is cancelled (or already cancelled when it calls)
 * cancels the producer and still waits for it: when aclose returns, the
 * producer has always finished.  To let an asynchronous cleanup run whole
 * from a cancelled task, call aclose between cio_shield_begin() and
 * cio_shield_end().
 *
 * Finalization (asyncio's shutdown_asyncgens and the generator finalizer
 * hook).  Dropping the last reference to a generator that is suspended at
 * a yield closes it in the background: its yield returns CIO_ECLOSED, its
 * cleanup runs in its task, and the memory is freed when it returns.  A
 * cleanup failure other than CIO_ECLOSED/-ECANCELED then goes to the
 * loop's exception handler.  At the end of cio_run(), producers still
 * suspended are cancelled with every other task: their yield returns
 * -ECANCELED (and so do their cleanup's suspension points) and their
 * cleanup runs before the loop closes.  A program
 * that closes a loop itself must, as with any task, let pending producers
 * finish first (a task destroyed by cio_loop_close() never runs its
 * cleanup), and unref its generators before freeing the loop.
 */
#ifndef CIO_GEN_H
#define CIO_GEN_H

#include "task.h"
#include "iter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_gen cio_gen;

/*
 * The producer.  Runs in its own task; calls cio_gen_yield() for each item.
 * Returning 0 ends the iteration (StopAsyncIteration); returning a negative
 * code makes the consumer's pending cio_gen_next() fail with that code
 * once (CIO_ECLOSED after a close counts as a clean end).
 */
typedef int cio_gen_fn(cio_gen *g, void *arg);

/*
 * Creates a generator that will run fn(g, arg).  The body does not start
 * until the first cio_gen_next().  name (copied; NULL: "gen") names the
 * producer task in logs.  arg must stay valid until the producer returns.
 * The caller owns one reference: cio_gen_unref().
 * Errors: -EINVAL (fn or out NULL), -ENOMEM.  Does not suspend; needs no
 * running loop.
 */
CIO_EXTERN int cio_gen_new(cio_gen_fn *fn, void *arg, const char *name, cio_gen **out);

/* Adds a reference, dropped with cio_gen_unref(); returns g (NULL for
 * NULL). */
CIO_EXTERN cio_gen *cio_gen_ref(cio_gen *g);

/*
 * Drops a reference.  The last one of a generator suspended at a yield
 * closes it in the background (see "Finalization" above); of a generator
 * never started or finished, frees it.  NULL is a no-op.  Never suspends.
 */
CIO_EXTERN void cio_gen_unref(cio_gen *g);

/*
 * The consumer's `await anext(g)`: resumes the producer until it yields
 * or returns.  Returns 0 with the yielded value in *value, CIO_ITER_END
 * when the producer has returned (and on every later call, and after a
 * close), or a negative code: the producer's error (once, then
 * CIO_ITER_END), -ECANCELED / -ETIMEDOUT (the caller was interrupted; the
 * producer was cancelled and has finished), -EBUSY (another next or aclose
 * is running on g, or it is called from the producer), -ENOMEM (no memory
 * to start the producer; the generator is unchanged and may be retried),
 * CIO_ENOTASK, -EINVAL (g or value NULL, or g's producer runs on another
 * loop).
 * The value belongs to the producer: it stays valid until the consumer
 * next calls cio_gen_next or cio_gen_aclose on g (the producer is suspended
 * until then, so it may even point into the producer's stack).
 * Suspends.
 */
CIO_EXTERN int cio_gen_next(cio_gen *g, void **value);

/*
 * The producer's `yield value`: hands value to the waiting consumer and
 * suspends until the consumer asks for the next item.  Returns 0 when it
 * does; CIO_ECLOSED once the generator is closed (aclose or last unref:
 * run the cleanup and return; every later yield returns CIO_ECLOSED at
 * once without suspending); -ECANCELED / -ETIMEDOUT if the producer task is
 * cancelled or timed out.  Errors: CIO_ENOTASK, -EINVAL (g NULL, or not
 * called from g's producer).  Suspends.
 */
CIO_EXTERN int cio_gen_yield(cio_gen *g, void *value);

/*
 * asyncio's `await g.aclose()`: closes the generator and waits until the
 * producer has returned.  If the producer is suspended at a yield, that
 * yield returns CIO_ECLOSED and its cleanup runs; a generator never
 * started is marked finished without running.  Returns 0 (closed, also if
 * already finished), the producer's error if its cleanup failed, -EBUSY
 * (a next or another aclose is in progress), or -ECANCELED / -ETIMEDOUT
 * when the caller is cancelled or timed out: the producer is then
 * cancelled too, and it has still finished when aclose returns.  So even a
 * cancelled caller closes the generator (a shielded caller lets the
 * cleanup run uninterrupted).  Errors: CIO_ENOTASK (only when it would
 * wait), -EINVAL (g NULL, or its producer runs on another loop).  Suspends.
 */
CIO_EXTERN int cio_gen_aclose(cio_gen *g);

/*
 * The generator as an asynchronous iterator (cio/iter.h): next is
 * cio_gen_next, aclose is cio_gen_aclose.  The pointer is valid as long as
 * the caller holds its reference to g.  NULL if g is NULL.
 */
CIO_EXTERN cio_aiter *cio_gen_aiter(cio_gen *g);

/* 1 once the producer has returned (or the generator was closed before it
 * started), else 0. */
CIO_EXTERN int cio_gen_finished(const cio_gen *g);

#ifdef __cplusplus
}
#endif
#endif
