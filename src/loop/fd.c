/*
 * fd.c - descriptor slots: add/remove_reader/writer callbacks (level-
 * triggered, asyncio's selector semantics) and the parking of tasks on a
 * descriptor (edge-triggered, registered once) that socket operations are
 * built on.  A descriptor serves one of the two at a time.
 */
#include <fcntl.h>
#include <sys/epoll.h>

#include "loop.h"
#include "../task/task.h"

enum { MODE_NONE = 0, MODE_CALLBACK = 1, MODE_TASK = 2 };

struct cio__fd *cio__fd_slot(cio_loop *loop, int fd, int create)
{
    if ((size_t)fd >= loop->nfds) {
        if (!create)
            return NULL;
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct cio__fd *a = cio__realloc(loop->fds, n * sizeof *a);
        if (!a)
            return NULL;
        memset(a + loop->nfds, 0, (n - loop->nfds) * sizeof *a);
        loop->fds = a;
        loop->nfds = n;
    }
    return &loop->fds[fd];
}

static int slot_busy(const struct cio__fd *f)
{
    return f->mode != MODE_NONE;
}

static int add_callback(cio_loop *loop, int fd, cio_callback_fn *cb, void *arg, int write,
                        const char *fn)
{
    if (!loop)
        return cio__bad_arg(NULL, fn, "loop is NULL");
    if (fd < 0) {
        cio__bad_arg(loop, fn, "fd is negative");
        return -EBADF;
    }
    if (!cb)
        return cio__bad_arg(loop, fn, "callback is NULL");
    if (loop->closed)
        return CIO_ECLOSED;
    int rc = cio__check_thread(loop, fn);
    if (rc)
        return rc;
    /* The slot table is indexed by fd: a large number that is not even
     * open must be -EBADF, not a table sized for it (which failed with
     * -ENOMEM at best, and under an overcommitting allocator could touch
     * gigabytes). */
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    struct cio__fd *f = cio__fd_slot(loop, fd, 1);
    if (!f)
        return -ENOMEM;
    if (f->mode == MODE_TASK) {
        if (f->rd_waiter || f->wr_waiter)
            return -EBUSY;
        /* No task waits: turn the edge registration into a level one. */
        f->mode = MODE_NONE;
        loop->poll->update(loop, fd, f);
    }
    cio_handle **slot = write ? &f->writer : &f->reader;
    cio_handle *h = *slot, *fresh = NULL;
    if (h) {
        h->cb = cb;
        h->arg = arg;
        return 0;
    }
    fresh = cio__handle_new(loop);
    if (!fresh)
        return -ENOMEM;
    fresh->cb = cb;
    fresh->arg = arg;
    fresh->flags = CIO__H_FD;
    fresh->refs = 1;
    int was_busy = slot_busy(f);
    *slot = fresh;
    f->mode = MODE_CALLBACK;
    rc = loop->poll->update(loop, fd, f);
    if (rc < 0) {
        *slot = NULL;
        if (!f->reader && !f->writer)
            f->mode = MODE_NONE;
        cio__handle_unref(fresh);
        return rc;
    }
    if (!was_busy)
        loop->nwatch++;
    return 0;
}

static int remove_callback(cio_loop *loop, int fd, int write, const char *fn)
{
    if (!loop)
        return cio__bad_arg(NULL, fn, "loop is NULL");
    if (cio__check_thread(loop, fn))
        return CIO_EWRONGTHREAD;
    struct cio__fd *f = fd >= 0 ? cio__fd_slot(loop, fd, 0) : NULL;
    if (!f || f->mode != MODE_CALLBACK)
        return 0;
    cio_handle **slot = write ? &f->writer : &f->reader;
    cio_handle *h = *slot;
    if (!h)
        return 0;
    *slot = NULL;
    h->flags |= CIO__H_CANCELLED;
    cio__handle_unref(h);
    if (!f->reader && !f->writer) {
        f->mode = MODE_NONE;
        loop->nwatch--;
    }
    loop->poll->update(loop, fd, f);
    return 1;
}

int cio_loop_add_reader(cio_loop *loop, int fd, cio_callback_fn *cb, void *arg)
{
    return add_callback(loop, fd, cb, arg, 0, __func__);
}

int cio_loop_add_writer(cio_loop *loop, int fd, cio_callback_fn *cb, void *arg)
{
    return add_callback(loop, fd, cb, arg, 1, __func__);
}

int cio_loop_remove_reader(cio_loop *loop, int fd) { return remove_callback(loop, fd, 0, __func__); }
int cio_loop_remove_writer(cio_loop *loop, int fd) { return remove_callback(loop, fd, 1, __func__); }

void cio__fd_dispatch(cio_loop *loop, int fd, uint32_t ev)
{
    struct cio__fd *f = cio__fd_slot(loop, fd, 0);
    if (!f)
        return;
    const uint32_t rd = EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP;
    const uint32_t wr = EPOLLOUT | EPOLLERR | EPOLLHUP;
    if (f->mode == MODE_CALLBACK) {
        if ((ev & rd) && f->reader)
            cio__handle_schedule(f->reader);
        if ((ev & wr) && f->writer)
            cio__handle_schedule(f->writer);
    } else if (f->mode == MODE_TASK) {
        f->ready |= ev;
        if ((ev & rd) && f->rd_waiter) {
            cio_task *t = f->rd_waiter;
            f->rd_waiter = NULL;
            loop->nwatch--;
            cio__wake(t, 0);
        }
        if ((ev & wr) && f->wr_waiter) {
            cio_task *t = f->wr_waiter;
            f->wr_waiter = NULL;
            loop->nwatch--;
            cio__wake(t, 0);
        }
    }
}

/* A parked fd waiter is cancelled or timed out: unpark it. */
static void fd_interrupt(cio_task *t, int code)
{
    cio_loop *loop = t->fut.loop;
    struct cio__fd *f = t->wait_obj;
    if (f->rd_waiter == t)
        f->rd_waiter = NULL;
    if (f->wr_waiter == t)
        f->wr_waiter = NULL;
    loop->nwatch--;
    cio__wake(t, code);
}

int cio__fd_wait(cio_loop *loop, int fd, uint32_t events)
{
    cio_task *t = loop->current;
    if (!t)
        return CIO_ENOTASK;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    struct cio__fd *f = cio__fd_slot(loop, fd, 1);
    if (!f)
        return -ENOMEM;
    if (f->mode == MODE_CALLBACK)
        return -EBUSY;
    cio_task **slot = (events & EPOLLOUT) ? &f->wr_waiter : &f->rd_waiter;
    if (*slot)
        return -EBUSY;
    if (f->mode != MODE_TASK) {
        f->mode = MODE_TASK;
        rc = loop->poll->update(loop, fd, f);
        if (rc < 0) {
            f->mode = MODE_NONE;
            return rc;
        }
    }
    f->ready &= ~((events & EPOLLOUT) ? (uint32_t)EPOLLOUT : (uint32_t)EPOLLIN);
    *slot = t;
    loop->nwatch++;
    return cio__park(t, fd_interrupt, f);
}

void cio__fd_forget(cio_loop *loop, int fd)
{
    struct cio__fd *f = fd >= 0 ? cio__fd_slot(loop, fd, 0) : NULL;
    if (!f)
        return;
    if (f->mode == MODE_CALLBACK) {
        remove_callback(loop, fd, 0, __func__);
        remove_callback(loop, fd, 1, __func__);
    }
    cio_task *waiters[2] = {f->rd_waiter, f->wr_waiter};
    for (int i = 0; i < 2; i++)
        if (waiters[i]) {
            loop->nwatch--;
            cio__wake(waiters[i], -EBADF);
        }
    loop->poll->forget(loop, fd, f);
    memset(f, 0, sizeof *f);
}
