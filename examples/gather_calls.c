/*
 * Gather over coroutine calls: three fetches at once, then one failing
 *
 * Three fetches run at once with their results in order, then a failure
 * cancels the rest; every request lives on the caller's stack.
 *
 * The asyncio program it mirrors:
 *
 *     async def fetch(name, delay, fail=False):
 *         try:
 *             await asyncio.sleep(delay)
 *         except asyncio.CancelledError:
 *             print(f"{name}: cancelled")
 *             raise
 *         if fail:
 *             raise ValueError(f"{name}: server said no")
 *         return f"{name} after {delay}s"
 *
 *     async def main():
 *         print(await asyncio.gather(fetch("a", 0.3), fetch("b", 0.1),
 *                                    fetch("c", 0.2)))
 *         try:
 *             async with asyncio.TaskGroup() as tg:
 *                 tg.create_task(fetch("x", 0.1, fail=True))
 *                 tg.create_task(fetch("y", 1.0))
 *         except* ValueError as eg:
 *             print("failed:", eg.exceptions[0])
 *
 * What to observe: the three results print in call order after 0.3 s (the
 * longest fetch), not 0.6 s.  In the second gather, x fails at 0.1 s: y is
 * cancelled ("y: cancelled" prints before "failed:") and cio_gather_calls
 * waits until it has unwound, so no task is left using `reqs`, which
 * lives in main's frame (the plain cio_gather returns at the first failure
 * and would leave y running).  x's message ("x: server said no") comes
 * back as the calling task's error message, as the exception does in
 * Python.  The tasks are made and released by the call: nothing to free.
 */
#include <errno.h>
#include <stdio.h>
#include <cio.h>

struct request {
    const char *name;          /* what to fetch */
    double delay;              /* how long it takes */
    int fail;                  /* the server refuses */
    char out[64];              /* the result, returned as *result */
};

static int fetch(void *arg, void **result)
{
    struct request *r = arg;
    int rc = cio_sleep(r->delay);
    if (rc == -ECANCELED)
        printf("%s: cancelled\n", r->name);
    if (rc < 0)
        return rc;
    if (r->fail) {
        cio_set_error_message("%s: server said no", r->name);
        return -EPROTO;
    }
    snprintf(r->out, sizeof r->out, "%s after %.1fs", r->name, r->delay);
    *result = r->out;
    return 0;
}

static int main_task(CIO_CORO_PARAMS)
{
    cio_loop *loop = cio_get_running_loop();
    double start = cio_loop_time(loop);
    struct request reqs[] = {{.name = "a", .delay = 0.3},
                             {.name = "b", .delay = 0.1},
                             {.name = "c", .delay = 0.2}};
    cio_call calls[] = {{fetch, &reqs[0]}, {fetch, &reqs[1]}, {fetch, &reqs[2]}};
    void *results[3];
    int rc = cio_gather_calls(calls, 3, 0, results, NULL);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 3; i++)
        printf("%s\n", (const char *)results[i]);
    printf("after %.1f s\n", cio_loop_time(loop) - start);

    struct request x = {.name = "x", .delay = 0.1, .fail = 1};
    struct request y = {.name = "y", .delay = 1.0};
    rc = CIO_GATHER({fetch, &x}, {fetch, &y});
    if (rc < 0) {
        printf("failed: %s (%s)\n", cio_task_error_message(cio_current_task()),
               cio_strerror(rc));
        cio_set_error_message(NULL); /* handled */
    }
    return rc == -EPROTO ? 0 : -EPROTO;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
