/*
 * Hello, World: print, sleep one second without blocking, print.
 *
 * The asyncio program it mirrors:
 *
 *     async def main():
 *         print("Hello")
 *         await asyncio.sleep(1)
 *         print("World")
 *
 *     asyncio.run(main())
 *
 * What to observe: one call, cio_run(), creates the loop, runs main() as a
 * task until it returns, then tears the loop down, as asyncio.run() does.
 * cio_sleep() suspends this task only: the loop could run other tasks
 * during that second.  A task returns 0 or a negative error code.
 * CIO_CORO_PARAMS is the coroutine's parameter list (void *arg, void
 * **result) marked "may be unused", so -Wall -Wextra stays quiet here.
 */
#include <stdio.h>
#include <cio.h>

static int main_task(CIO_CORO_PARAMS)
{
    printf("Hello\n");
    int rc = cio_sleep(1.0);
    if (rc < 0)
        return rc;
    printf("World\n");
    return 0;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
