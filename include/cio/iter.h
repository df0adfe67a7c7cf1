/*
 * cio/iter.h - the asynchronous iterator interface (asyncio's __aiter__ /
 * __anext__ / aclose and the `async for` statement).
 *
 * Anything that hands out items one by one and may have to wait for the
 * next one - an async generator (cio/gen.h), a queue, the lines of a
 * stream - offers a cio_aiter: a small value holding a table of functions
 * (next, aclose) and the object they act on.  Code that consumes items
 * takes a cio_aiter * and does not care what produces them.
 *
 * Iterators cio provides:
 * - cio_gen_aiter(g) (cio/gen.h): what the generator yields, until it
 *   returns;
 * - cio_queue_aiter(q) (cio/queue.h): the items got, until the queue is
 *   shut down and drained;
 * - cio_stream_lines_aiter(s, buf, cap) (cio/stream.h): each line, in buf
 *   and NUL-terminated, until the end of the stream.
 *
 * Each hands out a pointer to an iterator that lives inside the object it
 * iterates (NULL for bad arguments, which CIO_FOR turns into -EINVAL).
 *
 * The `async for` idiom:
 *
 *     void *item;
 *     int rc;
 *     CIO_FOR(it, item, rc) {
 *         use(item);              // `break` leaves with rc == 0
 *     }
 *     if (rc != CIO_ITER_END)
 *         cio_aiter_aclose(it);   // left early (break or error): run the
 *                                 // producer's cleanup and wait for it
 *     if (rc < 0)
 *         handle_error(rc);       // what next returned
 *
 * After the loop rc is CIO_ITER_END (the iterator is exhausted), a
 * negative code (the error next() returned: -ECANCELED, the producer's own
 * error, ...), or 0 if the body left with `break`.
 *
 * When to call cio_aiter_aclose(): whenever the loop did not end with
 * CIO_ITER_END - after a `break` (rc == 0) and after an error (rc < 0).
 * As in asyncio, leaving an `async for` early does not close the
 * iterator, and a generator left suspended at its yield keeps its
 * resources until it is closed (or, for cio_gen, until its last reference
 * is dropped (cio_gen_unref), which closes it in the background).  An error does not
 * always mean the producer finished: a consumer cancelled (or timed out)
 * in its loop body gets -ECANCELED (-ETIMEDOUT) from the next next()
 * without the producer being resumed, so a generator still sits at its
 * yield; aclose from a cancelled task still closes it and waits (and
 * returns -ECANCELED).  After CIO_ITER_END aclose is a no-op that returns
 * 0 (cio_gen_aclose; the queue and stream-line iterators have no aclose),
 * so calling it on every path is correct too.
 *
 * Writing your own iterator: fill a static cio_aiter_ops and return a
 * cio_aiter pointing at it and at your object (cio_aiter_init); see
 * examples/08_async_iterator.c.  next returns 0 with an item, CIO_ITER_END
 * when there are no more (and on every later call), or a negative code; it
 * may suspend.  Who owns an item and how long it stays valid is the
 * implementation's to document.  aclose may be NULL when there is nothing
 * to release; an aclose called after the end should return 0.
 */
#ifndef CIO_ITER_H
#define CIO_ITER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* next()'s "no more items" (asyncio's StopAsyncIteration).  Positive, so it
 * is never confused with an error; 0 is "here is an item". */
#define CIO_ITER_END 1

/* What an asynchronous iterator can do.  Both may suspend.  Fill a static
 * one per kind of iterator. */
typedef struct cio_aiter_ops {
    /* Stores the next item in *value and returns 0; CIO_ITER_END when
     * exhausted; or a negative code. */
    int (*next)(void *self, void **value);
    /* Stops the iteration early and releases what the producer holds,
     * waiting for its cleanup; 0 or a negative code.  NULL: nothing to do. */
    int (*aclose)(void *self);
} cio_aiter_ops;

/*
 * An asynchronous iterator: an interface value (a table of functions and
 * the object it acts on), not an object of its own; it owns nothing.  It
 * stays usable as long as `self` does.  Its two fields are public so that
 * an iterator can live inside the object it iterates (as in cio_gen), or
 * on the stack.
 */
typedef struct cio_aiter {
    const cio_aiter_ops *ops; /* the implementation */
    void *self;               /* the object iterated, passed to each op */
} cio_aiter;

/*
 * Makes *it an iterator over self with ops.  Errors: -EINVAL (it, ops or
 * ops->next NULL).  Never suspends.
 */
CIO_EXTERN int cio_aiter_init(cio_aiter *it, const cio_aiter_ops *ops, void *self);

/*
 * asyncio's `await anext(it)`: 0 and the next item in *value, CIO_ITER_END
 * when exhausted, or a negative code (the implementation's; -EINVAL for a
 * NULL or uninitialised iterator or value).  Who owns the item and how long
 * it stays valid is the implementation's to document.  May suspend.
 */
CIO_EXTERN int cio_aiter_next(cio_aiter *it, void **value);

/*
 * asyncio's `await it.aclose()`: closes the iterator early and waits for
 * its cleanup.  0, or the implementation's code; 0 when the implementation
 * has no aclose.  -EINVAL if it is NULL.  May suspend.
 */
CIO_EXTERN int cio_aiter_aclose(cio_aiter *it);

/*
 * `async for value in it:` - runs the statement that follows once per item,
 * with value (a void * lvalue) set to it.  rc (an int lvalue) ends as
 * CIO_ITER_END, a negative error, or 0 after `break`.  `it` (a cio_aiter *)
 * is evaluated once, before the first item.
 */
#define CIO_FOR(it, value, rc) CIO__FOR_((it), value, rc, CIO__FOR_CAT_(cio__for_it_, __LINE__))
#define CIO__FOR_(it, value, rc, var) \
    for (cio_aiter *var = it; ((rc) = cio_aiter_next(var, &(value))) == 0;)
#define CIO__FOR_CAT_(a, b) CIO__FOR_CAT2_(a, b)
#define CIO__FOR_CAT2_(a, b) a##b

#ifdef __cplusplus
}
#endif
#endif
