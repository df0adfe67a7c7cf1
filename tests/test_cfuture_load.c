/*
 * test_cfuture_load.c - cross-thread work under load: many plain threads
 * submitting coroutines to two loops in other threads at once
 * (cio_run_coroutine_threadsafe, every result checked), and the
 * process-wide default executor shared by several loops within one bound,
 * a loop's close waiting for its own calls only, idle threads exiting and
 * coming back.  CIO_TEST_THREADS (runs under TSan too).
 */
#include <pthread.h>
#include <unistd.h>

#include "exec/exec.h"
#include "loop/loop.h"
#include "cfuture_util.h"

/* ---- many concurrent submitters ---------------------------------------------------- */

enum { SUBMITTERS = 6, PER_SUBMITTER = 150 };

struct submitter {
    cio_loop *loops[2];
    int base;
    int ok;
};

static int add_one_coro(void *arg, void **result)
{
    *result = (void *)((intptr_t)arg + 1);
    return 0;
}

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;
    cio_cfuture *cf[PER_SUBMITTER];
    for (int i = 0; i < PER_SUBMITTER; i++) {
        intptr_t v = s->base + i;
        if (cio_run_coroutine_threadsafe(s->loops[i % 2], add_one_coro, (void *)v, &cf[i]) < 0)
            cf[i] = NULL;
    }
    for (int i = 0; i < PER_SUBMITTER; i++) {
        void *r;
        if (cf[i] && cio_cfuture_result(cf[i], 20 * test_timeout_multiplier(), &r) == 0 &&
            (intptr_t)r == s->base + i + 1)
            s->ok++;
        cio_cfuture_unref(cf[i]);
    }
    return NULL;
}

static void test_many_submitters(void)
{
    struct loop_thread a, b;
    loop_thread_start(&a);
    loop_thread_start(&b);
    struct submitter s[SUBMITTERS];
    pthread_t th[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        s[i] = (struct submitter){.loops = {a.loop, b.loop}, .base = i * 1000};
        pthread_create(&th[i], NULL, submitter_main, &s[i]);
    }
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(s[i].ok, PER_SUBMITTER);
    }
    loop_thread_stop(&a);
    loop_thread_stop(&b);
}

/* ---- the shared default executor ---------------------------------------------------- */

static int running, peak;

static int slow_fn(void *arg, void **result)
{
    int now = ADD(running, 1);
    int p = LOAD(peak);
    while (now > p && !__atomic_compare_exchange_n(&peak, &p, now, 0, __ATOMIC_ACQ_REL,
                                                   __ATOMIC_ACQUIRE))
        ;
    sleep_ms(20);
    ADD(running, -1);
    *result = arg;
    return 0;
}

static int to_thread_child(void *arg, void **result)
{
    void *r = NULL;
    int rc = cio_to_thread(slow_fn, arg, &r);
    CHECK(rc != 0 || r == arg);
    return rc;
}

/* One loop's share: 12 calls at once. */
static int pool_user(void *arg, void **result)
{
    cio_task *t[12];
    for (int i = 0; i < 12; i++)
        CHECK_RC(cio_create_task(to_thread_child, (void *)(intptr_t)i, NULL, &t[i]), 0);
    int rc = 0;
    for (int i = 0; i < 12; i++) {
        int r = cio_task_await(t[i], NULL);
        if (r)
            rc = r;
        cio_task_unref(t[i]);
    }
    return rc;
}

static void *run_pool_user(void *arg)
{
    *(int *)arg = cio_run(pool_user, NULL, NULL);
    return NULL;
}

struct gate {
    int open;
    int entered;
};

static int gate_fn(void *arg, void **result)
{
    struct gate *g = arg;
    STORE(g->entered, 1);
    while (!LOAD(g->open))
        sleep_ms(1);
    return 0;
}

static int gated_main(void *arg, void **result) { return cio_to_thread(gate_fn, arg, NULL); }

static void *run_gated(void *arg)
{
    CHECK_RC(cio_run(gated_main, arg, NULL), 0);
    return NULL;
}

static int quick_main(void *arg, void **result)
{
    void *r;
    return cio_to_thread(add_one_coro, (void *)1, &r);
}

static void test_shared_pool(void)
{
    cio_executor *ex = cio__default_executor();
    size_t nthreads, bound;
    cio__executor_stats(ex, &nthreads, &bound);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = (size_t)(ncpu > 0 ? ncpu : 1) + 4;
    CHECK_EQ(bound, want > 32 ? 32 : want);

    /* Three loops in three threads, 12 calls each: one pool, one bound
     * (per-loop pools would run up to 3 * bound at once). */
    enum { LOOPS = 3 };
    pthread_t th[LOOPS];
    int rcs[LOOPS];
    STORE(peak, 0);
    for (int i = 0; i < LOOPS; i++)
        pthread_create(&th[i], NULL, run_pool_user, &rcs[i]);
    for (int i = 0; i < LOOPS; i++) {
        pthread_join(th[i], NULL);
        CHECK_RC(rcs[i], 0);
    }
    CHECK(LOAD(peak) >= 2);
    CHECK((size_t)LOAD(peak) <= bound);
    cio__executor_stats(ex, &nthreads, NULL);
    CHECK(nthreads <= bound);
    CHECK(nthreads >= 1); /* the loops closed; the pool's threads stay */

    /* A loop's close waits for its own calls only: loop A's call is
     * blocked in the pool while loop B runs and closes. */
    struct gate g = {0};
    pthread_t ta;
    pthread_create(&ta, NULL, run_gated, &g);
    CHECK(wait_flag(&g.entered));
    double t0 = test_now();
    CHECK_RC(cio_run(quick_main, NULL, NULL), 0);
    CHECK(test_now() - t0 < 2);
    CHECK_EQ(LOAD(g.open), 0); /* B did not wait for A's call */
    STORE(g.open, 1);
    pthread_join(ta, NULL);

    /* Idle threads exit (10 s by default; shortened here), and the pool
     * starts threads again afterwards. */
    cio__executor_set_idle_exit(ex, 0.05);
    int limit = (int)(3000 * test_timeout_multiplier());
    for (int i = 0; i < limit; i++) {
        cio__executor_stats(ex, &nthreads, NULL);
        if (nthreads == 0)
            break;
        sleep_ms(1);
    }
    CHECK_EQ(nthreads, 0);
    CHECK_RC(cio_run(quick_main, NULL, NULL), 0);
    cio__executor_set_idle_exit(ex, 10);
}

int main(void)
{
    RUN(test_many_submitters);
    RUN(test_shared_pool);
    return test_finish();
}
