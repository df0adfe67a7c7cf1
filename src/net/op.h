/*
 * op.h - the I/O operation layer (DESIGN.md section 6).
 *
 * Coroutine I/O never talks to the poller directly: it fills a struct
 * cio__op ("do this, resume me with the result") and calls cio__op_run(),
 * which suspends the calling task until the operation is complete and
 * returns its result as the syscall would (count, new fd, 0) or -errno.
 *
 * Each poll backend brings an op backend:
 *   - readiness (op.c), for epoll: try the syscall; on EAGAIN park on the
 *     descriptor (cio__fd_wait, edge-triggered, registered once) and retry.
 *   - completion (a future op_uring.c), for io_uring: prepare one SQE from
 *     the op (the fields below map one-to-one onto io_uring_prep_recv,
 *     _send, _accept, _connect, _read, _write, _close, _sendmsg/_recvmsg),
 *     park the task on the op, and wake it with cqe->res.
 * So the op struct holds everything a submission needs and lives on the
 * suspended task's stack until the op completes.
 */
#ifndef CIO_NET_OP_H
#define CIO_NET_OP_H

#include <sys/socket.h>
#include <sys/types.h>

#include "../loop/loop.h"

enum cio__op_kind {
    CIO__OP_RECV,      /* recv(fd, buf, len, flags) */
    CIO__OP_SEND,      /* send(fd, buf, len, flags), may be partial */
    CIO__OP_RECVFROM,  /* recvfrom with addr/addrlen out */
    CIO__OP_SENDTO,    /* sendto to addr/addrlen_in */
    CIO__OP_ACCEPT,    /* accept4(fd, addr, addrlen, NONBLOCK|CLOEXEC) */
    CIO__OP_CONNECT,   /* connect(fd, addr, addrlen_in) to completion */
    CIO__OP_READ,      /* read(fd, buf, len) */
    CIO__OP_WRITE,     /* write(fd, buf, len), may be partial */
    CIO__OP_CLOSE      /* forget the slot, wake waiters with -EBADF, close */
};

struct cio__op {
    uint8_t kind;              /* enum cio__op_kind */
    int fd;                    /* the descriptor operated on */
    void *buf;                 /* data in (send/write) or out (recv/read) */
    size_t len;                /* bytes of buf */
    int flags;                 /* MSG_* flags of recv/send style ops */
    struct sockaddr *addr;     /* accept/recvfrom: out; connect/sendto: in */
    socklen_t *addrlen;        /* accept/recvfrom: in size, out length */
    socklen_t addrlen_in;      /* connect/sendto: length of addr */
};

/* What a backend provides: run one op to completion for the calling task. */
struct cio__op_backend {
    const char *name;
    /* Returns the op's result (>= 0) or -errno, -ECANCELED, -ETIMEDOUT.
     * Suspends the current task as needed. */
    int (*run)(cio_loop *loop, cio_task *t, struct cio__op *op);
};

extern const struct cio__op_backend cio__op_readiness;

/*
 * Runs op for the calling task on its loop.  Returns the result, or
 * CIO_ENOTASK outside a task.  Suspends.
 */
int cio__op_run(struct cio__op *op);

/* Shorthands used by the socket and stream layers. */
int cio__op_recv(int fd, void *buf, size_t len, int flags);
int cio__op_send(int fd, const void *buf, size_t len, int flags);

#endif
