/*
 * test_process.c - the process pool with real forked workers: results and
 * errors, 1 MiB buffers both ways, many concurrent calls on two workers,
 * a crashing worker (CIO_EWORKERDIED, then replaced), cancellation (returns
 * at once, worker killed and replaced), shutdown with a busy worker, and
 * no child left behind after free or loop close (checked in
 * /proc/self/task/<tid>/children and with waitpid).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static int square(const void *in, size_t inlen, void **out, size_t *outlen)
{
    if (inlen != sizeof(int64_t))
        return -EINVAL;
    int64_t v;
    memcpy(&v, in, sizeof v);
    v *= v;
    *out = malloc(sizeof v);
    memcpy(*out, &v, sizeof v);
    *outlen = sizeof v;
    return 0;
}

static int echo(const void *in, size_t inlen, void **out, size_t *outlen)
{
    *out = malloc(inlen ? inlen : 1);
    memcpy(*out, in, inlen);
    *outlen = inlen;
    return (int)(inlen % 100);
}

static int whoami(const void *in, size_t inlen, void **out, size_t *outlen)
{
    int pid = getpid();
    usleep(2000);
    *out = malloc(sizeof pid);
    memcpy(*out, &pid, sizeof pid);
    *outlen = sizeof pid;
    return 0;
}

static int crash(const void *in, size_t inlen, void **out, size_t *outlen)
{
    raise(SIGSEGV);
    return 0;
}

static int fail(const void *in, size_t inlen, void **out, size_t *outlen) { return -EDOM; }

static int nap(const void *in, size_t inlen, void **out, size_t *outlen)
{
    usleep(inlen ? 10 * 1000 * 1000 : 100 * 1000); /* 10 s or 0.1 s */
    return 0;
}

static const cio_process_fn_entry fns[] = {
    {"square", square}, {"echo", echo}, {"whoami", whoami},
    {"crash", crash},   {"fail", fail}, {"nap", nap},
};
#define NFNS (sizeof fns / sizeof fns[0])

/* Number of live children of this thread (zombies included). */
static int children(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)gettid());
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    int count = 0;
    for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
        count++;
    return count;
}

static int gone(int pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) < 0 && errno == ECHILD;
}

/* ---- results ------------------------------------------------------------ */

static int results_main(void *arg, void **result)
{
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(2, fns, NFNS, &pool), 0);
    CHECK_EQ(cio_process_pool_pids(pool, NULL, 0), 2);
    CHECK_EQ(children(), 2);
    int64_t v = 12345, sq = 0;
    void *out;
    size_t outlen;
    CHECK_RC(cio_process_pool_call(pool, "square", &v, sizeof v, &out, &outlen), 0);
    CHECK_EQ(outlen, sizeof sq);
    if (out)
        memcpy(&sq, out, sizeof sq);
    CHECK_EQ(sq, v * v);
    cio_free(out);
    CHECK_RC(cio_process_pool_call(pool, "fail", NULL, 0, &out, &outlen), -EDOM);
    CHECK(out == NULL);
    CHECK_RC(cio_process_pool_call(pool, "nope", NULL, 0, &out, NULL), -ENOENT);
    CHECK_RC(cio_process_pool_call(pool, "square", NULL, 1, &out, NULL), -EINVAL);

    /* 1 MiB each way: more than a pipe holds. */
    size_t big = (1 << 20) + 7;
    char *in = malloc(big);
    for (size_t i = 0; i < big; i++)
        in[i] = (char)(i * 31);
    CHECK_RC(cio_process_pool_call(pool, "echo", in, big, &out, &outlen), (int)(big % 100));
    CHECK_EQ(outlen, big);
    CHECK(out && memcmp(out, in, big) == 0);
    cio_free(out);
    free(in);
    cio_process_pool_free(pool);
    CHECK_EQ(children(), 0);
    return 0;
}

static void test_results(void)
{
    CHECK_RC(cio_run(results_main, NULL, NULL), 0);
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(1, fns, NFNS, &pool), CIO_ENOLOOP);
    CHECK_RC(cio_process_pool_new(1, NULL, 0, &pool), -EINVAL);
}

/* ---- many concurrent calls on two workers ------------------------------- */

struct many {
    cio_process_pool *pool;
    int pid;
};

static int many_child(void *arg, void **result)
{
    struct many *m = arg;
    void *out = NULL;
    size_t outlen;
    int rc = cio_process_pool_call(m->pool, "whoami", NULL, 0, &out, &outlen);
    if (rc == 0 && out && outlen == sizeof m->pid)
        memcpy(&m->pid, out, sizeof m->pid);
    cio_free(out);
    return rc;
}

static int many_main(void *arg, void **result)
{
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(2, fns, NFNS, &pool), 0);
    int pids[2];
    CHECK_EQ(cio_process_pool_pids(pool, pids, 2), 2);
    struct many m[30];
    cio_task *t[30];
    for (int i = 0; i < 30; i++) {
        m[i] = (struct many){pool, 0};
        CHECK_RC(cio_create_task(many_child, &m[i], NULL, &t[i]), 0);
    }
    int seen[2] = {0, 0};
    for (int i = 0; i < 30; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        cio_task_unref(t[i]);
        CHECK(m[i].pid == pids[0] || m[i].pid == pids[1]);
        seen[m[i].pid == pids[1]]++;
    }
    CHECK(seen[0] > 0 && seen[1] > 0); /* both workers served */
    cio_process_pool_free(pool);
    CHECK(gone(pids[0]) && gone(pids[1]));
    return 0;
}

static void test_many(void) { CHECK_RC(cio_run(many_main, NULL, NULL), 0); }

/* ---- a worker crashes ------------------------------------------------------ */

static int crash_main(void *arg, void **result)
{
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(1, fns, NFNS, &pool), 0);
    int before, after;
    cio_process_pool_pids(pool, &before, 1);
    CHECK_RC(cio_process_pool_call(pool, "crash", NULL, 0, NULL, NULL), CIO_EWORKERDIED);
    CHECK(gone(before)); /* reaped */
    CHECK_EQ(cio_process_pool_pids(pool, &after, 1), 1);
    CHECK(after != before);
    int64_t v = 3;
    void *out;
    CHECK_RC(cio_process_pool_call(pool, "square", &v, sizeof v, &out, NULL), 0);
    CHECK(out && *(int64_t *)out == 9);
    cio_free(out);
    /* Killed from outside while idle: the next call finds it dead. */
    kill(after, SIGKILL);
    usleep(20 * 1000);
    int rc = cio_process_pool_call(pool, "square", &v, sizeof v, &out, NULL);
    CHECK_RC(rc, CIO_EWORKERDIED);
    CHECK_RC(cio_process_pool_call(pool, "square", &v, sizeof v, &out, NULL), 0);
    cio_free(out);
    cio_process_pool_free(pool);
    CHECK_EQ(children(), 0);
    return 0;
}

static void test_crash(void) { CHECK_RC(cio_run(crash_main, NULL, NULL), 0); }

/* ---- cancellation ------------------------------------------------------ */

static int long_nap(void *arg, void **result)
{
    return cio_process_pool_call(arg, "nap", "x", 1, NULL, NULL); /* 10 s */
}

static int cancel_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(1, fns, NFNS, &pool), 0);
    int before, after;
    cio_process_pool_pids(pool, &before, 1);
    cio_task *t, *queued;
    CHECK_RC(cio_create_task(long_nap, pool, "nap", &t), 0);
    CHECK_RC(cio_create_task(long_nap, pool, "queued", &queued), 0);
    CHECK_RC(cio_sleep(0.05), 0);
    double t0 = cio_loop_time(loop);
    cio_task_cancel(queued, NULL); /* waiting for a worker */
    CHECK_RC(cio_task_await(queued, NULL), -ECANCELED);
    cio_task_cancel(t, NULL);      /* inside the call */
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    CHECK(cio_loop_time(loop) - t0 < 2.0);
    CHECK(gone(before));
    CHECK_EQ(cio_process_pool_pids(pool, &after, 1), 1);
    CHECK(after != before);
    int64_t v = 4;
    void *out;
    CHECK_RC(cio_process_pool_call(pool, "square", &v, sizeof v, &out, NULL), 0);
    CHECK(out && *(int64_t *)out == 16);
    cio_free(out);
    cio_task_unref(t);
    cio_task_unref(queued);
    cio_process_pool_free(pool);
    return 0;
}

static void test_cancel(void) { CHECK_RC(cio_run(cancel_main, NULL, NULL), 0); }

/* ---- shutdown ----------------------------------------------------------- */

static int short_nap(void *arg, void **result)
{
    return cio_process_pool_call(arg, "nap", NULL, 0, NULL, NULL); /* 0.1 s */
}

static int shutdown_main(void *arg, void **result)
{
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(2, fns, NFNS, &pool), 0);
    cio_task *t;
    CHECK_RC(cio_create_task(short_nap, pool, "busy", &t), 0);
    CHECK_RC(cio_sleep(0.02), 0);
    CHECK_RC(cio_process_pool_shutdown(pool, 0), 0);
    CHECK_EQ(cio_process_pool_pids(pool, NULL, 0), 1); /* the idle one is gone */
    CHECK_RC(cio_process_pool_call(pool, "fail", NULL, 0, NULL, NULL), CIO_ESHUTDOWN);
    CHECK_RC(cio_task_await(t, NULL), 0); /* the running call completes */
    CHECK_EQ(cio_process_pool_pids(pool, NULL, 0), 0);
    CHECK_EQ(children(), 0);
    cio_task_unref(t);
    cio_process_pool_free(pool);

    /* kill_running: the busy call fails with CIO_EWORKERDIED. */
    CHECK_RC(cio_process_pool_new(1, fns, NFNS, &pool), 0);
    CHECK_RC(cio_create_task(long_nap, pool, "killed", &t), 0);
    CHECK_RC(cio_sleep(0.02), 0);
    CHECK_RC(cio_process_pool_shutdown(pool, 1), 0);
    CHECK_RC(cio_task_await(t, NULL), CIO_EWORKERDIED);
    CHECK_EQ(children(), 0);
    cio_task_unref(t);
    cio_process_pool_free(pool);
    return 0;
}

static void test_shutdown(void) { CHECK_RC(cio_run(shutdown_main, NULL, NULL), 0); }

/* The loop closes with the pool alive and a call in flight: no child is
 * left, and the pool can still be freed. */
static cio_process_pool *left_pool;

static int leave_main(void *arg, void **result)
{
    CHECK_RC(cio_process_pool_new(3, fns, NFNS, &left_pool), 0);
    CHECK_RC(cio_create_task(long_nap, left_pool, "in-flight", NULL), 0);
    CHECK_RC(cio_sleep(0.02), 0);
    return 0;
}

static void test_loop_close(void)
{
    CHECK_RC(cio_run(leave_main, NULL, NULL), 0);
    CHECK_EQ(children(), 0);
    cio_process_pool_free(left_pool);
}

/* ---- allocation failures: the Nth allocation fails, for every N ---------- */

/* Runs main under the counting allocator for N = 1, 2, ... until a run
 * makes fewer allocations than N (nothing failed); every run must end in
 * success or -ENOMEM, with no leak and no crash. */
static int alloc_run(long n, void *main_fn) { return cio_run((cio_coro_fn *)main_fn, NULL, NULL); }

static void alloc_sweep(cio_coro_fn *main_fn)
{
    test_alloc_sweep(alloc_run, (void *)main_fn, 400, TEST_ALLOC_ENOMEM);
}

static int alloc_main(void *arg, void **result)
{
    cio_process_pool *pool;
    int rc = cio_process_pool_new(1, fns, NFNS, &pool);
    if (rc)
        return rc;
    int64_t v = 7;
    void *out = NULL;
    rc = cio_process_pool_call(pool, "square", &v, sizeof v, &out, NULL);
    if (rc == 0)
        CHECK(out && *(int64_t *)out == 49);
    cio_free(out);
    cio_process_pool_free(pool);
    CHECK_EQ(children(), 0);
    return rc;
}

static void test_alloc_failures(void) { alloc_sweep(alloc_main); }

int main(void)
{
    RUN(test_results);
    RUN(test_many);
    RUN(test_crash);
    RUN(test_cancel);
    RUN(test_shutdown);
    RUN(test_loop_close);
    RUN(test_alloc_failures);
    return test_finish();
}
