/*
 * cio_core.c - cio's side of the core benchmarks (make bench-core).
 *
 *     bench_core GROUP [N]
 *
 * runs one group and prints one line "<bench> <value>" per benchmark it
 * measures; bench/lib.py collects them.  N overrides the iteration count
 * (bench/callgrind.sh runs two counts and divides the difference).  The
 * peers under bench/peers/ take the same arguments and do the same work.
 *
 * Groups, in file order:
 *   raw_switch       two contexts switching with cio__ctx_switch (internal)
 *   yield_roundtrip  two tasks alternating with cio_sleep(0)
 *   spawn_join       create an empty task, await it, release it
 *   pingpong_future  two tasks completing fresh futures for each other
 *   timers           1M cio_call_later with random deadlines over a 1 ms
 *                    window on the real clock: start, fire, cancel
 *   sleep_100k       100k tasks sleeping a random 0-100 ms: wall seconds
 *   tasks_1m_rss     1M tasks parked in cio_sleep: VmRSS bytes per task,
 *                    after idle-stack compaction (on by default; 0.5 s for
 *                    this loop; measured 3 s later); tasks_1m_rss_uncompacted
 *                    is the same before compaction, tasks_1m_pte the
 *                    page tables per task (not in VmRSS)
 *   compact_resume   100k tasks parked on futures resumed: ns per resume
 *                    of a task whose stack is resident (compact_resume_warm)
 *                    and of one whose stack was compacted
 *                    (compact_resume_compacted), and page faults per resume
 *
 * spawn_join, sleep_100k, timers and compact_resume also print the minor page faults
 * (getrusage ru_minflt) per task or timer: *_faults lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include <cio.h>

#include "coro/coro.h"
#include "task/task.h"

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long n_arg;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: the same deterministic sequence every run. */
static uint64_t rng_state = 88172645463325252ull;
static double rnd01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

/* A field of /proc/self/status ("VmRSS", "VmPTE"), bytes. */
static long vm_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256], fmt[64];
    long kb = -1;
    snprintf(fmt, sizeof fmt, "%s: %%ld kB", field);
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static long vm_rss_bytes(void) { return vm_status_bytes("VmRSS"); }

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_core: %s: %s\n", what, cio_strerror(rc));
    exit(1);
}

#define TRY(call)                          \
    do {                                   \
        int rc_ = (call);                  \
        if (rc_ < 0)                       \
            die(#call, rc_);               \
    } while (0)

/* ---- raw_switch ----------------------------------------------------- */

static cio__ctx main_ctx, co_ctx;

static void co_entry(void *arg)
{
    (void)arg;
    cio__ctx_entered();
    for (;;)
        cio__ctx_switch(&co_ctx, &main_ctx, 0);
}

static void bench_raw_switch(long n)
{
    size_t size = 64 * 1024;
    void *stk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stk == MAP_FAILED)
        die("mmap", -1);
    cio__ctx_init_thread(&main_ctx);
    cio__ctx_make(&co_ctx, stk, size, co_entry, NULL);
    for (int i = 0; i < 1000; i++) /* warm up */
        cio__ctx_switch(&main_ctx, &co_ctx, 0);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        cio__ctx_switch(&main_ctx, &co_ctx, 0);
    double t1 = now_s();
    printf("raw_switch %.3f\n", (t1 - t0) * 1e9 / (2.0 * (double)n));
}

/* ---- yield_roundtrip ------------------------------------------------ */

static int yielder(void *arg, void **result)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        if (cio_sleep(0) < 0)
            return -1;
    return 0;
}

static int yield_main(void *arg, void **result)
{
    long n = *(long *)arg;
    cio_task *a, *b;
    long warm = 1000;
    TRY(cio_create_task(yielder, &warm, "a", &a));
    TRY(cio_create_task(yielder, &warm, "b", &b));
    TRY(cio_task_await(a, NULL));
    TRY(cio_task_await(b, NULL));
    cio_task_unref(a);
    cio_task_unref(b);
    double t0 = now_s();
    TRY(cio_create_task(yielder, &n, "a", &a));
    TRY(cio_create_task(yielder, &n, "b", &b));
    TRY(cio_task_await(a, NULL));
    TRY(cio_task_await(b, NULL));
    double t1 = now_s();
    cio_task_unref(a);
    cio_task_unref(b);
    printf("yield_roundtrip %.3f\n", (t1 - t0) * 1e9 / (double)n);
    return 0;
}

/* ---- spawn_join ----------------------------------------------------- */

static int empty_task(void *arg, void **result) { return 0; }

static void spawn_join_n(long n)
{
    for (long i = 0; i < n; i++) {
        cio_task *t;
        TRY(cio_create_task(empty_task, NULL, NULL, &t));
        TRY(cio_task_await(t, NULL));
        cio_task_unref(t);
    }
}

static int spawn_main(void *arg, void **result)
{
    long n = *(long *)arg;
    spawn_join_n(1000);
    long f0 = minflt();
    double t0 = now_s();
    spawn_join_n(n);
    double t1 = now_s();
    long f1 = minflt();
    printf("spawn_join %.3f\n", (t1 - t0) * 1e9 / (double)n);
    printf("spawn_join_faults %.4f\n", (double)(f1 - f0) / (double)n);
    return 0;
}

/* ---- pingpong_future ------------------------------------------------ */

/* Each side waits on a fresh future that the other side completes. */
struct pingpong {
    cio_future *to_a, *to_b; /* what A and B await next */
    long n;
};

static int ponger(void *arg, void **result)
{
    struct pingpong *p = arg;
    for (long i = 0; i < p->n; i++) {
        cio_future *mine = p->to_b;
        TRY(cio_await(mine, NULL));
        cio_future_unref(mine);
        TRY(cio_future_new(NULL, &p->to_b));
        TRY(cio_future_set_result(p->to_a, NULL));
    }
    return 0;
}

static void pingpong_n(long n)
{
    struct pingpong p = {.n = n};
    cio_task *b;
    TRY(cio_future_new(NULL, &p.to_b));
    TRY(cio_create_task(ponger, &p, "b", &b));
    for (long i = 0; i < n; i++) {
        TRY(cio_future_new(NULL, &p.to_a));
        cio_future *mine = p.to_a;
        TRY(cio_future_set_result(p.to_b, NULL));
        TRY(cio_await(mine, NULL));
        cio_future_unref(mine);
    }
    TRY(cio_task_await(b, NULL));
    cio_task_unref(b);
    cio_future_unref(p.to_b);
}

static int pingpong_main(void *arg, void **result)
{
    long n = *(long *)arg;
    pingpong_n(1000);
    double t0 = now_s();
    pingpong_n(n);
    double t1 = now_s();
    /* Two switches per exchange: A -> B, B -> A. */
    printf("pingpong_future %.3f\n", (t1 - t0) * 1e9 / (2.0 * (double)n));
    return 0;
}

/* ---- timers --------------------------------------------------------- */

static long fired, fire_target;
static cio_loop *timer_loop;

static void on_timer(void *arg)
{
    (void)arg;
    if (++fired == fire_target)
        cio_loop_stop(timer_loop);
}

static void bench_timers(long n)
{
    double *delay = malloc((size_t)n * sizeof *delay);
    cio_handle **h = malloc((size_t)n * sizeof *h);
    for (long i = 0; i < n; i++)
        delay[i] = rnd01() * 1e-3;
    TRY(cio_loop_new(&timer_loop));

    /* start: deadlines over a 1 ms window from now. */
    long f0 = minflt();
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        TRY(cio_call_later(timer_loop, delay[i], on_timer, NULL, NULL));
    double t1 = now_s();
    long f1 = minflt();
    /* fire: let every deadline pass (untimed), then run until all fired. */
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    fired = 0;
    fire_target = n;
    double t2 = now_s();
    TRY(cio_loop_run_forever(timer_loop));
    double t3 = now_s();
    if (fired != n)
        die("timers did not all fire", -1);

    /* cancel: n new timers with handles (untimed), then cancel each. */
    for (long i = 0; i < n; i++)
        TRY(cio_call_later(timer_loop, 10.0 + delay[i], on_timer, NULL, &h[i]));
    double t4 = now_s();
    for (long i = 0; i < n; i++)
        cio_handle_cancel(h[i]);
    double t5 = now_s();
    for (long i = 0; i < n; i++)
        cio_handle_unref(h[i]);
    cio_loop_free(timer_loop);
    printf("timers_1m_start %.3f\n", (t1 - t0) * 1e9 / (double)n);
    printf("timers_1m_start_faults %.4f\n", (double)(f1 - f0) / (double)n);
    printf("timers_1m_fire %.3f\n", (t3 - t2) * 1e9 / (double)n);
    printf("timers_1m_cancel %.3f\n", (t5 - t4) * 1e9 / (double)n);
    free(delay);
    free(h);
}

/* ---- sleep_100k ----------------------------------------------------- */

struct sleepers {
    long left;         /* tasks still sleeping */
    cio_future *done;  /* completed by the last one */
    double *delay;     /* each task's delay */
};

static struct sleepers sleepers;

static int sleeper(void *arg, void **result)
{
    double d = *(double *)arg;
    int rc = cio_sleep(d);
    if (--sleepers.left == 0)
        cio_future_set_result(sleepers.done, NULL);
    return rc;
}

static int sleep_main(void *arg, void **result)
{
    long n = *(long *)arg;
    sleepers.delay = malloc((size_t)n * sizeof(double));
    for (long i = 0; i < n; i++)
        sleepers.delay[i] = rnd01() * 0.1;
    long f0 = minflt();
    double t0 = now_s();
    TRY(cio_future_new(NULL, &sleepers.done));
    sleepers.left = n;
    for (long i = 0; i < n; i++)
        TRY(cio_create_task(sleeper, &sleepers.delay[i], NULL, NULL));
    TRY(cio_await(sleepers.done, NULL));
    double t1 = now_s();
    long f1 = minflt();
    cio_future_unref(sleepers.done);
    free(sleepers.delay);
    printf("sleep_100k %.4f\n", t1 - t0);
    printf("sleep_100k_faults %.3f\n", (double)(f1 - f0) / (double)n);
    return 0;
}

/* ---- tasks_1m_rss --------------------------------------------------- */

static int parked(void *arg, void **result) { return cio_sleep(3600); }

static int rss_main(void *arg, void **result)
{
    long n = *(long *)arg;
    long before = vm_rss_bytes(), pte_before = vm_status_bytes("VmPTE");
    for (long i = 0; i < n; i++)
        TRY(cio_create_task(parked, NULL, NULL, NULL));
    TRY(cio_sleep(0)); /* every task runs once and parks */
    long after = vm_rss_bytes();
    printf("tasks_1m_rss_uncompacted %.1f\n", (double)(after - before) / (double)n);
    /* Compaction is on by default after 5 s of waiting; 0.5 s here, so
     * that the parked tasks are compacted at the next trims. */
    cio_loop *loop = cio_get_running_loop();
    TRY(cio_loop_set_stack_compaction(loop, 0.5));
    TRY(cio_sleep(3.0));
    after = vm_rss_bytes();
    printf("tasks_1m_rss %.1f\n", (double)(after - before) / (double)n);
    printf("tasks_1m_compacted %zu\n", loop->sched->ncompacted);
    double live = 0;
    for (cio_task *t = loop->sched->compacted; t; t = t->next)
        live += t->stack->image_len;
    printf("tasks_1m_image_bytes %.1f\n", live / (double)(loop->sched->ncompacted + !loop->sched->ncompacted));
    /* Page tables are not in VmRSS: a stack's 132 KiB of address space
     * costs its share of a page-table page even with no page resident. */
    printf("tasks_1m_pte %.1f\n", (double)(vm_status_bytes("VmPTE") - pte_before) / (double)n);
    fflush(stdout);
    return 0; /* cio_run cancels the sleepers and waits for them */
}

/* ---- compact_resume --------------------------------------------------- */

static struct {
    cio_future **fut[2]; /* per round, per task: what it awaits */
    long left;           /* tasks yet to resume this round */
    cio_future *round;   /* completed by the last to resume */
} cr;

static int cr_worker(void *arg, void **result)
{
    long i = (long)(intptr_t)arg;
    for (int k = 0; k < 2; k++) {
        TRY(cio_await(cr.fut[k][i], NULL));
        if (--cr.left == 0)
            cio_future_set_result(cr.round, NULL);
    }
    return 0;
}

/* Completes every future of round k; returns seconds until all resumed. */
static double cr_round(long n, int k, long *faults)
{
    cr.left = n;
    TRY(cio_future_new(NULL, &cr.round));
    long f0 = minflt();
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        cio_future_set_result(cr.fut[k][i], NULL);
    TRY(cio_await(cr.round, NULL));
    double t1 = now_s();
    *faults = minflt() - f0;
    cio_future_unref(cr.round);
    return t1 - t0;
}

static int compact_resume_main(void *arg, void **result)
{
    long n = *(long *)arg;
    cio_loop *loop = cio_get_running_loop();
    cio_task **t = malloc((size_t)n * sizeof *t);
    for (int k = 0; k < 2; k++) {
        cr.fut[k] = malloc((size_t)n * sizeof(cio_future *));
        for (long i = 0; i < n; i++)
            TRY(cio_future_new(NULL, &cr.fut[k][i]));
    }
    for (long i = 0; i < n; i++)
        TRY(cio_create_task(cr_worker, (void *)(intptr_t)i, NULL, &t[i]));
    TRY(cio_sleep(0)); /* all park in round 0 */
    long fw, fc;
    double warm = cr_round(n, 0, &fw);
    /* All parked again, in round 1: let them be compacted. */
    TRY(cio_loop_set_stack_compaction(loop, 0.2));
    TRY(cio_sleep(2.5));
    size_t nc = loop->sched->ncompacted;
    TRY(cio_loop_set_stack_compaction(loop, 0));
    double cold = cr_round(n, 1, &fc);
    printf("compact_resume_warm %.1f\n", warm * 1e9 / (double)n);
    printf("compact_resume_compacted %.1f\n", cold * 1e9 / (double)n);
    printf("compact_resume_warm_faults %.3f\n", (double)fw / (double)n);
    printf("compact_resume_compacted_faults %.3f\n", (double)fc / (double)n);
    printf("compact_resume_ncompacted %zu\n", nc);
    for (long i = 0; i < n; i++)
        cio_task_unref(t[i]);
    for (int k = 0; k < 2; k++) {
        for (long i = 0; i < n; i++)
            cio_future_unref(cr.fut[k][i]);
        free(cr.fut[k]);
    }
    free(t);
    return 0;
}

/* ---- main ----------------------------------------------------------- */

static long count(long dflt) { return n_arg > 0 ? n_arg : dflt; }

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s GROUP [N]\n", argv[0]);
        return 2;
    }
    const char *g = argv[1];
    n_arg = argc > 2 ? atol(argv[2]) : 0;
    long n;
    if (!strcmp(g, "raw_switch")) {
        bench_raw_switch(count(20000000));
    } else if (!strcmp(g, "yield_roundtrip")) {
        n = count(2000000);
        TRY(cio_run(yield_main, &n, NULL));
    } else if (!strcmp(g, "spawn_join")) {
        n = count(1000000);
        TRY(cio_run(spawn_main, &n, NULL));
    } else if (!strcmp(g, "pingpong_future")) {
        n = count(1000000);
        TRY(cio_run(pingpong_main, &n, NULL));
    } else if (!strcmp(g, "timers")) {
        bench_timers(count(1000000));
    } else if (!strcmp(g, "sleep_100k")) {
        n = count(100000);
        TRY(cio_run(sleep_main, &n, NULL));
    } else if (!strcmp(g, "compact_resume")) {
        n = count(100000);
        TRY(cio_run(compact_resume_main, &n, NULL));
    } else if (!strcmp(g, "tasks_1m_rss")) {
        n = count(1000000);
        TRY(cio_run(rss_main, &n, NULL));
    } else {
        fprintf(stderr, "bench_core: unknown group %s\n", g);
        return 2;
    }
    return 0;
}
