/*
 * cio/retry.h - retrying a coroutine with exponential backoff and jitter
 * (the tenacity / backoff libraries that asyncio programs use).
 *
 *     cio_retry_policy p;
 *     cio_retry_policy_init(&p);      // 3 attempts, 0.1 s doubling, 10% jitter
 *     p.max_attempts = 5;
 *     p.deadline = 10.0;              // no new attempt after 10 s
 *     p.name = "fetch config";
 *     p.log_attempts = 1;             // log failed attempts (default: quiet)
 *     int rc = cio_retry(&p, fetch, &ctx, &result);
 *
 * See examples/18_retry.c.
 *
 * The attempts run one after another in the calling task: fn(arg, result),
 * a cio_coro_fn, is called directly; if it returns a negative code that the policy calls
 * retryable, the caller sleeps the backoff delay and calls it again, until
 * it succeeds, the attempts run out, or the next attempt would start past
 * the deadline.
 *
 * Quiet by default, as tenacity is: cio_retry logs nothing unless the
 * policy's log_attempts is set (tenacity's before_sleep_log).  Then each
 * failed attempt is logged at warning level through cio_log with its
 * number, the error's name (cio_strerror) and the next delay, e.g. "cio
 * warning [main]: retry fetch: attempt 2/4 failed: Connection refused;
 * next in 0.200 s"; giving up is logged too ("...; giving up", "...; not
 * retried", or the deadline), and a success after failures at info level.
 * Quiet or not, the caller gets the last attempt's code as the return
 * value.
 *
 * Delays: before attempt n+1 the delay is
 *     min(max_delay, initial_delay * multiplier^(n-1)) * (1 - jitter * u)
 * with u uniform in [0, 1): jitter 0 is exact backoff, 1 is "full jitter".
 * The deadline only stops new attempts from starting; to bound one attempt,
 * put a timeout inside fn.
 */
#ifndef CIO_RETRY_H
#define CIO_RETRY_H

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which failures are worth another attempt: nonzero to retry code. */
typedef int cio_retry_pred_fn(int code, void *ud);

/* A retry policy.  Start from cio_retry_policy_init(), then change what
 * you need; it is read only during cio_retry() and may live on the stack. */
typedef struct cio_retry_policy {
    int max_attempts;          /* attempts in all (first included), >= 1;
                                  0: no limit (stop on deadline or predicate) */
    double initial_delay;      /* seconds before the second attempt, >= 0 */
    double max_delay;          /* cap on any one delay, >= 0 */
    double multiplier;         /* growth of the delay per attempt, >= 1 */
    double jitter;             /* 0 .. 1: fraction of each delay randomized away */
    double deadline;           /* seconds after the start past which no new
                                  attempt starts; 0: none */
    cio_retry_pred_fn *retryable; /* NULL: every negative code but -ECANCELED */
    void *retryable_ud;        /* passed to retryable */
    const char *name;          /* names the operation in log lines; NULL: "operation" */
    uint64_t seed;             /* jitter's random seed; 0: seeded from the clock */
    int log_attempts;          /* nonzero: log failed attempts, giving up and a
                                  late success (see above); 0: silent */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_retry_policy;

/*
 * Fills p with the defaults: 3 attempts, initial_delay 0.1 s, max_delay
 * 30 s, multiplier 2, jitter 0.1, no deadline, every error but -ECANCELED
 * retryable, name NULL, seed 0, log_attempts 0 (nothing logged).  Never
 * fails (p NULL is ignored).  Start from it: a zeroed policy is rejected
 * (multiplier 0).
 */
CIO_EXTERN void cio_retry_policy_init(cio_retry_policy *p);

/*
 * Calls fn(arg, result) until it returns >= 0 or the policy gives up
 * (p NULL: the defaults).  Returns fn's success (0, with fn's *result in
 * *result; result may be NULL) or, on giving up, the last attempt's code:
 * after the last allowed attempt, when the predicate says the code is not
 * retryable, or when the next attempt would start past the deadline.
 * -ECANCELED from fn is never retried.  If the caller is cancelled (or its
 * timeout scope expires) during a backoff sleep, returns -ECANCELED (or
 * -ETIMEDOUT) at once; an attempt that fails after the caller was
 * cancelled is not retried, and the call returns -ECANCELED (or
 * -ETIMEDOUT) too (the attempt's code is logged with log_attempts).
 * Errors: -EINVAL (fn NULL, or a field out of range: negative
 * max_attempts, negative or NaN delays or deadline, multiplier < 1,
 * jitter outside 0..1), CIO_ENOTASK, -ENOMEM (no memory for a sleep's
 * timer; with log_attempts the last attempt's code was logged before the
 * sleep).  Logs nothing unless p->log_attempts.  Suspends.
 */
CIO_EXTERN int cio_retry(const cio_retry_policy *p, cio_coro_fn *fn, void *arg,
                         void **result);

#ifdef __cplusplus
}
#endif
#endif
