/*
 * test_stack_pool.c - the stack pool under bursts of tasks, and the reuse
 * of futures: what the performance work on these paths must not break.
 *
 *   burst_then_trim   more tasks than the hot reserve finish; the excess is
 *                     trimmed only after CIO__STACK_TRIM_DELAY_NS of loop
 *                     time (virtual clock), and trimmed (zeroed) stacks
 *                     serve a second burst whose tasks use their stacks
 *   idle_loop_trims   a loop with nothing to do but the trim still wakes
 *                     for it (real clock)
 *   futures_reused    fresh futures in a loop reuse freed ones and stay
 *                     correct; a future released after its loop is freed
 */
#include "test.h"

#include "task/task.h"

#define BURST (CIO__STACK_HOT_MAX + 600)

static long ran;

/* Uses a few KiB of its stack, so a trimmed stack must really be there. */
static int worker(void *arg, void **result)
{
    volatile char buf[6000];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
    int rc = cio_sleep(0.001 * (double)((intptr_t)arg % 50));
    for (size_t i = 0; i < sizeof buf; i += 512)
        if (buf[i] != (char)i)
            return -EIO;
    ran++;
    return rc;
}

static int burst(void)
{
    cio_task **t = malloc(BURST * sizeof *t);
    for (intptr_t i = 0; i < BURST; i++)
        CHECK_RC(cio_create_task(worker, (void *)i, NULL, &t[i]), 0);
    int bad = 0;
    for (long i = 0; i < BURST; i++) {
        if (cio_task_await(t[i], NULL) != 0)
            bad++;
        cio_task_unref(t[i]);
    }
    free(t);
    return bad;
}

static int burst_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    ran = 0;
    CHECK_EQ(burst(), 0);
    CHECK_EQ(ran, BURST);
    CHECK(loop->sched->stacks.nhot > CIO__STACK_HOT_MAX);
    /* Not at once: the excess stays resident for the delay. */
    CHECK_RC(cio_sleep(0.5), 0);
    CHECK(loop->sched->stacks.nhot > CIO__STACK_HOT_MAX);
    CHECK(loop->sched->stacks.cold == NULL);
    CHECK_RC(cio_sleep(1.0), 0);
    CHECK(loop->sched->stacks.nhot <= CIO__STACK_HOT_MAX);
    CHECK(loop->sched->stacks.cold != NULL);
    CHECK(loop->trim_at == 0);
    /* The second burst takes hot stacks, then the trimmed ones. */
    ran = 0;
    CHECK_EQ(burst(), 0);
    CHECK_EQ(ran, BURST);
    return 0;
}

static void burst_then_trim(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    CHECK_RC(cio_run_loop(loop, burst_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

static void stop_cb(void *arg) { cio_loop_stop(arg); }

static int fill_main(void *arg, void **result)
{
    CHECK_EQ(burst(), 0);
    return 0;
}

static void idle_loop_trims(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, fill_main, NULL, "fill", &t), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(t), NULL), 0);
    cio_task_unref(t);
    CHECK(loop->sched->stacks.nhot > CIO__STACK_HOT_MAX);
    /* Nothing is scheduled before the stop at 1.5 s: only the trim's own
     * deadline wakes the loop in between. */
    CHECK_RC(cio_call_later(loop, 1.5 * test_timeout_multiplier(), stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK(loop->sched->stacks.nhot <= CIO__STACK_HOT_MAX);
    cio_loop_free(loop);
}

static int completer(void *arg, void **result)
{
    cio_future **slot = arg;
    for (int i = 0; i < 1000; i++) {
        while (!*slot)
            CHECK_RC(cio_sleep(0), 0);
        cio_future *f = *slot;
        *slot = NULL;
        CHECK_RC(cio_future_set_result(f, (void *)(intptr_t)(i + 1)), 0);
    }
    return 0;
}

static cio_future *survivor;

static int futures_main(void *arg, void **result)
{
    cio_future *slot = NULL;
    cio_task *t;
    CHECK_RC(cio_create_task(completer, &slot, "completer", &t), 0);
    for (int i = 0; i < 1000; i++) {
        cio_future *f;
        CHECK_RC(cio_future_new(NULL, &f), 0);
        CHECK(!cio_future_done(f));
        CHECK(cio_future_error_message(f) == NULL);
        slot = f;
        void *r = NULL;
        CHECK_RC(cio_await(f, &r), 0);
        CHECK_EQ((intptr_t)r, i + 1);
        if (i % 3 == 0)
            CHECK_RC(cio_future_set_error(f, -EIO, "x"), CIO_EINVALSTATE);
        cio_future_unref(f);
    }
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    /* One outlives the loop. */
    CHECK_RC(cio_future_new(NULL, &survivor), 0);
    CHECK_RC(cio_future_set_result(survivor, NULL), 0);
    return 0;
}

static void futures_reused(void)
{
    CHECK_RC(cio_run(futures_main, NULL, NULL), 0);
    CHECK(cio_future_done(survivor));
    cio_future_unref(survivor); /* after the loop was freed */
}

int main(void)
{
    RUN(burst_then_trim);
    RUN(idle_loop_trims);
    RUN(futures_reused);
    return test_finish();
}
