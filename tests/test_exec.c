/*
 * test_exec.c - the thread pool: cio_to_thread, cio_run_in_executor,
 * executors and their shutdown, cancellation while a call is queued or
 * running, the loop not reporting a deadlock while work is in flight,
 * loop close with work in flight, and allocation failures.
 * CIO_TEST_THREADS (runs under TSan too).
 */
#include <pthread.h>
#include <unistd.h>

#include "helpers.h"

/* A gate a worker blocks on until the test opens it. */
struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    int open;
    int entered;      /* how many fns reached the gate */
    int left;         /* how many passed it */
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->open = g->entered = g->left = 0;
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->m);
    g->open = 1;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static int gate_get(struct gate *g, int *field)
{
    pthread_mutex_lock(&g->m);
    int v = *field;
    pthread_mutex_unlock(&g->m);
    return v;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->c);
    pthread_mutex_destroy(&g->m);
}

static int blocking_fn(void *arg, void **result)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->m);
    g->entered++;
    pthread_cond_broadcast(&g->c);
    while (!g->open)
        pthread_cond_wait(&g->c, &g->m);
    g->left++;
    pthread_mutex_unlock(&g->m);
    *result = (void *)(intptr_t)99;
    return 5;
}

/* Polls (yielding to the loop) until fn has entered the gate n times. */
static int wait_entered(struct gate *g, int n)
{
    for (int i = 0; i < 5000; i++) {
        if (gate_get(g, &g->entered) >= n)
            return 0;
        cio_sleep(0.001);
    }
    return -1;
}

static int double_fn(void *arg, void **result)
{
    *result = (void *)((intptr_t)arg * 2);
    return 0;
}

static int fail_fn(void *arg, void **result)
{
    return -EIO;
}

/* ---- results ------------------------------------------------------------ */

static int results_main(void *arg, void **result)
{
    void *r = NULL;
    CHECK_RC(cio_to_thread(double_fn, (void *)(intptr_t)21, &r), 0);
    CHECK_EQ((intptr_t)r, 42);
    CHECK_RC(cio_to_thread(fail_fn, NULL, &r), -EIO);
    CHECK_RC(cio_to_thread(double_fn, (void *)(intptr_t)1, NULL), 0);
    CHECK_RC(cio_to_thread(NULL, NULL, &r), -EINVAL);
    cio_executor *ex;
    CHECK_RC(cio_executor_new(2, &ex), 0);
    CHECK_RC(cio_run_in_executor(ex, double_fn, (void *)(intptr_t)5, &r), 0);
    CHECK_EQ((intptr_t)r, 10);
    /* An unknown flag bit is refused with nothing done: the pool still
     * takes calls.  (A caller passing the old boolean pair's "1, 1" as
     * flags 3 gets both meanings; anything past them is a mistake.) */
    CHECK_RC(cio_executor_shutdown(ex, 1u << 2), -EINVAL);
    CHECK_RC(cio_executor_shutdown(ex, ~0u), -EINVAL);
    CHECK_RC(cio_run_in_executor(ex, double_fn, (void *)(intptr_t)6, &r), 0);
    CHECK_EQ((intptr_t)r, 12);
    /* Without CIO_SHUTDOWN_WAIT it returns at once and refuses new calls. */
    CHECK_RC(cio_executor_shutdown(ex, 0), 0);
    CHECK_RC(cio_run_in_executor(ex, double_fn, (void *)(intptr_t)6, &r), CIO_ESHUTDOWN);
    cio_executor_free(ex);
    return 0;
}

static void test_results(void)
{
    CHECK_RC(cio_run(results_main, NULL, NULL), 0);
    CHECK_RC(cio_to_thread(double_fn, NULL, NULL), CIO_ENOTASK);
    CHECK_RC(cio_executor_new(0, NULL), -EINVAL);
    CHECK_RC(cio_executor_new(5000, &(cio_executor *){NULL}), -EINVAL);
    CHECK_RC(cio_executor_shutdown(NULL, CIO_SHUTDOWN_WAIT | CIO_SHUTDOWN_CANCEL_FUTURES), -EINVAL);
    cio_executor_free(NULL);
}

/* ---- many concurrent calls, bounded by the pool size --------------------- */

static int running_now, running_max;
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;

static int counted_fn(void *arg, void **result)
{
    pthread_mutex_lock(&running_lock);
    if (++running_now > running_max)
        running_max = running_now;
    pthread_mutex_unlock(&running_lock);
    usleep(200);
    pthread_mutex_lock(&running_lock);
    running_now--;
    pthread_mutex_unlock(&running_lock);
    *result = (void *)((intptr_t)arg + 1);
    return 0;
}

struct many {
    cio_executor *ex;
    intptr_t i;
    int ok;
};

static int many_child(void *arg, void **result)
{
    struct many *m = arg;
    void *r = NULL;
    int rc = cio_run_in_executor(m->ex, counted_fn, (void *)m->i, &r);
    m->ok = rc == 0 && (intptr_t)r == m->i + 1;
    return 0;
}

#define NMANY 300
static int many_main(void *arg, void **result)
{
    static struct many m[NMANY];
    cio_task *t[NMANY];
    cio_executor *ex = arg;
    for (int i = 0; i < NMANY; i++) {
        m[i] = (struct many){.ex = i % 2 ? ex : NULL, .i = i};
        CHECK_RC(cio_create_task(many_child, &m[i], NULL, &t[i]), 0);
    }
    for (int i = 0; i < NMANY; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        CHECK(m[i].ok);
        cio_task_unref(t[i]);
    }
    return 0;
}

static void test_many(void)
{
    cio_executor *ex;
    CHECK_RC(cio_executor_new(3, &ex), 0);
    running_max = 0;
    CHECK_RC(cio_run(many_main, ex, NULL), 0);
    cio_executor_free(ex);
    /* The default pool and ex together: at most 3 + min(32, cpus + 4). */
    CHECK(running_max >= 1);
    CHECK(running_max <= 3 + 32);

    /* A pool of 2 never runs more than 2 at once. */
    CHECK_RC(cio_executor_new(2, &ex), 0);
    running_max = 0;
    CHECK_RC(cio_run(many_main, ex, NULL), 0); /* odd ones on ex */
    cio_executor_free(ex);
}

static int pool2_child(void *arg, void **result)
{
    void *r;
    return cio_run_in_executor(arg, counted_fn, NULL, &r);
}

static int pool2_main(void *arg, void **result)
{
    cio_task *t[40];
    for (int i = 0; i < 40; i++)
        CHECK_RC(cio_create_task(pool2_child, arg, NULL, &t[i]), 0);
    for (int i = 0; i < 40; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        cio_task_unref(t[i]);
    }
    return 0;
}

static void test_pool_bound(void)
{
    cio_executor *ex;
    CHECK_RC(cio_executor_new(2, &ex), 0);
    running_max = 0;
    CHECK_RC(cio_run(pool2_main, ex, NULL), 0);
    cio_executor_free(ex);
    CHECK(running_max >= 1 && running_max <= 2);
}

/* ---- cancellation ------------------------------------------------------- */

static int discards, discard_rc;
static void *discard_result;

static void on_discard(void *arg, int rc, void *result)
{
    discards++;
    discard_rc = rc;
    discard_result = result;
}

struct call {
    cio_executor *ex;
    struct gate *g;
    int rc;
    void *r;
    int returned;
};

static int call_child(void *arg, void **result)
{
    struct call *c = arg;
    c->rc = cio_run_in_executor_discard(c->ex, blocking_fn, c->g, &c->r, on_discard);
    c->returned = 1;
    return c->rc;
}

static int cancel_running_main(void *arg, void **result)
{
    struct gate g;
    gate_init(&g);
    struct call c = {.g = &g};
    cio_task *t;
    discards = 0;
    CHECK_RC(cio_create_task(call_child, &c, "caller", &t), 0);
    CHECK_RC(wait_entered(&g, 1), 0);
    CHECK_EQ(cio_task_cancel(t, NULL), 1);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    /* It returned while fn is still blocked in its thread. */
    CHECK(c.returned);
    CHECK_RC(c.rc, -ECANCELED);
    CHECK_EQ(gate_get(&g, &g.left), 0);
    CHECK_EQ(discards, 0);
    cio_task_unref(t);
    /* Let fn finish: its late result reaches on_discard, not the caller. */
    gate_open(&g);
    for (int i = 0; i < 5000 && !discards; i++)
        cio_sleep(0.001);
    CHECK_EQ(discards, 1);
    CHECK_RC(discard_rc, 5);
    CHECK_EQ((intptr_t)discard_result, 99);
    CHECK(c.r == NULL);
    gate_destroy(&g);
    return 0;
}

static void test_cancel_running(void)
{
    CHECK_RC(cio_run(cancel_running_main, NULL, NULL), 0);
}

/* A one-thread executor with call 1 running (its fn held at gate g1) and
 * call 2 queued behind it (gate g2); discards reset. */
struct pair {
    struct gate g1, g2;  /* hold each call's fn once it runs */
    cio_executor *ex;    /* one thread */
    struct call c1, c2;  /* the calls' outcomes */
    cio_task *t1, *t2;   /* the calling tasks */
};

static void pair_start(struct pair *p, const char *name1, const char *name2)
{
    gate_init(&p->g1);
    gate_init(&p->g2);
    CHECK_RC(cio_executor_new(1, &p->ex), 0);
    p->c1 = (struct call){.ex = p->ex, .g = &p->g1};
    p->c2 = (struct call){.ex = p->ex, .g = &p->g2};
    discards = 0;
    CHECK_RC(cio_create_task(call_child, &p->c1, name1, &p->t1), 0);
    CHECK_RC(wait_entered(&p->g1, 1), 0);
    CHECK_RC(cio_create_task(call_child, &p->c2, name2, &p->t2), 0);
    CHECK_RC(cio_sleep(0.01), 0);
}

/* Releases the tasks and gates (the executor is the test's to free). */
static void pair_end(struct pair *p)
{
    cio_task_unref(p->t1);
    cio_task_unref(p->t2);
    gate_destroy(&p->g1);
    gate_destroy(&p->g2);
}

/* With one thread busy, a second call waits in the queue; cancelling it
 * drops it at once: fn never runs. */
static int cancel_queued_main(void *arg, void **result)
{
    struct pair p;
    pair_start(&p, "busy", "queued");
    CHECK_EQ(cio_task_cancel(p.t2, NULL), 1);
    CHECK_RC(cio_task_await(p.t2, NULL), -ECANCELED);
    CHECK_EQ(discards, 1);  /* at once, fn never ran */
    CHECK_RC(discard_rc, -ECANCELED);
    gate_open(&p.g1);
    gate_open(&p.g2);
    CHECK_RC(cio_task_await(p.t1, NULL), 0);
    CHECK_RC(p.c1.rc, 5);
    CHECK_EQ((intptr_t)p.c1.r, 99);
    cio_executor_free(p.ex);
    CHECK_EQ(gate_get(&p.g2, &p.g2.entered), 0);
    pair_end(&p);
    return 0;
}

static void test_cancel_queued(void)
{
    CHECK_RC(cio_run(cancel_queued_main, NULL, NULL), 0);
}

/* A caller already cancelled never submits. */
static int precancelled_main(void *arg, void **result)
{
    cio_task *self = cio_current_task();
    cio_task_cancel(self, NULL);
    void *r;
    CHECK_RC(cio_to_thread(double_fn, (void *)(intptr_t)1, &r), -ECANCELED);
    return 0;
}

static void test_precancelled(void)
{
    int rc = cio_run(precancelled_main, NULL, NULL);
    CHECK(rc == 0 || rc == -ECANCELED);
}

/* ---- shutdown ---------------------------------------------------------- */

static int shutdown_main(void *arg, void **result)
{
    struct pair p;
    pair_start(&p, "running", "pending");
    /* Cancel what has not started; do not wait. */
    CHECK_RC(cio_executor_shutdown(p.ex, CIO_SHUTDOWN_CANCEL_FUTURES), 0);
    CHECK_RC(cio_task_await(p.t2, NULL), -ECANCELED);
    CHECK_EQ(discards, 0); /* the caller got -ECANCELED itself */
    CHECK_EQ(gate_get(&p.g2, &p.g2.entered), 0);
    /* New calls are refused. */
    void *r;
    CHECK_RC(cio_run_in_executor(p.ex, double_fn, NULL, &r), CIO_ESHUTDOWN);
    /* The running one finishes normally. */
    gate_open(&p.g1);
    CHECK_RC(cio_task_await(p.t1, NULL), 0);
    CHECK_RC(p.c1.rc, 5);
    CHECK_EQ((intptr_t)p.c1.r, 99);
    CHECK_RC(cio_executor_shutdown(p.ex, CIO_SHUTDOWN_WAIT), 0);
    cio_executor_free(p.ex);
    pair_end(&p);
    return 0;
}

static void test_shutdown_cancel_pending(void)
{
    CHECK_RC(cio_run(shutdown_main, NULL, NULL), 0);
}

/* Shut down with cancel_pending and freed at once; the dropped call's
 * caller is cancelled before the loop delivered its -ECANCELED: nothing
 * may touch the freed executor (ASan would see it). */
static int shutdown_free_main(void *arg, void **result)
{
    struct pair p;
    pair_start(&p, "running", "pending");
    CHECK_RC(cio_executor_shutdown(p.ex, CIO_SHUTDOWN_CANCEL_FUTURES), 0);
    gate_open(&p.g1);
    cio_executor_free(p.ex); /* joins: t1's outcome is posted too */
    cio_task_cancel(p.t2, NULL);
    cio_task_cancel(p.t1, NULL);
    CHECK_RC(cio_task_await(p.t2, NULL), -ECANCELED);
    CHECK_RC(cio_task_await(p.t1, NULL), -ECANCELED);
    CHECK_RC(cio_sleep(0.01), 0); /* deliveries: both dropped */
    CHECK_EQ(discards, 2);
    pair_end(&p);
    return 0;
}

static void test_shutdown_free_then_cancel(void)
{
    CHECK_RC(cio_run(shutdown_free_main, NULL, NULL), 0);
}

static int slow_flag, slow_started;
static int slow_fn(void *arg, void **result)
{
    __atomic_store_n(&slow_started, 1, __ATOMIC_RELEASE);
    usleep(50 * 1000);
    __atomic_store_n(&slow_flag, 1, __ATOMIC_RELEASE);
    return 0;
}

static int abandon_child(void *arg, void **result)
{
    return cio_run_in_executor(arg, slow_fn, NULL, NULL);
}

static int shutdown_wait_main(void *arg, void **result)
{
    cio_executor *ex;
    CHECK_RC(cio_executor_new(1, &ex), 0);
    cio_task *t;
    slow_flag = slow_started = 0;
    CHECK_RC(cio_create_task(abandon_child, ex, NULL, &t), 0);
    /* Cancel only once the call runs in its thread (a loaded machine may
     * take a while to start it; a queued call would just be dropped). */
    for (int i = 0; i < 2000 && !__atomic_load_n(&slow_started, __ATOMIC_ACQUIRE); i++)
        CHECK_RC(cio_sleep(0.001), 0);
    CHECK_EQ(__atomic_load_n(&slow_started, __ATOMIC_ACQUIRE), 1);
    cio_task_cancel(t, NULL);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    CHECK_EQ(__atomic_load_n(&slow_flag, __ATOMIC_ACQUIRE), 0);
    /* wait=1 blocks until the running call returned. */
    CHECK_RC(cio_executor_shutdown(ex, CIO_SHUTDOWN_WAIT), 0);
    CHECK_EQ(__atomic_load_n(&slow_flag, __ATOMIC_ACQUIRE), 1);
    cio_executor_free(ex);
    /* Its outcome still arrives and is dropped on the loop. */
    CHECK_RC(cio_sleep(0.01), 0);
    return 0;
}

static void test_shutdown_wait(void)
{
    CHECK_RC(cio_run(shutdown_wait_main, NULL, NULL), 0);
}

/* ---- no deadlock report while work is in flight ---------------------- */

static int sleeper_fn(void *arg, void **result)
{
    usleep(100 * 1000);
    *result = arg;
    return 0;
}

static int inflight_task(void *arg, void **result)
{
    return cio_to_thread(sleeper_fn, (void *)(intptr_t)7, result);
}

static void test_no_deadlock(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, inflight_task, NULL, "inflight", &t), 0);
    void *r = NULL;
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(t), &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    cio_task_unref(t);
    cio_loop_free(loop);
}

/* ---- loop close with calls in flight ------------------------------------- */

static struct gate close_gate;

static void *opener(void *arg)
{
    usleep(30 * 1000);
    gate_open(arg);
    return NULL;
}

static int close_child(void *arg, void **result)
{
    void *r;
    return cio_run_in_executor_discard(NULL, blocking_fn, arg, &r, on_discard);
}

static int close_main(void *arg, void **result)
{
    cio_task *t;
    CHECK_RC(cio_create_task(close_child, &close_gate, "left-running", &t), 0);
    CHECK_RC(wait_entered(&close_gate, 1), 0);
    cio_task_unref(t);
    return 0; /* main ends; cio_run cancels the child and closes the loop */
}

static void test_close_inflight(void)
{
    gate_init(&close_gate);
    discards = 0;
    pthread_t th;
    pthread_create(&th, NULL, opener, &close_gate);
    CHECK_RC(cio_run(close_main, NULL, NULL), 0);
    /* Close waited for the running call, then discarded its outcome. */
    CHECK_EQ(gate_get(&close_gate, &close_gate.left), 1);
    CHECK_EQ(discards, 1);
    pthread_join(th, NULL);
    gate_destroy(&close_gate);
}

/* A loop closed with a call still in flight whose caller is parked (never
 * cancelled: the loop is closed directly). */
static int watcher(void *arg, void **result)
{
    return wait_entered(arg, 1);
}

static void test_close_parked(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    struct gate g;
    gate_init(&g);
    discards = 0;
    cio_task *t, *w;
    CHECK_RC(cio_loop_create_task(loop, close_child, &g, "parked", &t), 0);
    CHECK_RC(cio_loop_create_task(loop, watcher, &g, "watcher", &w), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(w), NULL), 0);
    CHECK(!cio_task_done(t));
    cio_task_unref(w);
    cio_task_unref(t);
    pthread_t th;
    pthread_create(&th, NULL, opener, &g);
    cio_loop_free(loop); /* waits for fn, then discards its outcome */
    CHECK_EQ(gate_get(&g, &g.left), 1);
    CHECK_EQ(discards, 1);
    pthread_join(th, NULL);
    gate_destroy(&g);
}

/* ---- the loop's default executor ------------------------------------------ */

static int default_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    void *r;
    /* The loop's own pool first, then the user's 1-thread pool. */
    CHECK_RC(cio_to_thread(double_fn, (void *)(intptr_t)2, &r), 0);
    CHECK_RC(cio_loop_set_default_executor(loop, arg), 0);
    running_max = 0;
    CHECK_RC(pool2_main(NULL, NULL), 0); /* NULL executor: the default */
    CHECK_EQ(running_max, 1);
    CHECK_RC(cio_loop_set_default_executor(loop, NULL), 0);
    CHECK_RC(cio_to_thread(double_fn, (void *)(intptr_t)3, &r), 0);
    CHECK_EQ((intptr_t)r, 6);
    return 0;
}

static int uses_ex_main(void *arg, void **result)
{
    void *r = NULL;
    CHECK_RC(cio_run_in_executor(arg, double_fn, (void *)(intptr_t)5, &r), 0);
    CHECK_EQ((intptr_t)r, 10);
    return 0;
}

static void test_default_executor(void)
{
    cio_executor *ex;
    CHECK_RC(cio_executor_new(1, &ex), 0);
    CHECK_RC(cio_run(default_main, ex, NULL), 0);
    /* The loop did not shut ex down: it still serves another loop. */
    CHECK_RC(cio_run(uses_ex_main, ex, NULL), 0);
    cio_executor_free(ex);
    CHECK_RC(cio_loop_set_default_executor(NULL, NULL), -EINVAL);
}

/* ---- allocation failures -------------------------------------------------- */

static int alloc_main(void *arg, void **result)
{
    void *r = NULL;
    int rc = cio_to_thread(double_fn, (void *)(intptr_t)4, &r);
    if (rc == 0)
        CHECK_EQ((intptr_t)r, 8);
    else
        CHECK_RC(rc, -ENOMEM);
    return rc;
}

static int alloc_run(long n, void *arg) { return cio_run(alloc_main, NULL, NULL); }

static void test_alloc_failures(void) { test_alloc_sweep(alloc_run, NULL, 200, TEST_ALLOC_ENOMEM); }

int main(void)
{
    RUN(test_results);
    RUN(test_many);
    RUN(test_pool_bound);
    RUN(test_cancel_running);
    RUN(test_cancel_queued);
    RUN(test_precancelled);
    RUN(test_shutdown_cancel_pending);
    RUN(test_shutdown_free_then_cancel);
    RUN(test_shutdown_wait);
    RUN(test_no_deadlock);
    RUN(test_close_inflight);
    RUN(test_close_parked);
    RUN(test_default_executor);
    RUN(test_alloc_failures);
    return test_finish();
}
