/*
 * test_process.c - the process pool with real forked workers: results and
 * errors, 1 MiB buffers both ways, many concurrent calls on two workers,
 * a crashing worker (CIO_EWORKERDIED, then replaced), cancellation (returns
 * at once, worker killed and replaced), shutdown with a busy worker, and
 * no child left behind after free or loop close (checked in
 * /proc/self/task/<tid>/children and with waitpid), and a worker's printf
 * reaching the parent's stdout (stdin /dev/null).
 */
#include <fcntl.h>
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

/* Prints its input with printf (no fflush of its own, as a ported
 * multiprocessing program would) and returns what read(0) gave. */
static int shout(const void *in, size_t inlen, void **out, size_t *outlen)
{
    printf("worker %d says %.*s\n", (int)getpid(), (int)inlen, (const char *)in);
    fprintf(stderr, "worker stderr %.*s\n", (int)inlen, (const char *)in);
    char c;
    ssize_t n = read(0, &c, 1);
    return n < 0 ? -errno : (int)n;
}

static const cio_process_fn_entry fns[] = {
    {"square", square}, {"echo", echo}, {"whoami", whoami},
    {"crash", crash},   {"fail", fail}, {"nap", nap}, {"shout", shout},
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

/* ---- a worker's output is the parent's --------------------------------- */

/* Reads what is in fd now (non-blocking) into buf; returns the length. */
static size_t drain(int fd, char *buf, size_t cap, size_t have)
{
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    buf[have] = 0;
    return have;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* What fd 1 and fd 2 received during test_worker_stdout. */
static char cap_out[4096], cap_err[4096];

static int stdout_main(void *arg, void **result)
{
    int *fds = arg; /* [0] the stdout pipe's read end, [1] the stderr one's */
    char *out = cap_out, *err = cap_err;
    /* Printed but (stdout being a pipe, fully buffered) not yet written
     * when the workers fork: it must come out once, not once per worker. */
    printf("parent-before-fork\n");
    cio_process_pool *pool;
    CHECK_RC(cio_process_pool_new(2, fns, NFNS, &pool), 0);
    int pids[2] = {0, 0};
    CHECK_EQ(cio_process_pool_pids(pool, pids, 2), 2);
    /* stdin is /dev/null in a worker: read(0) gives 0 (end of file). */
    CHECK_RC(cio_process_pool_call(pool, "shout", "hello", 5, NULL, NULL), 0);
    CHECK_RC(cio_process_pool_call(pool, "shout", "again", 5, NULL, NULL), 0);
    /* The worker flushed before answering: its lines are in the pipes now,
     * while it is still alive. */
    size_t no = drain(fds[0], out, sizeof cap_out, 0);
    size_t ne = drain(fds[1], err, sizeof cap_err, 0);
    CHECK(strstr(out, " says hello\n") != NULL);
    CHECK(strstr(out, " says again\n") != NULL);
    CHECK(strstr(err, "worker stderr hello\n") != NULL);
    char w0[64], w1[64]; /* printed by one of the pool's workers */
    snprintf(w0, sizeof w0, "worker %d says", pids[0]);
    snprintf(w1, sizeof w1, "worker %d says", pids[1]);
    CHECK(strstr(out, w0) || strstr(out, w1));
    cio_process_pool_free(pool);
    fflush(stdout);
    no = drain(fds[0], out, sizeof cap_out, no);
    ne = drain(fds[1], err, sizeof cap_err, ne);
    CHECK_EQ(count(out, "parent-before-fork\n"), 1);
    CHECK_EQ(count(out, " says "), 2);
    CHECK_EQ(count(err, "worker stderr "), 2);
    return 0;
}

static void test_worker_stdout(void)
{
    /* Fd 1 and 2 become non-blocking pipes for the run, then come back. */
    fflush(stdout);
    fflush(stderr);
    int saved[2] = {dup(1), dup(2)};
    int po[2], pe[2];
    CHECK(pipe2(po, O_NONBLOCK) == 0 && pipe2(pe, O_NONBLOCK) == 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[1]);
    close(pe[1]);
    int fds[2] = {po[0], pe[0]};
    int rc = cio_run(stdout_main, fds, NULL);
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    close(saved[0]);
    close(saved[1]);
    /* The checks inside wrote their failures into the captured stderr:
     * show it (and stdout) on the real one when something failed. */
    if (rc != 0 || test_failures)
        fprintf(stderr, "captured stdout:\n%s\ncaptured stderr:\n%s\n", cap_out, cap_err);
    close(po[0]);
    close(pe[0]);
    CHECK_RC(rc, 0);
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
    RUN(test_worker_stdout);
    RUN(test_alloc_failures);
    return test_finish();
}
