/*
 * Debug mode: a step that blocks the loop and a forgotten failure, reported.
 *
 * The asyncio program it mirrors (run as PYTHONASYNCIODEBUG=1 python3 app.py):
 *
 *     async def blocker():
 *         time.sleep(0.15)          # blocks the whole loop
 *
 *     async def forgotten():
 *         raise RuntimeError("nobody looks at me")
 *
 *     async def main():
 *         await asyncio.create_task(blocker())
 *         asyncio.create_task(forgotten())
 *         await asyncio.sleep(0.05)
 *
 * What to observe (on stderr): "slow step: task 'blocker' (created at
 * ...19_debug_mode.c:NN) held the loop for 0.15 s", and "Task exception was
 * never retrieved" naming the task and where it was created.  Debug mode is
 * on when the environment variable CIO_DEBUG is set (not "0") as the loop is
 * created; this program sets it itself so that `make run` shows the reports.
 * cio_loop_set_debug() switches it in code; the slow-step threshold is
 * cio_loop_set_slow_callback_duration() (default 0.1 s).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cio.h>

static int blocker(void *arg, void **result)
{
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL); /* a blocking call inside a task: the bug to catch */
    return 0;
}

static int forgotten(void *arg, void **result)
{
    cio_set_error_message("nobody looks at me");
    return -EIO;
}

static int main_task(void *arg, void **result)
{
    printf("debug mode: %d\n", cio_loop_get_debug(cio_get_running_loop()));
    cio_task *t;
    int rc = cio_create_task(blocker, NULL, "blocker", &t);
    if (rc < 0)
        return rc;
    rc = cio_task_await(t, NULL);
    cio_task_unref(t);
    if (rc < 0)
        return rc;
    rc = cio_create_task(forgotten, NULL, "forgotten", NULL);
    if (rc < 0)
        return rc;
    return cio_sleep(0.05);
}

int main(void)
{
    setenv("CIO_DEBUG", "1", 0); /* as if run as CIO_DEBUG=1 ./19_debug_mode */
    return cio_run(main_task, NULL, NULL) < 0;
}
