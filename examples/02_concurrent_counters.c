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
 * task; while one sleeps the loop runs the others.  Here main() creates the
 * three tasks and awaits each in turn (awaiting a task that already
 * finished returns at once); cio_gather() does the same in one call.
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
    for (int i = 0; i < 3; i++) {
        int rc = cio_create_task(count, NULL, NULL, &counters[i]);
        if (rc < 0)
            return rc;
    }
    int status = 0;
    for (int i = 0; i < 3; i++) {
        int rc = cio_task_await(counters[i], NULL);
        if (rc < 0 && status == 0)
            status = rc;
        cio_task_release(counters[i]);
    }
    printf("executed in %.2f seconds\n", cio_loop_time(loop) - start);
    return status;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
