/*
 * Async iterator: an object with an explicit next-item interface (__anext__).
 *
 * The asyncio program it mirrors:
 *
 *     class Ticker:
 *         """Yields 0 .. to-1, one every `delay` seconds."""
 *         def __init__(self, delay, to):
 *             self.delay, self.i, self.to = delay, 0, to
 *         def __aiter__(self):
 *             return self
 *         async def __anext__(self):
 *             if self.i >= self.to:
 *                 raise StopAsyncIteration
 *             if self.i:
 *                 await asyncio.sleep(self.delay)
 *             self.i += 1
 *             return self.i - 1
 *
 *     async def total(it):                 # works on any async iterable
 *         s = 0
 *         async for x in it:
 *             s += x
 *         return s
 *
 *     async def main():
 *         async for tick in Ticker(0.1, 3):
 *             print("tick", tick)
 *         it = aiter(Ticker(0.05, 2))
 *         print(await anext(it), await anext(it))
 *         try:
 *             await anext(it)
 *         except StopAsyncIteration:
 *             print("exhausted")
 *         print("total", await total(Ticker(0.01, 5)))
 *
 * What to observe: a struct with a cio_aiter_ops table is all an async
 * iterator is; CIO_FOR (`async for`) and cio_aiter_next (`anext`) drive it,
 * suspending inside next() while the ticker sleeps.  CIO_ITER_END is
 * StopAsyncIteration: a positive code, never mistaken for an error.
 * total() takes a cio_aiter *, so it sums a generator or a queue alike.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <cio.h>

struct ticker {
    cio_aiter it;   /* the interface, pointing back at this ticker */
    double delay;   /* seconds between ticks */
    int i;          /* next tick */
    int to;         /* ticks in all */
};

static int ticker_next(void *self, void **value)      /* __anext__ */
{
    struct ticker *t = self;
    if (t->i >= t->to)
        return CIO_ITER_END;                           /* StopAsyncIteration */
    if (t->i) {
        int rc = cio_sleep(t->delay);
        if (rc)
            return rc;                                 /* cancelled */
    }
    *value = (void *)(intptr_t)t->i++;
    return 0;
}

static const cio_aiter_ops ticker_ops = {.next = ticker_next, .aclose = NULL};

static cio_aiter *ticker_init(struct ticker *t, double delay, int to)  /* __aiter__ */
{
    *t = (struct ticker){.delay = delay, .to = to};
    cio_aiter_init(&t->it, &ticker_ops, t);
    return &t->it;
}

static int total(cio_aiter *it, intptr_t *sum)
{
    void *x;
    int rc;
    *sum = 0;
    CIO_FOR(it, x, rc)
        *sum += (intptr_t)x;
    return rc == CIO_ITER_END ? 0 : rc;
}

static int main_task(void *arg, void **result)
{
    struct ticker t;
    void *tick;
    int rc;
    CIO_FOR(ticker_init(&t, 0.1, 3), tick, rc)
        printf("tick %d\n", (int)(intptr_t)tick);
    if (rc < 0)
        return rc;

    cio_aiter *it = ticker_init(&t, 0.05, 2);
    void *a, *b;
    if ((rc = cio_aiter_next(it, &a)) != 0 || (rc = cio_aiter_next(it, &b)) != 0)
        return rc < 0 ? rc : -EIO;
    printf("%d %d\n", (int)(intptr_t)a, (int)(intptr_t)b);
    if (cio_aiter_next(it, &a) == CIO_ITER_END)
        printf("exhausted\n");

    intptr_t sum;
    if ((rc = total(ticker_init(&t, 0.01, 5), &sum)) < 0)
        return rc;
    printf("total %d\n", (int)sum);
    return 0;
}

int main(void)
{
    int rc = cio_run(main_task, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_strerror(rc));
    return rc < 0;
}
