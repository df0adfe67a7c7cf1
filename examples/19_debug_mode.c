/*
 * Debug mode: a blocking step, forgotten failures and tasks, reported.
 *
 * The asyncio program it mirrors (run as PYTHONASYNCIODEBUG=1 python3 app.py):
 *
 *     async def blocker():
 *         time.sleep(0.15)          # blocks the whole loop
 *
 *     async def forgotten():
 *         raise RuntimeError("nobody looks at me")
 *
 *     async def fetch():
 *         return "data"
 *
 *     async def main():
 *         await asyncio.create_task(blocker())
 *         asyncio.create_task(forgotten())
 *         fetch()                   # never awaited: a RuntimeWarning
 *         await asyncio.sleep(0.05)
 *
 * What to observe (on stderr): "slow step: task 'blocker' (created at
 * ...19_debug_mode.c:NN) held the loop for 0.15 s", and "Task exception was
 * never retrieved" naming the task and where it was created.  Two reports
 * have no Python twin: a coroutine that returns 1 (meant as "failed", but
 * any value >= 0 is success) gets "task 'sloppy' ... returned 1, which
 * counts as success"; and a task created with a reference that nobody
 * awaited nor released by the time the loop closes gets "Task was never
 * awaited nor released" (the C form of "coroutine ... was never
 * awaited").  The second needs the loop to close before the reference is
 * dropped, hence cio_run_loop() with a loop of our own.  Debug mode is
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

static int blocker(CIO_CORO_PARAMS)
{
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL); /* a blocking call inside a task: the bug to catch */
    return 0;
}

static int forgotten(CIO_CORO_PARAMS)
{
    cio_set_error_message("nobody looks at me");
    return -EIO;
}

static int sloppy(CIO_CORO_PARAMS)
{
    return 1; /* meant as "failed": a failure is a negative code */
}

static int fetch(CIO_CORO_PARAMS)
{
    *result = "data";
    return 0;
}

static cio_task *unawaited; /* held, never awaited */

static int main_task(CIO_CORO_PARAMS)
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
    rc = cio_create_task(sloppy, NULL, "sloppy", NULL);
    if (rc < 0)
        return rc;
    rc = cio_create_task(fetch, NULL, "unawaited", &unawaited);
    if (rc < 0)
        return rc;
    return cio_sleep(0.05);
}

int main(void)
{
    setenv("CIO_DEBUG", "1", 0); /* as if run as CIO_DEBUG=1 ./19_debug_mode */
    cio_loop *loop;
    if (cio_loop_new(&loop) < 0)
        return 1;
    int rc = cio_run_loop(loop, main_task, NULL, NULL); /* closes the loop */
    cio_task_unref(unawaited); /* allowed until the loop is freed */
    cio_loop_free(loop);
    return rc < 0;
}
