/*
 * Concurrent counters: three counters finish in one second, not three.
 *
 * The asyncio program it mirrors:
 *
 *     async def count():
 *         print("One")
 *         await asyncio.sleep(1)
 *         print("Two")
 *
 *     async def main():
 *         await asyncio.gather(count(), count(), count())
 *
 * What to observe: the three "One" lines come at once, the three "Two"
 * lines one second later, and the total is about 1 s.  Each counter is a
 * task; while one sleeps the loop runs the others.  asyncio.gather() wraps
 * coroutines in tasks for you; in C, main() creates the three tasks, then
 * cio_gather() waits for all of their futures in one call.
 */
#include <stdio.h>
#include <cio.h>

static int count(void *arg, void **result)
{
    printf("One\n");
    int rc = cio_sleep(1.0);
    if (rc < 0)
        return rc;
    printf("Two\n");
    return 0;
}

static int main_task(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    double start = cio_loop_time(loop);

    cio_task *counters[3];
    cio_future *futs[3];
    int n = 0, rc = 0;
    for (; n < 3; n++) {
        if ((rc = cio_create_task(count, NULL, NULL, &counters[n])) < 0)
            break;
        futs[n] = cio_task_future(counters[n]);
    }
    if (rc == 0)
        rc = cio_gather(futs, 3, 0, NULL, NULL);  /* await gather(...) */
    for (int i = 0; i < n; i++)
        cio_task_unref(counters[i]);
    if (rc == 0)
        printf("executed in %.2f seconds\n", cio_loop_time(loop) - start);
    return rc;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
