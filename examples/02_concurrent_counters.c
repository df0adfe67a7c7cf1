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
 * task; while one sleeps the loop runs the others.  As asyncio.gather()
 * wraps coroutines in tasks for you, CIO_GATHER takes {function, argument}
 * pairs, runs each as a task, waits for all of them and releases them:
 * one line.  (cio_gather() is the form that takes futures of tasks you
 * made yourself.)  CIO_CORO_PARAMS keeps -Wextra quiet about the unused
 * parameters.
 */
#include <stdio.h>
#include <cio.h>

static int count(CIO_CORO_PARAMS)
{
    printf("One\n");
    int rc = cio_sleep(1.0);
    if (rc < 0)
        return rc;
    printf("Two\n");
    return 0;
}

static int main_task(CIO_CORO_PARAMS)
{
    cio_loop *loop = cio_get_running_loop();
    double start = cio_loop_time(loop);
    int rc = CIO_GATHER({count, NULL}, {count, NULL}, {count, NULL});
    if (rc == 0)
        printf("executed in %.2f seconds\n", cio_loop_time(loop) - start);
    return rc;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
