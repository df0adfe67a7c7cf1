/*
 * uring.c - the io_uring backend: operations as submissions, readiness
 * callbacks as poll requests, and the loop's wait as one io_uring_enter.
 *
 * Operations (CIO__FD_OPS) become SQEs whose user_data is the op itself;
 * nothing is tried first, so a loop iteration queues every recv and send
 * of its callbacks and tasks and hands them all to the kernel in the same
 * io_uring_enter that waits for the next completions, with the timer
 * heap's deadline as its timeout.  The SQE stays in the SQ (user memory)
 * until that enter: so does everything it points to, and ops whose
 * arguments need a struct msghdr (sendmsg, sendto, recvfrom) use the one
 * inside the op (op->msg), so a submission never allocates.
 * An op ends only with its own CQE: cancelling (IORING_OP_ASYNC_CANCEL
 * keyed on the op) or forgetting the descriptor only asks, and the op's
 * buffers belong to the kernel until then.  A cancelled op that was not
 * done first ends with op->cancel_code.
 *
 * Readiness callbacks (CIO__FD_CALLBACKS, add_reader/add_writer) are
 * level-triggered as on epoll: a one-shot poll request per descriptor,
 * re-armed as its completion is handled.  The re-armed poll is submitted
 * with the next wait, after the callbacks ran, so it completes at once
 * only if the descriptor is still ready: the callback runs once per
 * iteration while it stays ready, as asyncio's selector loop does.  (A
 * multishot poll reports wakeups, not the level.)  Changing the events
 * removes the request and re-arms it with the new ones when its
 * completion comes back.
 *
 * The thread-safe wakeup: a multishot poll on loop->wakefd, re-armed when
 * a completion lacks IORING_CQE_F_MORE; threadsafe.c reads the eventfd.
 *
 * The ring: IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (completions are
 * processed only inside our io_uring_enter, no interrupts in between),
 * created disabled and enabled by the first enter, so that the thread
 * that runs the loop (not the one that made it) is its single issuer;
 * the ring descriptor is registered then too (that registration is per
 * thread).  Older kernels get COOP_TASKRUN, then no flags.  A full CQ
 * spills into the kernel's overflow list (IORING_FEAT_NODROP), which the
 * drain flushes.
 *
 * Closing the loop: the task layer cancels every parked task's op and
 * then frees the stacks the ops live on, so while the loop closes (an
 * extension of rank CIO__EXT_IO tells) a cancel waits for the op's CQE.
 *
 * Divided into: state and setup, submission helpers, operations,
 * completions and waiting, registration, teardown; the readiness
 * callbacks' poll requests are uring_watch.c's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uring.h"

static struct uring_state *state_of(cio_loop *loop)
{
    return cio__uring_state(loop);
}

static void uring_closing(cio_loop *loop, struct cio__loop_ext *ext)
{
    CIO_CONTAINER_OF(ext, struct uring_state, ext)->closing = 1;
}

/* The state is freed by fini, after every extension is gone. */
static void uring_ext_close(cio_loop *loop, struct cio__loop_ext *ext) {}

static int ext_key;

/* Sets the ring up with the best flags this kernel accepts. */
static int ring_setup(struct uring_state *st)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
            IORING_SETUP_R_DISABLED,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct io_uring_params p = {.flags = tries[i] | IORING_SETUP_CQSIZE |
                                             IORING_SETUP_SUBMIT_ALL,
                                    .cq_entries = CQ_ENTRIES};
        rc = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
        if (rc == -EINVAL) {
            p = (struct io_uring_params){.flags = tries[i]}; /* < 5.18 */
            rc = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
        }
        if (rc != -EINVAL) {
            st->enabled = !(tries[i] & IORING_SETUP_R_DISABLED);
            st->taskrun_flag = (tries[i] & IORING_SETUP_TASKRUN_FLAG) != 0;
            break;
        }
    }
    return rc;
}

/* Test hook: CIO_BACKEND_TEST_FAIL_URING=1 makes setup fail as a kernel
 * with io_uring disabled does (backend.c falls back to epoll). */
static int injected_failure(void)
{
    const char *v = getenv("CIO_BACKEND_TEST_FAIL_URING");
    return v && *v && strcmp(v, "0") != 0;
}

static int uring_init(cio_loop *loop)
{
    if (injected_failure())
        return -EPERM;
    struct uring_state *st = cio__calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    int rc = ring_setup(st);
    if (rc < 0) {
        cio__free(st);
        return rc;
    }
    st->ext.key = &ext_key;
    st->ext.rank = CIO__EXT_IO;
    st->ext.on_closing = uring_closing;
    st->ext.on_close = uring_ext_close;
    cio__loop_ext_add(loop, &st->ext);
    cio__io_of(loop)->bdata = st;
    st->stats = &cio__io_of(loop)->stats;
    return 0;
}

/* ---- submission helpers ------------------------------------------------- */

/* Makes the ring usable from this thread (the first enter does it). */
static int ring_enable(struct uring_state *st)
{
    if (CIO_LIKELY(st->enabled))
        return 0;
    /* io_uring_enable_rings is declared by liburing 2.3 but not exported
     * by Debian's build: the register call it wraps. */
    int rc = io_uring_register(st->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc < 0)
        return rc;
    st->enabled = 1;
    io_uring_register_ring_fd(&st->ring); /* an optimisation: may fail */
    return 0;
}

/* Hands the queued SQEs to the kernel and runs its deferred completion
 * work (CQEs appear in the CQ, not dispatched). */
static void ring_flush(struct uring_state *st)
{
    /* Before the first enter the kernel holds nothing; and enabling here
     * could bind the ring to a thread that will not run the loop. */
    if (!st->enabled)
        return;
    int rc;
    do
        rc = io_uring_submit_and_get_events(&st->ring);
    while (rc == -EINTR);
}

/* A free SQE; when the SQ is full, what is queued goes to the kernel
 * first.  NULL only if the kernel takes none. */
struct io_uring_sqe *cio__uring_get_sqe(struct uring_state *st)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
    if (CIO_UNLIKELY(!sqe)) {
        if (ring_enable(st) == 0)
            io_uring_submit(&st->ring);
        sqe = io_uring_get_sqe(&st->ring);
    }
    return sqe;
}

#define ud_of cio__uring_ud

/* Queues a cancel of the request with user_data ud (its CQE is ignored). */
static void cancel_ud(struct uring_state *st, uint64_t ud)
{
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return;
    io_uring_prep_cancel64(sqe, ud, 0);
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
}

/* ---- operations --------------------------------------------------------- */

static int is_write(const struct cio__op *op)
{
    const unsigned w = 1u << CIO__OP_SEND | 1u << CIO__OP_SENDMSG | 1u << CIO__OP_SENDTO |
                       1u << CIO__OP_WRITE | 1u << CIO__OP_WRITEV | 1u << CIO__OP_CONNECT |
                       1u << CIO__OP_POLL_OUT;
    return (w >> op->kind) & 1u;
}

static unsigned clamp_len(size_t len)
{
    return len > INT32_MAX ? (unsigned)INT32_MAX : (unsigned)len;
}

/* Fills sqe for op; 0 or -errno (nothing queued then). */
static int prep_op(struct uring_state *st, struct io_uring_sqe *sqe, struct cio__op *op)
{
    struct msghdr *m = &op->msg;
    op->next = NULL;
    switch (op->kind) {
    case CIO__OP_RECV:
        io_uring_prep_recv(sqe, op->fd, op->buf, op->len > INT32_MAX ? INT32_MAX : op->len,
                           op->flags);
        break;
    case CIO__OP_SEND:
        io_uring_prep_send(sqe, op->fd, op->buf, op->len > INT32_MAX ? INT32_MAX : op->len,
                           op->flags | MSG_NOSIGNAL);
        break;
    case CIO__OP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, clamp_len(op->len), (uint64_t)-1);
        break;
    case CIO__OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, clamp_len(op->len), (uint64_t)-1);
        break;
    case CIO__OP_WRITEV:
        io_uring_prep_writev(sqe, op->fd, op->iov, (unsigned)op->iovcnt, (uint64_t)-1);
        break;
    case CIO__OP_ACCEPT:
        io_uring_prep_accept(sqe, op->fd, op->addr, op->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
    case CIO__OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd, op->addr, op->addrlen_in);
        break;
    case CIO__OP_POLL_IN:
    case CIO__OP_POLL_OUT:
        io_uring_prep_poll_add(sqe, op->fd,
                               op->kind == CIO__OP_POLL_IN ? POLLIN | POLLRDHUP : POLLOUT);
        break;
    case CIO__OP_SENDMSG:
    case CIO__OP_SENDTO:
    case CIO__OP_RECVFROM:
        if (op->iovcnt < 0 && op->kind == CIO__OP_SENDMSG)
            return -EINVAL;
        memset(m, 0, sizeof *m);
        m->msg_name = op->addr;
        m->msg_namelen = op->kind == CIO__OP_RECVFROM
                                 ? (op->addr && op->addrlen ? *op->addrlen : 0)
                                 : (op->addr ? op->addrlen_in : 0);
        if (op->kind == CIO__OP_SENDMSG) {
            m->msg_iov = (struct iovec *)op->iov;
            m->msg_iovlen = (size_t)op->iovcnt;
        } else {
            op->iov1 = (struct iovec){.iov_base = op->buf, .iov_len = op->len};
            m->msg_iov = &op->iov1;
            m->msg_iovlen = 1;
        }
        if (op->kind == CIO__OP_RECVFROM) {
            if (!op->addr)
                m->msg_name = NULL;
            io_uring_prep_recvmsg(sqe, op->fd, m, (unsigned)op->flags);
        } else {
            io_uring_prep_sendmsg(sqe, op->fd, m, (unsigned)(op->flags | MSG_NOSIGNAL));
        }
        break;
    case CIO__OP_RECV_MULTI: {
        int rc = cio__uring_multi_prep(st, sqe, op);
        if (rc < 0)
            return rc;
        break;
    }
    default:
        return -EINVAL;
    }
    io_uring_sqe_set_data64(sqe, ud_of(op, TAG_OP));
    return 0;
}

/* CIO__OPF_NOWAIT: the syscall itself, now (a ring submission would
 * only complete at the loop's next enter).  Its result, -EAGAIN if the
 * descriptor is not ready. */
static int try_now(struct cio__op *op)
{
    ssize_t n;
    do {
        switch (op->kind) {
        case CIO__OP_RECV:
            n = recv(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
            break;
        case CIO__OP_SEND:
            n = send(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
            break;
        case CIO__OP_READ:
            n = read(op->fd, op->buf, op->len);
            break;
        case CIO__OP_WRITE:
            n = write(op->fd, op->buf, op->len);
            break;
        default:
            return -EINVAL; /* io.h: NOWAIT is for plain reads and writes */
        }
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int uring_submit(cio_loop *loop, struct cio__op *op)
{
    struct uring_state *st = state_of(loop);
    struct cio__io *io = cio__io_of(loop);
    if (CIO_UNLIKELY(st->dying) || op->fd < 0) {
        op->res = -EBADF;
        return 0;
    }
    if (op->opflags & CIO__OPF_NOWAIT) {
        op->res = try_now(op);
        return 0;
    }
    /* A number beyond the slot table may be anything: do not size the
     * table for one that is not even open. */
    if ((size_t)op->fd >= io->nfds && fcntl(op->fd, F_GETFD) < 0) {
        op->res = -EBADF;
        return 0;
    }
    struct cio__fd *f = cio__fd_slot(loop, op->fd, 1);
    if (!f) {
        op->res = -ENOMEM;
        return 0;
    }
    if (op->kind == CIO__OP_ACCEPT && !op->addr && f->mode != CIO__FD_CALLBACKS) {
        int rc = cio__uring_accept_submit(loop, op, f);
        if (rc >= 0)
            return rc;
    }
    struct cio__op **slot = is_write(op) ? &f->wr_op : &f->rd_op;
    if (f->mode == CIO__FD_CALLBACKS || *slot) {
        op->res = -EBUSY;
        return 0;
    }
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe) {
        op->res = -EAGAIN;
        return 0;
    }
    op->sqe_at = st->ring.sq.sqe_tail - 1;
    int rc = prep_op(st, sqe, op);
    if (rc < 0) {
        /* Turn the SQE into a no-op that nobody waits for. */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, UD_IGNORE);
        op->res = rc;
        return 0;
    }
    f->mode = CIO__FD_OPS;
    *slot = op;
    op->state = CIO__OPS_PENDING;
    st->inflight++;
    loop->nwatch++;
    return 1;
}

/* A held send: its submission is still in the SQ, not the kernel's
 * (the next enter takes it), so its caller may change what it sends. */
static int uring_held(cio_loop *loop, const struct cio__op *op)
{
    const struct io_uring_sq *sq = &state_of(loop)->ring.sq;
    return (op->opflags & CIO__OPF_DEFER) &&
           op->sqe_at - sq->sqe_head < sq->sqe_tail - sq->sqe_head;
}

/* A held send's buffers changed: its submission is prepared again, in
 * place. */
static void uring_reaim(cio_loop *loop, struct cio__op *op)
{
    struct uring_state *st = state_of(loop);
    struct io_uring_sqe *sqe = &st->ring.sq.sqes[op->sqe_at & *st->ring.sq.kring_mask];
    if (prep_op(st, sqe, op) < 0) {
        /* (a send's preparation does not fail) */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, ud_of(op, TAG_OP));
    }
}

static void drain(cio_loop *loop, int wait);

/* Reaps completions until the pending ops a and b (either may be NULL)
 * have ended: the loop is closing, and they may live on a stack about to
 * be freed.  They are watched through st->awaited, never read again (an
 * op's memory may go as soon as its waiter is woken); nested waits (a
 * waiter cancelling another op) take other entries. */
static void wait_for_ops(cio_loop *loop, struct cio__op *a, struct cio__op *b)
{
    struct uring_state *st = state_of(loop);
    struct cio__op *want[2] = {a, b};
    int idx[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
        if (!want[k] || want[k]->state == CIO__OPS_IDLE)
            continue;
        for (int i = 0; i < AWAIT_MAX && idx[k] < 0; i++)
            if (!st->awaited[i]) {
                st->awaited[i] = want[k];
                idx[k] = i;
            }
    }
    for (int n = 0; n < 1000; n++) {
        int left = 0;
        for (int k = 0; k < 2; k++)
            left |= idx[k] >= 0 && st->awaited[idx[k]] == want[k];
        if (!left)
            break;
        drain(loop, 1);
    }
    for (int k = 0; k < 2; k++)
        if (idx[k] >= 0)
            st->awaited[idx[k]] = NULL;
}

static void uring_cancel(cio_loop *loop, struct cio__op *op, int code)
{
    struct uring_state *st = state_of(loop);
    if (op->kind == CIO__OP_ACCEPT && cio__uring_accept_cancel(loop, op, code))
        return;
    op->cancel_code = code;
    op->state = CIO__OPS_CANCELLING;
    cancel_ud(st, ud_of(op, TAG_OP));
    if (st->closing)
        wait_for_ops(loop, op, NULL);
}

/*
 * A socket op whose CQE says -EAGAIN has not happened: io_uring waits for
 * a socket with an internal poll, but after APOLL_MAX_RETRY (128) wakeups
 * that still found it not ready (a peer whose receive window opens a few
 * bytes at a time) it hands the request to a worker thread, where the
 * O_NONBLOCK socket answers EAGAIN, and that is the result (Linux 6.18, a
 * 32 MiB send to a peer that reads nothing: tests/test_stream_server.c).
 * Epoll's ops wait on EAGAIN, so must ours: the op is submitted again,
 * a fresh request whose first EAGAIN arms a new poll.  1 if it was.
 */
static int resubmit_eagain(struct uring_state *st, struct cio__op *op)
{
    const unsigned sock = 1u << CIO__OP_RECV | 1u << CIO__OP_SEND | 1u << CIO__OP_SENDMSG |
                          1u << CIO__OP_RECVFROM | 1u << CIO__OP_SENDTO |
                          1u << CIO__OP_ACCEPT;
    if (op->state != CIO__OPS_PENDING || !((sock >> op->kind) & 1u) || st->dying)
        return 0;
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return 0;
    if (prep_op(st, sqe, op) < 0) {
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, UD_IGNORE);
        return 0;
    }
    io_uring_sqe_set_data64(sqe, ud_of(op, TAG_OP));
    return 1;
}

/* The CQE of op: its result, then the waiter. */
void cio__uring_op_end(cio_loop *loop, struct cio__op *op, int res)
{
    struct uring_state *st = state_of(loop);
    if (op->state == CIO__OPS_CANCELLING && (res == -ECANCELED || res == -EINTR))
        res = op->cancel_code;
    if (res == -EAGAIN && resubmit_eagain(st, op))
        return; /* still pending, the same slot and counts */
    switch (op->kind) {
    case CIO__OP_RECVFROM:
        if (res >= 0 && op->addrlen)
            *op->addrlen = op->addr ? op->msg.msg_namelen : 0;
        break;
    case CIO__OP_POLL_IN:
    case CIO__OP_POLL_OUT:
        if (res > 0)
            res = 0;
        break;
    default:
        break;
    }
    op->next = NULL;
    struct cio__fd *f = cio__fd_slot(loop, op->fd, 0);
    if (f && f->rd_op == op)
        f->rd_op = NULL;
    else if (f && f->wr_op == op)
        f->wr_op = NULL;
    for (int i = 0; i < AWAIT_MAX; i++)
        if (st->awaited[i] == op)
            st->awaited[i] = NULL;
    st->inflight--;
    loop->nwatch--;
    op->state = CIO__OPS_IDLE;
    op->res = res;
    op->waiter->wake(op->waiter, res);
}

/* ---- completions and waiting --------------------------------------------- */

static void wake_arm(struct uring_state *st, cio_loop *loop)
{
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return;
    io_uring_prep_poll_multishot(sqe, loop->wakefd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD_WAKE);
    st->wake_armed = 1;
}

static void dispatch(cio_loop *loop, uint64_t ud, int res, unsigned flags)
{
    struct uring_state *st = state_of(loop);
    if (ud == UD_IGNORE)
        return;
    if (ud == UD_WAKE) {
        /* threadsafe.c reads the eventfd; only keep the poll alive. */
        if (!(flags & IORING_CQE_F_MORE))
            st->wake_armed = 0;
        return;
    }
    void *p = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
    if ((ud & TAG_MASK) == TAG_WATCH)
        cio__uring_watch_done(loop, p, res);
    else if ((ud & TAG_MASK) == TAG_ACCEPT)
        cio__uring_accept_cqe(loop, p, res, flags);
    else if (((struct cio__op *)p)->kind == CIO__OP_RECV_MULTI)
        cio__uring_multi_cqe(loop, p, res, flags);
    else
        cio__uring_op_end(loop, p, res);
}

/* Dispatches every completion in the CQ (and the overflow list), copied
 * out first: a waiter may queue new submissions, never reap.  With wait,
 * first submits and waits for at least one. */
static void drain(cio_loop *loop, int wait)
{
    struct uring_state *st = state_of(loop);
    if (wait && ring_enable(st) == 0) {
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, NULL, NULL);
    }
    struct io_uring_cqe *cqes[CQE_BATCH];
    struct {
        uint64_t ud;
        int res;
        unsigned flags;
    } got[CQE_BATCH];
    for (;;) {
        unsigned n = io_uring_peek_batch_cqe(&st->ring, cqes, CQE_BATCH);
        if (!n) {
            if (!io_uring_cq_has_overflow(&st->ring) || !st->enabled)
                break;
            io_uring_get_events(&st->ring);
            if (!(n = io_uring_peek_batch_cqe(&st->ring, cqes, CQE_BATCH)))
                break;
        }
        for (unsigned i = 0; i < n; i++) {
            got[i].ud = cqes[i]->user_data;
            got[i].res = cqes[i]->res;
            got[i].flags = cqes[i]->flags;
        }
        io_uring_cq_advance(&st->ring, n);
        for (unsigned i = 0; i < n; i++)
            dispatch(loop, got[i].ud, got[i].res, got[i].flags);
    }
}

/* ThreadSanitizer runs a signal's handler only inside a libc call it
 * intercepts, and io_uring_enter is none: a signal taken just before a
 * blocking enter (the self-pipe write of signal.c) would wait for the
 * next completion.  Under TSan a blocking wait is cut into 10 ms slices,
 * each after an intercepted call that runs the deferred handlers. */
#if defined(__SANITIZE_THREAD__)
#define TSAN_SLICE_NS 10000000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_SLICE_NS 10000000
#endif
#endif

static int uring_wait(cio_loop *loop, int64_t timeout_ns)
{
    struct uring_state *st = state_of(loop);
    int rc = ring_enable(st);
    if (rc < 0)
        return rc;
#ifdef TSAN_SLICE_NS
    if (timeout_ns != 0) {
        usleep(0);
        if (timeout_ns < 0 || timeout_ns > TSAN_SLICE_NS)
            timeout_ns = TSAN_SLICE_NS;
    }
#endif
    if (!st->wake_armed)
        wake_arm(st, loop);
    struct io_uring_cqe *cqe;
    if (timeout_ns == 0) {
        /* Just look: enter only if there is something to submit or
         * deferred completion work to run. */
        unsigned kflags = IO_URING_READ_ONCE(*st->ring.sq.kflags);
        if (io_uring_sq_ready(&st->ring) || !st->taskrun_flag ||
            (kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
            rc = io_uring_submit_and_get_events(&st->ring);
    } else if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, NULL, NULL);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / CIO_NS_PER_SEC,
                                       .tv_nsec = timeout_ns % CIO_NS_PER_SEC};
        rc = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, &ts, NULL);
    }
    drain(loop, 0);
    /* On the virtual clock a look that finds nothing ready makes time
     * jump to the next timer: first run what is immediately possible, as
     * epoll would have (what the submissions completed through task work,
     * a transport's reply queued by a completion), until nothing is. */
    for (int i = 0; timeout_ns == 0 && loop->virtual_clock && !loop->ready.n && i < 64; i++) {
        unsigned kflags = IO_URING_READ_ONCE(*st->ring.sq.kflags);
        if (!io_uring_sq_ready(&st->ring) && !(kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
            break;
        if ((rc = io_uring_submit_and_get_events(&st->ring)) < 0)
            break;
        drain(loop, 0);
    }
    return rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY ? rc : 0;
}

/* ---- registration ------------------------------------------------------- */

static int uring_update(cio_loop *loop, int fd, struct cio__fd *f)
{
    struct uring_state *st = state_of(loop);
    int rc = cio__uring_watch_update(st, fd, f);
    /* A poll removed holds the file: let the remove run now, since the
     * caller may close fd next (asyncio's server.close() does) and a
     * listening socket must stop accepting then. */
    if (rc == 1)
        ring_flush(st);
    return rc < 0 ? rc : 0;
}

static void uring_forget(cio_loop *loop, int fd, struct cio__fd *f)
{
    struct uring_state *st = state_of(loop);
    int asked = 0;
    struct cio__op *ops[2] = {f->rd_op, f->wr_op};
    for (int i = 0; i < 2; i++) {
        struct cio__op *op = ops[i];
        if (!op)
            continue;
        if (op->state == CIO__OPS_PENDING) {
            op->cancel_code = -EBADF;
            op->state = CIO__OPS_CANCELLING;
            cancel_ud(st, ud_of(op, TAG_OP));
        }
        asked = 1;
    }
    /* The slot is cleared by the caller; the ops end by their CQEs. */
    f->rd_op = f->wr_op = NULL;
    asked |= cio__uring_watch_forget(st, fd);
    asked |= cio__uring_accept_forget(loop, fd);
    f->events = 0;
    /* The kernel holds the file while a request on it lives: let the
     * cancels run now, so closing fd really closes it (a peer sees EOF). */
    if (asked)
        ring_flush(st);
    if (st->closing)
        wait_for_ops(loop, ops[0], ops[1]);
}

/* ---- teardown ------------------------------------------------------------- */

static void uring_fini(cio_loop *loop)
{
    struct cio__io *io = cio__io_of(loop);
    if (!io)
        return;
    struct uring_state *st = io->bdata;
    if (st) {
        st->closing = 1;
        for (size_t fd = 0; fd < io->nfds; fd++)
            if (io->fds[fd].mode)
                cio__io_forget(loop, (int)fd);
        st->dying = 1;
        /* Whatever the kernel still holds ends before the memory goes. */
        for (int i = 0; st->inflight && i < 100; i++) {
            struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
            if (sqe) {
                io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
                io_uring_sqe_set_data64(sqe, UD_IGNORE);
            }
            drain(loop, 1);
        }
        io_uring_queue_exit(&st->ring);
        cio__uring_bufs_fini(st);
        for (size_t fd = 0; fd < st->nwatch_slots; fd++)
            cio__free(st->watch[fd]);
        cio__free(st->watch);
        cio__free(st);
    }
    cio__free(io->fds);
    cio__free(io);
    loop->io = NULL;
}

const struct cio__io_backend cio__io_uring = {
    .poller = {.name = "io_uring", .wait = uring_wait, .fini = uring_fini},
    .init = uring_init,
    .submit = uring_submit,
    .cancel = uring_cancel,
    .held = uring_held,
    .reaim = uring_reaim,
    .update = uring_update,
    .forget = uring_forget,
    .completion = 1,
    .recv_multi = 1,
};
