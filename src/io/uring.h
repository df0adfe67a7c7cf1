/*
 * uring.h - what the io_uring backend's files share: uring.c (the ring,
 * operations, readiness callbacks, waiting) and uring_multi.c (the
 * provided buffer ring and the multishot requests).  Private to src/io.
 */
#ifndef CIO_IO_URING_INTERNAL_H
#define CIO_IO_URING_INTERNAL_H

#include <liburing.h>

#include "io.h"

#define RING_ENTRIES 256       /* SQ entries: one iteration's submissions */
#define CQ_ENTRIES 4096        /* completions the CQ holds before spilling */
#define CQE_BATCH 64           /* completions copied out at a time */
#define AWAIT_MAX 16           /* nested synchronous cancels while closing */

/* user_data tags in the low bits of a pointer (structs are 8-aligned). */
enum {
    TAG_OP = 0,                /* a struct cio__op */
    TAG_WATCH = 1,             /* a struct watch (callbacks' poll) */
    TAG_ACCEPT = 2,            /* a struct acceptq (multishot accept) */
    TAG_MASK = 7
};
/* user_data of completions nobody waits for (cancels, poll removes) and
 * of the wakeup poll; not pointers.  (~0 is liburing's timeout marker.) */
#define UD_IGNORE ((uint64_t)2)
#define UD_WAKE ((uint64_t)4)

/* Newer kernel ABI than liburing 2.3 may know (linux/io_uring.h). */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* The loop's provided buffers (uring_multi.c): a ring the kernel picks
 * buffers from for multishot receives, made at the first one. */
struct bufring {
    struct io_uring_buf_ring *br; /* the ring shared with the kernel
                                     (mmap'd, page aligned) */
    size_t br_bytes;           /* its mapping's size */
    char *mem;                 /* nbufs * size bytes of buffers */
    unsigned nbufs;            /* entries (a power of two) */
    unsigned size;             /* bytes per buffer */
    int state;                 /* 0 not made yet, 1 registered, -errno:
                                  this kernel refused it (not retried) */
};

struct uring_state {
    struct io_uring ring;
    struct cio__loop_ext ext;  /* on_closing: cancels become synchronous */
    struct watch **watch;      /* by fd: callbacks' poll requests */
    size_t nwatch_slots;
    size_t inflight;           /* ops and watch polls the kernel holds */
    struct cio__op *awaited[AWAIT_MAX]; /* closing: ops waited for */
    uint8_t enabled;           /* ring enabled (first enter done) */
    uint8_t wake_armed;        /* the multishot poll on wakefd is live */
    uint8_t closing;           /* the loop is closing: wait for cancels */
    uint8_t dying;             /* fini: new ops fail with -EBADF */
    uint8_t taskrun_flag;      /* IORING_SQ_TASKRUN says when to enter */
    struct bufring bufs;       /* multishot receives' buffers */
    struct cio__io_stats *stats; /* the loop's counts (cio__io.stats) */
    struct acceptq **accq;     /* by fd: listeners' multishot accepts */
    size_t naccq;
};

/* Newer kernel ABI than liburing 2.3 may know (linux/io_uring.h). */
#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1)
#endif
#ifndef IORING_RECV_MULTISHOT
#define IORING_RECV_MULTISHOT (1U << 1)
#endif
#ifndef IORING_ACCEPT_MULTISHOT
#define IORING_ACCEPT_MULTISHOT (1U << 0)
#endif

struct watch;

/* uring_watch.c: add_reader/add_writer as poll requests. */
/* Sets fd's poll request to what f's callbacks need: 0, 1 when a poll in
 * flight was taken off (the caller flushes the ring so the kernel lets
 * the file go), or -errno (-EPERM: a regular file, as epoll). */
int cio__uring_watch_update(struct uring_state *st, int fd, struct cio__fd *f);
/* A watch's poll completed with res: runs the callbacks, re-arms. */
void cio__uring_watch_done(cio_loop *loop, struct watch *w, int res);
/* fd is forgotten: its watch goes; 1 if its poll was in flight. */
int cio__uring_watch_forget(struct uring_state *st, int fd);

static inline struct uring_state *cio__uring_state(cio_loop *loop)
{
    return (struct uring_state *)cio__io_of(loop)->bdata;
}

static inline uint64_t cio__uring_ud(const void *p, int tag)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)tag;
}

/* uring.c: a free SQE (what is queued goes to the kernel first when the
 * SQ is full), NULL only if the kernel takes none. */
struct io_uring_sqe *cio__uring_get_sqe(struct uring_state *st);
/* uring.c: op's last completion: its slot freed, state IDLE, waiter
 * woken with res (the cancel code if it was cancelled). */
void cio__uring_op_end(cio_loop *loop, struct cio__op *op, int res);

/* uring_multi.c: fills sqe for a multishot receive of op (user_data is
 * the caller's); 0, or -ENOTSUP when the loop has no buffer ring (none
 * can be made on this kernel, or not from this thread). */
int cio__uring_multi_prep(struct uring_state *st, struct io_uring_sqe *sqe, struct cio__op *op);
/* uring_multi.c: a completion of a multishot op (res, CQE flags). */
void cio__uring_multi_cqe(cio_loop *loop, struct cio__op *op, int res, unsigned flags);
/* uring_multi.c: an accept op (op->addr NULL) served by the listener's
 * multishot accept: 0 done (op->res), 1 pending, -1 not for it (the
 * caller submits a plain accept). */
int cio__uring_accept_submit(cio_loop *loop, struct cio__op *op, struct cio__fd *f);
/* uring_multi.c: cancels op if it waits on a multishot accept (it ends
 * at once: the kernel holds nothing of it); 1 if it did. */
int cio__uring_accept_cancel(cio_loop *loop, struct cio__op *op, int code);
/* uring_multi.c: listener fd goes: its waiting accept ends with -EBADF,
 * connections accepted but not taken are closed, the multishot accept
 * is cancelled; 1 when a request on fd was in flight. */
int cio__uring_accept_forget(cio_loop *loop, int fd);
/* uring_multi.c: a completion of a multishot accept. */
void cio__uring_accept_cqe(cio_loop *loop, struct acceptq *aq, int res, unsigned flags);
/* uring_multi.c: frees the buffer ring and the accept table (nothing in
 * flight any more). */
void cio__uring_bufs_fini(struct uring_state *st);

#endif
