/*
 * poll_epoll.c - the epoll backend.
 *
 * Descriptors watched by tasks (mode 2) are registered once, edge-
 * triggered, for both directions: a task that meets EAGAIN parks on the
 * slot and the next edge wakes it, with no epoll_ctl per operation
 * (DESIGN.md section 6).  Descriptors watched by add_reader/add_writer
 * callbacks (mode 1) are level-triggered with exactly the interest
 * registered, as asyncio's selector loop: the callback runs every
 * iteration while the descriptor stays ready.
 *
 * Timeouts use epoll_pwait2 (nanoseconds, Linux 5.11) when the kernel has
 * it, else epoll_wait with the timeout rounded up to a millisecond, so a
 * timer never fires early.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define MAX_EVENTS 256

/* Cleared, once, when the kernel lacks epoll_pwait2 (< 5.11).  Atomic:
 * loops in several threads share it. */
static int have_pwait2 = 1;

/* Creates the epoll set and adds the loop's eventfd (threadsafe.c) to it. */
static int epoll_init(cio_loop *loop)
{
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = loop->wakefd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
        return -errno;
    return 0;
}

static void epoll_fini(cio_loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
}

static int epoll_wait_ns(cio_loop *loop, int64_t timeout_ns)
{
    struct epoll_event events[MAX_EVENTS];
    int n;
    if (__atomic_load_n(&have_pwait2, __ATOMIC_RELAXED) && timeout_ns > 0) {
        struct timespec ts = {.tv_sec = timeout_ns / CIO_NS_PER_SEC,
                              .tv_nsec = timeout_ns % CIO_NS_PER_SEC};
        n = (int)syscall(SYS_epoll_pwait2, loop->epfd, events, MAX_EVENTS, &ts, NULL, 0);
        if (n < 0 && errno == ENOSYS) {
            __atomic_store_n(&have_pwait2, 0, __ATOMIC_RELAXED);
            n = epoll_wait(loop->epfd, events, MAX_EVENTS,
                           (int)((timeout_ns + 999999) / 1000000));
        }
    } else {
        int ms = timeout_ns < 0 ? -1
                 : timeout_ns == 0 ? 0
                 : (int)((timeout_ns + 999999) / 1000000 > INT32_MAX
                             ? INT32_MAX
                             : (timeout_ns + 999999) / 1000000);
        n = epoll_wait(loop->epfd, events, MAX_EVENTS, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        if (fd != loop->wakefd)
            cio__fd_dispatch(loop, fd, events[i].events);
    }
    return n;
}

static int epoll_update(cio_loop *loop, int fd, struct cio__fd *f)
{
    uint32_t want = 0;
    if (f->mode == 1)
        want = (f->reader ? EPOLLIN : 0u) | (f->writer ? EPOLLOUT : 0u);
    else if (f->mode == 2)
        want = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (want == f->events)
        return 0;
    struct epoll_event ev = {.events = want, .data.fd = fd};
    int op = !f->events ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        int e = errno;
        if (op == EPOLL_CTL_DEL && (e == EBADF || e == ENOENT)) {
            f->events = 0;
            return 0;
        }
        return -e;
    }
    f->events = want;
    return 0;
}

static void epoll_forget(cio_loop *loop, int fd, struct cio__fd *f)
{
    if (f->events) {
        struct epoll_event ev = {0};
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, &ev);
        f->events = 0;
    }
}

const struct cio__poll_ops cio__poll_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .fini = epoll_fini,
    .wait = epoll_wait_ns,
    .update = epoll_update,
    .forget = epoll_forget,
};
