/*
 * cio/exec.h - running blocking functions in threads (asyncio.to_thread,
 * loop.run_in_executor and concurrent.futures.ThreadPoolExecutor).
 *
 * A task hands a function to a pool of worker threads and suspends until
 * it returns; the loop keeps running other tasks meanwhile.  The result
 * comes back to the loop through cio_call_soon_threadsafe().
 *
 * Cancellation follows asyncio: a cancelled (or timed-out) caller returns
 * -ECANCELED (-ETIMEDOUT) at once.  A call that has not started yet is
 * dropped; one that is running goes on in its thread (a thread cannot be
 * interrupted) and its late result is discarded.  So in C, arg must stay
 * valid until fn has returned, which may be after the caller's call
 * returned: for cancellable calls give fn memory that it (or an
 * on_discard callback, see cio_run_in_executor_discard) frees.
 *
 * While a call is in flight the loop counts it as pending work, so
 * cio_loop_run_until_complete() does not report CIO_ESTALLED.
 *
 * The default executor (what cio_to_thread uses) is one pool for the whole
 * process, shared by every loop: at most min(32, CPUs + 4) threads,
 * started on demand, each exiting after 10 s without work.  Each call
 * reports back to the loop that made it; closing a loop drops that loop's
 * calls not yet started and waits for its running ones only.
 */
#ifndef CIO_EXEC_H
#define CIO_EXEC_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A function run in a worker thread: returns 0 (or any value >= 0),
 * setting *result if it has one, or a negative code.  It must not call
 * loop or task functions of cio (other than cio_call_soon_threadsafe and
 * cio_log): it runs outside every loop.
 */
typedef int cio_thread_fn(void *arg, void **result);

/*
 * Called on the loop's thread when the outcome of a call was abandoned
 * (its caller was cancelled, or the loop closed first), once fn has
 * returned (rc and result are fn's), or at once if fn never ran (rc is
 * -ECANCELED, result NULL).  It frees what arg and result own.
 */
typedef void cio_discard_fn(void *arg, int rc, void *result);

typedef struct cio_executor cio_executor;

/*
 * Creates a thread pool of at most nthreads threads (0: the size Python
 * picks, min(32, CPUs + 4)).  Threads start on demand, when work arrives
 * and no thread is idle, and block every signal (signals are delivered to
 * the loop's thread).  An executor is thread-safe and may serve several
 * loops.  The caller owns it: cio_executor_shutdown() (optional), then
 * cio_executor_free().  Shut it down before closing any loop it serves,
 * or that loop's close waits for its calls to return.
 * Errors: -EINVAL (out NULL, nthreads > 4096), -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_executor_new(size_t nthreads, cio_executor **out);

/*
 * loop.run_in_executor: runs fn(arg, &r) in a thread of ex (NULL: the
 * running loop's default executor, the process-wide pool unless
 * cio_loop_set_default_executor chose another) and suspends until it
 * returns.  Returns fn's return value
 * and stores r in *result (result may be NULL).  arg must stay valid until
 * fn returns (see the file comment).  Suspends.
 * Errors: fn's own codes; -ECANCELED / -ETIMEDOUT (returned at once, fn's
 * late result is discarded); CIO_ESHUTDOWN (ex shut down, or shut down
 * with CIO_SHUTDOWN_CANCEL_FUTURES before fn started: then -ECANCELED); CIO_ENOTASK;
 * -EINVAL (fn NULL); -ENOMEM; -EAGAIN (no thread could be started).
 */
CIO_EXTERN int cio_run_in_executor(cio_executor *ex, cio_thread_fn *fn, void *arg,
                                   void **result);

/*
 * As cio_run_in_executor; if the outcome is abandoned (the caller was
 * cancelled or timed out, or the loop closed), on_discard(arg, rc, result)
 * runs on the loop's thread once fn has returned, or at once if fn never
 * started, so that it can free arg and the result.  It is not called when
 * the call returns normally, nor when the call fails before fn was queued.
 * on_discard may be NULL.  Suspends.
 */
CIO_EXTERN int cio_run_in_executor_discard(cio_executor *ex, cio_thread_fn *fn, void *arg,
                                           void **result, cio_discard_fn *on_discard);

/*
 * asyncio.to_thread: cio_run_in_executor(NULL, fn, arg, result), the
 * running loop's default executor.  Suspends.  Errors as
 * cio_run_in_executor.
 */
CIO_EXTERN int cio_to_thread(cio_thread_fn *fn, void *arg, void **result);

/*
 * loop.set_default_executor: makes ex the pool that cio_to_thread() and
 * cio_run_in_executor(NULL, ...) use on loop.  The loop does not own ex:
 * the caller frees it, after the loop closed or after setting another
 * (loop close waits for ex's calls made for this loop, and does not shut ex
 * down).  ex NULL goes back to the process-wide default pool.  Errors:
 * -EINVAL (loop NULL), -ENOMEM, CIO_ECLOSED.  Does not suspend.
 */
CIO_EXTERN int cio_loop_set_default_executor(cio_loop *loop, cio_executor *ex);

/* Flags for cio_executor_shutdown, concurrent.futures' Executor.shutdown(
 * wait, cancel_futures) as bits that name themselves at the call site. */
enum {
    CIO_SHUTDOWN_WAIT = 1 << 0,           /* block until running calls returned */
    CIO_SHUTDOWN_CANCEL_FUTURES = 1 << 1  /* drop the calls not yet started */
};

/*
 * Executor.shutdown: refuses new calls (CIO_ESHUTDOWN).  flags is 0 or
 * CIO_SHUTDOWN_WAIT and CIO_SHUTDOWN_CANCEL_FUTURES or'ed together.  With
 * CIO_SHUTDOWN_CANCEL_FUTURES, calls that have not started are dropped and
 * their callers wake with -ECANCELED (their on_discard is not called: the
 * caller's call returns normally with -ECANCELED and still owns arg).
 * With CIO_SHUTDOWN_WAIT, blocks the calling thread until every running
 * call has returned and the threads have exited (do not use it from
 * inside fn).  Python's shutdown() waits by default; here 0 does not.
 * Idempotent; a later call may add either flag.  Returns 0, or -EINVAL
 * (ex NULL, or a bit other than these two: nothing is done then).  Blocks
 * the thread with CIO_SHUTDOWN_WAIT, never suspends.
 */
CIO_EXTERN int cio_executor_shutdown(cio_executor *ex, unsigned flags);

/*
 * Shuts ex down (wait, without cancelling pending calls: queued calls
 * still run), waits for its threads and frees it.  NULL is a no-op.
 * Never call it from one of ex's own threads.  Blocks the thread.
 */
CIO_EXTERN void cio_executor_free(cio_executor *ex);

#ifdef __cplusplus
}
#endif
#endif
