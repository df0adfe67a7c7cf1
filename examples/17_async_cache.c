/*
 * Async cache: concurrent callers share one computation; repeats are instant.
 *
 * The asyncio program it mirrors (with the async-lru package):
 *
 *     from async_lru import alru_cache
 *
 *     @alru_cache(maxsize=128, ttl=60)
 *     async def slow_square(n):
 *         print(f"computing {n}*{n}...")
 *         await asyncio.sleep(0.5)              # a slow service, say
 *         return n * n
 *
 *     async def caller(i, n):
 *         t0 = loop.time()
 *         r = await slow_square(n)
 *         print(f"caller {i}: {r} after {loop.time() - t0:.2f} s")
 *
 *     async def main():
 *         await asyncio.gather(*(caller(i, 7) for i in range(3)))
 *         await caller(3, 7)                    # cached: instant
 *         await caller(4, 8)                    # another key: computed
 *
 * What to observe: "computing 7*7" is printed once although three callers
 * asked at the same time; they all get 49 after 0.5 s (single flight).  The
 * fourth call returns at once: a hit is a hash lookup that neither
 * allocates nor suspends.  The cache owns the values and frees them with
 * the destructor given to cio_cache_new() when they leave it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cio.h>

static cio_cache *cache;

static int slow_square(void *arg, const void *key, size_t keylen, void **value)
{
    int n = atoi((const char *)arg);
    printf("computing %d*%d...\n", n, n);
    int rc = cio_sleep(0.5);
    if (rc)
        return rc;
    long *r = malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    *r = (long)n * n;
    *value = r;                          /* the cache owns it from now on */
    return 0;
}

static void free_result(void *value, void *ud) { free(value); }

struct caller {
    int id;
    const char *n;   /* the argument, also the cache key */
};

static int caller(void *arg, void **result)
{
    struct caller *c = arg;
    double t0 = cio_loop_time(NULL);
    void *v;
    int rc = cio_cache_get_str(cache, c->n, slow_square, (void *)c->n, &v);
    if (rc < 0)
        return rc;
    printf("caller %d: %ld after %.2f s\n", c->id, *(long *)v, cio_loop_time(NULL) - t0);
    return 0;
}

static int main_task(void *arg, void **result)
{
    int rc = cio_cache_new(NULL, 128, 60.0, 0, free_result, NULL, &cache);
    if (rc < 0)
        return rc;
    struct caller c[5] = {{0, "7"}, {1, "7"}, {2, "7"}, {3, "7"}, {4, "8"}};
    cio_task *t[3];
    cio_future *f[3];
    int n = 0;
    while (n < 3 && (rc = cio_create_task(caller, &c[n], NULL, &t[n])) == 0) {
        f[n] = cio_task_future(t[n]);
        n++;
    }
    if (rc == 0)
        rc = cio_gather(f, (size_t)n, 0, NULL, NULL);   /* asyncio.gather */
    for (int i = 0; i < n; i++) {
        if (rc < 0)
            cio_task_cancel(t[i], NULL);
        cio_task_unref(t[i]);
    }
    if (rc == 0)
        rc = caller(&c[3], NULL);        /* cached */
    if (rc == 0)
        rc = caller(&c[4], NULL);        /* computed */
    cio_cache_free(cache);
    return rc;
}

int main(void)
{
    int rc = cio_run(main_task, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_strerror(rc));
    return rc < 0;
}
