/*
 * cio/cfuture.h - futures between threads (concurrent.futures.Future),
 * and the bridges between them and loops: asyncio's wrap_future and
 * run_coroutine_threadsafe.
 *
 * A cio_future belongs to one loop and only that loop's thread may touch
 * it.  A cio_cfuture belongs to no loop: any thread may complete it, wait
 * for it (blocking, with a timeout), cancel it or ask whether it is done.
 * It is how a result travels between threads: one loop's task produces
 * it, and a plain thread waits on it, or a task of another loop awaits
 * it (cio_cfuture_await, or cio_wrap_future and then cio_await).
 *
 * Threading rules (docs/README.md, "One loop per thread"): a loop and
 * everything on it belong to the thread that runs it.  Other threads
 * reach it only through cio_call_soon_threadsafe() and what is built on
 * it: cio_run_coroutine_threadsafe() and completing a cio_cfuture that a
 * task of the loop awaits.
 *
 * Outcome: as a task's, a status (0, or a negative code; -ECANCELED when
 * cancelled), a result pointer (stored, not owned) and an optional error
 * message (copied).  A cio_cfuture completes once; it is reference-counted
 * and thread-safe.
 */
#ifndef CIO_CFUTURE_H
#define CIO_CFUTURE_H

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_cfuture cio_cfuture;

/* A done callback: runs once, on the thread that completes cf (or, if cf
 * is already done, at once on the thread that adds it). */
typedef void cio_cfuture_done_fn(cio_cfuture *cf, void *arg);

/*
 * Creates a pending cio_cfuture; the caller owns one reference.  Any
 * thread, loop or not.  Errors: -EINVAL (out NULL), -ENOMEM.  Does not
 * suspend.
 */
CIO_EXTERN int cio_cfuture_new(cio_cfuture **out);

/* Adds a reference, dropped with cio_cfuture_unref(); returns cf, so
 * `keep = cio_cfuture_ref(cf)` reads as it does.  Any thread.  NULL is a
 * no-op returning NULL. */
CIO_EXTERN cio_cfuture *cio_cfuture_ref(cio_cfuture *cf);

/* Drops a reference; the last one frees cf (the result pointer is not
 * freed: it was never owned).  Any thread.  NULL is a no-op. */
CIO_EXTERN void cio_cfuture_unref(cio_cfuture *cf);

/*
 * Completes cf with status (0, or a negative code other than -ECANCELED:
 * use cio_cfuture_cancel) and result (stored, not owned).  Wakes the
 * threads waiting in cio_cfuture_result(), then runs the done callbacks on
 * this thread, in the order they were added.  Any thread.
 * Errors: CIO_EINVALSTATE (already done or cancelled), -EINVAL (cf NULL,
 * status > 0 or -ECANCELED).  Does not suspend.
 */
CIO_EXTERN int cio_cfuture_set_result(cio_cfuture *cf, int status, void *result);

/*
 * As cio_cfuture_set_result(cf, code, NULL) with an error message
 * (copied; NULL for none).  Errors: as cio_cfuture_set_result, -EINVAL for
 * code >= 0, -ENOMEM (cf then stays pending).
 */
CIO_EXTERN int cio_cfuture_set_error(cio_cfuture *cf, int code, const char *message);

/*
 * Cancels cf: 1 if it was pending and is now cancelled (status
 * -ECANCELED; waiters wake, done callbacks run on this thread), 0 if it
 * was already done.  What cf is chained to is cancelled too: the task of
 * cio_run_coroutine_threadsafe() is asked to cancel (on its loop, soon
 * after).  Any thread.  Errors: -EINVAL (cf NULL).  Does not suspend.
 */
CIO_EXTERN int cio_cfuture_cancel(cio_cfuture *cf);

/* 1 if cf is done (completed or cancelled), else 0; cancelled: 1 only if
 * it was cancelled.  Any thread, never block.  0 for NULL. */
CIO_EXTERN int cio_cfuture_done(cio_cfuture *cf);
CIO_EXTERN int cio_cfuture_cancelled(cio_cfuture *cf);

/*
 * Waits, blocking the calling thread, until cf is done or timeout
 * seconds have passed (0: do not wait; negative: no limit), then returns
 * its status and stores its result in *result (result may be NULL; NULL
 * is stored on failure).  Errors: the status cf completed with;
 * -ECANCELED (cancelled); -ETIMEDOUT (still pending at the deadline);
 * -EINVAL (cf NULL, timeout NaN).  Blocks the thread: from a task, use
 * cio_cfuture_await(), which suspends instead of blocking the loop (a task
 * that blocks here on work of its own loop waits forever).
 */
CIO_EXTERN int cio_cfuture_result(cio_cfuture *cf, double timeout, void **result);

/* The error message cf completed with, or NULL (pending, none given).
 * Valid as long as the caller holds a reference. */
CIO_EXTERN const char *cio_cfuture_error_message(cio_cfuture *cf);

/*
 * Calls fn(cf, arg) once cf is done: on the thread that completes it, or
 * at once on this thread if cf is already done.  fn must not block for
 * long (it runs inside another thread's cio_cfuture_set_result) and may
 * unref cf.  Any thread.  Errors: -EINVAL (cf or fn NULL), -ENOMEM (fn
 * will not be called).  Does not suspend.
 */
CIO_EXTERN int cio_cfuture_add_done_callback(cio_cfuture *cf, cio_cfuture_done_fn *fn,
                                             void *arg);

/* ---- between loops and threads -------------------------------------- */

/*
 * asyncio.wrap_future: a new future of the running loop that completes
 * with cf's outcome (status, result and message), delivered to the loop
 * through its thread-safe queue when cf completes on any thread.  A task
 * of this loop can cio_await() it.  Cancelling the future cancels cf (and
 * so what cf is chained to); cancelling cf completes the future
 * cancelled.  The caller owns one reference to *out (cio_future_unref);
 * cf stays the caller's, cio_wrap_future takes a reference of its own.
 * While the future is pending the loop counts it as work in flight
 * (cio_loop_work_begin), so run_until_complete does not report a deadlock.  If
 * the loop closes first, the link is cut: cf may still complete later on
 * any thread, and nothing of the closed loop is touched.  Call it on the
 * loop's thread.  Errors: -EINVAL (NULL argument), CIO_ENOLOOP (no loop
 * runs in this thread), -ENOMEM, CIO_EWRONGTHREAD.  Does not suspend.
 */
CIO_EXTERN int cio_wrap_future(cio_cfuture *cf, cio_future **out);

/*
 * Suspends the calling task until cf is done (cio_wrap_future, then
 * cio_await), and returns cf's status and result.  If the task is
 * cancelled meanwhile, cf is cancelled and -ECANCELED returned.
 * Errors: cf's status, -ECANCELED, -ETIMEDOUT (expired timeout scope: cf
 * is cancelled too), CIO_ENOTASK, -EINVAL (cf NULL), -ENOMEM.  Suspends.
 */
CIO_EXTERN int cio_cfuture_await(cio_cfuture *cf, void **result);

/*
 * asyncio.run_coroutine_threadsafe: from any thread, creates a task
 * running fn(arg) on loop (through the loop's thread-safe queue) and
 * stores in *out a cio_cfuture that completes with the task's outcome,
 * which a plain thread can wait on (cio_cfuture_result) and a task of
 * another loop can await (cio_cfuture_await).  The caller owns *out.
 * Cancelling *out cancels the task (or, before it started, keeps it from
 * starting).  arg must stay valid until the task has finished (or *out is
 * done without the task having started).  loop must stay allocated
 * during this call, as for cio_call_soon_threadsafe(); it may close
 * later: if it closes before the task started (or with it still
 * pending), *out completes with CIO_ECLOSED, never hangs.  The task is
 * named "Task-N"; a failure it returns is the cio_cfuture's to report,
 * not the loop's.  Errors: -EINVAL (loop, fn or out NULL), CIO_ECLOSED
 * (loop closed), -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_run_coroutine_threadsafe(cio_loop *loop, cio_coro_fn *fn, void *arg,
                                            cio_cfuture **out);

#ifdef __cplusplus
}
#endif
#endif
