/*
 * cio/cache.h - an asynchronous memoizing cache (async-lru's alru_cache,
 * aiocache's cached, Go's singleflight with a store).
 *
 *     static int fetch(void *arg, const void *key, size_t keylen, void **value)
 *     {
 *         ...may suspend: I/O, sleeps...
 *         *value = result;            // owned by the cache from now on
 *         return 0;
 *     }
 *
 *     cio_cache *c;
 *     cio_cache_new(NULL, 1000, 60.0, 0, free_result, NULL, &c);
 *     void *v;
 *     int rc = cio_cache_get_str(c, "user:42", fetch, ctx, &v);
 *
 * See examples/17_async_cache.c.
 *
 * Keys are byte strings (pointer and length, copied) or C strings.
 *
 * Single flight: the first caller for a key that is not cached starts the
 * computation fn(arg, key, keylen, &value) in a task of its own; every
 * caller for the same key while it runs waits for that one computation
 * and gets the same outcome, woken in the order they came.  A hit (the key is cached and fresh) returns
 * at once: a hash lookup, no allocation, no suspension.
 *
 * Cancellation: a caller that is cancelled (or whose timeout scope
 * expires) while it waits stops waiting and returns -ECANCELED (or
 * -ETIMEDOUT); the computation is not cancelled, whether other callers
 * still wait or not: it runs to its end and its result is cached for the
 * next caller.  Only cio_cache_free() cancels computations.  Hence arg must
 * stay valid until the computation ends, which may be after the caller
 * returned.
 *
 * Failures: a computation that returns a negative code hands that code to
 * every caller waiting for it and is forgotten (the next call computes
 * again), unless the cache was created with CIO_CACHE_ERRORS: then the
 * code is cached like a value, until its TTL or eviction.  -ECANCELED is
 * never cached.
 *
 * Expiry and size: each entry lives ttl seconds on the loop's clock
 * (cio_loop_time, so the virtual clock applies) from the moment its
 * computation finished; an expired entry is dropped when it is next looked
 * up.  With max_entries > 0, storing a new entry beyond max_entries evicts
 * the least recently used ones (hits and lookups count as uses).
 * Computations in flight are not counted
 * and never evicted.
 *
 * Values belong to the cache, which calls free_value(value, ud) when an
 * entry leaves it (evicted, expired, invalidated, cleared, cache freed).
 * That call is deferred to a loop callback (a preallocated one), so a value returned by
 * cio_cache_get() or cio_cache_lookup() stays valid until the calling task
 * next suspends (or, outside a task, until the loop runs again).  To keep a
 * value longer, copy it, or make it reference-counted: take a reference
 * after the call and let free_value drop the cache's.  free_value must not
 * suspend.
 *
 * A cache belongs to one loop and is used from its thread.  Free it before
 * the loop closes.
 */
#ifndef CIO_CACHE_H
#define CIO_CACHE_H

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_cache cio_cache;

/*
 * A computation: stores the value for key in *value and returns 0, or
 * returns a negative code (*value is then ignored).  Runs in a task of its
 * own and may suspend.  key is the cache's copy, valid during the call.
 */
typedef int cio_cache_fn(void *arg, const void *key, size_t keylen, void **value);

/* Destroys a value the cache no longer holds.  Called from a loop
 * callback: must not suspend. */
typedef void cio_cache_free_fn(void *value, void *ud);

/* Flags of cio_cache_new(). */
#define CIO_CACHE_ERRORS 1u /* cache failures (negative codes) too */

/*
 * Creates a cache on loop (NULL: the running loop).  max_entries 0: no
 * bound.  ttl seconds, 0 or +INFINITY: entries never expire.  flags: 0 or
 * CIO_CACHE_ERRORS.  free_value (may be NULL) and ud: see "Values" above.
 * The caller owns the cache: cio_cache_free().
 * Errors: -EINVAL (out NULL, ttl negative or NaN, unknown flags), -ENOMEM,
 * CIO_ENOLOOP, CIO_ECLOSED.  Does not suspend.
 */
CIO_EXTERN int cio_cache_new(cio_loop *loop, size_t max_entries, double ttl,
                             unsigned flags, cio_cache_free_fn *free_value,
                             void *ud, cio_cache **out);

/*
 * Frees the cache: destroys every cached value now, cancels the
 * computations in flight (a value they still produce is destroyed) and
 * wakes every caller waiting in cio_cache_get() with CIO_ECLOSED.  The
 * memory goes when the last of those tasks has run.  NULL is a no-op.  Does not suspend.
 */
CIO_EXTERN void cio_cache_free(cio_cache *c);

/*
 * The value for key: from the cache if it is there and fresh (no
 * suspension), else from the computation in flight for key, else from a
 * new computation fn(arg, key, keylen, &value) started in its own task.
 * Returns 0 and stores the value in *value (valid until the calling task
 * next suspends; see "Values"), or the computation's negative code (or the
 * cached one, with CIO_CACHE_ERRORS).  arg must stay valid until the
 * computation ends, which may be after this call returns (when the caller
 * is cancelled).  key (keylen bytes; NULL only with keylen 0) is copied.
 * Errors: -ECANCELED, -ETIMEDOUT (the caller stopped waiting; the
 * computation goes on), CIO_ECLOSED (the cache was freed meanwhile),
 * -ENOMEM (nothing started), -EDEADLK (called from the computation for the
 * same key), CIO_ENOTASK (a miss outside a task), -EINVAL.
 * Suspends, except on a hit.
 */
CIO_EXTERN int cio_cache_get(cio_cache *c, const void *key, size_t keylen,
                             cio_cache_fn *fn, void *arg, void **value);

/* cio_cache_get with the C string key (its bytes, without the NUL). */
CIO_EXTERN int cio_cache_get_str(cio_cache *c, const char *key, cio_cache_fn *fn,
                                 void *arg, void **value);

/*
 * Looks key up without computing anything: 0 and the value if cached and
 * fresh (valid as for cio_cache_get), the cached code with
 * CIO_CACHE_ERRORS, -ENOENT if absent, expired or still being computed.
 * Counts as a use for the LRU order.  -EINVAL on bad arguments.  Does not
 * suspend.
 */
CIO_EXTERN int cio_cache_lookup(cio_cache *c, const void *key, size_t keylen,
                                void **value);

/*
 * Forgets key: a cached value is destroyed (deferred, as above); a
 * computation in flight goes on for the callers already waiting, but its
 * result is not stored and the next call computes again.  Returns 1 if key
 * was present (cached or in flight), 0 if not, -EINVAL.  Does not suspend.
 */
CIO_EXTERN int cio_cache_invalidate(cio_cache *c, const void *key, size_t keylen);

/* Invalidates every key; returns how many were present, or -EINVAL. */
CIO_EXTERN int cio_cache_clear(cio_cache *c);

/* Number of entries cached now (computations in flight not counted),
 * expired ones included until they are looked up or evicted.  0 for
 * NULL. */
CIO_EXTERN size_t cio_cache_size(const cio_cache *c);

#ifdef __cplusplus
}
#endif
#endif
