/*
 * Retry: a flaky operation retried with backoff, logged, reported on give-up.
 *
 * The asyncio program it mirrors (with the tenacity package):
 *
 *     attempts = 0
 *
 *     @retry(stop=stop_after_attempt(4),
 *            wait=wait_exponential_jitter(initial=0.05, max=1, jitter=0.01),
 *            retry=retry_if_exception_type(ConnectionError),
 *            before_sleep=before_sleep_log(logger, logging.WARNING))
 *     async def flaky_fetch(fail_times):
 *         global attempts
 *         attempts += 1
 *         await asyncio.sleep(0.01)            # the network round trip
 *         if attempts <= fail_times:
 *             raise ConnectionRefusedError()
 *         return "payload"
 *
 *     async def main():
 *         print(await flaky_fetch(2))          # succeeds on attempt 3
 *         try:
 *             await flaky_fetch(10)            # never succeeds
 *         except RetryError as e:
 *             print("gave up:", e.last_attempt.exception())
 *
 * What to observe: each failed attempt is logged at warning level (because
 * the policy sets log_attempts, as the Python sets before_sleep_log:
 * cio_retry is quiet otherwise), prefixed
 * with the task's name, with the attempt number, the error's name and the
 * delay before the next attempt, which doubles each time (with a little
 * jitter).  The second operation never succeeds: cio_retry gives up after
 * the fourth attempt and returns the last error, which main reports.
 * Only "connection refused" is retryable here; any other error would end
 * the retries at once.
 */
#include <errno.h>
#include <stdio.h>
#include <cio.h>

struct flaky {
    int fail_times;  /* attempts that fail before one succeeds */
    int attempts;    /* attempts made */
};

static int flaky_fetch(void *arg, void **result)
{
    struct flaky *f = arg;
    f->attempts++;
    int rc = cio_sleep(0.01);
    if (rc)
        return rc;
    if (f->attempts <= f->fail_times)
        return -ECONNREFUSED;
    *result = "payload";
    return 0;
}

static int connection_error(int code, void *ud) { return code == -ECONNREFUSED; }

static int main_task(void *arg, void **result)
{
    cio_retry_policy p;
    cio_retry_policy_init(&p);
    p.max_attempts = 4;
    p.initial_delay = 0.05;
    p.max_delay = 1.0;
    p.jitter = 0.2;
    p.retryable = connection_error;
    p.name = "flaky_fetch";
    p.log_attempts = 1; /* before_sleep_log: quiet without it */

    struct flaky once = {.fail_times = 2};
    void *data;
    int rc = cio_retry(&p, flaky_fetch, &once, &data);
    if (rc < 0)
        return rc;
    printf("got %s after %d attempts\n", (const char *)data, once.attempts);

    struct flaky never = {.fail_times = 10};
    rc = cio_retry(&p, flaky_fetch, &never, &data);
    if (rc == -ECANCELED)
        return rc;
    if (rc < 0)
        printf("gave up after %d attempts: %s\n", never.attempts, cio_strerror(rc));
    return 0;
}

int main(void)
{
    int rc = cio_run(main_task, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_strerror(rc));
    return rc < 0;
}
