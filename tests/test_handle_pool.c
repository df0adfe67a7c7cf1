/*
 * test_handle_pool.c - handles allocated in blocks (handle.c): many timers
 * at once, handles that outlive their loop, and allocation failures.
 * Memory errors here show under valgrind (`valgrind --leak-check=full
 * build/tests/test_handle_pool`); ASan builds allocate handles one by one.
 *
 *   burst             100k timers with handles held by the caller fire in
 *                     order; released afterwards, the pool stays bounded
 *   outlive_loop      handles released after cio_loop_close (their block
 *                     outlives the loop's pool)
 *   alloc_failures    the Nth allocation fails, for every N: call_later
 *                     fails cleanly and its callback never runs
 */
#include "test.h"

#include "loop/loop.h"

#define N 100000

static int fired;
static int last;

static void on_fire(void *arg)
{
    int i = (int)(intptr_t)arg;
    CHECK(i > last);
    last = i;
    fired++;
}

static void burst(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    cio_handle **h = malloc(N * sizeof *h);
    fired = 0;
    last = -1;
    for (int i = 0; i < N; i++)
        CHECK_RC(cio_call_later(loop, 0.001 * (i / 1000), on_fire, (void *)(intptr_t)i, &h[i]), 0);
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
    CHECK_EQ(fired, N);
    for (int i = 0; i < N; i++) {
        CHECK(!cio_handle_cancelled(h[i]));
        cio_handle_unref(h[i]);
    }
    CHECK(loop->nfree_handles <= 4096 + 64);
    free(h);
    cio_loop_free(loop);
}

static void outlive_loop(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_handle *h[100];
    for (int i = 0; i < 100; i++)
        CHECK_RC(cio_call_later(loop, 10.0, on_fire, NULL, &h[i]), 0);
    CHECK_RC(cio_handle_cancel(h[7]), 0);
    CHECK_RC(cio_loop_close(loop), 0);
    for (int i = 0; i < 100; i++)
        cio_handle_unref(h[i]);
    cio_loop_free(loop);
}

static long alloc_left;

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (alloc_left-- == 0)
        return NULL;
    return realloc(ptr, size);
}

static void never_cb(void *arg) { (*(int *)arg)++; }

static void alloc_failures(void)
{
    for (long n = 0; n < 40; n++) {
        CHECK_RC(cio_set_allocator(failing_alloc, NULL), 0);
        alloc_left = 1 << 30;
        cio_loop *loop;
        CHECK_RC(cio_loop_new(&loop), 0);
        CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
        alloc_left = n;
        int ran = 0, ok = 0;
        for (int i = 0; i < 100; i++) {
            int rc = cio_call_later(loop, 0.01, never_cb, &ran, NULL);
            CHECK(rc == 0 || rc == -ENOMEM);
            ok += rc == 0;
        }
        alloc_left = 1 << 30;
        cio_future *never;
        CHECK_RC(cio_future_new(loop, &never), 0);
        CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
        cio_future_unref(never);
        CHECK_EQ(ran, ok);
        cio_loop_free(loop);
        CHECK_RC(cio_set_allocator(NULL, NULL), 0);
    }
}

int main(void)
{
    RUN(burst);
    RUN(outlive_loop);
    RUN(alloc_failures);
    return test_finish();
}
