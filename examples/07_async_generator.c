/*
 * Async generator: a counter yields 0..4, paced, consumed by `async for`.
 *
 * The asyncio program it mirrors:
 *
 *     async def counter(limit, pause):
 *         try:
 *             for i in range(limit):
 *                 yield i
 *                 await asyncio.sleep(pause)
 *         finally:
 *             print("counter: cleaned up")
 *
 *     async def main():
 *         async for n in counter(5, 0.1):
 *             print(f"got {n}")
 *         gen = counter(100, 0.1)
 *         async for n in gen:
 *             if n == 2:
 *                 break
 *         await gen.aclose()
 *
 *     asyncio.run(main())
 *
 * What to observe: the producer runs as a task of its own and hands each
 * item over directly; "got N" lines come 0.1 s apart, because the producer
 * pauses after each yield.  The producer does not start until the first
 * item is asked for.  When the consumer stops early, cio_gen_aclose() makes
 * the pending cio_gen_yield() return CIO_ECLOSED (Python's GeneratorExit),
 * and the producer's cleanup runs before aclose returns.
 */
#include <stdint.h>
#include <stdio.h>
#include <cio.h>

struct counter_args {
    int limit;      /* yields 0 .. limit-1 */
    double pause;   /* seconds between items */
};

static int counter(cio_gen *g, void *arg)
{
    struct counter_args *a = arg;
    int rc = 0;
    for (intptr_t i = 0; i < a->limit; i++) {
        rc = cio_gen_yield(g, (void *)i);       /* yield i */
        if (rc)
            break;                              /* closed or cancelled */
        if ((rc = cio_sleep(a->pause)) != 0)
            break;
    }
    printf("counter: cleaned up\n");            /* finally: */
    return rc == CIO_ECLOSED ? 0 : rc;
}

static int main_task(void *arg, void **result)
{
    struct counter_args five = {5, 0.1};
    cio_gen *g;
    int rc = cio_gen_new(counter, &five, "counter", &g);
    if (rc < 0)
        return rc;
    double t0 = cio_loop_time(NULL);
    void *item;
    CIO_FOR(cio_gen_aiter(g), item, rc)         /* async for n in counter(...) */
        printf("got %d  (t=%.1f s)\n", (int)(intptr_t)item, cio_loop_time(NULL) - t0);
    cio_gen_unref(g);
    if (rc < 0)
        return rc;                              /* the generator failed */

    struct counter_args many = {100, 0.1};
    if ((rc = cio_gen_new(counter, &many, "counter", &g)) < 0)
        return rc;
    CIO_FOR(cio_gen_aiter(g), item, rc) {
        printf("got %d\n", (int)(intptr_t)item);
        if ((intptr_t)item == 2)
            break;                              /* rc == 0 after a break */
    }
    printf("stopping early\n");
    int crc = cio_gen_aclose(g);                /* await gen.aclose() */
    cio_gen_unref(g);
    return rc < 0 ? rc : crc;
}

int main(void)
{
    int rc = cio_run(main_task, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_strerror(rc));
    return rc < 0;
}
