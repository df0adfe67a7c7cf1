/*
 * cio/task.h - futures, tasks, sleep and cio_run (asyncio's Future, Task,
 * sleep and run).
 *
 * A task is a stackful coroutine: a function
 *     int fn(void *arg, void **result)
 * (or int fn(CIO_CORO_PARAMS), below, to keep -Wextra quiet about an
 * unused parameter) that returns 0 (setting *result if it has one) or a negative code.  It
 * runs on its own stack and suspends only inside calls marked "suspends"
 * below; code between two such calls runs atomically with respect to the
 * other tasks of its loop.
 *
 * Cancellation is level-triggered: once a task is
 * cancelled, every suspension point in it returns -ECANCELED at once, until
 * it finishes.  Cleanup that must wait goes between cio_shield_begin() and
 * cio_shield_end().  A task that returns -ECANCELED ends "cancelled".
 *
 * A wait that has already completed when the cancellation arrives (the
 * task was woken with a result but has not run yet) returns that result:
 * what it delivered (bytes read, an item, a lookup's answer) is never
 * dropped, and the cancellation takes effect at the task's next
 * suspension point.  asyncio would raise CancelledError into that await
 * and lose what it delivered.
 *
 * Futures and tasks are reference-counted (_ref / _unref).  A task
 * created with out == NULL is owned by its loop alone and freed when it
 * finishes.
 */
#ifndef CIO_TASK_H
#define CIO_TASK_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A task's function (asyncio's coroutine function): see above.  Any
 * value >= 0 counts as success, so a function that returns 1 for "error"
 * by habit loses its failure: debug mode warns about a positive return. */
typedef int cio_coro_fn(void *arg, void **result);

/*
 * The parameter list of a coroutine function, (void *arg, void **result),
 * with both marked "may be unused" (CIO_MAYBE_UNUSED): most coroutines
 * use one of them or neither, and -Wextra would warn about each unused
 * one.  The names stay arg and result:
 *
 *     static int tick(CIO_CORO_PARAMS)
 *     {
 *         printf("tick\n");
 *         return cio_sleep(1.0);
 *     }
 *
 * A coroutine that uses both may spell its parameters out as usual.
 */
#define CIO_CORO_PARAMS void *arg CIO_MAYBE_UNUSED, void **result CIO_MAYBE_UNUSED
/* A done callback, given to cio_future_add_done_callback(). */
typedef void cio_done_fn(cio_future *fut, void *arg);

/* ---- futures -------------------------------------------------------- */

/* A future is a slot for a result that some code will set later; tasks
 * await it.  Every task has one (cio_task_future()). */

/*
 * Creates a pending future on loop (NULL: the running loop).  The caller
 * owns one reference: cio_future_unref().  Errors: -ENOMEM, CIO_ENOLOOP,
 * CIO_ECLOSED.  Does not suspend.
 */
CIO_EXTERN int cio_future_new(cio_loop *loop, cio_future **out);
/* Adds a reference, to be dropped with cio_future_unref(); returns fut.
 * NULL is a no-op returning NULL. */
CIO_EXTERN cio_future *cio_future_ref(cio_future *fut);
/* Drops a reference; the last one frees the future.  A failure nobody
 * retrieved (with cio_future_result or by awaiting) is reported to the
 * loop's exception handler then ("Future exception was never retrieved").
 * NULL is a no-op. */
CIO_EXTERN void cio_future_unref(cio_future *fut);

/*
 * Completes the future with a result.  The pointer is stored, not owned:
 * what it points to must outlive every reader.  Done callbacks are
 * scheduled with call_soon; awaiting tasks are woken.  Errors:
 * CIO_EINVALSTATE if already done, CIO_EWRONGTHREAD (debug).  Does not
 * suspend.
 */
CIO_EXTERN int cio_future_set_result(cio_future *fut, void *result);

/*
 * Completes the future with an error code (negative, not -ECANCELED: use
 * cio_future_cancel) and an optional message (copied; may be NULL).
 * Errors: -EINVAL (code >= 0 or -ECANCELED), CIO_EINVALSTATE (already
 * done), -ENOMEM.
 */
CIO_EXTERN int cio_future_set_error(cio_future *fut, int code, const char *message);

/*
 * Cancels the future: 1 if it was pending and is now cancelled, 0 if it
 * was already done.  msg (copied, may be NULL) becomes its error message.
 * For a task's future this is cio_task_cancel().  Errors: -EINVAL (NULL),
 * CIO_EWRONGTHREAD (debug mode).
 */
CIO_EXTERN int cio_future_cancel(cio_future *fut, const char *msg);

/* 1 if the future is done (has a result, failed or was cancelled), else 0;
 * 1 from cio_future_cancelled() only if it was cancelled.  Both 0 for
 * NULL.  Never fail. */
CIO_EXTERN int cio_future_done(const cio_future *fut);
CIO_EXTERN int cio_future_cancelled(const cio_future *fut);

/*
 * The outcome: returns 0 and sets *result (if result non-NULL), or the
 * error code (-ECANCELED if cancelled).  CIO_EINVALSTATE if still pending
 * (asyncio's InvalidStateError), -EINVAL if fut is NULL.  Marks a failure
 * as retrieved.  Does not suspend: to wait, use cio_await().
 */
CIO_EXTERN int cio_future_result(cio_future *fut, void **result);

/* The error message of a failed or cancelled future, or NULL.  Valid as
 * long as the caller holds a reference. */
CIO_EXTERN const char *cio_future_error_message(const cio_future *fut);

/*
 * Calls fn(fut, arg) once the future is done, through call_soon (at once
 * scheduled if it is already done).  arg must stay valid until fn runs or
 * is removed.  Errors: -EINVAL (NULL future or callback), -ENOMEM,
 * CIO_EWRONGTHREAD (debug mode); on failure fn never runs.
 */
CIO_EXTERN int cio_future_add_done_callback(cio_future *fut, cio_done_fn *fn, void *arg);

/* Removes every registration of (fn, arg); returns how many.  Errors:
 * -EINVAL (NULL), CIO_EWRONGTHREAD (debug mode). */
CIO_EXTERN int cio_future_remove_done_callback(cio_future *fut, cio_done_fn *fn, void *arg);

/*
 * Suspends the calling task until fut is done; returns fut's status and
 * stores its result in *result (result may be NULL).  A future already
 * done returns at once.  The caller keeps its reference to fut: awaiting
 * does not consume it.  Suspends.
 * If the calling task is cancelled while waiting, fut is cancelled too (for
 * a task: it is asked to cancel) and the call waits until fut is done, then
 * returns -ECANCELED, as asyncio does.  Errors: -ECANCELED, -ETIMEDOUT
 * (inside an expired timeout scope), CIO_ENOTASK (not inside a task),
 * -EDEADLK (a task awaiting itself), -EINVAL (fut NULL or on another loop);
 * and any error code fut completed with.
 */
CIO_EXTERN int cio_await(cio_future *fut, void **result);

/* ---- tasks ---------------------------------------------------------- */

/* Options of a task; zeroed fields mean the defaults. */
typedef struct cio_task_options {
    const char *name;   /* copied; NULL gives "Task-N" */
    size_t stack_size;  /* bytes, 16 KiB .. 1 GiB; 0: the loop's default
                           (cio_loop_set_stack_size) */
    const char *file;   /* where the task was created, for debug reports
                           ("file:line"); NULL: unknown.  The creating
                           macros fill it; a library creating tasks on its
                           user's behalf may pass its caller's */
    int line;           /* ... and the line */
    CIO_OPTIONS_RESERVED
} cio_task_options;

/*
 * asyncio.Task(coro, loop=, name=): creates a task running fn(arg) on loop
 * (NULL: the running loop) and schedules it: it starts at the next
 * suspension point of the caller (or the next loop iteration, when the
 * loop runs).  opts may be NULL (all defaults).  If out is non-NULL the
 * caller receives a reference and must cio_task_unref() it (debug mode
 * reports at loop close a task still held whose outcome nobody read);
 * with out NULL the loop keeps the task alive until it finishes ("fire
 * and forget"; a failure is then reported to the exception handler).  arg
 * must stay valid as long as the task uses it.  A real function: its
 * address can be taken.
 * Errors: -EINVAL (fn NULL, bad stack_size), -ENOMEM, CIO_ENOLOOP (loop
 * NULL and no loop runs in this thread), CIO_ECLOSED, CIO_EWRONGTHREAD
 * (debug).  Does not suspend.
 */
CIO_EXTERN int cio_task_new(cio_loop *loop, cio_coro_fn *fn, void *arg,
                            const cio_task_options *opts, cio_task **out);

/* Where a task is created, for debug reports: the file's own name where
 * the compiler offers it (gcc >= 12, clang >= 9), not the build's path. */
#ifdef __FILE_NAME__
#define CIO_SOURCE_FILE __FILE_NAME__
#else
#define CIO_SOURCE_FILE __FILE__
#endif

/*
 * asyncio.create_task(coro, name=): a task on the running loop; as
 * cio_task_new with only a name.  In C it is also a macro that records
 * the file and line of the call (the function, e.g. through its address,
 * records none).  Errors and ownership as cio_task_new.
 */
CIO_EXTERN int cio_create_task(cio_coro_fn *fn, void *arg, const char *name,
                               cio_task **out);

/* loop.create_task: as cio_create_task on a given loop (NULL: the running
 * one), which need not run yet (the task starts when it does).  Also a
 * macro recording file and line. */
CIO_EXTERN int cio_loop_create_task(cio_loop *loop, cio_coro_fn *fn, void *arg,
                                    const char *name, cio_task **out);

#ifndef __cplusplus /* compound literals */
#define cio_create_task(fn_, arg_, name_, out_) \
    cio_loop_create_task(NULL, fn_, arg_, name_, out_)
#define cio_loop_create_task(loop_, fn_, arg_, name_, out_)                         \
    cio_task_new((loop_), (fn_), (arg_),                                            \
                 &(cio_task_options){.name = (name_), .file = CIO_SOURCE_FILE,      \
                                     .line = __LINE__},                             \
                 (out_))
#endif

/* Adds a reference to t, which the caller must cio_task_unref(); returns
 * t.  NULL is a no-op returning NULL. */
CIO_EXTERN cio_task *cio_task_ref(cio_task *t);
/* Drops a reference.  Dropping the last reference of a pending task is
 * allowed (the loop holds its own until it finishes).  When a task is
 * freed with a failure nobody retrieved, the loop's exception handler
 * hears "Task exception was never retrieved".  NULL is a no-op. */
CIO_EXTERN void cio_task_unref(cio_task *t);

/* The task's future: what cio_await, cio_loop_run_until_complete, gather
 * and wait take.  Borrowed: no reference is added; valid while the task
 * is. */
CIO_EXTERN cio_future *cio_task_future(cio_task *t);

/* cio_await(cio_task_future(t), result): waits for the task and returns
 * its status and result.  The caller still owns its reference to t and
 * drops it afterwards (cio_task_unref).  Suspends. */
CIO_EXTERN int cio_task_await(cio_task *t, void **result);

/*
 * Requests cancellation: 1 if the task was pending, 0 if it was already
 * done.  A task that has not started finishes cancelled without running.
 * A suspended task wakes with -ECANCELED at its suspension point (unless
 * shielded), and so does every later suspension point in it.  msg
 * (copied, may be NULL) becomes the task's error message if it ends
 * cancelled.  Errors: -EINVAL (NULL), CIO_EWRONGTHREAD (debug mode).
 * Does not suspend: to wait until the task has unwound, await it.
 */
CIO_EXTERN int cio_task_cancel(cio_task *t, const char *msg);

/* 1 once cancellation was requested and the task is not done, else 0. */
CIO_EXTERN int cio_task_cancelling(const cio_task *t);
/* cio_task_cancelled: 1 if the task finished cancelled; cio_task_done: 1
 * once it has finished (returned, failed or was cancelled).  Both 0 for
 * NULL. */
CIO_EXTERN int cio_task_cancelled(const cio_task *t);
CIO_EXTERN int cio_task_done(const cio_task *t);
/* As cio_future_result on the task's future: 0 and *result, or the task's
 * error code (-ECANCELED if cancelled); CIO_EINVALSTATE while it is
 * pending.  Marks a failure as retrieved. */
CIO_EXTERN int cio_task_result(cio_task *t, void **result);
/* As cio_future_error_message: once the task is done, the message it
 * failed with (from cio_set_error_message) or was cancelled with
 * (from cio_task_cancel), or NULL.  While it has not finished, the
 * message it set last with cio_set_error_message (NULL if none or
 * cleared): code that calls a coroutine function directly (asyncio's
 * `await coro()`) reads what that function set on the calling task at
 * once, with cio_task_error_message(cio_current_task()).  Valid until the
 * message is set again or the task is freed. */
CIO_EXTERN const char *cio_task_error_message(const cio_task *t);
/* The task's name ("Task-N" if none was given); valid until the name
 * changes or the task is freed. */
CIO_EXTERN const char *cio_task_get_name(const cio_task *t);
/* Copies name.  Errors: -EINVAL (NULL), -ENOMEM. */
CIO_EXTERN int cio_task_set_name(cio_task *t, const char *name);
/* The loop's unique number of the task (1, 2, ...; main under cio_run is
 * 1).  0 for NULL. */
CIO_EXTERN uint64_t cio_task_id(const cio_task *t);
/* "file:line" where the task was created (recorded by the
 * cio_create_task macros), or NULL.  Valid while the task is. */
CIO_EXTERN const char *cio_task_source(const cio_task *t);

/*
 * Sets the error message the task will finish with when fn returns a
 * negative code (printf-style, copied; fmt NULL clears).  Only the calling
 * task itself.  The awaiting code reads it with cio_task_error_message();
 * the exception handler gets it as error_message.  asyncio's
 * `raise ValueError(f"cannot parse {s!r}")` becomes:
 *
 *     static int parse(void *arg, void **result)
 *     {
 *         cio_set_error_message("cannot parse '%s'", (const char *)arg);
 *         return -EINVAL;
 *     }
 *
 * The message is readable at once with cio_task_error_message() on the
 * calling task, so a caller that called parse() directly (the translation
 * of `await parse(s)`) can print it, or wrap it before passing the failure
 * on (the arguments may include the current message: it is formatted
 * before the old one is freed):
 *
 *     int rc = parse(line, NULL);
 *     if (rc < 0) {
 *         cio_set_error_message("line %d: %s", n,
 *             cio_task_error_message(cio_current_task()));
 *         return rc;
 *     }
 *
 * A message stays until it is replaced or cleared (fmt NULL) and is
 * dropped when the task finishes with success (>= 0): a caller that
 * handles the failure and goes on should clear it, or a later failure
 * without a message of its own would carry it.
 * Errors: CIO_ENOTASK, -ENOMEM (the old message stays).  Does not suspend.
 */
CIO_EXTERN int cio_set_error_message(const char *fmt, ...) CIO_PRINTF(1, 2);

/* The task running in this thread, or NULL outside a task.  Borrowed:
 * retain it to keep it. */
CIO_EXTERN cio_task *cio_current_task(void);

/*
 * The tasks of loop (NULL: the running loop) that are not done: fills
 * buf with up to cap borrowed pointers (valid until the loop runs again:
 * retain those you keep) and returns how many there are in all (call with
 * cap 0 to count).  0 if there is no loop.
 */
CIO_EXTERN size_t cio_all_tasks(cio_loop *loop, cio_task **buf, size_t cap);

/* ---- suspension helpers --------------------------------------------- */

/*
 * Suspends the calling task for seconds; 0 (or a negative value, as in
 * asyncio) yields to the other ready tasks once.  Returns 0, -ECANCELED,
 * -ETIMEDOUT, CIO_ENOTASK, -EINVAL (NaN), -ENOMEM.  Suspends.
 */
CIO_EXTERN int cio_sleep(double seconds);

/*
 * Shields the calling task from cancellation and timeouts until the
 * matching cio_shield_end(): suspension points inside behave normally.
 * Nest freely.  At the end, a pending cancellation takes effect at the
 * next suspension point.  A timeout scope (cio/combine.h) opened inside
 * the shield still works there, so shielded cleanup can be bounded in
 * time.  Returns 0 or CIO_ENOTASK; cio_shield_end() without a matching
 * begin returns -EINVAL.  Does not suspend.  (asyncio's shield() protects
 * an awaited future instead: that is cio_shield() in cio/combine.h.)
 */
CIO_EXTERN int cio_shield_begin(void);
CIO_EXTERN int cio_shield_end(void);

/*
 * 0 if the calling task may go on; -ECANCELED or -ETIMEDOUT if it should
 * unwind (without suspending).  For long loops of pure computation that
 * should still notice cancellation.  CIO_ENOTASK outside a task.
 */
CIO_EXTERN int cio_checkpoint(void);

/* ---- running ------------------------------------------------------- */

/*
 * asyncio.run: creates a loop, runs main(arg) as a task named "main" until
 * it finishes, cancels every task left and waits for them, closes and frees
 * the loop.  Returns main's status and stores its result in *result
 * (result may be NULL).  Debug mode follows the CIO_DEBUG variable.
 * In the main thread, SIGINT (Ctrl-C) and SIGTERM (what systemd, docker
 * and kill send to stop a server), each if it has its default
 * disposition, cancel the main task while it runs (asyncio.Runner does so
 * for SIGINT), with the message "interrupted by SIGINT" or "terminated by
 * SIGTERM"; main then unwinds through its cancellation paths and cio_run
 * returns -ECANCELED unless main returns something else.  A second signal
 * of the same kind while main is unwinding gets the default action (the
 * process ends).  Dispositions are restored before returning; a signal
 * whose disposition the program set itself is left alone; see
 * cio/signal.h.
 * Errors: CIO_ERUNNING (a loop already runs in this thread), -ENOMEM,
 * -EINVAL (main NULL), the errors of cio_loop_new(); CIO_ESTALLED if main
 * waits for something nothing can complete.  Not a suspension point: it
 * runs a loop, and blocks the calling thread until main finishes.
 */
CIO_EXTERN int cio_run(cio_coro_fn *main, void *arg, void **result);

/*
 * As cio_run on a loop the caller created and configured (debug mode,
 * virtual clock, stack size); the loop is closed but not freed: the caller
 * then calls cio_loop_free().  Errors as cio_run, and -EINVAL for a NULL
 * loop.
 *
 *     cio_loop *loop;
 *     int rc = cio_loop_new(&loop);
 *     if (rc < 0)
 *         return rc;
 *     cio_loop_set_virtual_clock(loop, 1);   // sleeps take no real time
 *     rc = cio_run_loop(loop, main_task, NULL, NULL);
 *     cio_loop_free(loop);
 */
CIO_EXTERN int cio_run_loop(cio_loop *loop, cio_coro_fn *main, void *arg,
                            void **result);

#ifdef __cplusplus
}
#endif
#endif
