/*
 * Threads and loops: two loops in two threads, work handed between them.
 *
 * The asyncio program it mirrors:
 *
 *     async def square(n):                       # runs on loop B
 *         await asyncio.sleep(0.01)
 *         return n * n
 *
 *     async def sum_of_squares(n, loop_b):       # runs on loop A
 *         total = 0
 *         for i in range(1, n + 1):
 *             cf = asyncio.run_coroutine_threadsafe(square(i), loop_b)
 *             total += await asyncio.wrap_future(cf)
 *         return total
 *
 *     loop_a, loop_b = asyncio.new_event_loop(), asyncio.new_event_loop()
 *     for loop in (loop_a, loop_b):
 *         threading.Thread(target=loop.run_forever).start()
 *     cf_a = asyncio.run_coroutine_threadsafe(sum_of_squares(5, loop_b), loop_a)
 *     cf_b = asyncio.run_coroutine_threadsafe(square(12), loop_b)
 *     print(cf_a.result(timeout=5), cf_b.result(timeout=5))
 *
 * What to observe: the main thread, which runs no loop, submits a
 * coroutine to each loop with cio_run_coroutine_threadsafe() and blocks on
 * the cio_cfuture it gets back (cio_cfuture_result, with a timeout).  The
 * task on loop A asks loop B for five squares and awaits each one with
 * cio_cfuture_await(): it suspends, loop A stays free, and the result
 * made on loop B's thread arrives through loop A's thread-safe queue.
 * Each line names the thread the coroutine ran on.  Both loops share the
 * one process-wide default thread pool for cio_to_thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <cio.h>

struct loop_thread {
    const char *name;
    cio_loop *loop;
    pthread_t thread;
};

static struct loop_thread loop_a = {.name = "A"}, loop_b = {.name = "B"};
static _Thread_local const char *thread_name = "main";

static void *run_loop(void *arg)
{
    struct loop_thread *lt = arg;
    thread_name = lt->name;
    cio_loop_run_forever(lt->loop);
    return NULL;
}

static void stop_loop(void *arg) { cio_loop_stop(arg); }

/* Runs on loop B. */
static int square(void *arg, void **result)
{
    intptr_t n = (intptr_t)arg;
    int rc = cio_sleep(0.01);
    if (rc < 0)
        return rc;
    printf("  square(%ld) on loop %s\n", (long)n, thread_name);
    *result = (void *)(n * n);
    return 0;
}

/* Runs on loop A: each square is computed on loop B and awaited here. */
static int sum_of_squares(void *arg, void **result)
{
    intptr_t n = (intptr_t)arg, sum = 0;
    printf("sum_of_squares(%ld) on loop %s\n", (long)n, thread_name);
    for (intptr_t i = 1; i <= n; i++) {
        cio_cfuture *cf;
        void *r = NULL;
        int rc = cio_run_coroutine_threadsafe(loop_b.loop, square, (void *)i, &cf);
        if (rc == 0) {
            rc = cio_cfuture_await(cf, &r); /* suspends; loop A keeps running */
            cio_cfuture_unref(cf);
        }
        if (rc < 0)
            return rc;
        sum += (intptr_t)r;
    }
    *result = (void *)sum;
    return 0;
}

int main(void)
{
    struct loop_thread *loops[] = {&loop_a, &loop_b};
    for (int i = 0; i < 2; i++) {
        if (cio_loop_new(&loops[i]->loop) < 0)
            return 1;
        pthread_create(&loops[i]->thread, NULL, run_loop, loops[i]);
    }

    cio_cfuture *cf_a, *cf_b;
    int rc = cio_run_coroutine_threadsafe(loop_a.loop, sum_of_squares, (void *)5, &cf_a);
    if (rc == 0)
        rc = cio_run_coroutine_threadsafe(loop_b.loop, square, (void *)12, &cf_b);
    if (rc < 0) {
        fprintf(stderr, "submit: %s\n", cio_strerror(rc));
        return 1;
    }
    void *a = NULL, *b = NULL;
    int rc_a = cio_cfuture_result(cf_a, 5.0, &a); /* blocks this thread only */
    int rc_b = cio_cfuture_result(cf_b, 5.0, &b);
    cio_cfuture_unref(cf_a);
    cio_cfuture_unref(cf_b);
    printf("main got %ld and %ld (%s, %s)\n", (long)(intptr_t)a, (long)(intptr_t)b,
           cio_strerror(rc_a), cio_strerror(rc_b));

    for (int i = 0; i < 2; i++) {
        cio_call_soon_threadsafe(loops[i]->loop, stop_loop, loops[i]->loop);
        pthread_join(loops[i]->thread, NULL);
        cio_loop_free(loops[i]->loop);
    }
    return rc_a == 0 && rc_b == 0 && (intptr_t)a == 55 && (intptr_t)b == 144 ? 0 : 1;
}
