/*
 * cio/loop.h - the event loop (asyncio's AbstractEventLoop).
 *
 * One loop per thread.  A loop and everything on it belong to the thread
 * that runs it; other threads reach it only through
 * cio_call_soon_threadsafe().  In debug mode every other call made from a
 * thread that does not own the loop fails with CIO_EWRONGTHREAD.
 *
 * Every `cio_loop *loop` parameter in cio that is not the subject of a
 * cio_loop_* call accepts NULL for the running loop of the calling thread
 * (CIO_ENOLOOP when none runs): constructors of loop-bound objects
 * (futures, locks, queues...) and the call_soon family.  Objects that
 * belong to the calling task (task groups, timeout scopes) or bind at
 * first use (generators) take no loop.
 *
 * None of the calls in this file suspends.  Most programs never touch the
 * loop directly: cio_run() (cio/task.h) creates one, runs a main task on
 * it and frees it.
 */
#ifndef CIO_LOOP_H
#define CIO_LOOP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The types are opaque: a loop, a scheduled callback (handle), a future
 * and a task (cio/task.h). */
typedef struct cio_loop cio_loop;
typedef struct cio_handle cio_handle;
typedef struct cio_future cio_future;
typedef struct cio_task cio_task;

/* A plain callback, as given to call_soon/call_later/add_reader. */
typedef void cio_callback_fn(void *arg);

/*
 * Creates a loop.  It is not yet bound to a thread: the thread that first
 * runs it owns it.  Debug mode starts on if the environment variable
 * CIO_DEBUG is set to a non-empty value other than "0" (read once per
 * process, at cio's first use of it: set it before any cio call).
 * Errors: -ENOMEM, -EMFILE/-ENFILE (epoll or eventfd), -EINVAL (out NULL).
 * The I/O backend is io_uring or epoll: see cio_loop_backend_name().
 * The caller owns the loop: cio_loop_close() then cio_loop_free().
 */
CIO_EXTERN int cio_loop_new(cio_loop **out);

/*
 * The name of the I/O backend the loop waits with: "io_uring" or "epoll"
 * (a static string).  cio_loop_new() takes io_uring where the library was
 * built with it (liburing) and the kernel allows it, else epoll; the
 * environment variable CIO_BACKEND ("epoll" or "io_uring") chooses, and a
 * backend that cannot start falls back to epoll with a logged warning.
 * NULL for a NULL or closed loop.  Never fails, never suspends.
 */
CIO_EXTERN const char *cio_loop_backend_name(const cio_loop *loop);

/*
 * Closes the loop: drops pending callbacks and timers, frees the poller and
 * the stack pool.  Tasks still pending are destroyed without running again
 * (their futures end cancelled with the message "loop closed"; their stacks
 * are dropped, so whatever their frames still owned is leaked: let them
 * finish first, as cio_run does) and, in debug mode, each is reported as
 * "Task was destroyed but it is pending" (and finished tasks never
 * awaited nor unreferenced as such: see cio_loop_set_debug).  Handles the caller holds stay
 * valid until cio_handle_unref(), which must come before
 * cio_loop_free().  Idempotent.  Errors: CIO_ERUNNING if the loop is
 * running, -EINVAL (NULL), CIO_EWRONGTHREAD (debug mode).
 */
CIO_EXTERN int cio_loop_close(cio_loop *loop);

/* Closes the loop if needed and frees it.  NULL is a no-op.  A loop that
 * cannot be closed (running, or owned by another thread) is logged and
 * leaked rather than freed under its owner. */
CIO_EXTERN void cio_loop_free(cio_loop *loop);

/* 1 if cio_loop_close() was called, else 0 (0 for NULL). */
CIO_EXTERN int cio_loop_is_closed(const cio_loop *loop);

/* 1 if the loop is running (in any thread), else 0 (0 for NULL). */
CIO_EXTERN int cio_loop_is_running(const cio_loop *loop);

/*
 * Runs the loop until cio_loop_stop().  Returns 0 after stop, CIO_ERUNNING
 * if the loop (or another loop in this thread) is already running,
 * CIO_ECLOSED if closed, CIO_EWRONGTHREAD if another thread owns it.
 */
CIO_EXTERN int cio_loop_run_forever(cio_loop *loop);

/*
 * Runs the loop until fut is done, then returns fut's status (0 or its
 * error code) and stores its result in *result (result may be NULL).  Give
 * it a task with cio_task_future(t); the caller keeps its reference to
 * fut.  Returns CIO_ESTALLED if nothing is left that could complete fut (no
 * ready callback, no timer, no watched descriptor, no cio_loop_work_begin()),
 * CIO_EINVALSTATE if cio_loop_stop() stopped the loop first, and the
 * errors of cio_loop_run_forever().
 */
CIO_EXTERN int cio_loop_run_until_complete(cio_loop *loop, cio_future *fut,
                                           void **result);

/*
 * Declares work in flight outside the loop that will call back through
 * cio_call_soon_threadsafe() (a thread of the caller's, say), so that
 * cio_loop_run_until_complete() does not report CIO_ESTALLED while it is
 * pending.  Thread-safe; each ref needs one unref.  cio's own executors do
 * this themselves.
 */
CIO_EXTERN void cio_loop_work_begin(cio_loop *loop);
CIO_EXTERN void cio_loop_work_end(cio_loop *loop);

/*
 * Asks the loop to stop: the callbacks already scheduled run, then
 * run_forever returns (asyncio semantics).  Safe to call before running.
 * Returns 0; -EINVAL for NULL.
 */
CIO_EXTERN int cio_loop_stop(cio_loop *loop);

/*
 * The loop's clock (loop NULL: the running loop's), seconds on a monotonic
 * scale (CLOCK_MONOTONIC), or virtual time under
 * cio_loop_set_virtual_clock().  Deadlines of cio_call_at() use this
 * scale; inside a task cio_loop_time(NULL) is asyncio's loop.time().  NaN
 * if loop is NULL and none runs.  Never fails.
 */
CIO_EXTERN double cio_loop_time(cio_loop *loop);

/* The loop running in the calling thread, or NULL (asyncio's
 * get_running_loop, which raises instead).  Borrowed: no reference. */
CIO_EXTERN cio_loop *cio_get_running_loop(void);

/* ---- callbacks and timers ------------------------------------------ */

/* A scheduled callback can be cancelled through its cio_handle.  Asking
 * for a handle is optional: pass out NULL when the callback need not be
 * cancelled. */

/*
 * Schedules cb(arg) on loop (NULL: the running loop, as every loop
 * parameter of cio) to run in the next iteration, after the callbacks
 * already scheduled (FIFO).  If out is non-NULL, *out receives a handle
 * that the caller owns and must cio_handle_unref(); pass NULL when the
 * callback need not be cancelled.  arg must stay valid until cb runs or
 * the handle is cancelled.  Errors: -EINVAL (cb NULL), CIO_ENOLOOP (loop
 * NULL and none runs), -ENOMEM, CIO_ECLOSED, CIO_EWRONGTHREAD (debug
 * mode); on failure cb never runs.
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

/* As cio_call_later with an absolute deadline on cio_loop_time()'s scale;
 * -EINVAL for a NaN when. */
CIO_EXTERN int cio_call_at(cio_loop *loop, double when, cio_callback_fn *cb,
                           void *arg, cio_handle **out);

/*
 * Schedules cb(arg) from any thread and wakes the loop if it sleeps.  The
 * only loop call that other threads may make.  cb runs on the loop's
 * thread.  The loop must outlive the call; pair it with
 * cio_loop_work_begin() if the loop should wait for it.  loop NULL is the
 * calling thread's running loop (CIO_ENOLOOP if none: another thread
 * must name the loop).  Errors: -EINVAL (cb NULL), CIO_ENOLOOP, -ENOMEM,
 * CIO_ECLOSED.
 */
CIO_EXTERN int cio_call_soon_threadsafe(cio_loop *loop, cio_callback_fn *cb,
                                        void *arg);

/*
 * Cancels the callback: it will not run.  Cancelling a handle whose
 * callback already ran, or twice, does nothing.  Does not drop the
 * handle's reference.  Returns 0, -EINVAL for NULL, or CIO_EWRONGTHREAD (debug mode)
 * from a thread that does not own the loop.
 */
CIO_EXTERN int cio_handle_cancel(cio_handle *h);

/* 1 if cio_handle_cancel() was called on h. */
CIO_EXTERN int cio_handle_cancelled(const cio_handle *h);

/* A timer handle's deadline on cio_loop_time()'s scale; NaN for a
 * call_soon handle (it has none) and for NULL. */
CIO_EXTERN double cio_handle_when(const cio_handle *h);

/* Drops the caller's reference to h.  Dropping it does not cancel: the
 * callback still runs unless cio_handle_cancel() was called.  NULL is a
 * no-op. */
CIO_EXTERN void cio_handle_unref(cio_handle *h);

/* ---- descriptor readiness ------------------------------------------ */

/* Readiness callbacks (asyncio's add_reader/add_writer) for code that
 * needs them.  Tasks normally use the socket and stream calls instead,
 * which suspend the task until the descriptor is ready. */

/*
 * Calls cb(arg) whenever fd is readable (level-triggered, as asyncio's
 * add_reader), until cio_loop_remove_reader().  Replaces an earlier reader
 * callback for the same fd.  fd stays owned by the caller, who must remove
 * the reader before closing it; arg must stay valid until then.  Errors: -EBADF (fd < 0 or not pollable),
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
 * When something fails and no one is there to be told - a task's failure
 * never retrieved, a task destroyed while pending - the loop passes this
 * context to its exception handler (asyncio's context dict).  Every
 * pointer but message may be NULL; all are valid only during the call.
 * See examples/05_task_errors.c.
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

/* An exception handler; ud is what cio_loop_set_exception_handler got. */
typedef void cio_exception_handler_fn(cio_loop *loop,
                                      const cio_exception_context *ctx,
                                      void *ud);

/* Installs the handler; fn NULL restores the default.  ud is passed to fn
 * and must stay valid while it is installed.  Returns 0; -EINVAL for a
 * NULL loop. */
CIO_EXTERN int cio_loop_set_exception_handler(cio_loop *loop,
                                              cio_exception_handler_fn *fn,
                                              void *ud);

/* Passes ctx to the loop's handler (or the default).  For libraries built
 * on cio that detect a failure nobody can receive.  NULL ctx is a no-op. */
CIO_EXTERN void cio_loop_call_exception_handler(cio_loop *loop,
                                                const cio_exception_context *ctx);

/* The default handler: logs ctx at error level through cio_log, e.g.
 * "cio error [forgotten]: Task exception was never retrieved: Invalid
 * argument (cannot parse 'xyz'); created at app.c:63".  The bracketed
 * context is ctx->task, the task the report is about (none without one),
 * not the task running when it is reported (the one that dropped the
 * failed task or closed the loop).  A custom handler may call it to keep
 * the log line. */
CIO_EXTERN void cio_loop_default_exception_handler(cio_loop *loop,
                                                   const cio_exception_context *ctx);

/* ---- embedding -------------------------------------------------------- */

/* A poll hook; after is 0 just before the loop may block waiting for I/O
 * or timers, 1 just after that wait. */
typedef void cio_poll_hook_fn(cio_loop *loop, int after, void *ud);

/*
 * Installs fn to be called around every wait of the loop that may block
 * (never around a poll that only looks), on the loop's thread: first with
 * after = 0, then with after = 1 once the wait has returned, woken by I/O,
 * a timer, another thread or a signal (EINTR).  For embedding cio in a
 * runtime with a global lock: the CPython extension (python/) releases
 * the GIL before the wait and takes it back after, then runs Python's
 * pending signal handlers.  Neither call may call back into the loop's
 * scheduling functions.  fn NULL removes the hook; ud is passed to fn and
 * must stay valid while the hook is installed.  Returns 0; -EINVAL for a
 * NULL loop; CIO_EWRONGTHREAD (debug mode).
 */
CIO_EXTERN int cio_loop_set_poll_hook(cio_loop *loop, cio_poll_hook_fn *fn, void *ud);

/* ---- settings ------------------------------------------------------- */

/*
 * Debug mode: reports steps that hold the loop longer than the slow
 * callback duration, failures never retrieved with where the task was
 * created, tasks unreferenced while pending, bad arguments by name, and
 * rejects calls from threads that do not own the loop.  The slow-step
 * report names the task, where it was created and the duration.  A task
 * whose function returns a positive value (which counts as success) gets
 * a warning naming the task and the value.  At close, a task that
 * finished while debug mode was on and that a caller still holds (created
 * with out non-NULL, or retained, and not unreferenced) whose outcome nobody
 * read (cio_await, cio_task_result, cio_gather, ...) is reported as "Task
 * was never awaited nor released" (asyncio's "coroutine ... was never
 * awaited"); dropping a task after close, before cio_loop_free, is
 * allowed, so read its outcome first to keep that quiet.
 * cio_loop_set_debug returns 0; cio_loop_get_debug returns 1 or 0.  Also
 * switched on by CIO_DEBUG=1 in the environment.  See
 * examples/19_debug_mode.c.
 */
CIO_EXTERN int cio_loop_set_debug(cio_loop *loop, int enabled);
CIO_EXTERN int cio_loop_get_debug(const cio_loop *loop);

/* Threshold of debug mode's slow-step report, seconds (default 0.1, as
 * asyncio's slow_callback_duration).  -EINVAL if seconds is not
 * positive. */
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

/*
 * Idle-stack compaction: the stacks of tasks that wait for long give their
 * memory back (a million idle tasks in under 1 KiB each).  On by default
 * with 5 seconds; a task that has stayed parked in cio_sleep or cio_await
 * (or a call built on them, such as joining a task) for at least
 * idle_seconds has the live part of its stack (from its stack pointer to
 * the top, typically a few hundred bytes) copied into a small buffer, and
 * all the stack's pages are given back to the kernel.  When the task is
 * about to run again, the bytes are copied back to the same addresses
 * first, so pointers into the stack stay valid; that resume costs a page
 * fault and a system call (a few microseconds).  Other code that reads or
 * writes the stack meanwhile (a child task given a pointer to its
 * parent's local variables, an executor thread filling a buffer) faults
 * the bytes back in the same way and sees them.  The loop checks about
 * once a second, so a task is compacted between idle_seconds and
 * idle_seconds + 1 s after it parked.  0 turns it off.  Any time, also
 * while the loop runs.  The environment variable CIO_STACK_COMPACTION
 * (seconds, 0 for off) sets the default of new loops.
 *
 * The faulting back needs Linux >= 6.13 (guard markers) and installs a
 * SIGSEGV handler once per process, which passes every other fault on to
 * the handler installed before it.  Without them (or if the program
 * replaces that handler later) compaction is partial and as safe: only
 * the stack's pages below the live part are given back, leaving a parked
 * task one page.  What cannot fault anything back: a system call given a
 * pointer into a compacted stack (read(2) by a child into its parent's
 * buffer while the parent sleeps for long) fails with EFAULT; turn
 * compaction off for loops whose tasks lend buffers to raw system calls.
 * A thread of the program's own that blocks SIGSEGV (cio's executor
 * threads do not) dies on touching a compacted stack.
 * cio's own suspension points that keep state on the waiting task's
 * stack (gather, wait, wait_for, locks, queues, I/O, connecting) are never
 * compacted.
 *
 * Errors: -EINVAL (loop NULL, idle_seconds negative, NaN or > 1e9).
 */
CIO_EXTERN int cio_loop_set_stack_compaction(cio_loop *loop, double idle_seconds);

#ifdef __cplusplus
}
#endif
#endif
