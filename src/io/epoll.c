/*
 * epoll.c - the epoll backend: waiting, readiness callbacks, and
 * operations served by readiness.
 *
 * Descriptors used by operations (CIO__FD_OPS) are registered once, edge-
 * triggered, for both directions: an op that meets EAGAIN waits in the
 * slot and the next edge retries it, with no epoll_ctl per operation
 * (DESIGN.md section 6).  The retry runs right in the dispatch, so a
 * waiting op completes with its result and the waiter (a task, a
 * transport) is woken once, with the bytes already read.  A receive
 * shorter than its buffer means the socket is drained: the slot's read
 * readiness is marked used up, and the next receive waits for an edge at
 * once instead of making a syscall just to meet EAGAIN.
 *
 * A send marked CIO__OPF_DEFER (a transport's small writes) is held in
 * its slot, untried, until the wait begins, which makes the held sends
 * first: one iteration's responses leave together, and writes that come
 * meanwhile join the held send (held: the transport re-aims it), as the
 * io_uring backend submits them with its wait.  A held send that is
 * cancelled (an abort) is made first, as io_uring's would be.
 *
 * Descriptors watched by add_reader/add_writer callbacks (CIO__FD_CALLBACKS)
 * are level-triggered with exactly the interest registered, as asyncio's
 * selector loop: the callback runs every iteration while the descriptor
 * stays ready.
 *
 * Timeouts use epoll_pwait2 (nanoseconds, Linux 5.11) when the kernel has
 * it, else epoll_wait with the timeout rounded up to a millisecond, so a
 * timer never fires early.
 *
 * Divided into: setup, translation of event bits, operations (trying the
 * syscall, waiting, retrying on an edge, cancel), waiting, registration.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define MAX_EVENTS 256

/* Cleared, once, when the kernel lacks epoll_pwait2 (< 5.11).  Atomic:
 * loops in several threads share it. */
static int have_pwait2 = 1;

struct epoll_state {
    int epfd;                  /* the epoll set */
    int *deferred;             /* fds whose wr_op is a deferred send */
    size_t ndeferred, capdeferred;
};

static struct epoll_state *state_of(cio_loop *loop)
{
    return (struct epoll_state *)cio__io_of(loop)->bdata;
}

static int epfd_of(cio_loop *loop)
{
    return ((struct epoll_state *)cio__io_of(loop)->bdata)->epfd;
}

/* Creates the epoll set and adds the loop's eventfd (threadsafe.c) to it. */
static int epoll_init(cio_loop *loop)
{
    struct epoll_state *st = cio__calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int e = -errno;
        cio__free(st);
        return e;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = loop->wakefd};
    if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
        int e = -errno;
        close(st->epfd);
        cio__free(st);
        return e;
    }
    cio__io_of(loop)->bdata = st;
    return 0;
}

static void epoll_fini(cio_loop *loop)
{
    struct cio__io *io = cio__io_of(loop);
    if (!io)
        return;
    struct epoll_state *st = io->bdata;
    if (st) {
        for (size_t fd = 0; fd < io->nfds; fd++)
            if (io->fds[fd].mode)
                cio__io_forget(loop, (int)fd);
        close(st->epfd);
        cio__free(st->deferred);
        cio__free(st);
    }
    cio__free(io->fds);
    cio__free(io);
    loop->io = NULL;
}

_Static_assert((int)CIO__IO_IN == (int)EPOLLIN && (int)CIO__IO_OUT == (int)EPOLLOUT &&
                   (int)CIO__IO_ERR == (int)EPOLLERR && (int)CIO__IO_HUP == (int)EPOLLHUP &&
                   (int)CIO__IO_RDHUP == (int)EPOLLRDHUP,
               "io.h's readiness bits are epoll's");

static uint32_t from_epoll(uint32_t ev)
{
    return ev & (uint32_t)(CIO__IO_IN | CIO__IO_OUT | CIO__IO_ERR | CIO__IO_HUP | CIO__IO_RDHUP);
}

/* ---- operations --------------------------------------------------------- */

/* Bits that say "a read may succeed now", and "a write may". */
#define READ_BITS ((uint32_t)(CIO__IO_IN | CIO__IO_RDHUP | CIO__IO_HUP | CIO__IO_ERR))
#define WRITE_BITS ((uint32_t)(CIO__IO_OUT | CIO__IO_HUP | CIO__IO_ERR))

/* Result of trying an op's syscall once that means "wait for an edge". */
#define WOULD_BLOCK INT32_MIN

/* The kinds that write (a bit per enum cio__op_kind): a table, not a
 * switch, as every submit asks. */
#define WRITE_KINDS                                                                   \
    ((1u << CIO__OP_SEND) | (1u << CIO__OP_SENDMSG) | (1u << CIO__OP_SENDTO) |         \
     (1u << CIO__OP_WRITE) | (1u << CIO__OP_WRITEV) | (1u << CIO__OP_CONNECT) |        \
     (1u << CIO__OP_POLL_OUT))

static int is_write(const struct cio__op *op)
{
    return (WRITE_KINDS >> op->kind) & 1u;
}

/* A receive of a byte stream: a short one means drained. */
static int is_stream_read(const struct cio__op *op)
{
    return (((1u << CIO__OP_RECV) | (1u << CIO__OP_READ)) >> op->kind & 1u) && op->len &&
           !(op->flags & MSG_PEEK);
}

static int clamp(ssize_t n)
{
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* A zero-timeout poll(2): whether fd is ready for the op's direction. */
static int ready_now(int fd, int write)
{
    struct pollfd p = {.fd = fd, .events = (short)(write ? POLLOUT : POLLIN)};
    return poll(&p, 1, 0) > 0;
}

/* A stream read returned n of its len bytes: a short one (> 0) used the
 * readiness up, so the next read of an ops-mode slot waits for an edge. */
static void note_read(struct cio__fd *f, const struct cio__op *op, ssize_t n)
{
    if (n > 0 && (size_t)n < op->len && f && f->mode == CIO__FD_OPS && op->len &&
        !(op->flags & MSG_PEEK))
        f->ready &= ~(uint32_t)CIO__IO_IN;
}

/* try_op for a RECV, the op of every stream's read: small enough to be
 * inlined where an edge retries it. */
static inline int try_recv(struct cio__fd *f, struct cio__op *op)
{
    ssize_t n;
    do
        n = recv(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? WOULD_BLOCK : -errno;
    note_read(f, op, n);
    return clamp(n);
}

/* Tries op's syscall once: its result, or WOULD_BLOCK. */
static int try_op(struct cio__fd *f, struct cio__op *op, int first)
{
    ssize_t n;
    for (;;) {
        switch (op->kind) {
        case CIO__OP_RECV:
            return try_recv(f, op);
        case CIO__OP_RECVFROM:
            n = recvfrom(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT, op->addr,
                         op->addrlen);
            break;
        case CIO__OP_ACCEPT:
            n = accept4(op->fd, op->addr, op->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
            break;
        case CIO__OP_READ:
            n = read(op->fd, op->buf, op->len);
            break;
        case CIO__OP_SEND:
            n = send(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
            break;
        case CIO__OP_SENDTO:
            n = sendto(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL,
                       op->addr, op->addr ? op->addrlen_in : 0);
            break;
        case CIO__OP_SENDMSG: {
            struct msghdr m = {.msg_name = op->addr,
                               .msg_namelen = op->addr ? op->addrlen_in : 0,
                               .msg_iov = (struct iovec *)op->iov,
                               .msg_iovlen = (size_t)op->iovcnt};
            n = sendmsg(op->fd, &m, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
            break;
        }
        case CIO__OP_WRITE:
            n = write(op->fd, op->buf, op->len);
            break;
        case CIO__OP_WRITEV:
            n = writev(op->fd, op->iov, op->iovcnt);
            break;
        case CIO__OP_CONNECT:
            if (first) {
                n = connect(op->fd, op->addr, op->addrlen_in);
                if (n < 0 && (errno == EINPROGRESS || errno == EAGAIN))
                    return WOULD_BLOCK;
            } else {
                /* The edge after EINPROGRESS: the outcome is in SO_ERROR. */
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                    return -errno;
                return -err;
            }
            break;
        case CIO__OP_POLL_IN:
        case CIO__OP_POLL_OUT: {
            int w = op->kind == CIO__OP_POLL_OUT;
            if (!first)
                return 0; /* an edge came */
            if ((op->opflags & CIO__OPF_AFTER_EAGAIN) || !f ||
                !(f->ready & (w ? WRITE_BITS : READ_BITS)) || !ready_now(op->fd, w))
                return WOULD_BLOCK;
            return 0;
        }
        default:
            return -EINVAL;
        }
        if (n >= 0)
            break;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK || (e == ENOBUFS && is_write(op)))
            return WOULD_BLOCK;
        return -e;
    }
    if (op->kind == CIO__OP_READ)
        note_read(f, op, n);
    return clamp(n);
}

static int epoll_update(cio_loop *loop, int fd, struct cio__fd *f);

/* Ends the op waiting in *slot (f's rd_op or wr_op) with res and wakes
 * its waiter. */
static inline void complete_slot(cio_loop *loop, struct cio__op **slot, int res)
{
    struct cio__op *op = *slot;
    *slot = NULL;
    loop->nwatch--;
    op->state = CIO__OPS_IDLE;
    op->res = res;
    op->waiter->wake(op->waiter, res);
}

/* Ends a waiting op of f with res and wakes its waiter. */
static void complete(cio_loop *loop, struct cio__fd *f, struct cio__op *op, int res)
{
    if (f->rd_op == op)
        complete_slot(loop, &f->rd_op, res);
    else if (f->wr_op == op)
        complete_slot(loop, &f->wr_op, res);
}

/* Leaves op waiting in its slot of f (ops mode) for the next edge: 1,
 * or 0 with -EBUSY when another op waits there already. */
static inline int wait_edge(cio_loop *loop, struct cio__fd *f, struct cio__op *op, int w)
{
    struct cio__op **slot = w ? &f->wr_op : &f->rd_op;
    if (*slot) {
        op->res = -EBUSY;
        return 0;
    }
    f->ready &= ~(w ? (uint32_t)CIO__IO_OUT : (uint32_t)CIO__IO_IN);
    *slot = op;
    op->state = CIO__OPS_PENDING;
    loop->nwatch++;
    return 1;
}

/* epoll_submit's every case but a known-drained read: try the syscall,
 * then wait for an edge (registering fd on its first op). */
static __attribute__((noinline)) int submit_try(cio_loop *loop, struct cio__fd *f,
                                                struct cio__op *op)
{
    int w = is_write(op);
    int r = op->kind == CIO__OP_RECV ? try_recv(f, op) : try_op(f, op, 1);
    if (r != WOULD_BLOCK || (op->opflags & CIO__OPF_NOWAIT)) {
        op->res = r == WOULD_BLOCK ? -EAGAIN : r;
        return 0;
    }
    if (f && f->mode == CIO__FD_OPS)
        return wait_edge(loop, f, op, w); /* registered already */
    if (op->fd < 0 || !(f = cio__fd_slot(loop, op->fd, 1))) {
        op->res = op->fd < 0 ? -EBADF : -ENOMEM;
        return 0;
    }
    if (f->mode == CIO__FD_CALLBACKS) {
        op->res = -EBUSY;
        return 0;
    }
    if (f->mode != CIO__FD_OPS) {
        f->mode = CIO__FD_OPS;
        int rc = epoll_update(loop, op->fd, f);
        if (rc < 0) {
            f->mode = CIO__FD_NONE;
            op->res = rc;
            return 0;
        }
    }
    return wait_edge(loop, f, op, w);
}

/* Holds a send (CIO__OPF_DEFER) in f's write slot until the next wait:
 * 1, or 0 when it cannot be held (then it is tried at once). */
static int defer_send(cio_loop *loop, struct cio__fd *f, struct cio__op *op)
{
    struct epoll_state *st = state_of(loop);
    if (st->ndeferred == st->capdeferred) {
        size_t cap = st->capdeferred ? st->capdeferred * 2 : 64;
        int *d = cio__realloc(st->deferred, cap * sizeof *d);
        if (!d)
            return 0;
        st->deferred = d;
        st->capdeferred = cap;
    }
    st->deferred[st->ndeferred++] = op->fd;
    f->wr_op = op;
    f->deferred = 1;
    op->state = CIO__OPS_PENDING;
    loop->nwatch++;
    return 1;
}

/* The wait's first step: tries the sends held since the last one; those
 * that would block wait for their edge.  1 if one completed (its waiter
 * may have made work ready, and then the wait must not block). */
static int run_deferred(cio_loop *loop, struct epoll_state *st)
{
    int done = 0;
    for (size_t i = 0; i < st->ndeferred; i++) {
        struct cio__fd *f = cio__fd_slot(loop, st->deferred[i], 0);
        if (!f || !f->deferred)
            continue; /* cancelled, or the descriptor was forgotten */
        f->deferred = 0;
        if (!f->wr_op)
            continue;
        int r = try_op(f, f->wr_op, 0);
        if (r != WOULD_BLOCK) {
            complete_slot(loop, &f->wr_op, r);
            done = 1;
        } else {
            f->ready &= ~(uint32_t)CIO__IO_OUT;
        }
    }
    st->ndeferred = 0;
    return done;
}

static int epoll_held(cio_loop *loop, const struct cio__op *op)
{
    struct cio__fd *f = cio__fd_slot(loop, op->fd, 0);
    return f && f->wr_op == op && f->deferred;
}

static int epoll_submit(cio_loop *loop, struct cio__op *op)
{
    struct cio__fd *f = cio__fd_slot(loop, op->fd, 0);
    if ((op->opflags & CIO__OPF_DEFER) && f && f->mode == CIO__FD_OPS && !f->wr_op &&
        defer_send(loop, f, op))
        return 1;
    /* Known drained - registered, and no read edge since readiness was
     * last used up: wait for the edge without a syscall.  The common
     * case of a stream's reads, so the only one handled here, where the
     * rest costs nothing. */
    if (CIO_LIKELY(f && f->mode == CIO__FD_OPS) && !(f->ready & READ_BITS) &&
        !(op->opflags & CIO__OPF_NOWAIT) && is_stream_read(op))
        return wait_edge(loop, f, op, 0);
    return submit_try(loop, f, op);
}

/* An edge: retry the waiting ops it concerns. */
static void dispatch_ops(cio_loop *loop, struct cio__fd *f, uint32_t ev)
{
    f->ready |= ev;
    struct cio__op *op = f->rd_op;
    if (op && (ev & READ_BITS)) {
        int r = op->kind == CIO__OP_RECV ? try_recv(f, op) : try_op(f, op, 0);
        if (r != WOULD_BLOCK)
            complete_slot(loop, &f->rd_op, r);
        else
            f->ready &= ~(uint32_t)CIO__IO_IN;
    }
    op = f->wr_op;
    if (op && (ev & WRITE_BITS)) {
        int r = try_op(f, op, 0);
        if (r != WOULD_BLOCK) {
            f->deferred = 0;
            complete_slot(loop, &f->wr_op, r);
        } else {
            f->ready &= ~(uint32_t)CIO__IO_OUT;
        }
    }
}

/* Readiness cancels at once: the op is only parked in its slot. */
static void epoll_cancel(cio_loop *loop, struct cio__op *op, int code)
{
    struct cio__fd *f = cio__fd_slot(loop, op->fd, 0);
    if (f && f->wr_op == op && f->deferred) {
        /* A held send goes first, as io_uring's queued submission does
         * before the cancel that follows it: what a transport wrote
         * before its abort (an HTTP head) still reaches the peer. */
        f->deferred = 0;
        int r = try_op(f, op, 0);
        complete_slot(loop, &f->wr_op, r == WOULD_BLOCK ? code : r);
        return;
    }
    if (f && (f->rd_op == op || f->wr_op == op))
        complete(loop, f, op, code);
}

/* ---- waiting -------------------------------------------------------------- */

static int epoll_wait_ns(cio_loop *loop, int64_t timeout_ns)
{
    struct epoll_event events[MAX_EVENTS];
    int n;
    struct epoll_state *st = state_of(loop);
    if (st->ndeferred && run_deferred(loop, st) && loop->ready.n)
        timeout_ns = 0; /* a completion made work: look, do not block */
    if (__atomic_load_n(&have_pwait2, __ATOMIC_RELAXED) && timeout_ns > 0) {
        struct timespec ts = {.tv_sec = timeout_ns / CIO_NS_PER_SEC,
                              .tv_nsec = timeout_ns % CIO_NS_PER_SEC};
        n = (int)syscall(SYS_epoll_pwait2, epfd_of(loop), events, MAX_EVENTS, &ts, NULL, 0);
        if (n < 0 && errno == ENOSYS) {
            __atomic_store_n(&have_pwait2, 0, __ATOMIC_RELAXED);
            n = epoll_wait(epfd_of(loop), events, MAX_EVENTS,
                           (int)((timeout_ns + 999999) / 1000000));
        }
    } else {
        int ms = timeout_ns < 0 ? -1
                 : timeout_ns == 0 ? 0
                 : (int)((timeout_ns + 999999) / 1000000 > INT32_MAX
                             ? INT32_MAX
                             : (timeout_ns + 999999) / 1000000);
        n = epoll_wait(epfd_of(loop), events, MAX_EVENTS, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        if (fd == loop->wakefd)
            continue;
        struct cio__fd *f = cio__fd_slot(loop, fd, 0);
        if (!f)
            continue;
        uint32_t ev = from_epoll(events[i].events);
        if (f->mode == CIO__FD_CALLBACKS)
            cio__fd_dispatch_callbacks(loop, fd, f, ev);
        else if (f->mode == CIO__FD_OPS)
            dispatch_ops(loop, f, ev);
    }
    return 0;
}

/* ---- registration ------------------------------------------------------- */

static int epoll_update(cio_loop *loop, int fd, struct cio__fd *f)
{
    uint32_t want = 0;
    if (f->mode == CIO__FD_CALLBACKS)
        want = (f->reader ? EPOLLIN : 0u) | (f->writer ? EPOLLOUT : 0u);
    else if (f->mode == CIO__FD_OPS)
        want = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (want == f->events)
        return 0;
    struct epoll_event ev = {.events = want, .data.fd = fd};
    int op = !f->events ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    if (epoll_ctl(epfd_of(loop), op, fd, &ev) < 0) {
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
    struct cio__op *ops[2] = {f->rd_op, f->wr_op};
    for (int i = 0; i < 2; i++)
        if (ops[i])
            complete(loop, f, ops[i], -EBADF);
    if (f->events) {
        struct epoll_event ev = {0};
        epoll_ctl(epfd_of(loop), EPOLL_CTL_DEL, fd, &ev);
        f->events = 0;
    }
}

const struct cio__io_backend cio__io_epoll = {
    .poller = {.name = "epoll", .wait = epoll_wait_ns, .fini = epoll_fini},
    .init = epoll_init,
    .submit = epoll_submit,
    .cancel = epoll_cancel,
    .held = epoll_held,
    .update = epoll_update,
    .forget = epoll_forget,
};
