/*
 * Synchronous vs asynchronous: the same three waits, in turn and at once.
 *
 * The asyncio program it mirrors:
 *
 *     def sync_main():                      # blocks: 3 x 0.3 s
 *         for i in range(3):
 *             time.sleep(0.3)
 *
 *     async def async_main():               # overlaps: 0.3 s in all
 *         tasks = [asyncio.create_task(asyncio.sleep(0.3)) for i in range(3)]
 *         await asyncio.gather(*tasks)
 *
 * What to observe: the blocking version takes about 0.9 s, the tasks about
 * 0.3 s.  A blocking call (nanosleep, a slow read) holds the whole thread;
 * cio_sleep() suspends only the calling task.  Never block inside a task:
 * 19_debug_mode.c shows how debug mode catches it.
 */
#include <stdio.h>
#include <time.h>
#include <cio.h>

#define WAIT 0.3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sync_wait(int i)
{
    printf("sync: wait %d starts\n", i);
    struct timespec ts = {0, (long)(WAIT * 1e9)};
    nanosleep(&ts, NULL);
}

static int async_wait(void *arg, void **result)
{
    printf("async: wait %d starts\n", (int)(intptr_t)arg);
    return cio_sleep(WAIT);
}

static int async_main(void *arg, void **result)
{
    cio_task *tasks[3];
    cio_future *futs[3];
    int n = 0, rc = 0;
    for (; n < 3; n++) {
        rc = cio_create_task(async_wait, (void *)(intptr_t)n, NULL, &tasks[n]);
        if (rc < 0)
            break;
        futs[n] = cio_task_future(tasks[n]);
    }
    if (rc == 0)
        rc = cio_gather(futs, 3, 0, NULL, NULL);
    for (int i = 0; i < n; i++)
        cio_task_unref(tasks[i]);
    return rc;
}

int main(void)
{
    double start = now();
    for (int i = 0; i < 3; i++)
        sync_wait(i);
    printf("synchronous: %.2f s\n", now() - start);

    start = now();
    int rc = cio_run(async_main, NULL, NULL);
    printf("asynchronous: %.2f s\n", now() - start);
    return rc < 0;
}
