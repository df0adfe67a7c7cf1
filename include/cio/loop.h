/*
 * cio/loop.h - the event loop (asyncio's AbstractEventLoop).
 *
 * One loop per thread.  A loop and everything on it belong to the thread
 * that runs it; other threads reach it only through
 * cio_call_soon_threadsafe().  In debug mode every other call made from a
 * thread that does not own the loop fails with CIO_EWRONGTHREAD.
 *
 * None of the calls in this file suspends.
 */
#ifndef CIO_LOOP_H
#define CIO_LOOP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_loop cio_loop;
typedef struct cio_handle cio_handle;
typedef struct cio_future cio_future;
typedef struct cio_task cio_task;

/* A plain callback, as given to call_soon/call_later/add_reader. */
typedef void cio_callback_fn(void *arg);

/*
 * Creates a loop.  It is not yet bound to a thread: the thread that first
 * runs it owns it.  Debug mode starts on if the environment variable
 * CIO_DEBUG is set to a non-empty value other than "0".
 * Errors: -ENOMEM, -EMFILE/-ENFILE (epoll or eventfd), -EINVAL (out NULL).
 * The caller owns the loop: cio_loop_close() then cio_loop_free().
 */
CIO_EXTERN int cio_loop_new(cio_loop **out);

/*
 * Closes the loop: drops pending callbacks and timers, frees the poller and
 * the stack pool.  Tasks still pending are destroyed without running again
 * (their futures end cancelled with the message "loop closed"; their stacks
 * are dropped, so whatever their frames still owned is leaked: let them
 * finish first, as cio_run does) and, in debug mode, reported.  Handles
 * the caller holds stay valid until cio_handle_release(), which must come
 * before cio_loop_free().  Idempotent.  Errors: CIO_ERUNNING if the loop
 * is running.
 */
CIO_EXTERN int cio_loop_close(cio_loop *loop);

/* Closes the loop if needed and frees it.  NULL is a no-op. */
CIO_EXTERN void cio_loop_free(cio_loop *loop);

/* 1 if cio_loop_close() was called, else 0. */
CIO_EXTERN int cio_loop_is_closed(const cio_loop *loop);

/* 1 if the loop is running (in any thread), else 0. */
CIO_EXTERN int cio_loop_is_running(const cio_loop *loop);

/*
 * Runs the loop until cio_loop_stop().  Returns 0 after stop, CIO_ERUNNING
 * if the loop (or another loop in this thread) is already running,
 * CIO_ECLOSED if closed, CIO_EWRONGTHREAD if another thread owns it.
 */
CIO_EXTERN int cio_loop_run_forever(cio_loop *loop);

/*
 * Runs the loop until fut is done, then returns fut's status (0 or its
 * error code) and stores its result in *result (result may be NULL).
 * Returns CIO_EDEADLOCK if nothing is left that could complete fut (no
 * ready callback, no timer, no watched descriptor, no cio_loop_ref()),
 * CIO_EINVALSTATE if cio_loop_stop() stopped the loop first, and the
 * errors of cio_loop_run_forever().
 */
CIO_EXTERN int cio_loop_run_until_complete(cio_loop *loop, cio_future *fut,
                                           void **result);

/*
 * Declares work in flight outside the loop that will call back through
 * cio_call_soon_threadsafe() (a thread of the caller's, say), so that
 * cio_loop_run_until_complete() does not report CIO_EDEADLOCK while it is
 * pending.  Thread-safe; each ref needs one unref.  cio's own executors do
 * this themselves.
 */
CIO_EXTERN void cio_loop_ref(cio_loop *loop);
CIO_EXTERN void cio_loop_unref(cio_loop *loop);

/*
 * Asks the loop to stop: the callbacks already scheduled run, then
 * run_forever returns (asyncio semantics).  Safe to call before running.
 */
CIO_EXTERN int cio_loop_stop(cio_loop *loop);

/*
 * The loop's clock (loop NULL: the running loop's), seconds on a monotonic
 * scale (CLOCK_MONOTONIC), or virtual time under
 * cio_loop_set_virtual_clock().  0 if loop is NULL and none runs.  Never
 * fails.
 */
CIO_EXTERN double cio_loop_time(cio_loop *loop);

/* The loop running in the calling thread, or NULL. */
CIO_EXTERN cio_loop *cio_get_running_loop(void);

/* ---- callbacks and timers ------------------------------------------ */

/*
 * Schedules cb(arg) to run in the next iteration, after the callbacks
 * already scheduled (FIFO).  If out is non-NULL, *out receives a handle
 * that the caller owns and must cio_handle_release(); pass NULL when the
 * callback need not be cancelled.  Errors: -EINVAL (cb NULL), -ENOMEM,
 * CIO_ECLOSED, CIO_EWRONGTHREAD (debug mode).
 */
CIO_EXTERN int cio_call_soon(cio_loop *loop, cio_callback_fn *cb, void *arg,
                             cio_handle **out);

/*
 * Schedules cb(arg) after delay seconds (delay <= 0 runs it in the next
 * iteration after due timers).  Timers with the same deadline fire in the
 * order they were scheduled.  Errors as cio_call_soon, and -EINVAL for a
 * NaN delay.
 */
CIO_EXTERN int cio_call_later(cio_loop *loop, double delay, cio_callback_fn *cb,
                              void *arg, cio_handle **out);

/* As cio_call_later with an absolute deadline on cio_loop_time()'s scale. */
CIO_EXTERN int cio_call_at(cio_loop *loop, double when, cio_callback_fn *cb,
                           void *arg, cio_handle **out);

/*
 * Schedules cb(arg) from any thread and wakes the loop if it sleeps.  The
 * only loop call that other threads may make.  The loop must outlive the
 * call.  Errors: -EINVAL, -ENOMEM, CIO_ECLOSED.
 */
CIO_EXTERN int cio_call_soon_threadsafe(cio_loop *loop, cio_callback_fn *cb,
                                        void *arg);

/*
 * Cancels the callback: it will not run.  Cancelling a handle whose
 * callback already ran, or twice, does nothing.  Returns 0, or
 * CIO_EWRONGTHREAD (debug mode) from a thread that does not own the loop.
 */
CIO_EXTERN int cio_handle_cancel(cio_handle *h);

/* 1 if cio_handle_cancel() was called on h. */
CIO_EXTERN int cio_handle_cancelled(const cio_handle *h);

/* A timer handle's deadline on cio_loop_time()'s scale; 0 for call_soon. */
CIO_EXTERN double cio_handle_when(const cio_handle *h);

/* Drops the caller's reference to h.  NULL is a no-op. */
CIO_EXTERN void cio_handle_release(cio_handle *h);

/* ---- descriptor readiness ------------------------------------------ */

/*
 * Calls cb(arg) whenever fd is readable (level-triggered, as asyncio's
 * add_reader), until cio_loop_remove_reader().  Replaces an earlier reader
 * callback for the same fd.  fd stays owned by the caller, who must remove
 * the reader before closing it.  Errors: -EBADF (fd < 0 or not pollable),
 * -EPERM (a regular file, which epoll cannot watch), -EBUSY (a task is
 * parked on fd), -ENOMEM, CIO_ECLOSED.
 */
CIO_EXTERN int cio_loop_add_reader(cio_loop *loop, int fd, cio_callback_fn *cb,
                                   void *arg);
/* As cio_loop_add_reader, for writability. */
CIO_EXTERN int cio_loop_add_writer(cio_loop *loop, int fd, cio_callback_fn *cb,
                                   void *arg);
/* Stops watching fd for reading: 1 if a reader was registered, else 0. */
CIO_EXTERN int cio_loop_remove_reader(cio_loop *loop, int fd);
/* Stops watching fd for writing: 1 if a writer was registered, else 0. */
CIO_EXTERN int cio_loop_remove_writer(cio_loop *loop, int fd);

/* ---- errors nobody handled ------------------------------------------ */

/*
 * What the loop reports to its exception handler (asyncio's context
 * dict).  Every pointer may be NULL; all are valid only during the call.
 */
typedef struct cio_exception_context {
    const char *message;       /* what happened, always set */
    int code;                  /* the error code, 0 if none */
    const char *error_message; /* the failing future's own message */
    cio_task *task;            /* the task concerned */
    cio_future *future;        /* the future concerned */
    cio_handle *handle;        /* the callback concerned */
    const char *source;        /* "file:line" where the task was created */
} cio_exception_context;

typedef void cio_exception_handler_fn(cio_loop *loop,
                                      const cio_exception_context *ctx,
                                      void *ud);

/* Installs the handler; fn NULL restores the default.  Returns 0. */
CIO_EXTERN int cio_loop_set_exception_handler(cio_loop *loop,
                                              cio_exception_handler_fn *fn,
                                              void *ud);

/* Passes ctx to the loop's handler (or the default). */
CIO_EXTERN void cio_loop_call_exception_handler(cio_loop *loop,
                                                const cio_exception_context *ctx);

/* The default handler: logs ctx at error level through cio_log. */
CIO_EXTERN void cio_loop_default_exception_handler(cio_loop *loop,
                                                   const cio_exception_context *ctx);

/* ---- settings ------------------------------------------------------- */

/*
 * Debug mode: reports steps that hold the loop longer than the slow
 * callback duration, failures never retrieved with where the task was
 * created, tasks released while pending, and rejects calls from threads
 * that do not own the loop.  Returns 0.
 */
CIO_EXTERN int cio_loop_set_debug(cio_loop *loop, int enabled);
CIO_EXTERN int cio_loop_get_debug(const cio_loop *loop);

/* Threshold of the slow-step report, seconds (default 0.1).  -EINVAL if
 * seconds is not positive. */
CIO_EXTERN int cio_loop_set_slow_callback_duration(cio_loop *loop, double seconds);

/*
 * Virtual clock (trio's autojump clock): time starts at 0 and, whenever no
 * callback is ready and no descriptor is ready, jumps to the next timer
 * instead of sleeping.  Timer tests run instantly and deterministically.
 * Only before the loop first runs: CIO_ERUNNING otherwise.
 */
CIO_EXTERN int cio_loop_set_virtual_clock(cio_loop *loop, int enabled);

/*
 * Default stack size of the loop's tasks, bytes of address space (default
 * 128 KiB; only touched pages use memory).  Rounded up to the page size;
 * -EINVAL below 16 KiB or above 1 GiB.
 */
CIO_EXTERN int cio_loop_set_stack_size(cio_loop *loop, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
