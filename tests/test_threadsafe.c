/*
 * test_threadsafe.c - cio_call_soon_threadsafe, the one door into a loop
 * from other threads (marker for the TSan run: CIO_TEST_THREADS).
 *
 * Several threads hammer the loop while it runs: every callback runs
 * exactly once, each thread's callbacks in the order it made them; a loop
 * asleep in epoll_wait with nothing else to do is woken; cio_loop_work_begin /
 * cio_loop_work_end keep run_until_complete from reporting a deadlock while
 * another thread still has work in flight.
 */
#include <pthread.h>
#include <unistd.h>

#include "test.h"

#define THREADS 4
#define PER_THREAD 50000

struct hammer {
    cio_loop *loop;
    cio_future *done;
    uint8_t *hits;               /* THREADS * PER_THREAD counters */
    int last[THREADS];           /* last index seen per thread */
    long total;
    long out_of_order;
    int failed_calls;            /* calls that returned an error */
};

struct item {
    struct hammer *h;
    int thread;
    int index;
};

static struct item *items;

static void hit(void *arg)
{
    struct item *it = arg;
    struct hammer *h = it->h;
    h->hits[it->thread * PER_THREAD + it->index]++;
    if (it->index <= h->last[it->thread])
        h->out_of_order++;
    h->last[it->thread] = it->index;
    if (++h->total == (long)THREADS * PER_THREAD)
        cio_future_set_result(h->done, NULL);
}

struct worker {
    struct hammer *h;
    int thread;
};

static void *hammer_thread(void *arg)
{
    struct worker *w = arg;
    int failed = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        struct item *it = &items[w->thread * PER_THREAD + i];
        if (cio_call_soon_threadsafe(w->h->loop, hit, it) != 0)
            failed++;
        if (i % 4096 == 0)
            usleep(100); /* let the loop catch up and go back to sleep */
    }
    __atomic_add_fetch(&w->h->failed_calls, failed, __ATOMIC_RELAXED);
    cio_loop_work_end(w->h->loop);
    return NULL;
}

/* Some loop-side work meanwhile, so the loop is not only draining. */
static int busy_task(void *arg, void **result)
{
    struct hammer *h = arg;
    while (!cio_future_done(h->done))
        if (cio_sleep(0.0005) < 0)
            break;
    return 0;
}

static void test_hammer(void)
{
    struct hammer h = {0};
    CHECK_RC(cio_loop_new(&h.loop), 0);
    CHECK_RC(cio_future_new(h.loop, &h.done), 0);
    h.hits = calloc((size_t)THREADS * PER_THREAD, 1);
    items = calloc((size_t)THREADS * PER_THREAD, sizeof *items);
    for (int t = 0; t < THREADS; t++) {
        h.last[t] = -1;
        for (int i = 0; i < PER_THREAD; i++)
            items[t * PER_THREAD + i] = (struct item){&h, t, i};
    }
    CHECK_RC(cio_loop_create_task(h.loop, busy_task, &h, "busy", NULL), 0);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct worker){&h, t};
        cio_loop_work_begin(h.loop);
        CHECK_EQ(pthread_create(&th[t], NULL, hammer_thread, &w[t]), 0);
    }
    CHECK_RC(cio_loop_run_until_complete(h.loop, h.done, NULL), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    CHECK_EQ(h.failed_calls, 0);
    CHECK_EQ(h.total, (long)THREADS * PER_THREAD);
    CHECK_EQ(h.out_of_order, 0);
    long wrong = 0;
    for (long i = 0; i < (long)THREADS * PER_THREAD; i++)
        wrong += h.hits[i] != 1;
    CHECK_EQ(wrong, 0);
    /* Let the busy task see the future done and finish. */
    cio_future *never;
    CHECK_RC(cio_future_new(h.loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(h.loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
    cio_future_unref(h.done);
    cio_loop_free(h.loop);
    free(h.hits);
    free(items);
}

/* ---- waking a sleeping loop ---------------------------------------------- */

struct waker {
    cio_loop *loop;
    cio_future *fut;
    double delay;
    int unref;
};

static void complete(void *arg)
{
    struct waker *w = arg;
    cio_future_set_result(w->fut, (void *)(intptr_t)1);
    if (w->unref)
        cio_loop_work_end(w->loop);
}

static void *waker_thread(void *arg)
{
    struct waker *w = arg;
    usleep((useconds_t)(w->delay * 1e6));
    CHECK_RC(cio_call_soon_threadsafe(w->loop, complete, w), 0);
    return NULL;
}

static void test_wakes_sleeping_loop(void)
{
    struct waker w = {.delay = 0.1, .unref = 1};
    CHECK_RC(cio_loop_new(&w.loop), 0);
    CHECK_RC(cio_future_new(w.loop, &w.fut), 0);
    /* Nothing scheduled at all: the loop waits in epoll_wait(-1) until
     * the thread's call wakes it.  The ref says that call is coming. */
    cio_loop_work_begin(w.loop);
    pthread_t th;
    /* t0 before the thread starts: read after, a descheduled main thread
     * made the elapsed time look short (seen under ASan on a busy box). */
    double t0 = test_now();
    CHECK_EQ(pthread_create(&th, NULL, waker_thread, &w), 0);
    void *r = NULL;
    CHECK_RC(cio_loop_run_until_complete(w.loop, w.fut, &r), 0);
    CHECK_EQ((intptr_t)r, 1);
    CHECK(test_now() - t0 >= 0.09);
    pthread_join(th, NULL);
    cio_future_unref(w.fut);
    cio_loop_free(w.loop);
}

/* A thread's callback arrives while the loop sleeps on a far timer. */
static void test_wakes_timer_sleep(void)
{
    struct waker w = {.delay = 0.05};
    CHECK_RC(cio_loop_new(&w.loop), 0);
    CHECK_RC(cio_future_new(w.loop, &w.fut), 0);
    cio_handle *far;
    CHECK_RC(cio_call_later(w.loop, 3600, complete, &w, &far), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, waker_thread, &w), 0);
    double t0 = test_now();
    CHECK_RC(cio_loop_run_until_complete(w.loop, w.fut, NULL), 0);
    CHECK(test_now() - t0 < 60);
    pthread_join(th, NULL);
    cio_handle_cancel(far);
    cio_handle_unref(far);
    cio_future_unref(w.fut);
    cio_loop_free(w.loop);
}

/* Without the ref, the same program is a deadlock as far as the loop can
 * tell; with it, it completes. */
static void test_ref_unref(void)
{
    cio_loop *loop;
    cio_future *f;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_future_new(loop, &f), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), CIO_ESTALLED);
    cio_loop_work_begin(loop);
    cio_loop_work_begin(loop);
    cio_loop_work_end(loop);
    struct waker w = {.loop = loop, .fut = f, .delay = 0.02, .unref = 1};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, waker_thread, &w), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, f, NULL), 0);
    pthread_join(th, NULL);
    /* Balanced again: an idle loop is a deadlock once more. */
    cio_future *g;
    CHECK_RC(cio_future_new(loop, &g), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, g, NULL), CIO_ESTALLED);
    cio_loop_work_begin(NULL);
    cio_loop_work_end(NULL);
    cio_future_unref(g);
    cio_future_unref(f);
    cio_loop_free(loop);
}

static void noop(void *arg) { (void)arg; }

static void test_errors(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_call_soon_threadsafe(NULL, noop, NULL), -EINVAL);
    CHECK_RC(cio_call_soon_threadsafe(loop, NULL, NULL), -EINVAL);
    /* Calls pending when the loop closes are dropped (and freed). */
    CHECK_RC(cio_call_soon_threadsafe(loop, noop, NULL), 0);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_RC(cio_call_soon_threadsafe(loop, noop, NULL), CIO_ECLOSED);
    cio_loop_free(loop);
}

/* The loop's own thread may call it too; it runs in the next iteration. */
static void self_post(void *arg)
{
    int *n = arg;
    if (++*n < 100)
        CHECK_RC(cio_call_soon_threadsafe(cio_get_running_loop(), self_post, n), 0);
    else
        cio_loop_stop(cio_get_running_loop());
}

static void test_from_loop_thread(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    int n = 0;
    CHECK_RC(cio_call_soon_threadsafe(loop, self_post, &n), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(n, 100);
    cio_loop_free(loop);
}

/* One loop per thread (DESIGN.md section 2): several threads each run
 * their own cio_run at the same time, sharing nothing but the library's
 * process-wide state (allocator hook, logger, stack-guard method). */
static int per_thread_child(void *arg, void **result)
{
    int rc = cio_sleep(0.001);
    *result = arg;
    return rc;
}

static int per_thread_main(void *arg, void **result)
{
    long sum = 0;
    for (int round = 0; round < 20; round++) {
        cio_task *t[10];
        for (int i = 0; i < 10; i++)
            if (cio_create_task(per_thread_child, (void *)(intptr_t)i, NULL, &t[i]) != 0)
                return -ENOMEM;
        for (int i = 0; i < 10; i++) {
            void *r = NULL;
            if (cio_task_await(t[i], &r) == 0)
                sum += (intptr_t)r;
            cio_task_unref(t[i]);
        }
    }
    *result = (void *)(intptr_t)sum;
    return 0;
}

static void *loop_thread(void *arg)
{
    void *r = NULL;
    int rc = cio_run(per_thread_main, NULL, &r);
    *(long *)arg = rc == 0 ? (long)(intptr_t)r : rc;
    return NULL;
}

static void test_loop_per_thread(void)
{
    pthread_t th[4];
    long sums[4] = {0};
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, loop_thread, &sums[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(sums[i], 20 * 45);
    }
}

int main(void)
{
    alarm(120); /* a lost wake-up hangs: fail instead of waiting for ctest */
    /* First, so that the library's process-wide state is first touched
     * by several threads at once. */
    RUN(test_loop_per_thread);
    RUN(test_hammer);
    RUN(test_wakes_sleeping_loop);
    RUN(test_wakes_timer_sleep);
    RUN(test_ref_unref);
    RUN(test_errors);
    RUN(test_from_loop_thread);
    return test_finish();
}
