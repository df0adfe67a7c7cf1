/*
 * retry.c - cio_retry: call a coroutine again after failures, sleeping an
 * exponentially growing, jittered delay between attempts, within a count
 * and a deadline; quiet unless the policy asks for each failed attempt to
 * be logged (log_attempts).
 *
 * Divided into: the policy's defaults and checks, the delay (backoff and a
 * small xorshift generator for the jitter), and the loop of attempts.
 */
#include <math.h>

#include "../task/task.h"
#include "cio/retry.h"

void cio_retry_policy_init(cio_retry_policy *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->max_attempts = 3;
    p->initial_delay = 0.1;
    p->max_delay = 30.0;
    p->multiplier = 2.0;
    p->jitter = 0.1;
}

static const char *check_policy(const cio_retry_policy *p)
{
    if (p->max_attempts < 0)
        return "max_attempts is negative";
    if (!(p->initial_delay >= 0) || !(p->max_delay >= 0))
        return "initial_delay and max_delay must be >= 0 (not NaN)";
    if (!(p->multiplier >= 1))
        return "multiplier must be >= 1 (did you call cio_retry_policy_init?)";
    if (!(p->jitter >= 0 && p->jitter <= 1))
        return "jitter must be within 0 .. 1";
    if (!(p->deadline >= 0))
        return "deadline must be >= 0";
    return NULL;
}

/* xorshift64*: enough randomness to spread clients apart, no locking. */
static double next_uniform(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* The delay after the failed attempt number n (1-based). */
static double backoff(const cio_retry_policy *p, int n, uint64_t *rng)
{
    double d = p->initial_delay * pow(p->multiplier, n - 1);
    if (!(d <= p->max_delay))
        d = p->max_delay; /* also catches an overflow to infinity */
    if (p->jitter > 0)
        d *= 1.0 - p->jitter * next_uniform(rng);
    return d;
}

/* Logs one line of the retries, only when the policy asked for it: a
 * library that retries must not fill the program's log by default. */
static void CIO_PRINTF(3, 4) retry_log(const cio_retry_policy *p, cio_log_level level,
                                        const char *fmt, ...)
{
    if (!p->log_attempts)
        return;
    va_list ap;
    va_start(ap, fmt);
    cio_logv(level, fmt, ap);
    va_end(ap);
}

static int default_retryable(int code, void *ud)
{
    (void)ud;
    return code != -ECANCELED;
}

int cio_retry(const cio_retry_policy *p, cio_coro_fn *fn, void *arg, void **result)
{
    cio_retry_policy defaults;
    if (result)
        *result = NULL;
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (!fn)
        return cio__bad_arg(loop, __func__, "fn is NULL");
    if (!p) {
        cio_retry_policy_init(&defaults);
        p = &defaults;
    }
    const char *bad = check_policy(p);
    if (bad)
        return cio__bad_arg(loop, __func__, bad);
    cio_retry_pred_fn *retryable = p->retryable ? p->retryable : default_retryable;
    const char *name = p->name ? p->name : "operation";
    uint64_t rng = p->seed ? p->seed : (uint64_t)cio__clock_ns() ^ (uintptr_t)t;
    if (!rng)
        rng = 0x9E3779B97F4A7C15ull;
    int64_t start = cio__loop_now(loop);
    for (int n = 1;; n++) {
        int rc = cio__checkpoint(t);
        if (rc)
            return rc;
        void *r = NULL;
        rc = fn(arg, &r);
        if (rc >= 0) {
            if (n > 1)
                retry_log(p, CIO_LOG_INFO, "retry %s: attempt %d succeeded", name, n);
            if (result)
                *result = r;
            return rc;
        }
        int stop = cio__checkpoint(t);
        if (stop) {
            /* The caller was cancelled (or timed out) during the attempt:
             * that, not the attempt's own failure, is what it must see. */
            retry_log(p, CIO_LOG_WARNING, "retry %s: attempt %d failed: %s; not retried: %s",
                      name, n, cio_strerror(rc), cio_strerror(stop));
            return stop;
        }
        if (rc == -ECANCELED || !retryable(rc, p->retryable_ud)) {
            retry_log(p, CIO_LOG_WARNING, "retry %s: attempt %d failed: %s; not retried", name,
                      n, cio_strerror(rc));
            return rc;
        }
        if (p->max_attempts && n >= p->max_attempts) {
            retry_log(p, CIO_LOG_WARNING, "retry %s: attempt %d/%d failed: %s; giving up", name,
                      n, p->max_attempts, cio_strerror(rc));
            return rc;
        }
        double d = backoff(p, n, &rng);
        if (p->deadline > 0) {
            double elapsed = (double)(cio__loop_now(loop) - start) / 1e9;
            if (elapsed + d > p->deadline) {
                retry_log(p, CIO_LOG_WARNING,
                          "retry %s: attempt %d failed: %s; giving up: the next attempt "
                          "would start after the %.3f s deadline",
                          name, n, cio_strerror(rc), p->deadline);
                return rc;
            }
        }
        if (p->max_attempts)
            retry_log(p, CIO_LOG_WARNING, "retry %s: attempt %d/%d failed: %s; next in %.3f s",
                      name, n, p->max_attempts, cio_strerror(rc), d);
        else
            retry_log(p, CIO_LOG_WARNING, "retry %s: attempt %d failed: %s; next in %.3f s",
                      name, n, cio_strerror(rc), d);
        int src = cio_sleep(d);
        if (src)
            return src;
    }
}
