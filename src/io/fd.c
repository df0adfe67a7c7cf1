/*
 * fd.c - descriptor slots: add/remove_reader/writer callbacks (level-
 * triggered, asyncio's selector semantics), their dispatch, and forgetting
 * or closing a descriptor.  A descriptor serves callbacks or operations
 * (the backend's, edge-triggered on epoll) at a time, not both.
 */
#include <fcntl.h>
#include <unistd.h>

#include "io.h"

enum { MODE_NONE = CIO__FD_NONE, MODE_CALLBACK = CIO__FD_CALLBACKS, MODE_OPS = CIO__FD_OPS };

struct cio__fd *cio__fd_slot_grow(cio_loop *loop, int fd, int create)
{
    struct cio__io *io = cio__io_of(loop);
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= io->nfds) {
        if (!create)
            return NULL;
        size_t n = io->nfds ? io->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct cio__fd *a = cio__realloc(io->fds, n * sizeof *a);
        if (!a)
            return NULL;
        memset(a + io->nfds, 0, (n - io->nfds) * sizeof *a);
        io->fds = a;
        io->nfds = n;
    }
    return &io->fds[fd];
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
    const struct cio__io_backend *be = cio__io_of(loop)->backend;
    if (f->mode == MODE_OPS) {
        if (f->rd_op || f->wr_op)
            return -EBUSY;
        /* No op waits: turn the edge registration into a level one. */
        f->mode = MODE_NONE;
        be->update(loop, fd, f);
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
    rc = be->update(loop, fd, f);
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
    cio__io_of(loop)->backend->update(loop, fd, f);
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

void cio__fd_dispatch_callbacks(cio_loop *loop, int fd, struct cio__fd *f, uint32_t ev)
{
    (void)loop;
    (void)fd;
    const uint32_t rd = CIO__IO_IN | CIO__IO_ERR | CIO__IO_HUP | CIO__IO_RDHUP;
    const uint32_t wr = CIO__IO_OUT | CIO__IO_ERR | CIO__IO_HUP;
    if ((ev & rd) && f->reader)
        cio__handle_schedule(f->reader);
    if ((ev & wr) && f->writer)
        cio__handle_schedule(f->writer);
}

void cio__io_forget(cio_loop *loop, int fd)
{
    struct cio__fd *f = cio__fd_slot(loop, fd, 0);
    if (!f)
        return;
    if (f->mode == MODE_CALLBACK) {
        remove_callback(loop, fd, 0, __func__);
        remove_callback(loop, fd, 1, __func__);
    }
    cio__io_of(loop)->backend->forget(loop, fd, f);
    memset(f, 0, sizeof *f);
}

int cio__io_close(cio_loop *loop, int fd)
{
    cio__io_forget(loop, fd);
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}
