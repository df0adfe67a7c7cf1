/*
 * cio_sync.c - cio's side of the sync benchmarks (make bench-sync).
 *
 *     bench_sync GROUP [N]
 *
 * runs one group and prints one line "<bench> <value>" per benchmark;
 * bench/lib.py collects them.  N overrides the iteration count.  The
 * asyncio peer (bench/peers/sync_asyncio.py) does the same work.
 *
 * Groups:
 *   lock_handoff     two tasks pass a lock back and forth: each releases
 *                    (handing it to the other, who waits in acquire) and
 *                    acquires again (waiting): ns per handoff
 *   queue_handoff    a producer puts N items into a queue of maxsize 1, a
 *                    consumer gets them: ns per item (each put and get
 *                    wakes the other task)
 *   queue_unbounded  the same through an unbounded queue: ns per item
 *   gather_10k       create 10,000 empty tasks (each returns its index),
 *                    cio_gather them (results in order), release them:
 *                    ns per task, all three steps counted
 *   cache_hit        cio_cache_get on a key that is cached (1,000 keys
 *                    "key:0".."key:999", cycled; no TTL, no bound): ns
 *                    per hit, including the key's hash and compare
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cio.h>

static long n_arg;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long iters(long dflt) { return n_arg > 0 ? n_arg : dflt; }

/* ---- lock_handoff ------------------------------------------------------ */

struct lk {
    cio_lock *lock;
    long n;
};

static int lock_side(void *arg, void **res)
{
    struct lk *l = arg;
    if (cio_lock_acquire(l->lock)) /* both queue up behind main */
        return -1;
    for (long i = 0; i < l->n; i++) {
        cio_lock_release(l->lock);
        if (cio_lock_acquire(l->lock))
            return -1;
    }
    cio_lock_release(l->lock);
    return 0;
}

static int lock_main(void *arg, void **res)
{
    struct lk l = {NULL, iters(10000000)};
    cio_lock_new(NULL, &l.lock);
    cio_task *a, *b;
    cio_lock_acquire(l.lock);
    cio_create_task(lock_side, &l, "a", &a);
    cio_create_task(lock_side, &l, "b", &b);
    cio_sleep(0);
    double t0 = now_s();
    cio_lock_release(l.lock);
    cio_task_await(a, NULL);
    cio_task_await(b, NULL);
    double t1 = now_s();
    /* each side releases n times into the other's wait: 2n handoffs */
    printf("lock_handoff %.2f\n", (t1 - t0) * 1e9 / (2.0 * (double)l.n));
    cio_task_unref(a);
    cio_task_unref(b);
    cio_lock_free(l.lock);
    return 0;
}

/* ---- queue_handoff, queue_unbounded --------------------------------------- */

struct qq {
    cio_queue *q;
    long n;
};

static int producer(void *arg, void **res)
{
    struct qq *p = arg;
    for (long i = 0; i < p->n; i++)
        if (cio_queue_put(p->q, (void *)(intptr_t)i))
            return -1;
    return 0;
}

static int consumer(void *arg, void **res)
{
    struct qq *p = arg;
    void *it;
    for (long i = 0; i < p->n; i++)
        if (cio_queue_get(p->q, &it) || (intptr_t)it != i)
            return -1;
    return 0;
}

static double queue_run(size_t maxsize, long n)
{
    struct qq p = {NULL, n};
    cio_queue_new(NULL, maxsize, &p.q);
    cio_task *c, *pr;
    double t0 = now_s();
    cio_create_task(consumer, &p, "consumer", &c);
    cio_create_task(producer, &p, "producer", &pr);
    int rc = cio_task_await(pr, NULL) | cio_task_await(c, NULL);
    double t1 = now_s();
    cio_task_unref(c);
    cio_task_unref(pr);
    cio_queue_free(p.q);
    if (rc) {
        fprintf(stderr, "bench_sync: queue run failed\n");
        exit(1);
    }
    return (t1 - t0) * 1e9 / (double)n;
}

static int queue_main(void *arg, void **res)
{
    printf("queue_handoff %.2f\n", queue_run(1, iters(10000000)));
    return 0;
}

static int unbounded_main(void *arg, void **res)
{
    printf("queue_unbounded %.2f\n", queue_run(0, iters(10000000)));
    return 0;
}

/* ---- gather_10k ------------------------------------------------------- */

#define GATHER_N 10000

static int value_task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int gather_rounds(long rounds, cio_task **t, cio_future **f, void **res)
{
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < GATHER_N; i++) {
            if (cio_create_task(value_task, (void *)i, NULL, &t[i]))
                return -1;
            f[i] = cio_task_future(t[i]);
        }
        if (cio_gather(f, GATHER_N, 0, res, NULL))
            return -1;
        for (long i = 0; i < GATHER_N; i++)
            cio_task_unref(t[i]);
    }
    return 0;
}

static int gather_main(void *arg, void **result)
{
    long n = iters(1000000);
    long rounds = n / GATHER_N > 0 ? n / GATHER_N : 1;
    cio_task **t = malloc(GATHER_N * sizeof *t);
    cio_future **f = malloc(GATHER_N * sizeof *f);
    void **res = malloc(GATHER_N * sizeof *res);
    int rc = -1;
    if (t && f && res && !gather_rounds(1, t, f, res)) {
        double t0 = now_s();
        rc = gather_rounds(rounds, t, f, res);
        double t1 = now_s();
        if (!rc && (intptr_t)res[GATHER_N - 1] == GATHER_N - 1)
            printf("gather_10k %.3f\n", (t1 - t0) * 1e9 / (double)(rounds * GATHER_N));
        else
            rc = -1;
    }
    free(t);
    free(f);
    free(res);
    return rc;
}

/* ---- cache_hit ------------------------------------------------------------ */

#define CACHE_KEYS 1000

static int fetch_index(void *arg, const void *key, size_t keylen, void **value)
{
    *value = arg;
    return 0;
}

static int cache_main(void *arg, void **result)
{
    long n = iters(20000000);
    static char keys[CACHE_KEYS][16];
    cio_cache *c;
    if (cio_cache_new(NULL, 0, 0, 0, NULL, NULL, &c))
        return -1;
    void *v;
    for (intptr_t i = 0; i < CACHE_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "key:%d", (int)i);
        if (cio_cache_get_str(c, keys[i], fetch_index, (void *)i, &v) || (intptr_t)v != i)
            return -1;
    }
    intptr_t sum = 0;
    int rc = 0;
    double t0 = now_s();
    for (long i = 0, k = 0; i < n; i++) {
        rc |= cio_cache_get_str(c, keys[k], fetch_index, NULL, &v);
        sum += (intptr_t)v;
        if (++k == CACHE_KEYS)
            k = 0;
    }
    double t1 = now_s();
    cio_cache_free(c);
    if (rc || sum < 0)
        return -1;
    printf("cache_hit %.2f\n", (t1 - t0) * 1e9 / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sync lock_handoff|queue_handoff|queue_unbounded|gather_10k|cache_hit [N]\n");
        return 2;
    }
    if (argc > 2)
        n_arg = atol(argv[2]);
    cio_coro_fn *fn = !strcmp(argv[1], "lock_handoff")    ? lock_main
                      : !strcmp(argv[1], "queue_handoff") ? queue_main
                      : !strcmp(argv[1], "queue_unbounded") ? unbounded_main
                      : !strcmp(argv[1], "gather_10k")    ? gather_main
                      : !strcmp(argv[1], "cache_hit")     ? cache_main
                                                            : NULL;
    if (!fn) {
        fprintf(stderr, "bench_sync: unknown group '%s'\n", argv[1]);
        return 2;
    }
    return cio_run(fn, NULL, NULL) ? 1 : 0;
}
