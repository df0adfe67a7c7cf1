/*
 * core_libuv.c - libuv's side of the core benchmarks where libuv has the
 * operation: timers (uv_timer_start / firing / uv_timer_stop at 1M).
 *
 *     peer_core_libuv timers [N]
 *
 * prints "<bench> <value>" lines as bench/core/cio_core.c does.  libuv
 * timers have millisecond resolution and count from the cached loop time,
 * so the random 0-1 ms window becomes timeouts of 0 or 1 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

static uint64_t rng_state = 88172645463325252ull;
static double rnd01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long fired;

static void on_timer(uv_timer_t *t)
{
    (void)t;
    fired++;
}

static void bench_timers(long n)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t *tm = malloc((size_t)n * sizeof *tm);
    uint64_t *ms = malloc((size_t)n * sizeof *ms);
    for (long i = 0; i < n; i++) {
        ms[i] = (uint64_t)(rnd01() * 1e-3 * 1e3 + 0.5); /* 0 or 1 ms */
        uv_timer_init(&loop, &tm[i]);
    }
    uv_update_time(&loop);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        uv_timer_start(&tm[i], on_timer, ms[i], 0);
    double t1 = now_s();
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double t2 = now_s();
    while (fired < n)
        uv_run(&loop, UV_RUN_ONCE);
    double t3 = now_s();
    for (long i = 0; i < n; i++)
        uv_timer_start(&tm[i], on_timer, 10000 + ms[i], 0);
    double t4 = now_s();
    for (long i = 0; i < n; i++)
        uv_timer_stop(&tm[i]);
    double t5 = now_s();
    printf("timers_1m_start %.3f\n", (t1 - t0) * 1e9 / (double)n);
    printf("timers_1m_fire %.3f\n", (t3 - t2) * 1e9 / (double)n);
    printf("timers_1m_cancel %.3f\n", (t5 - t4) * 1e9 / (double)n);
    /* The timers are closed with the process; closing a million handles
     * is not what is measured. */
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "timers") != 0) {
        fprintf(stderr, "usage: %s timers [N]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    bench_timers(n);
    return 0;
}
