/*
 * test_backend.c - the I/O backend a loop gets (cio_loop_backend_name),
 * the fallback to epoll when io_uring cannot start, and the behaviours
 * where a completion backend could differ from a readiness one: a
 * descriptor closed under a pending receive (the waiter gets -EBADF and
 * the peer sees EOF at once: the kernel no longer holds the file), a
 * cancelled receive that consumed nothing, more pending operations than
 * the submission queue holds, and a loop closed with operations pending.
 * ctest runs it on both backends like every test.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"

/* Whether this kernel lets us set up an io_uring at all. */
static int kernel_has_uring(void)
{
#ifdef SYS_io_uring_setup
    char params[120]; /* struct io_uring_params */
    memset(params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 2, params);
    if (fd >= 0) {
        close((int)fd);
        return 1;
    }
#endif
    return 0;
}

static void count_cb(void *arg) { (*(int *)arg)++; }
static void stop_cb(void *arg) { cio_loop_stop(arg); }

static int nap(void *arg, void **result) { return cio_sleep(0.01); }

/* ---- the fallback: must run first (it is logged once per process) ------- */

static void test_fallback(void)
{
    const char *was = getenv("CIO_BACKEND");
    char *saved = was ? strdup(was) : NULL;
    setenv("CIO_BACKEND", "io_uring", 1);
    setenv("CIO_BACKEND_TEST_FAIL_URING", "1", 1);
    test_log_start(CIO_LOG_DEBUG);
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    test_log_stop();
    CHECK(loop != NULL);
    if (loop) {
        CHECK(strcmp(cio_loop_backend_name(loop), "epoll") == 0);
        /* A build without io_uring says so; one with it says setup failed. */
        CHECK(test_log_find("io_uring backend unavailable", "using epoll") >= 0 ||
              test_log_find("not available in this build", "using epoll") >= 0);
        /* And the loop works. */
        int n = 0;
        CHECK_RC(cio_call_soon(loop, count_cb, &n, NULL), 0);
        CHECK_RC(cio_call_soon(loop, stop_cb, loop, NULL), 0);
        CHECK_RC(cio_loop_run_forever(loop), 0);
        CHECK_EQ(n, 1);
        cio_loop_free(loop);
    }
    unsetenv("CIO_BACKEND_TEST_FAIL_URING");
    if (saved) {
        setenv("CIO_BACKEND", saved, 1);
        free(saved);
    } else {
        unsetenv("CIO_BACKEND");
    }
}

/* ---- which backend --------------------------------------------------------- */

static void test_name(void)
{
    CHECK(cio_loop_backend_name(NULL) == NULL);
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    const char *name = cio_loop_backend_name(loop);
    CHECK(name != NULL);
    const char *want = getenv("CIO_BACKEND");
    if (name && want && strcmp(want, "epoll") == 0)
        CHECK(strcmp(name, "epoll") == 0);
    else if (name && want && strcmp(want, "io_uring") == 0 && kernel_has_uring())
        /* (a build without liburing falls back, and says so) */
        CHECK(strcmp(name, "io_uring") == 0 || strcmp(name, "epoll") == 0);
    CHECK_RC(cio_loop_close(loop), 0);
    CHECK(cio_loop_backend_name(loop) == NULL);
    cio_loop_free(loop);
}

/* ---- closing under a pending receive ---------------------------------------- */

struct pair {
    int sv[2];
    int rc;
    char buf[16];
};

static int recv_task(void *arg, void **result)
{
    struct pair *p = arg;
    p->rc = cio_sock_recv_into(p->sv[0], p->buf, sizeof p->buf);
    return 0;
}

static int close_main(void *arg, void **result)
{
    struct pair p = {.rc = 1};
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p.sv), 0);
    cio_task *t;
    CHECK_RC(cio_create_task(recv_task, &p, "recv", &t), 0);
    CHECK_RC(cio_sleep(0.01), 0); /* the receive is pending */
    CHECK_EQ(p.rc, 1);
    CHECK_RC(cio_fd_close(p.sv[0]), 0);
    /* The peer sees EOF now: nothing holds the closed socket. */
    char c;
    CHECK_EQ(recv(p.sv[1], &c, 1, MSG_DONTWAIT), 0);
    CHECK_RC(cio_task_await(t, NULL), 0);
    CHECK_RC(p.rc, -EBADF);
    cio_task_unref(t);
    close(p.sv[1]);
    return 0;
}

static void test_close_pending(void) { CHECK_RC(cio_run(close_main, NULL, NULL), 0); }

/* ---- a cancelled receive consumed nothing ------------------------------------ */

static int cancel_main(void *arg, void **result)
{
    struct pair p = {.rc = 1};
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p.sv), 0);
    cio_task *t;
    CHECK_RC(cio_create_task(recv_task, &p, "recv", &t), 0);
    CHECK_RC(cio_sleep(0.01), 0);
    CHECK_RC(cio_task_cancel(t, NULL), 1);
    CHECK_RC(cio_task_await(t, NULL), 0);
    CHECK_RC(p.rc, -ECANCELED); /* the receive ended cancelled */
    cio_task_unref(t);
    CHECK_EQ(send(p.sv[1], "xy", 2, 0), 2);
    char buf[4];
    CHECK_RC(cio_sock_recv_into(p.sv[0], buf, sizeof buf), 2);
    CHECK(memcmp(buf, "xy", 2) == 0);
    close(p.sv[0]);
    close(p.sv[1]);
    return 0;
}

static void test_cancel_pending(void) { CHECK_RC(cio_run(cancel_main, NULL, NULL), 0); }

/* ---- more pending operations than the submission queue has entries ------- */

enum { MANY = 600 };

static int many_main(void *arg, void **result)
{
    static struct pair p[MANY];
    static cio_task *t[MANY];
    for (int i = 0; i < MANY; i++) {
        p[i] = (struct pair){.rc = 1};
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p[i].sv), 0);
        CHECK_RC(cio_create_task(recv_task, &p[i], NULL, &t[i]), 0);
    }
    CHECK_RC(cio_sleep(0.01), 0);
    for (int i = 0; i < MANY; i++)
        CHECK_EQ(send(p[i].sv[1], "m", 1, 0), 1);
    for (int i = 0; i < MANY; i++) {
        CHECK_RC(cio_task_await(t[i], NULL), 0);
        CHECK_RC(p[i].rc, 1);
        cio_task_unref(t[i]);
        close(p[i].sv[0]);
        close(p[i].sv[1]);
    }
    return 0;
}

static void test_many_pending(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * MANY + 64) {
        test_skip_case("RLIMIT_NOFILE too low for 1200 descriptors");
        return;
    }
    CHECK_RC(cio_run(many_main, NULL, NULL), 0);
}

/* ---- a loop closed with operations pending ------------------------------------ */

static void test_close_loop_pending(void)
{
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    struct pair p = {.rc = 1};
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p.sv), 0);
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, recv_task, &p, NULL, &t), 0);
    cio_task *sleeper;
    CHECK_RC(cio_loop_create_task(loop, nap, NULL, NULL, &sleeper), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(sleeper), NULL), 0);
    cio_task_unref(sleeper);
    CHECK_EQ(p.rc, 1);
    /* The task is parked in its receive (on its own stack); closing the
     * loop destroys it, and nothing may write to that stack afterwards. */
    cio_task_unref(t);
    CHECK_RC(cio_loop_close(loop), 0);
    cio_loop_free(loop);
    CHECK_EQ(send(p.sv[1], "late", 4, 0), 4); /* nobody receives it */
    close(p.sv[0]);
    close(p.sv[1]);
}

int main(void)
{
    RUN(test_fallback);
    RUN(test_name);
    RUN(test_close_pending);
    RUN(test_cancel_pending);
    RUN(test_many_pending);
    RUN(test_close_loop_pending);
    return test_finish();
}
