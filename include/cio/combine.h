/*
 * cio/combine.h - waiting for several things at once, and for not too long
 * (asyncio's gather, wait, wait_for, as_completed, shield, timeout and
 * TaskGroup).
 *
 * Every combinator takes futures; a task gives its own with
 * cio_task_future().  Futures passed in are borrowed: the caller keeps them
 * alive until the call returns (as_completed and shield take their own
 * references, as their comments say).
 *
 * Cancellation is level-triggered (cio/task.h): a call below that
 * suspends returns -ECANCELED at once in a cancelled task, and -ETIMEDOUT
 * inside an expired timeout scope, without side effects.  Where asyncio
 * cancels the children of a cancelled gather or task group, cio does too,
 * and waits until they have finished unwinding before returning: nothing
 * started by a combinator outlives it unnoticed.
 *
 * Timeouts, as everywhere in cio (cio/common.h): a relative timeout in
 * seconds, CIO_NO_TIMEOUT (any value < 0) or INFINITY for none (asyncio's
 * None), 0 for "do not wait".  Absolute deadlines (cio_timeout_at_begin,
 * cio_timeout_reschedule) are loop times, INFINITY for none.
 *
 * Divided as: gather (of futures, and of coroutine calls:
 * cio_gather_calls / CIO_GATHER), wait, wait_for, as_completed, shield,
 * timeout scopes, task groups.
 */
#ifndef CIO_COMBINE_H
#define CIO_COMBINE_H

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gather --------------------------------------------------------- */

/* cio_gather flags. */
#define CIO_GATHER_RETURN_ERRORS 1 /* asyncio's return_exceptions=True */

/* What cio_gather stores in statuses[i] for a future still pending when a
 * failure ended the gather early.  Positive: never a status. */
#define CIO_PENDING 1

/*
 * asyncio.gather: waits for futs[0..n-1] and stores their outcomes in
 * submission order: results[i] (NULL for a failure) and statuses[i] (0 or
 * the future's error code); either array may be NULL, else it holds n
 * entries.  Suspends (not if every future is already done).
 *
 * Without CIO_GATHER_RETURN_ERRORS, the first future to fail in completion
 * order (including one that is cancelled, as asyncio treats it) ends the
 * gather: it returns that future's code at once, the other futures keep
 * running (asyncio), and statuses[i] is CIO_PENDING for those not done
 * yet; their outcomes are the caller's to read.  Tasks that use the
 * caller's locals must not be left running so: see "Which form" below.  With CIO_GATHER_RETURN_ERRORS it always waits for all
 * and returns 0; failures are in statuses.  Returns 0 when all succeeded.
 * The outcomes stored count as retrieved (no "never retrieved" report).
 *
 * If the calling task is cancelled (or its timeout scope expires) while
 * waiting, every future not done is cancelled, gather waits until all are
 * done, stores their outcomes and returns -ECANCELED (-ETIMEDOUT).
 * A future may appear more than once.  n == 0 returns 0 at once.
 * futs and the futures are borrowed for the call.
 *
 * Cost: one done-callback registration and one counter decrement per
 * future; nothing is allocated per future (a task's inline callback slot
 * holds it) and the gathering task is woken once.  Measured: spawn +
 * gather of 10,000 empty tasks, 22.7 ns per task for the gather (running
 * the tasks included), against 14.9 ns to run them without it.
 *
 * Errors: -EINVAL (futs NULL with n > 0, a NULL future, one on another
 * loop, unknown flags), -EDEADLK (the calling task's own future), -ENOMEM
 * (with no side effect), CIO_ENOTASK, -ECANCELED, -ETIMEDOUT, and the
 * first failure's code.
 */
CIO_EXTERN int cio_gather(cio_future *const *futs, size_t n, int flags,
                          void **results, int *statuses);

/*
 * Which form when the tasks point into the caller's frame (arg is a
 * local, a buffer on the stack): cio_gather without
 * CIO_GATHER_RETURN_ERRORS returns at the first failure while the other
 * futures keep running, and a task that still uses the caller's locals
 * after the caller has returned writes into a dead frame.  Safe are
 * cio_gather_calls / CIO_GATHER below and task groups, which wait until
 * every task they started has finished (cancelling the rest after a
 * failure), and cio_gather with CIO_GATHER_RETURN_ERRORS, which always
 * waits for all.  After a fail-fast cio_gather, cancel and await the
 * futures still pending (statuses[i] == CIO_PENDING) before leaving.
 */

/* A coroutine call for cio_gather_calls: fn(arg) run as a task.  Two
 * fields, so the literal {fn, arg} initialises it fully (no
 * -Wmissing-field-initializers). */
typedef struct cio_call {
    cio_coro_fn *fn;           /* the coroutine function */
    void *arg;                 /* its argument */
} cio_call;

/*
 * asyncio.gather(f(a), g(b), ...) without the boilerplate: runs each
 * calls[i].fn(calls[i].arg) as a task of the calling task's loop, waits
 * until ALL of them have finished, stores their outcomes in call order
 * (results[i]: NULL for a failure; statuses[i]: 0 or the error code;
 * either array may be NULL, else it holds n entries) and drops the
 * tasks.  Nothing it starts outlives it, so the tasks may point into the
 * caller's frame (asyncio.TaskGroup's rule; cio_gather's fail-fast form
 * leaves the others running instead).
 *
 * Without CIO_GATHER_RETURN_ERRORS, the first task to fail (in completion
 * order; a negative status, including a task that cancels itself) gets
 * every other task cancelled, the wait goes on until they have unwound
 * (their statuses are then mostly -ECANCELED), and that first failure's
 * code is returned; its error message (cio_set_error_message)
 * becomes the calling task's, so `return cio_gather_calls(...)` passes
 * both on as a raised exception would.  With CIO_GATHER_RETURN_ERRORS
 * (asyncio's return_exceptions=True) nothing is cancelled, failures are
 * only in statuses, and 0 is returned.  If the calling task is cancelled
 * (or its timeout scope expires) while waiting, every task is cancelled,
 * the wait still goes on until all are done, and -ECANCELED
 * (-ETIMEDOUT) is returned unless a task had failed first.  Returns 0
 * when every call succeeded.  The outcomes count as retrieved.
 *
 * The tasks are named "Task-N" and use the loop's stack size.  calls is
 * read before the call suspends; each arg must stay valid until it
 * returns, which is the point.  Suspends (not if n == 0).  On an error
 * before any task ran, every statuses[i] is that error and no fn runs.
 *
 *     struct fetch a = {.url = "a"}, b = {.url = "b"};   // on the stack
 *     int rc = CIO_GATHER({fetch, &a}, {fetch, &b});
 *
 * Errors: -EINVAL (calls NULL with n > 0, a NULL fn, unknown flags),
 * -ENOMEM (nothing ran), CIO_ENOTASK, -ECANCELED, -ETIMEDOUT, and the
 * first failure's code.
 */
CIO_EXTERN int cio_gather_calls(const cio_call *calls, size_t n, int flags,
                                void **results, int *statuses);

/* The literal form: CIO_GATHER({f, &a}, {g, &b}, ...) is
 * cio_gather_calls on those calls, without flags or outcome arrays
 * (results come back through the arguments); its value is
 * cio_gather_calls's.  For the outcomes, name the array:
 *
 *     cio_call calls[] = {{fetch, &a}, {fetch, &b}};
 *     void *results[2];
 *     int statuses[2];
 *     rc = cio_gather_calls(calls, 2, CIO_GATHER_RETURN_ERRORS, results, statuses);
 */
#define CIO_GATHER(...)                                                        \
    cio_gather_calls((const cio_call[]){__VA_ARGS__},                          \
                     sizeof((const cio_call[]){__VA_ARGS__}) / sizeof(cio_call), \
                     0, NULL, NULL)

/* ---- wait ----------------------------------------------------------- */

/* cio_wait's return_when (asyncio.ALL_COMPLETED, ...). */
enum {
    CIO_ALL_COMPLETED = 0,   /* every future is done */
    CIO_FIRST_COMPLETED = 1, /* any future is done */
    CIO_FIRST_EXCEPTION = 2  /* any future failed (cancelled does not
                                count, as in asyncio), or all done */
};

/*
 * asyncio.wait: waits until return_when holds or timeout seconds pass
 * (timeout < 0 or INFINITY: no limit; 0: just look).  Then sets done[i]
 * to 1 for each future that is done and 0 for each still pending (done
 * may be NULL) and returns how many are done: asyncio's done and pending
 * sets.  Nothing is cancelled, not on timeout and not if the calling task
 * is cancelled (asyncio), and no outcome is retrieved: read them with
 * cio_future_result().  Suspends (not if return_when already holds, or
 * timeout is 0).
 * Errors: -EINVAL (n == 0 - asyncio's ValueError for an empty set -, futs
 * NULL, a NULL future or one on another loop, bad return_when, NaN
 * timeout), -EDEADLK (own future), -ENOMEM,
 * CIO_ENOTASK, -ECANCELED, -ETIMEDOUT (the task's own timeout scope, not
 * timeout).
 */
CIO_EXTERN int cio_wait(cio_future *const *futs, size_t n, int return_when,
                        double timeout, uint8_t *done);

/*
 * asyncio.wait_for: awaits fut for at most timeout seconds (< 0 or
 * INFINITY: no limit).  On timeout, fut is cancelled and wait_for waits
 * until it is done (for a task: has finished unwinding), then returns
 * -ETIMEDOUT; if fut ignored the cancellation and produced a result, that
 * result is returned (asyncio 3.12, so a result is never lost), and if it
 * failed otherwise, its error.  timeout == 0 cancels at once a future not
 * yet done (a task that has not started never runs).  If the calling task
 * is cancelled while waiting, fut is cancelled the same way and -ECANCELED
 * is returned (cancellation wins over a timeout that fired too).  Returns
 * fut's status and stores its result in *result (result may be NULL).  The
 * caller keeps its reference to fut.  Suspends (not if fut is already
 * done).  Errors: as cio_await, -EINVAL for a NaN timeout, -ENOMEM, and
 * fut's own error code.
 */
CIO_EXTERN int cio_wait_for(cio_future *fut, double timeout, void **result);

/* ---- as_completed --------------------------------------------------- */

typedef struct cio_as_completed cio_as_completed;

/*
 * asyncio.as_completed: an iterator over futs[0..n-1] in completion order,
 * with an overall timeout (seconds from now; < 0 or INFINITY: none).  It
 * takes a reference on each future, dropped by cio_as_completed_free().
 * Futures already done come first, in index order.  futs itself is not
 * kept.  Does not suspend.
 * Errors: -EINVAL (futs NULL with n > 0, NULL future, futures on different
 * loops, NaN timeout, out NULL), -ENOMEM, CIO_ENOLOOP (no loop running and
 * no future to tell which).
 */
CIO_EXTERN int cio_as_completed_new(cio_future *const *futs, size_t n,
                                    double timeout, cio_as_completed **out);

/*
 * Waits for the next future to complete: returns 1 and sets *index (its
 * position in futs) and *fut (borrowed, valid until the iterator is freed)
 * -- either may be NULL; returns 0 once every future was yielded.  Its
 * outcome is not retrieved: read it with cio_future_result().  Each entry
 * of futs is handed out once (a future given twice comes twice).  After
 * the overall timeout, futures done before it are still yielded, then
 * -ETIMEDOUT is returned on every call (the pending ones are not
 * cancelled, as asyncio).  If the calling task is cancelled while waiting,
 * -ECANCELED is returned and nothing is lost: the iterator can still be
 * used.
 * Suspends (not if a completed future is waiting).  Errors: -EINVAL,
 * -EBUSY (another task waits on the same iterator), CIO_ENOTASK,
 * -ECANCELED, -ETIMEDOUT.
 */
CIO_EXTERN int cio_as_completed_next(cio_as_completed *ac, size_t *index,
                                     cio_future **fut);

/*
 * Frees the iterator and drops its references; the futures are not
 * cancelled.  NULL is a no-op.  Freeing it while a task waits in
 * cio_as_completed_next is a bug: it is logged as an error and nothing is
 * freed.  Does not suspend.
 */
CIO_EXTERN void cio_as_completed_free(cio_as_completed *ac);

/* ---- shield --------------------------------------------------------- */

/*
 * asyncio.shield: *outer receives a future (caller owns one reference:
 * cio_future_unref) that completes with inner's outcome (result, error
 * code and message, or cancellation); cancelling outer -- or a task
 * awaiting outer being cancelled -- does not cancel inner, which runs on.
 * If inner is already done, *outer is inner itself with a new reference
 * (asyncio returns the same object).  The outer's completion comes through
 * call_soon, one loop iteration after the inner's, as in asyncio.  The
 * link holds a reference on each until inner is done or outer is done
 * first; inner's outcome, copied into outer, counts as retrieved.  Does
 * not suspend.  Errors: -EINVAL (NULL arguments), -ENOMEM, CIO_ECLOSED.
 * To shield a stretch of a task's own code, see cio_shield_begin().
 */
CIO_EXTERN int cio_shield(cio_future *inner, cio_future **outer);

/* ---- timeout scopes ------------------------------------------------- */

/*
 * A scope is `async with asyncio.timeout(delay):` (trio's move_on_after)
 * written as a begin/end pair around a stretch of a task's code:
 *
 *     cio_timeout *tm;
 *     int rc = cio_timeout_begin(2.0, &tm);
 *     if (rc < 0)
 *         return rc;
 *     rc = do_work();                // its suspension points return
 *                                    // -ETIMEDOUT once the 2 s have passed
 *     int trc = cio_timeout_end(tm); // -ETIMEDOUT if this scope fired
 *
 * When the deadline passes, the task is interrupted where it waits (an
 * await cancels what it awaits and waits for it, as asyncio) and, until
 * the scope ends, every suspension point of the task returns -ETIMEDOUT
 * (level-triggered, as cancellation), so code that misses one check still
 * unwinds quickly.  When an outer scope fires, the inner scopes' ends
 * return 0 and the task keeps unwinding until the outer's end, which
 * returns -ETIMEDOUT.
 *
 * A shield (cio_shield_begin) holds off cancellation and the scopes opened
 * outside it; a scope opened inside a shield still works there, so a
 * shielded cleanup can be bounded in time (trio's shielded cancel scopes):
 *
 *     cio_shield_begin();
 *     cio_timeout *cleanup;
 *     cio_timeout_begin(1.0, &cleanup);
 *     flush_buffers();               // at most 1 s, even in a timed-out task
 *     cio_timeout_end(cleanup);
 *     cio_shield_end();
 *
 * Differences from asyncio: with two scopes that fire at the same instant,
 * both ends return -ETIMEDOUT (asyncio raises TimeoutError at the outer
 * one and CancelledError inside); cio_timeout_end reports a firing even if
 * no suspension point ran after it (asyncio's __aexit__ converts only a
 * CancelledError it sees); with a cancellation and a timeout together, the
 * suspension points return -ECANCELED (cancellation wins) while the
 * scope's end still reports -ETIMEDOUT.  A task that ends with scopes
 * still open has them freed with a warning.
 */

typedef struct cio_timeout cio_timeout;

/*
 * asyncio.timeout / trio.move_on_after: opens a deadline scope on the
 * calling task, delay seconds from now (CIO_NO_TIMEOUT, any delay < 0 or
 * INFINITY: no deadline yet, as asyncio's timeout(None); 0: expired at
 * once).  When the
 * deadline passes, the task is interrupted where it waits and, until the
 * scope ends, every suspension point in it returns -ETIMEDOUT
 * (level-triggered, like cancellation).  Scopes nest: each has its own
 * deadline, the earliest fires first, and each knows whether it fired.
 * Shields (cio_shield_begin) hold timeouts off as they hold cancellation.
 * *out is owned by the scope's task until cio_timeout_end().  Does not
 * suspend.  Errors: -EINVAL (NaN, out NULL), -ENOMEM, CIO_ENOTASK.
 */
CIO_EXTERN int cio_timeout_begin(double delay, cio_timeout **out);

/* asyncio.timeout_at: as cio_timeout_begin with an absolute deadline on
 * cio_loop_time()'s scale (INFINITY: none; in the past: expired at once).
 * Errors, ownership and suspension as cio_timeout_begin. */
CIO_EXTERN int cio_timeout_at_begin(double when, cio_timeout **out);

/*
 * Closes the scope (which must be the calling task's innermost open scope:
 * LIFO) and frees it.  Returns -ETIMEDOUT if this scope's deadline fired,
 * else 0 -- even if an outer scope fired, whose end then reports it (and
 * the task's suspension points keep returning -ETIMEDOUT until then).
 * Unlike asyncio, it reports the firing even if the code inside never
 * reached a suspension point after it.  Unlike asyncio's Timeout object,
 * which stays readable after the `async with`, tm is gone once this
 * returns: the return value is what Timeout.expired() would answer, and
 * cio_timeout_when must be read before (the scope lives in the task's own
 * bookkeeping, so that a scope per request costs no memory after it).
 * Does not suspend.  Errors: -EINVAL (NULL, another task's scope, or not
 * the innermost; the scope stays open), CIO_ENOTASK.
 */
CIO_EXTERN int cio_timeout_end(cio_timeout *tm);

/*
 * Timeout.reschedule(): moves the deadline to when (absolute, loop time;
 * INFINITY: none; in the past or now: fires at once).  May be called from
 * any task of the loop while the scope is open.
 * Errors: -EINVAL (NULL, NaN), CIO_EINVALSTATE (the scope already fired,
 * as asyncio), -ENOMEM (deadline unchanged).  Does not suspend.
 */
CIO_EXTERN int cio_timeout_reschedule(cio_timeout *tm, double when);

/* Timeout.when(): the deadline (loop time), INFINITY if none; NaN for
 * NULL. */
CIO_EXTERN double cio_timeout_when(const cio_timeout *tm);

/* Timeout.expired(): 1 if the scope's deadline fired, else 0 (0 for
 * NULL). */
CIO_EXTERN int cio_timeout_expired(const cio_timeout *tm);

/* ---- task groups ---------------------------------------------------- */

/*
 * `async with asyncio.TaskGroup() as tg:` becomes:
 *
 *     cio_task_group *tg;
 *     int rc = cio_task_group_new(&tg);
 *     if (rc < 0)
 *         return rc;
 *     cio_task_group_create_task(tg, worker, &a, "a", NULL);
 *     cio_task_group_create_task(tg, worker, &b, "b", NULL);
 *     rc = cio_task_group_wait(tg);          // the end of the "async with"
 *     size_t nerr = cio_task_group_errors(tg, tasks, codes, 8); // ExceptionGroup
 *     cio_task_group_free(tg);
 *
 * The group waits for all its tasks; the first failure (a task ending with
 * an error other than -ECANCELED; cancelled tasks are not failures)
 * cancels every other task of the group, refuses new ones, and interrupts
 * the parent once (see cio_task_group_create_task).  cio does not leave
 * the parent cancelled (C has no uncancel() to undo level-triggered
 * cancellation), so the parent can go on to the wait.  Every failure is
 * kept for the parent to read.  A group can run inside a task of another
 * group; cancelling a task cancels the groups it waits on, and their
 * tasks, all the way down.
 */

typedef struct cio_task_group cio_task_group;

/*
 * asyncio.TaskGroup: a group whose parent is the calling task.  Free it
 * with cio_task_group_free() after cio_task_group_wait().  The group holds
 * a reference on the parent.  Does not suspend.
 * Errors: -EINVAL (out NULL), -ENOMEM, CIO_ENOTASK.
 */
CIO_EXTERN int cio_task_group_new(cio_task_group **out);

/*
 * tg.create_task(coro, name=name): creates a task in the group (any task
 * of the loop may, also while the parent waits).  The group keeps
 * its own reference; *out (may be NULL) receives one for the caller.
 * With out NULL (the common case) there is nothing to unref: the
 * group's references go with cio_task_group_free(), and failures are read
 * with cio_task_group_errors().
 * When a task of the group fails (ends with an error other than
 * -ECANCELED), every other task of the group is cancelled and, if the
 * parent is suspended somewhere other than cio_task_group_wait(), that
 * suspension is interrupted once with -ECANCELED (asyncio cancels the
 * parent; cio does not leave it cancelled, so it can reach the wait).
 * Errors: those of cio_create_task, -EINVAL (g or fn NULL),
 * CIO_ESHUTDOWN (the group is aborting after a failure or
 * cio_task_group_cancel: asyncio's "TaskGroup is shutting down"),
 * CIO_EINVALSTATE (the wait has finished: "TaskGroup is finished").  Does
 * not suspend.
 */
CIO_EXTERN int cio_task_group_create_task(cio_task_group *g, cio_coro_fn *fn,
                                         void *arg, const char *name,
                                         cio_task **out);

/*
 * The end of asyncio's "async with TaskGroup()": waits until every task of
 * the group is done, including tasks created meanwhile.  If the parent is
 * cancelled (or its timeout scope expires) before or during the wait, all
 * tasks of the group are cancelled, and it still waits for them.  Returns
 * the code of the first failure if any task failed (as asyncio, failures
 * win over cancellation; read them all with cio_task_group_errors), else
 * -ECANCELED / -ETIMEDOUT if the parent was interrupted, else 0.  After
 * it, the group is finished; waiting again returns the same.  Only the
 * parent may call it.  Suspends (even in a cancelled task, until the
 * group's tasks are done; not if no task is pending).  Errors: -EINVAL (NULL, not the parent),
 * CIO_ENOTASK.
 */
CIO_EXTERN int cio_task_group_wait(cio_task_group *g);

/*
 * Cancels every task of the group and refuses new ones, as an exception in
 * the body of asyncio's "async with" does (C has no exception to raise:
 * call this when the body fails).  Returns how many tasks were
 * asked to cancel.  Does not suspend.  Errors: -EINVAL.
 */
CIO_EXTERN int cio_task_group_cancel(cio_task_group *g);

/*
 * The ExceptionGroup: every failure of the group's tasks, in the order
 * they happened: fills up
 * to cap entries of tasks (borrowed, valid until cio_task_group_free) and
 * codes (either may be NULL) and returns the total.  The task's message is
 * cio_task_error_message().  The group retrieves these failures, so they
 * are not reported as never retrieved.  Never fails (0 for NULL).
 */
CIO_EXTERN size_t cio_task_group_errors(const cio_task_group *g, cio_task **tasks,
                                         int *codes, size_t cap);

/* The number of the group's tasks not done yet (0 for NULL). */
CIO_EXTERN size_t cio_task_group_pending(const cio_task_group *g);

/*
 * Frees the group and drops its references.  Tasks still pending (no wait
 * was done) are cancelled and left to finish on their own.  NULL is a
 * no-op.  Freeing it while the parent waits in cio_task_group_wait is a
 * bug: it is logged as an error and nothing is freed.  Does not suspend.
 */
CIO_EXTERN void cio_task_group_free(cio_task_group *g);

#ifdef __cplusplus
}
#endif
#endif
