/*
 * to_thread: a blocking function runs in a thread; the loop stays responsive.
 *
 * The asyncio program it mirrors (SCENARIOS #15):
 *
 *     def blocking_io():                    # a blocking call: 0.5 s
 *         time.sleep(0.5)
 *         return "file contents"
 *
 *     async def ticker():
 *         while True:
 *             print("tick")
 *             await asyncio.sleep(0.1)
 *
 *     async def main():
 *         t = asyncio.create_task(ticker())
 *         data = await asyncio.to_thread(blocking_io)
 *         t.cancel()
 *         print(data)
 *
 * What to observe: the ticker prints about five ticks while blocking_io
 * sleeps in a worker thread, because cio_to_thread() suspends only the
 * calling task.  Calling blocking_io() directly in a task would freeze the
 * ticker for the whole half second (19_debug_mode.c shows debug mode
 * catching that).  The function gets its argument and hands back its
 * result as void *, like a task.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <cio.h>

/* Runs in a worker thread: it may block, but must not call cio's loop or
 * task functions. */
static int blocking_io(void *arg, void **result)
{
    struct timespec half = {0, 500 * 1000 * 1000};
    nanosleep(&half, NULL);
    *result = arg;
    return 0;
}

static double start; /* loop time when main began */

static int ticker(void *arg, void **result)
{
    int *ticks = arg;
    for (;;) {
        printf("  tick %d at %.2f s\n", ++*ticks, cio_loop_time(NULL) - start);
        if (cio_sleep(0.1) < 0) /* -ECANCELED once main cancels us */
            return 0;
    }
}

static int main_task(void *arg, void **result)
{
    int ticks = 0;
    cio_task *t;
    cio_create_task(ticker, &ticks, "ticker", &t);
    start = cio_loop_time(NULL);
    printf("to_thread(blocking_io) at 0.00 s\n");
    void *data = NULL;
    int rc = cio_to_thread(blocking_io, "file contents", &data);
    printf("to_thread returned %d (%s): \"%s\" after %.2f s\n", rc, cio_strerror(rc),
           (char *)data, cio_loop_time(NULL) - start);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    printf("the ticker ticked %d times while the thread blocked\n", ticks);
    return ticks >= 3 ? 0 : -EIO; /* the loop stayed responsive */
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
