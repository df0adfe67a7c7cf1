/*
 * io.h - the I/O layer (DESIGN.md section 6): descriptors and operations,
 * backend-neutral.  Everything above it (tasks, sockets, pipes, TLS,
 * transports) does descriptor I/O through this header only; a backend
 * (epoll.c, later uring.c) is one file that fills struct cio__io_backend.
 *
 * Two services:
 *   - Operations ("do this, wake that waiter with the result"): a struct
 *     cio__op says what to do (recv, send, accept, connect, read, write,
 *     wait until readable/writable, ...).  cio__io_submit() either
 *     completes it at once (returns 0, result in op->res) or leaves it
 *     pending (returns 1) and later wakes op->waiter with the result.  The
 *     readiness backend (epoll) tries the syscall and, on EAGAIN, retries
 *     it when the descriptor's next edge arrives; a completion backend
 *     (io_uring) submits the operation itself.  While an op is pending, it
 *     and its buffers belong to the backend.
 *   - Readiness callbacks (asyncio's add_reader/add_writer, level-
 *     triggered), for code that must do its own syscalls (libpq, the
 *     Python loop).  A descriptor serves callbacks or operations, not both
 *     at once.
 *
 * Cancellation is asynchronous: cio__io_cancel() asks; the op still ends
 * through its waiter, at once on epoll, when the kernel confirms on
 * io_uring, and with its real result if it completed first.
 */
#ifndef CIO_IO_INTERNAL_H
#define CIO_IO_INTERNAL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "../loop/loop.h"

/* Readiness bits of the I/O layer: backends translate their own.  The
 * values are Linux's poll(2) bits (POLLIN, POLLOUT, POLLERR, POLLHUP,
 * POLLRDHUP), which epoll's and io_uring's poll results share, so a
 * backend translates with a mask (each checks the equality at compile
 * time) - done for every event. */
enum {
    CIO__IO_IN = 0x001,        /* readable (or a connection to accept) */
    CIO__IO_OUT = 0x004,       /* writable */
    CIO__IO_ERR = 0x008,       /* error pending on the descriptor */
    CIO__IO_HUP = 0x010,       /* both directions hung up */
    CIO__IO_RDHUP = 0x2000     /* peer shut down its writing side */
};

enum cio__op_kind {
    CIO__OP_RECV,      /* recv(fd, buf, len, flags) */
    CIO__OP_SEND,      /* send(fd, buf, len, flags), may be partial */
    CIO__OP_SENDMSG,   /* sendmsg of iov/iovcnt (to addr if set), partial */
    CIO__OP_RECVFROM,  /* recvfrom with addr/addrlen out */
    CIO__OP_SENDTO,    /* sendto to addr/addrlen_in */
    CIO__OP_ACCEPT,    /* accept4(fd, addr, addrlen, NONBLOCK|CLOEXEC) */
    CIO__OP_CONNECT,   /* connect(fd, addr, addrlen_in) to completion */
    CIO__OP_READ,      /* read(fd, buf, len) */
    CIO__OP_WRITE,     /* write(fd, buf, len), may be partial */
    CIO__OP_WRITEV,    /* writev(fd, iov, iovcnt), may be partial */
    CIO__OP_POLL_IN,   /* wait until fd is readable; result 0 */
    CIO__OP_POLL_OUT,  /* wait until fd is writable; result 0 */
    /* Multishot receive into the loop's provided buffers (a backend with
     * recv_multi only): see "Multishot receive" below. */
    CIO__OP_RECV_MULTI
};

enum {
    CIO__OPS_IDLE = 0,       /* not submitted, or complete */
    CIO__OPS_PENDING = 1,    /* owned by the backend */
    CIO__OPS_CANCELLING = 2  /* cancel asked, completion not seen yet */
};

/* Flags of an op (op->opflags). */
enum {
    /* POLL_*: the caller just met EAGAIN itself, so the descriptor is
     * known not ready: wait for the next edge without looking first. */
    CIO__OPF_AFTER_EAGAIN = 1 << 0,
    /* Try it now, never wait: complete at once with the result, -EAGAIN
     * when the descriptor is not ready (a readiness backend makes the
     * syscall; a completion backend must too, or submit and reap it
     * before returning).  For a last look at what the kernel holds. */
    CIO__OPF_NOWAIT = 1 << 1,
    /* A send that may wait for the backend's next wait: a completion
     * backend submits it with that wait anyway; epoll holds it until its
     * wait (a transport's small writes, so one loop iteration's responses
     * go out together rather than each waking the peer on its own). */
    CIO__OPF_DEFER = 1 << 2
};

struct cio__op {
    uint8_t kind;              /* enum cio__op_kind */
    uint8_t state;             /* CIO__OPS_* (the backend's) */
    uint8_t opflags;           /* CIO__OPF_* */
    int fd;                    /* the descriptor operated on */
    void *buf;                 /* data in (send/write) or out (recv/read) */
    size_t len;                /* bytes of buf */
    int flags;                 /* MSG_* flags of recv/send style ops */
    const struct iovec *iov;   /* SENDMSG/WRITEV: the pieces, in order */
    int iovcnt;
    struct sockaddr *addr;     /* accept/recvfrom: out; connect/sendto/
                                  sendmsg: in (NULL: none) */
    socklen_t *addrlen;        /* accept/recvfrom: in size, out length */
    socklen_t addrlen_in;      /* connect/sendto/sendmsg: length of addr */
    int res;                   /* the result once complete: >= 0 or -errno */
    int cancel_code;           /* what a cancelled op ends with */
    struct cio__waiter *waiter; /* woken with res when a pending op ends */
    struct cio__op *next;      /* the backend's lists */
    unsigned sqe_at;           /* io_uring: the SQ slot its submission
                                  took (the kernel has it once the ring's
                                  head has passed it) */
    /* A completion backend's storage while the op is pending: the msghdr
     * (and its one iovec) that sendmsg/recvmsg submissions point to, so
     * submitting an op never allocates (a failed allocation would drop a
     * datagram the caller was told was sent). */
    struct msghdr msg;
    struct iovec iov1;
};

/* A descriptor's slot: its callbacks and pending operations. */
struct cio__fd {
    cio_handle *reader;        /* add_reader callback (level-triggered) */
    cio_handle *writer;        /* add_writer callback */
    struct cio__op *rd_op;     /* pending op waiting to read (epoll) */
    struct cio__op *wr_op;     /* pending op waiting to write (epoll) */
    uint32_t events;           /* what the backend watches now (its bits) */
    uint32_t ready;            /* ops mode: CIO__IO_* seen, not yet used up */
    uint8_t mode;              /* CIO__FD_* */
    uint8_t deferred;          /* epoll: wr_op is a deferred send, on the
                                  backend's list for its next wait */
};

enum {
    CIO__FD_NONE = 0,          /* nothing registered */
    CIO__FD_CALLBACKS = 1,     /* add_reader/add_writer */
    CIO__FD_OPS = 2            /* operations (edge-triggered on epoll) */
};

/* A backend: one file each, chosen per loop at creation. */
struct cio__io_backend {
    struct cio__poller poller;  /* name, wait, fini (what the loop calls) */
    /* Sets up the backend for loop (loop->io is allocated); 0 or -errno. */
    int (*init)(cio_loop *loop);
    /* Starts op: 0 done (op->res set), 1 pending. */
    int (*submit)(cio_loop *loop, struct cio__op *op);
    /* Asks the pending op to end with code; see cio__io_cancel. */
    void (*cancel)(cio_loop *loop, struct cio__op *op, int code);
    /* The callbacks of slot f changed: watch what it now needs. */
    int (*update)(cio_loop *loop, int fd, struct cio__fd *f);
    /* fd is being closed or handed away: end its pending ops with -EBADF
     * and drop its registration. */
    void (*forget)(cio_loop *loop, int fd, struct cio__fd *f);
    /* 1 while op, a CIO__OPF_DEFER send, is held for the next wait and
     * not tried yet: its caller may still change what it sends (more
     * writes of the same iteration join it, then reaim).  NULL: never. */
    int (*held)(cio_loop *loop, const struct cio__op *op);
    /* op, held, now sends other buffers (its caller changed them): the
     * backend takes the change (io_uring prepares its submission again).
     * NULL: nothing to do (epoll reads the op when it tries it). */
    void (*reaim)(cio_loop *loop, struct cio__op *op);
    /* 1 on a completion backend (io_uring), where an op is a submission
     * handed over with the loop's next wait. */
    uint8_t completion;
    /* 1 when the backend takes CIO__OP_RECV_MULTI (io_uring). */
    uint8_t recv_multi;
};

extern const struct cio__io_backend cio__io_epoll;
#ifdef CIO_HAVE_URING
extern const struct cio__io_backend cio__io_uring;
#endif

/* What a backend counts of its multishot requests: white-box numbers
 * for tests and debugging (a backend without them leaves them 0). */
struct cio__io_stats {
    unsigned long recv_multi_armed;   /* multishot receives submitted
                                         (first arms and re-arms) */
    unsigned long recv_multi_data;    /* completions that carried bytes */
    unsigned long recv_multi_rearmed; /* re-armed after a completion
                                         without IORING_CQE_F_MORE */
    unsigned long recv_multi_enobufs; /* of those: the buffer ring ran dry */
    unsigned long accept_multi_armed; /* multishot accepts submitted */
    unsigned long accept_multi_fds;   /* connections they delivered */
};

/* The I/O layer's state of a loop (loop->io). */
struct cio__io {
    const struct cio__io_backend *backend;
    struct cio__fd *fds;       /* slots indexed by fd */
    size_t nfds;
    void *bdata;               /* the backend's own state */
    struct cio__io_stats stats; /* the backend's counts */
};

static inline struct cio__io *cio__io_of(cio_loop *loop)
{
    return (struct cio__io *)loop->io;
}

/* Descriptor slots (fd.c): fd's slot, created if asked; NULL on -ENOMEM
 * or (create == 0) when it has none.  Every operation looks its slot up,
 * so the common case (the table is big enough) is inline. */
struct cio__fd *cio__fd_slot_grow(cio_loop *loop, int fd, int create);
static inline struct cio__fd *cio__fd_slot(cio_loop *loop, int fd, int create)
{
    struct cio__io *io = cio__io_of(loop);
    if (CIO_LIKELY((unsigned)fd < io->nfds))
        return &io->fds[fd];
    return cio__fd_slot_grow(loop, fd, create);
}
/* Backend hook: fd reported events (CIO__IO_* bits).  Runs callbacks'
 * handles through the ready queue; ops mode is the backend's own. */
void cio__fd_dispatch_callbacks(cio_loop *loop, int fd, struct cio__fd *f, uint32_t events);

/*
 * Starts op on loop.  Returns 0 when it completed at once (op->res holds
 * the result, op->waiter is not woken) or 1 when it is pending: op (and
 * its buffers, iov, addr) must stay valid and untouched until op->waiter
 * is woken with the result (count, new fd, 0, or -errno; -EBUSY when
 * another op already waits on fd in the same direction, or callbacks
 * watch it).  Never suspends: the task layer's cio__op_run does that.
 */
static inline int cio__io_submit(cio_loop *loop, struct cio__op *op)
{
    return cio__io_of(loop)->backend->submit(loop, op);
}

/* Whether loop's backend completes ops itself (io_uring): see
 * cio__io_backend.completion. */
static inline int cio__io_completion(cio_loop *loop)
{
    struct cio__io *io = cio__io_of(loop);
    return io && io->backend->completion; /* (none once the loop closed) */
}

/*
 * Multishot receive (CIO__OP_RECV_MULTI; only where cio__io_recv_multi()
 * says so): one submission that keeps receiving on fd (op->fd, op->flags;
 * op->buf and op->len are the backend's) into buffers the loop owns, a
 * ring of them shared by every connection of the loop, until it is
 * cancelled, fails or meets end of file.  Each arrival wakes op->waiter
 * with the byte count while op->state is still PENDING (or CANCELLING),
 * op->buf pointing at the bytes: they are valid only during that wake,
 * the buffer going back to the ring when the waiter returns, so the
 * waiter copies or consumes them then.  The backend re-arms it by itself
 * when the kernel ends it early (no IORING_CQE_F_MORE, or -ENOBUFS when
 * the ring ran dry); the op ends (state IDLE at its last wake) with 0 at
 * end of file, -errno, or the cancel code, its last wake possibly
 * carrying bytes too (res > 0, state IDLE).  A backend without it, or a
 * ring that cannot be set up, fails the submission at once with
 * -ENOTSUP: the caller then receives the plain way.
 */
static inline int cio__io_recv_multi(cio_loop *loop)
{
    struct cio__io *io = cio__io_of(loop);
    return io && io->backend->recv_multi;
}

/* Provided buffers of a loop's ring (read when the ring is made, at the
 * first multishot receive): a power of two, and bytes each.  Tests make
 * them tiny to run the ring dry. */
extern unsigned cio__io_ring_bufs;
extern unsigned cio__io_ring_buf_size;

/* Asks a pending op to end with code (-ECANCELED, -ETIMEDOUT).  It still
 * ends through its waiter: at once, or when the backend confirms; with its
 * own result if it completed first.  No effect on an op not pending. */
static inline void cio__io_cancel(cio_loop *loop, struct cio__op *op, int code)
{
    if (op->state == CIO__OPS_PENDING)
        cio__io_of(loop)->backend->cancel(loop, op, code);
}

/* 1 while a CIO__OPF_DEFER op is held, not yet tried (see held). */
static inline int cio__io_held(cio_loop *loop, const struct cio__op *op)
{
    const struct cio__io_backend *be = cio__io_of(loop)->backend;
    return op->state == CIO__OPS_PENDING && be->held && be->held(loop, op);
}

/* After changing a held op's buffers (cio__io_held said 1). */
static inline void cio__io_reaim(cio_loop *loop, struct cio__op *op)
{
    const struct cio__io_backend *be = cio__io_of(loop)->backend;
    if (be->reaim)
        be->reaim(loop, op);
}

/* Forgets fd (before it is closed or handed to another owner): its
 * callbacks are removed and its pending ops end with -EBADF. */
void cio__io_forget(cio_loop *loop, int fd);
/* cio__io_forget, then close(fd); 0 or -errno. */
int cio__io_close(cio_loop *loop, int fd);

/* signal.c: cio_loop_add_signal_handler; a weak handler does not keep
 * the loop alive (cio_run's SIGINT). */
int cio__loop_add_signal_handler(cio_loop *loop, int sig, cio_callback_fn *cb, void *arg,
                                 int weak);

#endif
