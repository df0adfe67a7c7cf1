/*
 * test_timer.c - the timer heap under load: a million timers with random
 * deadlines fire in deadline order (ties in scheduling order), on the
 * virtual clock and on the real one; cancelling most of them takes the
 * heap-compaction path and no cancelled timer fires; timers scheduled from
 * timers.
 */
#include <math.h>

#include "test.h"

#define MANY 1000000

/* One timer: its deadline and its scheduling order. */
struct tmr {
    double when;
    uint32_t idx;
    uint8_t cancelled;
    uint8_t fired;
};

struct run {
    cio_loop *loop;
    struct tmr *t;
    size_t fired;
    double last_when;
    int64_t last_idx;
    size_t out_of_order, early, fired_cancelled, fired_twice;
};

static struct run R;

static void fire(void *arg)
{
    struct tmr *t = arg;
    if (t->fired)
        R.fired_twice++;
    t->fired = 1;
    if (t->cancelled)
        R.fired_cancelled++;
    if (t->when < R.last_when || (t->when == R.last_when && (int64_t)t->idx < R.last_idx))
        R.out_of_order++;
    /* Seconds become integer nanoseconds inside: allow that rounding. */
    if (cio_loop_time(R.loop) < t->when - 1e-9)
        R.early++;
    R.last_when = t->when;
    R.last_idx = t->idx;
    R.fired++;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Schedules n timers at random absolute deadlines in [base, base + span),
 * a few with equal deadlines; keep: where to put handles (or NULL). */
static void schedule_many(size_t n, double base, double span, cio_handle **keep)
{
    for (size_t i = 0; i < n; i++) {
        struct tmr *t = &R.t[i];
        /* Quantized to 1 µs so that equal deadlines happen often. */
        double off = (double)(next_rand() % (uint64_t)(span * 1e6)) / 1e6;
        t->when = base + off;
        t->idx = (uint32_t)i;
        t->cancelled = t->fired = 0;
        int rc = cio_call_at(R.loop, t->when, fire, t, keep ? &keep[i] : NULL);
        if (rc) {
            CHECK_RC(rc, 0);
            return;
        }
    }
}

static void reset(cio_loop *loop, size_t n)
{
    free(R.t);
    memset(&R, 0, sizeof R);
    R.loop = loop;
    R.t = calloc(n, sizeof *R.t);
    R.last_when = -INFINITY;
    R.last_idx = -1;
}

static void stop_cb(void *arg) { cio_loop_stop(arg); }

static void test_million_virtual(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    reset(loop, MANY);
    schedule_many(MANY, 1.0, 1000.0, NULL);
    CHECK_RC(cio_call_at(loop, 2000, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(R.fired, MANY);
    CHECK_EQ(R.out_of_order, 0);
    CHECK_EQ(R.early, 0);
    CHECK_EQ(R.fired_twice, 0);
    cio_loop_free(loop);
}

static void test_million_real(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    reset(loop, MANY);
    /* Deadlines spread over 0.3 s after the scheduling is done (the
     * scheduling itself takes a while under sanitizers). */
    double base = cio_loop_time(loop) + 0.5 * test_timeout_multiplier();
    schedule_many(MANY, base, 0.3, NULL);
    CHECK_RC(cio_call_at(loop, base + 0.31, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(R.fired, MANY);
    CHECK_EQ(R.out_of_order, 0);
    CHECK_EQ(R.early, 0);
    cio_loop_free(loop);
}

/* Cancels two timers of every three: cancelled entries outnumber live ones,
 * so the heap is rebuilt (compaction) while still in use. */
static void test_cancel_most(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    reset(loop, MANY);
    cio_handle **h = calloc(MANY, sizeof *h);
    schedule_many(MANY, 1.0, 100.0, h);
    size_t live = 0;
    for (size_t i = 0; i < MANY; i++) {
        if (i % 3) {
            R.t[i].cancelled = 1;
            CHECK_RC(cio_handle_cancel(h[i]), 0);
            /* Half of the cancelled ones are released at once: the heap's
             * own reference keeps them valid until it drops them. */
            if (i % 2) {
                cio_handle_unref(h[i]);
                h[i] = NULL;
            }
        } else {
            live++;
        }
    }
    CHECK_RC(cio_call_at(loop, 200, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    CHECK_EQ(R.fired, live);
    CHECK_EQ(R.fired_cancelled, 0);
    CHECK_EQ(R.out_of_order, 0);
    for (size_t i = 0; i < MANY; i++) {
        if (h[i]) {
            CHECK_EQ(cio_handle_cancelled(h[i]), R.t[i].cancelled);
            cio_handle_unref(h[i]);
        }
        if (!R.t[i].cancelled && !R.t[i].fired) {
            CHECK(!"a live timer did not fire");
            break;
        }
    }
    free(h);
    cio_loop_free(loop);
}

/* Cancelling timers while they fire: each fired timer cancels a later one. */
static cio_handle **victims;
static void fire_and_cancel(void *arg)
{
    struct tmr *t = arg;
    fire(arg);
    size_t v = t->idx + 1;
    if (v < 1000 && victims[v] && !R.t[v].fired) {
        R.t[v].cancelled = 1;
        cio_handle_cancel(victims[v]);
    }
}

static void test_cancel_while_firing(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    reset(loop, 1000);
    victims = calloc(1000, sizeof *victims);
    for (size_t i = 0; i < 1000; i++) {
        R.t[i].when = 1 + (double)(i / 2); /* pairs share a deadline */
        R.t[i].idx = (uint32_t)i;
        CHECK_RC(cio_call_at(loop, R.t[i].when, fire_and_cancel, &R.t[i], &victims[i]), 0);
    }
    CHECK_RC(cio_call_at(loop, 1000, stop_cb, loop, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
    /* Timer 0 fires and cancels 1; 2 fires and cancels 3; ... */
    CHECK_EQ(R.fired, 500);
    CHECK_EQ(R.fired_cancelled, 0);
    for (size_t i = 0; i < 1000; i++) {
        CHECK_EQ(R.t[i].fired, i % 2 == 0);
        cio_handle_unref(victims[i]);
    }
    free(victims);
    cio_loop_free(loop);
}

/* Timers scheduled from timers: a chain with growing delays, and a fan-out
 * of equal deadlines that must fire in scheduling order. */
struct chain {
    cio_loop *loop;
    int links;
    double times[100];
    int fan_order[64];
    int nfan;
};

static struct chain C;

static void fan_cb(void *arg) { C.fan_order[C.nfan++] = (int)(intptr_t)arg; }

static void chain_cb(void *arg)
{
    C.times[C.links++] = cio_loop_time(C.loop);
    if (C.links < 100) {
        CHECK_RC(cio_call_later(C.loop, 0.001 * C.links, chain_cb, NULL, NULL), 0);
    } else {
        for (int i = 0; i < 50; i++)
            CHECK_RC(cio_call_later(C.loop, 1, fan_cb, (void *)(intptr_t)i, NULL), 0);
        /* A zero delay from a timer runs in the next iteration. */
        CHECK_RC(cio_call_later(C.loop, 0, fan_cb, (void *)(intptr_t)-1, NULL), 0);
        CHECK_EQ(C.nfan, 0);
    }
}

static void test_timers_from_timers(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    memset(&C, 0, sizeof C);
    C.loop = loop;
    CHECK_RC(cio_call_later(loop, 0, chain_cb, NULL, NULL), 0);
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    /* Runs until nothing is left: the loop reports it as a deadlock. */
    CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
    CHECK_EQ(C.links, 100);
    double expect = 0;
    for (int i = 0; i < 100; i++) {
        CHECK(fabs(C.times[i] - expect) < 1e-6);
        expect += 0.001 * (i + 1);
    }
    CHECK_EQ(C.nfan, 51);
    CHECK_EQ(C.fan_order[0], -1);
    for (int i = 1; i < 51; i++)
        CHECK_EQ(C.fan_order[i], i - 1);
    cio_loop_free(loop);
}

/* Pending timers at close are dropped without running, and the memory is
 * freed (ASan's leak check). */
static void test_close_with_timers(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    reset(loop, 10000);
    schedule_many(10000, 100, 100, NULL);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK_EQ(R.fired, 0);
    cio_loop_free(loop);
    free(R.t);
    R.t = NULL;
}

int main(void)
{
    RUN(test_million_virtual);
    RUN(test_million_real);
    RUN(test_cancel_most);
    RUN(test_cancel_while_firing);
    RUN(test_timers_from_timers);
    RUN(test_close_with_timers);
    free(R.t);
    return test_finish();
}
