/*
 * cio/process.h - a pool of worker processes for CPU-bound functions
 * (concurrent.futures.ProcessPoolExecutor with loop.run_in_executor).
 *
 * C has no pickle, so a call is a function registered by name plus a byte
 * buffer in, a byte buffer out.  The functions are C functions of this
 * same program: the workers are fork()ed from the parent when the pool is
 * created (not spawned), so they share its code and its memory as it was
 * at that moment, and run only the registered functions.
 *
 * Consequences of fork(): create the pool early, before the program holds
 * locks in other threads that a worker could need (glibc's malloc is
 * fork-safe); each worker closes every descriptor of the parent but stdout
 * and stderr, reads stdin from /dev/null, and resets every signal to its
 * default disposition, so it never touches the parent's loop.  A worker
 * runs one call at a time.
 *
 * Output: as in Python's multiprocessing, a worker's stdout and stderr are
 * the parent's own descriptors, so what a function prints goes where the
 * parent's output goes (terminal, pipe or file).  The pool's protocol has
 * pipes of its own and never uses them.  The parent's stdio buffers are
 * flushed before each fork (nothing printed twice), and the worker's after
 * each call, before its result is sent: a function's output is written
 * before the caller sees the result, though lines of workers running at
 * the same time may interleave with the parent's.
 *
 * A worker that dies during a call (a crash, a signal, exit()) fails that
 * call with CIO_EWORKERDIED and is replaced by a fresh one.  A cancelled
 * call returns -ECANCELED at once and its worker, which cannot be
 * interrupted otherwise, is killed and replaced.  Every worker is reaped:
 * no zombie and no child is left after shutdown, free, or loop close (the
 * loop stops the pools it owns).
 *
 * Wire format: a 16-byte header (function index or return value, length)
 * then the bytes, over two pipes per worker (not stdin/stdout).  Tested in
 * tests/test_process.c; timed against threads in
 * examples/16_process_vs_thread.c.
 */
#ifndef CIO_PROCESS_H
#define CIO_PROCESS_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A function run in a worker process: reads inlen bytes at in, returns 0
 * (or any value >= 0) or a negative code, and may set *out to a buffer
 * allocated with malloc() (the worker frees it after sending it) of
 * *outlen bytes.  It runs in the worker: nothing it changes in memory is
 * seen by the parent.
 */
typedef int cio_process_fn(const void *in, size_t inlen, void **out, size_t *outlen);

/* One registered function: its name (what calls use) and its address. */
typedef struct cio_process_fn_entry {
    const char *name;
    cio_process_fn *fn;
} cio_process_fn_entry;

/* A pool of worker processes (opaque). */
typedef struct cio_process_pool cio_process_pool;

/*
 * Creates a pool bound to the running loop and forks its nworkers workers
 * now (0: the number of CPUs).  fns[0..nfns) is copied (names too).
 * The caller owns the pool: cio_process_pool_free().  If the loop closes
 * first it stops the workers; the pool must still be freed.
 * Errors: -EINVAL (out or fns NULL, nfns 0, a NULL name or fn, nworkers
 * above 1024), CIO_ENOLOOP, -ENOMEM, -EAGAIN / -EMFILE (fork or pipe
 * failed).  Does not suspend.
 */
CIO_EXTERN int cio_process_pool_new(size_t nworkers, const cio_process_fn_entry *fns,
                                    size_t nfns, cio_process_pool **out);

/*
 * Runs the function registered as name with the inlen bytes at in in an
 * idle worker (waiting, FIFO, for one if all are busy) and suspends until
 * it returns.  Returns the function's return value and stores its output
 * in *out (a buffer the caller frees with cio_free(), NULL if the function
 * set none; out may be NULL to drop it) and its length in *outlen (may be
 * NULL).  in must stay valid during the call.  Suspends.
 * Errors: the function's own codes; CIO_EWORKERDIED (the worker died;
 * it is replaced); -ECANCELED / -ETIMEDOUT (returned at once; the worker
 * is killed and replaced); -ENOENT (no function of that name);
 * CIO_ESHUTDOWN; CIO_ENOTASK; -EINVAL; -ENOMEM.
 */
CIO_EXTERN int cio_process_pool_call(cio_process_pool *pool, const char *name, const void *in,
                                     size_t inlen, void **out, size_t *outlen);

/*
 * Refuses new calls (CIO_ESHUTDOWN; tasks waiting for a worker get it
 * too) and stops idle workers now.  With kill_running 0 a busy worker is
 * stopped when its call returns; with 1 it is killed now and its call
 * fails with CIO_EWORKERDIED.  Each stopped worker is reaped.  Returns 0,
 * or -EINVAL.  Does not suspend.
 */
CIO_EXTERN int cio_process_pool_shutdown(cio_process_pool *pool, int kill_running);

/*
 * Fills pids with up to cap process ids of the live workers and returns
 * how many workers live.  For monitoring and tests.
 */
CIO_EXTERN size_t cio_process_pool_pids(const cio_process_pool *pool, int *pids, size_t cap);

/*
 * Shuts the pool down killing what runs, reaps every worker and frees the
 * pool.  No task may be inside a call on it.  NULL is a no-op.
 */
CIO_EXTERN void cio_process_pool_free(cio_process_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
