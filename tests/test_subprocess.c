/*
 * test_subprocess.c - child processes with real programs (cat, sh, sleep,
 * true): pipes both ways, communicate with more data than a pipe holds,
 * exit codes and signals, a missing program, cancellation while waiting
 * and communicating, EPIPE without SIGPIPE, and no zombie left behind
 * (waitpid(WNOHANG) says ECHILD once cio is done with a child).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* 1 if pid is no child of ours any more (reaped: no zombie). */
static int gone(int pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) < 0 && errno == ECHILD;
}

static const cio_subprocess_options all_pipes = {
    .stdin_mode = CIO_SUBPROCESS_PIPE,
    .stdout_mode = CIO_SUBPROCESS_PIPE,
    .stderr_mode = CIO_SUBPROCESS_PIPE,
};

/* ---- echo through cat ------------------------------------------------ */

static int cat_main(void *arg, void **result)
{
    cio_subprocess *p;
    char *argv[] = {"cat", NULL};
    CHECK_RC(cio_create_subprocess_exec("cat", argv, &all_pipes, &p), 0);
    CHECK(cio_subprocess_pid(p) > 0);
    int code = 12345;
    CHECK_EQ(cio_subprocess_returncode(p, &code), 0);
    CHECK_RC(cio_subprocess_write(p, "hello, cat\n", 11), 0);
    char buf[64];
    int n = cio_subprocess_read(p, 1, buf, sizeof buf);
    CHECK_EQ(n, 11);
    CHECK(n == 11 && memcmp(buf, "hello, cat\n", 11) == 0);
    CHECK_RC(cio_subprocess_close_stdin(p), 0);
    CHECK_RC(cio_subprocess_close_stdin(p), -EBADF);
    CHECK_RC(cio_subprocess_write(p, "x", 1), -EBADF);
    CHECK_EQ(cio_subprocess_read(p, 1, buf, sizeof buf), 0); /* EOF */
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(cio_subprocess_returncode(p, &code), 1);
    CHECK(gone(cio_subprocess_pid(p)));
    cio_subprocess_free(p);
    return 0;
}

static void test_cat(void) { CHECK_RC(cio_run(cat_main, NULL, NULL), 0); }

/* ---- communicate: 1 MiB through cat, both directions at once -------------- */

static int communicate_main(void *arg, void **result)
{
    size_t len = 1 << 20;
    char *in = malloc(len);
    for (size_t i = 0; i < len; i++)
        in[i] = (char)('a' + i % 26);
    cio_subprocess *p;
    char *argv[] = {"cat", NULL};
    CHECK_RC(cio_create_subprocess_exec("cat", argv, &all_pipes, &p), 0);
    char *out = NULL, *err = NULL;
    size_t outlen = 0, errlen = 99;
    CHECK_RC(cio_subprocess_communicate(p, in, len, &out, &outlen, &err, &errlen), 0);
    CHECK_EQ(outlen, len);
    CHECK(out && memcmp(out, in, len) == 0);
    CHECK(err && errlen == 0 && err[0] == 0);
    int code = -1;
    CHECK_EQ(cio_subprocess_returncode(p, &code), 1);
    CHECK_EQ(code, 0);
    cio_free(out);
    cio_free(err);
    cio_subprocess_free(p);
    free(in);
    return 0;
}

static void test_communicate(void) { CHECK_RC(cio_run(communicate_main, NULL, NULL), 0); }

/* ---- shell, exit codes, stderr, options ------------------------------- */

static int shell_main(void *arg, void **result)
{
    cio_subprocess *p;
    CHECK_RC(cio_create_subprocess_shell("echo out; echo err >&2; exit 3", &all_pipes, &p), 0);
    char *out, *err;
    size_t outlen, errlen;
    CHECK_RC(cio_subprocess_communicate(p, NULL, 0, &out, &outlen, &err, &errlen), 0);
    CHECK(out && strcmp(out, "out\n") == 0);
    CHECK(err && strcmp(err, "err\n") == 0);
    int code;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, 3);
    cio_free(out);
    cio_free(err);
    cio_subprocess_free(p);

    /* stderr into stdout; cwd and env. */
    cio_subprocess_options o = {.stdin_mode = CIO_SUBPROCESS_DEVNULL,
                             .stdout_mode = CIO_SUBPROCESS_PIPE,
                             .stderr_mode = CIO_SUBPROCESS_STDOUT,
                             .cwd = "/tmp",
                             .env = (char *const[]){"FOO=bar", NULL}};
    CHECK_RC(cio_create_subprocess_shell("pwd; echo $FOO >&2; cat", &o, &p), 0);
    CHECK_RC(cio_subprocess_communicate(p, NULL, 0, &out, NULL, &err, NULL), 0);
    CHECK(out && strcmp(out, "/tmp\nbar\n") == 0);
    CHECK(err == NULL);
    CHECK_RC(cio_subprocess_write(p, "x", 1), -EBADF);
    cio_free(out);
    cio_subprocess_free(p);

    /* A program that does not exist. */
    char *argv[] = {"no-such-program-cio", NULL};
    CHECK_RC(cio_create_subprocess_exec("no-such-program-cio", argv, NULL, &p), -ENOENT);
    CHECK_RC(cio_create_subprocess_exec(NULL, argv, NULL, &p), -EINVAL);
    cio_subprocess_options bad = {.stdin_mode = CIO_SUBPROCESS_STDOUT};
    CHECK_RC(cio_create_subprocess_exec("true", (char *[]){"true", NULL}, &bad, &p), -EINVAL);
    return 0;
}

static void test_shell(void)
{
    CHECK_RC(cio_run(shell_main, NULL, NULL), 0);
    cio_subprocess *p;
    CHECK_RC(cio_create_subprocess_shell("true", NULL, &p), CIO_ENOLOOP);
}

/* ---- signals: kill, terminate ------------------------------------------- */

static int kill_main(void *arg, void **result)
{
    cio_subprocess *p;
    char *argv[] = {"sleep", "10", NULL};
    CHECK_RC(cio_create_subprocess_exec("sleep", argv, NULL, &p), 0);
    CHECK_RC(cio_subprocess_kill(p), 0);
    int code;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, -SIGKILL);
    CHECK_RC(cio_subprocess_kill(p), 0); /* already reaped: nothing sent */
    CHECK(gone(cio_subprocess_pid(p)));
    cio_subprocess_free(p);

    CHECK_RC(cio_create_subprocess_exec("sleep", argv, NULL, &p), 0);
    CHECK_RC(cio_subprocess_terminate(p), 0);
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, -SIGTERM);
    CHECK_RC(cio_subprocess_send_signal(p, 0), -EINVAL);
    cio_subprocess_free(p);
    return 0;
}

static void test_kill(void) { CHECK_RC(cio_run(kill_main, NULL, NULL), 0); }

/* ---- cancellation while waiting / communicating -------------------------- */

static int waiter(void *arg, void **result)
{
    int code;
    return cio_subprocess_wait(arg, &code);
}

static int communicator(void *arg, void **result)
{
    char *out;
    return cio_subprocess_communicate(arg, NULL, 0, &out, NULL, NULL, NULL);
}

static int cancel_main(void *arg, void **result)
{
    cio_subprocess *p;
    CHECK_RC(cio_create_subprocess_shell("exec sleep 10", &all_pipes, &p), 0);
    cio_task *w1, *w2, *c;
    CHECK_RC(cio_create_task(waiter, p, "w1", &w1), 0);
    CHECK_RC(cio_create_task(waiter, p, "w2", &w2), 0);
    CHECK_RC(cio_create_task(communicator, p, "comm", &c), 0);
    CHECK_RC(cio_sleep(0.05), 0);
    double t0 = cio_loop_time(cio_get_running_loop());
    cio_task_cancel(w1, NULL);
    cio_task_cancel(c, NULL);
    CHECK_RC(cio_task_await(w1, NULL), -ECANCELED);
    CHECK_RC(cio_task_await(c, NULL), -ECANCELED);
    CHECK(cio_loop_time(cio_get_running_loop()) - t0 < 1.0);
    int code;
    CHECK_EQ(cio_subprocess_returncode(p, &code), 0); /* still running */
    CHECK(!cio_task_done(w2));
    /* The pipes are free again after the cancelled communicate. */
    CHECK_RC(cio_subprocess_kill(p), 0);
    CHECK_RC(cio_task_await(w2, NULL), 0);
    CHECK_EQ(cio_subprocess_returncode(p, &code), 1);
    CHECK_EQ(code, -SIGKILL);
    char buf[8];
    CHECK_EQ(cio_subprocess_read(p, 1, buf, sizeof buf), 0);
    cio_task_unref(w1);
    cio_task_unref(w2);
    cio_task_unref(c);
    cio_subprocess_free(p);
    return 0;
}

static void test_cancel(void) { CHECK_RC(cio_run(cancel_main, NULL, NULL), 0); }

/* ---- EPIPE without SIGPIPE ------------------------------------------------- */

static int epipe_main(void *arg, void **result)
{
    cio_subprocess *p;
    cio_subprocess_options o = {.stdin_mode = CIO_SUBPROCESS_PIPE};
    CHECK_RC(cio_create_subprocess_exec("true", (char *[]){"true", NULL}, &o, &p), 0);
    CHECK_RC(cio_subprocess_wait(p, NULL), 0);
    static char big[1 << 17];
    CHECK_RC(cio_subprocess_write(p, big, sizeof big), -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    cio_subprocess_free(p);
    return 0;
}

static void test_epipe(void) { CHECK_RC(cio_run(epipe_main, NULL, NULL), 0); }

/* ---- no zombies --------------------------------------------------------- */

static int unwaited_pid, running_pid;
static cio_subprocess *left_running;

static int zombie_main(void *arg, void **result)
{
    cio_subprocess *p;
    /* Nobody waits: it is reaped anyway once it exits. */
    CHECK_RC(cio_create_subprocess_exec("true", (char *[]){"true", NULL}, NULL, &p), 0);
    unwaited_pid = cio_subprocess_pid(p);
    int code;
    for (int i = 0; i < 500 && !cio_subprocess_returncode(p, &code); i++)
        cio_sleep(0.01);
    CHECK_EQ(cio_subprocess_returncode(p, &code), 1);
    CHECK(gone(unwaited_pid));
    cio_subprocess_free(p);

    /* Freed while running: killed and reaped. */
    CHECK_RC(cio_create_subprocess_exec("sleep", (char *[]){"sleep", "10", NULL}, NULL, &p), 0);
    int pid = cio_subprocess_pid(p);
    cio_subprocess_free(p);
    CHECK(gone(pid));

    /* Left running when the loop closes: the loop kills and reaps it. */
    CHECK_RC(cio_create_subprocess_exec("sleep", (char *[]){"sleep", "10", NULL}, &all_pipes,
                                        &left_running), 0);
    running_pid = cio_subprocess_pid(left_running);
    return 0;
}

static void test_no_zombies(void)
{
    CHECK_RC(cio_run(zombie_main, NULL, NULL), 0);
    CHECK(gone(running_pid));
    int code;
    CHECK_EQ(cio_subprocess_returncode(left_running, &code), 1);
    CHECK_EQ(code, -SIGKILL);
    cio_subprocess_free(left_running);
}

/* ---- many at once ------------------------------------------------------- */

static int one_child(void *arg, void **result)
{
    intptr_t i = (intptr_t)arg;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "echo %ld; exit %ld", (long)i, (long)(i % 7));
    cio_subprocess *p;
    cio_subprocess_options o = {.stdout_mode = CIO_SUBPROCESS_PIPE};
    int rc = cio_create_subprocess_shell(cmd, &o, &p);
    if (rc)
        return rc;
    char *out;
    rc = cio_subprocess_communicate(p, NULL, 0, &out, NULL, NULL, NULL);
    int code = -1;
    cio_subprocess_returncode(p, &code);
    char want[32];
    snprintf(want, sizeof want, "%ld\n", (long)i);
    if (rc == 0 && (strcmp(out, want) != 0 || code != i % 7))
        rc = -EIO;
    cio_free(out);
    cio_subprocess_free(p);
    return rc;
}

static int many_main(void *arg, void **result)
{
    cio_task *t[20];
    for (intptr_t i = 0; i < 20; i++)
        CHECK_RC(cio_create_task(one_child, (void *)i, NULL, &t[i]), 0);
    for (int i = 0; i < 20; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        cio_task_unref(t[i]);
    }
    return 0;
}

static void test_many(void) { CHECK_RC(cio_run(many_main, NULL, NULL), 0); }

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
    cio_subprocess *p;
    int rc = cio_create_subprocess_exec("cat", (char *[]){"cat", NULL}, &all_pipes, &p);
    if (rc)
        return rc;
    char *out = NULL, *err = NULL;
    rc = cio_subprocess_communicate(p, "abc", 3, &out, NULL, &err, NULL);
    if (rc == 0)
        CHECK(out && strcmp(out, "abc") == 0);
    int pid = cio_subprocess_pid(p);
    cio_free(out);
    cio_free(err);
    cio_subprocess_free(p);
    CHECK(gone(pid));
    return rc;
}

static void test_alloc_failures(void) { alloc_sweep(alloc_main); }

/* The same again without pidfd (kernels before 5.3): the waitpid poll. */
extern int cio__subprocess_no_pidfd;

int main(void)
{
    RUN(test_cat);
    RUN(test_communicate);
    RUN(test_shell);
    RUN(test_kill);
    RUN(test_cancel);
    RUN(test_epipe);
    RUN(test_no_zombies);
    RUN(test_many);
    RUN(test_alloc_failures);
    cio__subprocess_no_pidfd = 1;
    RUN(test_cat);
    RUN(test_kill);
    RUN(test_cancel);
    RUN(test_no_zombies);
    return test_finish();
}
