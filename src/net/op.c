/*
 * op.c - the I/O operation layer's dispatcher and its readiness backend,
 * which serves operations on the epoll poller.
 *
 * Readiness backend: try the syscall; on EAGAIN park on the descriptor
 * until the next edge (cio__fd_wait) and try again.  A receive shorter than
 * the buffer means the socket is drained (DESIGN.md section 6): instead of
 * reading again just to meet EAGAIN, the read readiness seen so far is
 * marked used up, and the next receive on the descriptor parks at once
 * unless an edge arrived in between (the `ready` bits of struct cio__fd).
 *
 * Divided into: helpers on the slot's ready bits, one function per kind of
 * operation, the backend table and cio__op_run.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "op.h"
#include "../task/task.h"

/* Bits that say "a read may succeed now". */
#define READ_BITS ((uint32_t)(EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))

/* After a short read: the data seen so far is consumed.  EPOLLRDHUP
 * stays: the peer's FIN raises no second edge, and the next read must
 * still go and meet the end of stream. */
static void mark_drained(cio_loop *loop, int fd)
{
    struct cio__fd *f = cio__fd_slot(loop, fd, 0);
    if (f && f->mode == 2)
        f->ready &= ~(uint32_t)EPOLLIN;
}

/*
 * 1 if fd is known drained: the descriptor is registered edge-triggered and
 * no read edge was dispatched since readiness was last used up (a short
 * read, or EAGAIN before parking).  An edge still queued in the kernel is
 * no problem: parking first only means the next epoll_wait wakes us.
 */
static int known_drained(cio_loop *loop, int fd)
{
    struct cio__fd *f = cio__fd_slot(loop, fd, 0);
    return f && f->mode == 2 && f->events && !(f->ready & READ_BITS);
}

/* One receive-style syscall for op; -errno on failure. */
static ssize_t try_read(struct cio__op *op)
{
    switch (op->kind) {
    case CIO__OP_RECV:
        return recv(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
    case CIO__OP_RECVFROM:
        return recvfrom(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT, op->addr,
                        op->addrlen);
    case CIO__OP_ACCEPT:
        return accept4(op->fd, op->addr, op->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    default: /* CIO__OP_READ */
        return read(op->fd, op->buf, op->len);
    }
}

static ssize_t try_write(struct cio__op *op)
{
    switch (op->kind) {
    case CIO__OP_SEND:
        return send(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    case CIO__OP_SENDTO:
        return sendto(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL,
                      op->addr, op->addr ? op->addrlen_in : 0);
    default: /* CIO__OP_WRITE */
        return write(op->fd, op->buf, op->len);
    }
}

static int run_read(cio_loop *loop, struct cio__op *op)
{
    int stream = op->kind == CIO__OP_RECV || op->kind == CIO__OP_READ;
    if (stream && op->len && known_drained(loop, op->fd)) {
        int rc = cio__fd_wait(loop, op->fd, EPOLLIN);
        if (rc)
            return rc;
    }
    for (;;) {
        ssize_t n = try_read(op);
        if (n >= 0) {
            if (stream && n > 0 && (size_t)n < op->len && !(op->flags & MSG_PEEK))
                mark_drained(loop, op->fd);
            return n > INT32_MAX ? INT32_MAX : (int)n;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK)
            return -e;
        int rc = cio__fd_wait(loop, op->fd, EPOLLIN);
        if (rc)
            return rc;
    }
}

static int run_write(cio_loop *loop, struct cio__op *op)
{
    for (;;) {
        ssize_t n = try_write(op);
        if (n >= 0)
            return n > INT32_MAX ? INT32_MAX : (int)n;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS)
            return -e;
        int rc = cio__fd_wait(loop, op->fd, EPOLLOUT);
        if (rc)
            return rc;
    }
}

static int run_connect(cio_loop *loop, struct cio__op *op)
{
    int r;
    do
        r = connect(op->fd, op->addr, op->addrlen_in);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EAGAIN)
        return -errno;
    int rc = cio__fd_wait(loop, op->fd, EPOLLOUT);
    if (rc)
        return rc;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

static int run_close(cio_loop *loop, struct cio__op *op)
{
    cio__fd_forget(loop, op->fd);
    return close(op->fd) < 0 && errno != EINTR ? -errno : 0;
}

static int readiness_run(cio_loop *loop, cio_task *t, struct cio__op *op)
{
    (void)t;
    switch (op->kind) {
    case CIO__OP_RECV:
    case CIO__OP_RECVFROM:
    case CIO__OP_ACCEPT:
    case CIO__OP_READ:
        return run_read(loop, op);
    case CIO__OP_SEND:
    case CIO__OP_SENDTO:
    case CIO__OP_WRITE:
        return run_write(loop, op);
    case CIO__OP_CONNECT:
        return run_connect(loop, op);
    case CIO__OP_CLOSE:
        return run_close(loop, op);
    }
    return -EINVAL;
}

const struct cio__op_backend cio__op_readiness = {
    .name = "readiness",
    .run = readiness_run,
};

/* The op backend that goes with the loop's poller.  An io_uring poller
 * will map to its completion backend here. */
static const struct cio__op_backend *backend_of(cio_loop *loop)
{
    (void)loop;
    return &cio__op_readiness;
}

int cio__op_run(struct cio__op *op)
{
    cio_loop *loop = cio__running_loop;
    cio_task *t = loop ? loop->current : NULL;
    if (!t)
        return CIO_ENOTASK;
    if (op->kind != CIO__OP_CLOSE) {
        int rc = cio__checkpoint(t);
        if (rc)
            return rc;
    }
    return backend_of(loop)->run(loop, t, op);
}

int cio__op_recv(int fd, void *buf, size_t len, int flags)
{
    struct cio__op op = {.kind = CIO__OP_RECV, .fd = fd, .buf = buf, .len = len,
                         .flags = flags};
    return cio__op_run(&op);
}

int cio__op_send(int fd, const void *buf, size_t len, int flags)
{
    struct cio__op op = {.kind = CIO__OP_SEND, .fd = fd, .buf = (void *)buf, .len = len,
                         .flags = flags};
    return cio__op_run(&op);
}
