/*
 * The README's example: two tasks that sleep concurrently.
 *
 * The asyncio program it mirrors:
 *
 *     async def say_after(what):
 *         await asyncio.sleep(1)
 *         print(what)
 *
 *     async def main():
 *         a = asyncio.create_task(say_after("hello"))
 *         b = asyncio.create_task(say_after("world"))
 *         await a
 *         await b
 *
 *     asyncio.run(main())
 *
 * What to observe: "hello" and "world" appear together after one second,
 * not two.  The code below this comment is the README's example, word for
 * word (scripts/check_docs.sh checks it), so CI proves that it compiles.
 */
#include <stdio.h>
#include <cio.h>

static int say_after(void *arg, void **result)
{
    int rc = cio_sleep(1.0);              /* suspends this task only */
    if (rc < 0)
        return rc;                        /* -ECANCELED, ... */
    printf("%s\n", (const char *)arg);
    return 0;
}

static int main_task(void *arg, void **result)
{
    cio_task *a, *b;
    int rc = cio_create_task(say_after, "hello", NULL, &a);
    if (rc < 0)
        return rc;
    rc = cio_create_task(say_after, "world", NULL, &b);
    if (rc == 0) {
        cio_task_await(a, NULL);          /* both finish after one second */
        rc = cio_task_await(b, NULL);
        cio_task_unref(b);
    }
    cio_task_unref(a);
    return rc;
}

int main(void)
{
    int rc = cio_run(main_task, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_strerror(rc));
    return rc < 0;
}
