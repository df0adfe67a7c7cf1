/*
 * test_fd.c - descriptor readiness callbacks (cio_loop_add_reader/writer,
 * remove_reader/writer) on pipes and socketpairs: level-triggered
 * behaviour, replacing a callback, both directions on one descriptor,
 * removal from inside the callback, and the errors: -EBADF, -EPERM for a
 * regular file, -EBUSY while a task is parked on the descriptor.
 */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "task/task.h" /* white box: cio__fd_wait, to park a task on an fd */

static cio_loop *new_loop(void)
{
    cio_loop *loop = NULL;
    CHECK_RC(cio_loop_new(&loop), 0);
    return loop;
}

/* Runs exactly `n` loop iterations: a callback that re-schedules itself
 * n times, then stops the loop. */
struct iters {
    cio_loop *loop;
    int left;
};

static void iter_cb(void *arg)
{
    struct iters *it = arg;
    if (--it->left <= 0)
        cio_loop_stop(it->loop);
    else
        cio_call_soon(it->loop, iter_cb, it, NULL);
}

static void run_iterations(cio_loop *loop, int n)
{
    struct iters it = {loop, n};
    CHECK_RC(cio_call_soon(loop, iter_cb, &it, NULL), 0);
    CHECK_RC(cio_loop_run_forever(loop), 0);
}

/* The loop has nothing left to watch: run_until_complete says deadlock. */
static void expect_idle(cio_loop *loop)
{
    cio_future *never;
    CHECK_RC(cio_future_new(loop, &never), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, never, NULL), CIO_ESTALLED);
    cio_future_unref(never);
}

struct counter {
    int n;
    int fd;
    int drain;      /* read what is there */
    int remove_at;  /* remove self at this count (0: never) */
    cio_loop *loop;
    int remove_rc;
};

static void on_ready(void *arg)
{
    struct counter *c = arg;
    c->n++;
    if (c->drain) {
        char buf[64];
        while (read(c->fd, buf, sizeof buf) > 0) {
        }
    }
    if (c->remove_at && c->n == c->remove_at)
        c->remove_rc = cio_loop_remove_reader(c->loop, c->fd);
}

static void on_writable(void *arg)
{
    struct counter *c = arg;
    c->n++;
    if (c->remove_at && c->n == c->remove_at)
        c->remove_rc = cio_loop_remove_writer(c->loop, c->fd);
}

static void test_pipe_reader_level_triggered(void)
{
    cio_loop *loop = new_loop();
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct counter c = {.fd = p[0], .loop = loop};
    CHECK_RC(cio_loop_add_reader(loop, p[0], on_ready, &c), 0);
    run_iterations(loop, 5);
    CHECK_EQ(c.n, 0); /* nothing to read yet */
    CHECK_EQ(write(p[1], "x", 1), 1);
    /* Level-triggered: the callback runs every iteration while data sits
     * unread. */
    run_iterations(loop, 5);
    CHECK(c.n >= 4);
    int before = c.n;
    c.drain = 1;
    run_iterations(loop, 5);
    CHECK_EQ(c.n, before + 1); /* drained on its first run, then quiet */
    CHECK_RC(cio_loop_remove_reader(loop, p[0]), 1);
    CHECK_RC(cio_loop_remove_reader(loop, p[0]), 0);
    CHECK_EQ(write(p[1], "y", 1), 1);
    run_iterations(loop, 3);
    CHECK_EQ(c.n, before + 1);
    expect_idle(loop);
    close(p[0]);
    close(p[1]);
    cio_loop_free(loop);
}

static void test_writer_and_replace(void)
{
    cio_loop *loop = new_loop();
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    struct counter w = {.fd = sv[0], .loop = loop, .remove_at = 3};
    CHECK_RC(cio_loop_add_writer(loop, sv[0], on_writable, &w), 0);
    /* Reader on the same descriptor at the same time. */
    struct counter r1 = {.fd = sv[0], .loop = loop}, r2 = {.fd = sv[0], .loop = loop, .drain = 1};
    CHECK_RC(cio_loop_add_reader(loop, sv[0], on_ready, &r1), 0);
    /* Replacing: the same fd, a new callback; the old one never runs. */
    CHECK_RC(cio_loop_add_reader(loop, sv[0], on_ready, &r2), 0);
    CHECK_EQ(write(sv[1], "hello", 5), 5);
    run_iterations(loop, 6);
    CHECK_EQ(w.n, 3); /* writable each iteration until it removed itself */
    CHECK_RC(w.remove_rc, 1);
    CHECK_EQ(r1.n, 0);
    CHECK_EQ(r2.n, 1);
    CHECK_RC(cio_loop_remove_writer(loop, sv[0]), 0);
    CHECK_RC(cio_loop_remove_reader(loop, sv[0]), 1);
    expect_idle(loop); /* replaced, not added twice: nothing left watched */

    /* The peer hangs up: a reader sees it (EOF is readable). */
    struct counter eof = {.fd = sv[0], .loop = loop, .remove_at = 1};
    CHECK_RC(cio_loop_add_reader(loop, sv[0], on_ready, &eof), 0);
    close(sv[1]);
    run_iterations(loop, 3);
    CHECK_EQ(eof.n, 1);
    CHECK_RC(eof.remove_rc, 1);
    close(sv[0]);
    cio_loop_free(loop);
}

static void test_errors(void)
{
    cio_loop *loop = new_loop();
    struct counter c = {0};
    CHECK_RC(cio_loop_add_reader(loop, -1, on_ready, &c), -EBADF);
    CHECK_RC(cio_loop_add_writer(loop, -5, on_ready, &c), -EBADF);
    /* Not open. */
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    close(p[1]);
    CHECK_RC(cio_loop_add_reader(loop, p[0], on_ready, &c), -EBADF);
    /* A huge descriptor number that is not open: -EBADF, not an attempt
     * to size the slot table for it. */
    CHECK_RC(cio_loop_add_reader(loop, 1 << 30, on_ready, &c), -EBADF);
    CHECK_RC(cio_loop_add_writer(loop, 0x7ffffff0, on_ready, &c), -EBADF);
    /* A regular file: epoll refuses it. */
    char path[] = "/tmp/cio_test_fd_XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    unlink(path);
    CHECK_RC(cio_loop_add_reader(loop, f, on_ready, &c), -EPERM);
    CHECK_RC(cio_loop_add_writer(loop, f, on_ready, &c), -EPERM);
    CHECK_RC(cio_loop_remove_reader(loop, f), 0);
    close(f);
    CHECK_RC(cio_loop_add_reader(loop, 0, NULL, &c), -EINVAL);
    CHECK_RC(cio_loop_add_reader(NULL, 0, on_ready, &c), -EINVAL);
    CHECK_RC(cio_loop_remove_reader(loop, -1), 0);
    CHECK_RC(cio_loop_remove_writer(loop, 1 << 30), 0);
    CHECK_RC(cio_loop_remove_reader(NULL, 0), -EINVAL);
    expect_idle(loop); /* no failed call left anything watched */
    CHECK_EQ(c.n, 0);
    cio_loop_free(loop);
}

/* Closing the loop with readers registered forgets them; the descriptor
 * stays the caller's. */
static void test_close_with_readers(void)
{
    cio_loop *loop = new_loop();
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct counter c = {.fd = p[0]};
    CHECK_RC(cio_loop_add_reader(loop, p[0], on_ready, &c), 0);
    CHECK_RC(cio_loop_add_writer(loop, p[1], on_writable, &c), 0);
    cio_loop_free(loop);
    CHECK_EQ(write(p[1], "z", 1), 1); /* still open and ours */
    CHECK_EQ(c.n, 0);
    close(p[0]);
    close(p[1]);
}

/* A descriptor a task is parked on refuses callbacks (-EBUSY); once the
 * task is done with it, callbacks may take it over. */
struct parked {
    cio_loop *loop;
    int fd;
    int rc;
};

static int park_on_fd(void *arg, void **result)
{
    struct parked *p = arg;
    p->rc = cio__fd_wait(p->fd, 0);
    return 0;
}

static void try_add(void *arg)
{
    struct parked *p = arg;
    struct counter c = {0};
    CHECK_RC(cio_loop_add_reader(p->loop, p->fd, on_ready, &c), -EBUSY);
    CHECK_EQ(write(p->fd + 1, "w", 1), 1); /* wakes the task */
}

static void test_busy(void)
{
    cio_loop *loop = new_loop();
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK(p[1] == p[0] + 1);
    struct parked pk = {.loop = loop, .fd = p[0], .rc = 1};
    cio_task *t;
    CHECK_RC(cio_loop_create_task(loop, park_on_fd, &pk, NULL, &t), 0);
    CHECK_RC(cio_call_later(loop, 0.01, try_add, &pk, NULL), 0);
    CHECK_RC(cio_loop_run_until_complete(loop, cio_task_future(t), NULL), 0);
    CHECK_RC(pk.rc, 0);
    cio_task_unref(t);
    /* The task is gone: callbacks may watch the descriptor now. */
    struct counter c = {.fd = p[0], .loop = loop, .drain = 1, .remove_at = 1};
    CHECK_RC(cio_loop_add_reader(loop, p[0], on_ready, &c), 0);
    run_iterations(loop, 3);
    CHECK_EQ(c.n, 1);
    CHECK_RC(c.remove_rc, 1);
    expect_idle(loop);
    close(p[0]);
    close(p[1]);
    cio_loop_free(loop);
}

/* Many descriptors at once, each drained once. */
static void test_many_pipes(void)
{
    cio_loop *loop = new_loop();
    enum { N = 200 };
    int p[N][2];
    struct counter c[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pipe2(p[i], O_NONBLOCK | O_CLOEXEC), 0);
        c[i] = (struct counter){.fd = p[i][0], .loop = loop, .drain = 1, .remove_at = 1};
        CHECK_RC(cio_loop_add_reader(loop, p[i][0], on_ready, &c[i]), 0);
        CHECK_EQ(write(p[i][1], "m", 1), 1);
    }
    expect_idle(loop); /* runs until every reader removed itself */
    for (int i = 0; i < N; i++) {
        CHECK_EQ(c[i].n, 1);
        close(p[i][0]);
        close(p[i][1]);
    }
    cio_loop_free(loop);
}

int main(void)
{
    RUN(test_pipe_reader_level_triggered);
    RUN(test_writer_and_replace);
    RUN(test_errors);
    RUN(test_close_with_readers);
    RUN(test_busy);
    RUN(test_many_pipes);
    return test_finish();
}
