/*
 * helpers.h - what many test binaries share, so each test file holds only
 * its cases.  Header-only (static inline), like test.h, so every test_*.c
 * stays one translation unit and CMake needs no change.
 *
 *   1. The counting allocator: fails the Nth allocation (once, or every
 *      one from N on), counts live blocks; test_alloc_sweep, which runs
 *      a scenario for N = 1, 2, ... until a run injects no failure,
 *      checking after each run that nothing leaked; test_guarded, a
 *      watchdog so a stuck run cannot hang the sweep.
 *   2. Loops on the virtual clock: make one, run a main task on one, drain.
 *   3. Exception-handler capture: the last report and the number of them.
 *   4. Log capture: a sink that keeps the lines (thread-safe) for checks.
 *   5. Task shorthands used by the synchronisation and queue tests.
 */
#ifndef CIO_TEST_HELPERS_H
#define CIO_TEST_HELPERS_H

#include <pthread.h>
#include <stdint.h>

#include "test.h"

/* ---- 1. the counting allocator -------------------------------------------- */

/* The allocator's state.  Workers of the thread pools allocate too, so
 * every access is atomic (TSan). */
struct test_alloc_state {
    long calls;    /* allocations (new blocks or growth) since the last begin */
    long fail_at;  /* fail this call (1-based); 0: never */
    int sticky;    /* fail every call from fail_at on, not only that one */
    long live;     /* blocks allocated and not freed */
    long injected; /* failures injected */
};

static inline struct test_alloc_state *test_alloc(void)
{
    static struct test_alloc_state s;
    return &s;
}

#define TEST_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TEST_ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)

/* The cio_alloc_fn: realloc/free with counting and injected failures. */
static inline void *test_counting_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    struct test_alloc_state *a = test_alloc();
    if (size == 0) {
        if (ptr) {
            TEST_ADD(a->live, -1);
            free(ptr);
        }
        return NULL;
    }
    long n = TEST_ADD(a->calls, 1);
    long at = TEST_LOAD(a->fail_at);
    if (at && (n == at || (TEST_LOAD(a->sticky) && n > at))) {
        TEST_ADD(a->injected, 1);
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr)
        TEST_ADD(a->live, 1);
    return p;
}

/* Installs the counting allocator, counts reset, failing allocation
 * fail_at (1-based; 0: none) and, if sticky, every one after it. */
static inline void test_alloc_begin(long fail_at, int sticky)
{
    struct test_alloc_state *a = test_alloc();
    __atomic_store_n(&a->calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&a->live, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&a->injected, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&a->fail_at, fail_at, __ATOMIC_RELAXED);
    __atomic_store_n(&a->sticky, sticky, __ATOMIC_RELAXED);
    CHECK_RC(cio_set_allocator(test_counting_alloc, NULL), 0);
}

/* Makes the allocator fail the nth allocation from now (sticky or not),
 * or (n == 0) none, without resetting the counts. */
static inline void test_alloc_fail_in(long n, int sticky)
{
    struct test_alloc_state *a = test_alloc();
    __atomic_store_n(&a->sticky, sticky, __ATOMIC_RELAXED);
    __atomic_store_n(&a->fail_at, n ? TEST_LOAD(a->calls) + n : 0, __ATOMIC_RELAXED);
}

/* Puts the default allocator back; returns the blocks still live. */
static inline long test_alloc_end(void)
{
    __atomic_store_n(&test_alloc()->fail_at, 0, __ATOMIC_RELAXED);
    CHECK_RC(cio_set_allocator(NULL, NULL), 0);
    return TEST_LOAD(test_alloc()->live);
}

static inline long test_alloc_calls(void) { return TEST_LOAD(test_alloc()->calls); }
static inline long test_alloc_injected(void) { return TEST_LOAD(test_alloc()->injected); }

/* One run of a sweep with allocation n failing; returns the run's status. */
typedef int test_alloc_run_fn(long n, void *arg);

/* Flags for test_alloc_sweep. */
enum {
    TEST_ALLOC_ENOMEM = 1, /* every run must end in 0 or -ENOMEM */
    TEST_ALLOC_STICKY = 2, /* allocation n and all after it fail */
};

/* Runs run(n, arg) with allocation n failing for n = 1, 2, ... (below
 * max_n) until a run injects no failure (n is past the scenario's last
 * allocation); that clean run must return 0.  After every run no block
 * may be live.  Returns the number of allocation points (runs - 1). */
static inline long test_alloc_sweep(test_alloc_run_fn *run, void *arg, long max_n, int flags)
{
    long n;
    int clean = 0;
    for (n = 1; n < max_n && !clean; n++) {
        test_alloc_begin(n, (flags & TEST_ALLOC_STICKY) != 0);
        int before = test_failures;
        int rc = run(n, arg);
        long injected = test_alloc_injected();
        long live = test_alloc_end();
        CHECK_EQ(live, 0); /* no leak */
        if (flags & TEST_ALLOC_ENOMEM)
            CHECK(rc == 0 || rc == -ENOMEM);
        if (!injected) {
            CHECK_RC(rc, 0); /* nothing failed: the scenario works */
            clean = 1;
        }
        if (test_failures != before)
            fprintf(stderr, "  ... with allocation %ld failing, rc %d\n", n, rc);
    }
    CHECK(clean);
    return n - 1 - clean;
}

/* The watchdog of test_guarded: cancels the scenario if it is stuck. */
struct test_guard {
    cio_task *work;  /* the scenario's task */
    double limit;    /* seconds it may take */
};

static inline int test_guard_dog(void *arg, void **result)
{
    (void)result;
    struct test_guard *g = arg;
    if (cio_sleep(g->limit) == 0) {
        fprintf(stderr, "  run with allocation %ld failing is stuck: cancelling it\n",
                TEST_LOAD(test_alloc()->fail_at));
        test_failures++;
        cio_task_cancel(g->work, NULL);
    }
    return 0;
}

/* Inside a task: runs scenario(arg) as a task of its own under a watchdog
 * that fails the test and cancels it after limit seconds, so a run that
 * an injected failure left stuck cannot hang the sweep.  Returns the
 * scenario's status (or -ENOMEM if its task could not be made). */
static inline int test_guarded(cio_coro_fn *scenario, void *arg, double limit)
{
    struct test_guard g = {NULL, limit};
    cio_task *dog;
    int rc = cio_create_task(scenario, arg, "scenario", &g.work);
    if (rc < 0)
        return rc;
    if (cio_create_task(test_guard_dog, &g, "watchdog", &dog) < 0)
        dog = NULL;
    rc = cio_task_await(g.work, NULL);
    cio_task_unref(g.work);
    if (dog) {
        cio_task_cancel(dog, NULL);
        cio_task_await(dog, NULL);
        cio_task_unref(dog);
    }
    return rc;
}

/* ---- 2. loops on the virtual clock ----------------------------------------- */

/* A new loop on the virtual clock (checked). */
static inline cio_loop *test_loop_new_virtual(void)
{
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    return loop;
}

/* Runs fn(arg) as the main task of a fresh loop on the virtual clock, with
 * an exception handler if handler is not NULL; returns its status.  A
 * failure to make the loop (-ENOMEM under fault injection) is returned. */
static inline int test_run_virtual_with(cio_coro_fn *fn, void *arg,
                                        cio_exception_handler_fn *handler, void *hud)
{
    cio_loop *loop;
    int rc = cio_loop_new(&loop);
    if (rc < 0)
        return rc;
    cio_loop_set_virtual_clock(loop, 1);
    if (handler)
        cio_loop_set_exception_handler(loop, handler, hud);
    rc = cio_run_loop(loop, fn, arg, NULL);
    cio_loop_free(loop);
    return rc;
}

static inline int test_run_virtual(cio_coro_fn *fn, void *arg)
{
    return test_run_virtual_with(fn, arg, NULL, NULL);
}

/* Runs the loop until nothing is left to do. */
static inline void test_drain(cio_loop *loop)
{
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
}

/* The running loop's time (inside a task). */

static inline double test_loop_now(void) { return cio_loop_time(cio_get_running_loop()); }

/* ---- 3. exception-handler capture ------------------------------------------- */

/* What the loop reported to its exception handler, last report wins. */
struct test_exc {
    int calls;               /* reports so far */
    int code;                /* the last report's code */
    char message[128];       /* its message */
    char error_message[128]; /* its error message (the failed future's) */
    char source[256];        /* where it was raised */
    char task_name[64];      /* the task's name, "" if no task */
    int had_future, had_task; /* it named a future / a task */
};

/* The handler: pass a struct test_exc as its user data. */
static inline void test_exc_capture(cio_loop *loop, const cio_exception_context *c, void *ud)
{
    struct test_exc *e = ud;
    e->calls++;
    e->code = c->code;
    snprintf(e->message, sizeof e->message, "%s", c->message ? c->message : "");
    snprintf(e->error_message, sizeof e->error_message, "%s",
             c->error_message ? c->error_message : "");
    snprintf(e->source, sizeof e->source, "%s", c->source ? c->source : "");
    snprintf(e->task_name, sizeof e->task_name, "%s", c->task ? cio_task_get_name(c->task) : "");
    e->had_future = c->future != NULL;
    e->had_task = c->task != NULL;
}

/* ---- 4. log capture --------------------------------------------------------- */

#define TEST_LOG_LINES 64

/* Lines the library logged, in order; the sink may be called from any
 * thread, hence the lock. */
struct test_log {
    pthread_mutex_t lock;                   /* guards the rest */
    char lines[TEST_LOG_LINES][1024];       /* the first TEST_LOG_LINES lines */
    cio_log_level levels[TEST_LOG_LINES];   /* their levels */
    int n;                                  /* lines kept */
    int total;                              /* lines seen, kept or not */
};

static inline struct test_log *test_log(void)
{
    static struct test_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    return &l;
}

/* The cio_log_sink_fn that fills test_log(). */
static inline void test_log_sink(void *ud, cio_log_level level, const char *line)
{
    (void)ud;
    struct test_log *l = test_log();
    pthread_mutex_lock(&l->lock);
    if (l->n < TEST_LOG_LINES) {
        snprintf(l->lines[l->n], sizeof l->lines[0], "%s", line);
        l->levels[l->n] = level;
        l->n++;
    }
    l->total++;
    pthread_mutex_unlock(&l->lock);
}

static inline void test_log_reset(void)
{
    struct test_log *l = test_log();
    pthread_mutex_lock(&l->lock);
    l->n = l->total = 0;
    pthread_mutex_unlock(&l->lock);
}

/* Starts capturing at `level` (lines reset); test_log_stop puts the
 * default sink and level (info) back. */
static inline void test_log_start(cio_log_level level)
{
    test_log_reset();
    cio_log_set_sink(test_log_sink, NULL);
    cio_log_set_level(level);
}

static inline void test_log_stop(void)
{
    cio_log_set_sink(NULL, NULL);
    cio_log_set_level(CIO_LOG_INFO);
}

/* Index of the first captured line containing a and b (b may be NULL),
 * or -1. */
static inline int test_log_find(const char *a, const char *b)
{
    struct test_log *l = test_log();
    int found = -1;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->n && found < 0; i++)
        if (strstr(l->lines[i], a) && (!b || strstr(l->lines[i], b)))
            found = i;
    pthread_mutex_unlock(&l->lock);
    return found;
}

static inline void test_log_dump(void)
{
    struct test_log *l = test_log();
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->n; i++)
        fprintf(stderr, "  log[%d]: %s\n", i, l->lines[i]);
    pthread_mutex_unlock(&l->lock);
}

/* ---- 5. task shorthands ------------------------------------------------------ */

/* Creates a task running fn(arg) (checked); NULL if that failed. */
static inline cio_task *test_spawn(cio_coro_fn *fn, void *arg)
{
    cio_task *t = NULL;
    CHECK_RC(cio_create_task(fn, arg, NULL, &t), 0);
    return t;
}

/* Awaits t, releases it, returns its status. */
static inline int test_join(cio_task *t)
{
    int rc = cio_task_await(t, NULL);
    cio_task_unref(t);
    return rc;
}

/* Lets the other ready tasks run n times. */
static inline void test_step(int n)
{
    for (int i = 0; i < n; i++)
        cio_sleep(0);
}

#endif
