/*
 * uring_multi.c - the io_uring backend's multishot receive: one recv
 * submission per connection that keeps delivering, into buffers the
 * kernel picks from a ring the loop provides (IORING_OP_RECV with
 * IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT).  What it saves over a
 * plain recv per message: preparing and submitting an SQE per message,
 * the kernel's arming of a poll for each, and a read buffer per
 * connection (the ring is the loop's, shared).
 *
 * The ring (one per loop, buffer group BGID) is made at the first
 * multishot receive: liburing 2.3 has no io_uring_setup_buf_ring, so the
 * ring's memory is mapped here (page aligned, as the kernel requires)
 * and registered with io_uring_register_buf_ring.  A kernel that refuses
 * (before 5.19) is remembered: every multishot submission then fails with
 * -ENOTSUP and its caller receives the plain way.
 *
 * A completion carries a buffer id (IORING_CQE_F_BUFFER): the bytes are
 * handed to the op's waiter and the buffer goes back to the ring's tail
 * as soon as the waiter returns - the protocol has consumed or copied
 * them by then (io.h).  So the ring runs dry only when one loop iteration
 * receives into more buffers than it has; the kernel then ends the
 * request with -ENOBUFS and it is re-armed here, to be issued with the
 * next enter, by which time the buffers are back.  The same for any other
 * end the waiter did not ask for (a completion without IORING_CQE_F_MORE
 * carrying bytes).  An op ends only on end of file, an error or its
 * cancel (IORING_OP_ASYNC_CANCEL, from uring.c): until that completion
 * the op is the kernel's, and the ring and its buffers live until the
 * loop's fini, after every request has ended.
 *
 * Multishot accept (IORING_ACCEPT_MULTISHOT): an accept op on a listener
 * (without an address wanted, as the servers' acceptors ask) is served
 * by one multishot request per listener, armed by the first such op.
 * Connections it accepts while no op waits are queued here (struct
 * acceptq) and handed to the next accept at once, without suspending, so
 * an acceptor takes a burst of connections in one iteration.  An error
 * (EMFILE, ENFILE...) ends the request: it goes to the waiting op, or is
 * kept for the next one, and the next accept re-arms - so a server's
 * back-off on EMFILE behaves as with plain accepts.  Cancelling a waiting
 * accept ends it at once (the kernel holds nothing of it); forgetting
 * the listener cancels the request and closes what was queued, as the
 * kernel resets what waits in a closed listener's backlog.  Kernels
 * before 5.19 lack it: their accepts stay plain.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "uring.h"

#define BGID 1                 /* the loop's buffer group */
#define MAX_BUFS 32768         /* the kernel's limit on ring entries */

#ifndef IORING_CQE_F_BUFFER
#define IORING_CQE_F_BUFFER (1U << 0)
#endif
#ifndef IORING_CQE_BUFFER_SHIFT
#define IORING_CQE_BUFFER_SHIFT 16
#endif

struct acceptq;
static void accq_free(struct acceptq *aq);

/* Makes and registers the ring with every buffer in it; 0 or -errno. */
static int bufs_make(struct uring_state *st)
{
    struct bufring *b = &st->bufs;
    unsigned n = 1;
    while (n < cio__io_ring_bufs && n < MAX_BUFS)
        n <<= 1;
    unsigned size = cio__io_ring_buf_size ? cio__io_ring_buf_size : 16384;
    long page = sysconf(_SC_PAGESIZE);
    size_t brb = (size_t)n * sizeof(struct io_uring_buf);
    brb = (brb + (size_t)page - 1) / (size_t)page * (size_t)page;
    void *br = mmap(NULL, brb, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED)
        return -ENOMEM;
    char *mem = cio__malloc((size_t)n * size);
    if (!mem) {
        munmap(br, brb);
        return -ENOMEM;
    }
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = n,
                                   .bgid = BGID};
    int rc = io_uring_register_buf_ring(&st->ring, &reg, 0);
    if (rc < 0) {
        munmap(br, brb);
        cio__free(mem);
        return rc;
    }
    b->br = br;
    b->br_bytes = brb;
    b->mem = mem;
    b->nbufs = n;
    b->size = size;
    io_uring_buf_ring_init(b->br);
    int mask = io_uring_buf_ring_mask(n);
    for (unsigned i = 0; i < n; i++)
        io_uring_buf_ring_add(b->br, mem + (size_t)i * size, size, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(b->br, (int)n);
    return 0;
}

int cio__uring_multi_prep(struct uring_state *st, struct io_uring_sqe *sqe, struct cio__op *op)
{
    struct bufring *b = &st->bufs;
    if (CIO_UNLIKELY(b->state != 1)) {
        if (b->state < 0)
            return -ENOTSUP;
        int rc = bufs_make(st);
        if (rc < 0) {
            /* No memory, or the ring is bound to another thread (a
             * submission before the loop runs): may work later. */
            if (rc != -ENOMEM && rc != -EEXIST) {
                b->state = rc;
                cio_log(CIO_LOG_DEBUG, "io_uring: no provided buffer ring (%s); plain receives",
                        cio_strerror(rc));
            }
            return -ENOTSUP;
        }
        b->state = 1;
    }
    io_uring_prep_recv(sqe, op->fd, NULL, 0, op->flags);
    sqe->ioprio |= IORING_RECV_MULTISHOT;
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    st->stats->recv_multi_armed++;
    return 0;
}

/* Buffer bid goes back to the ring's tail. */
static void recycle(struct bufring *b, unsigned bid)
{
    io_uring_buf_ring_add(b->br, b->mem + (size_t)bid * b->size, b->size, (unsigned short)bid,
                          io_uring_buf_ring_mask(b->nbufs), 0);
    io_uring_buf_ring_advance(b->br, 1);
}

/* The kernel ended op's request though nobody asked: submits it again
 * (issued with the next enter); 0, or -errno when the SQ takes none. */
static int rearm(struct uring_state *st, struct cio__op *op)
{
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return -EAGAIN;
    if (cio__uring_multi_prep(st, sqe, op) < 0) {
        io_uring_prep_nop(sqe); /* (cannot happen: the ring exists) */
        io_uring_sqe_set_data64(sqe, UD_IGNORE);
        return -ENOTSUP;
    }
    io_uring_sqe_set_data64(sqe, cio__uring_ud(op, TAG_OP));
    st->stats->recv_multi_rearmed++;
    return 0;
}

void cio__uring_multi_cqe(cio_loop *loop, struct cio__op *op, int res, unsigned flags)
{
    struct uring_state *st = cio__uring_state(loop);
    struct bufring *b = &st->bufs;
    int more = (flags & IORING_CQE_F_MORE) != 0;
    int has_buf = (flags & IORING_CQE_F_BUFFER) && b->state == 1;
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (has_buf && bid >= b->nbufs)
        has_buf = 0; /* (never: the kernel picks from our ids) */
    if (!more && op->state == CIO__OPS_PENDING && (res > 0 || res == -ENOBUFS)) {
        if (res == -ENOBUFS)
            st->stats->recv_multi_enobufs++;
        if (rearm(st, op) == 0)
            more = 1;
    }
    if (res == -ENOBUFS) {
        if (more)
            return; /* re-armed: nothing arrived */
        if (op->state == CIO__OPS_CANCELLING)
            res = -ECANCELED; /* op_end turns it into the cancel code */
    }
    if (res > 0 && has_buf) {
        op->buf = b->mem + (size_t)bid * b->size;
        op->len = (size_t)res;
        st->stats->recv_multi_data++;
    }
    /* The op may be gone once its waiter returns (when it ended); the
     * buffer id was read before. */
    if (more) {
        if (res > 0)
            op->waiter->wake(op->waiter, res);
    } else {
        cio__uring_op_end(loop, op, res);
    }
    if (has_buf)
        recycle(b, bid);
}

void cio__uring_bufs_fini(struct uring_state *st)
{
    for (size_t fd = 0; fd < st->naccq; fd++)
        if (st->accq[fd])
            accq_free(st->accq[fd]);
    cio__free(st->accq);
    st->accq = NULL;
    st->naccq = 0;
    struct bufring *b = &st->bufs;
    if (b->state != 1)
        return;
    munmap(b->br, b->br_bytes);
    cio__free(b->mem);
    b->br = NULL;
    b->mem = NULL;
    b->state = 0;
}

/* ---- multishot accept ---------------------------------------------------- */

/* A listener's multishot accept and the connections it brought. */
struct acceptq {
    int fd;                    /* the listening socket */
    struct cio__op *op;        /* the accept op waiting, or NULL */
    int *q;                    /* accepted, not taken yet: q[head..head+n) */
    unsigned head, n, cap;
    int err;                   /* the error the request ended with while no
                                  op waited: the next op's result */
    uint8_t armed;             /* the multishot request is in flight */
    uint8_t attached;          /* still uring_state.accq[fd]; a detached
                                  one is freed when nothing holds it */
    uint8_t busy;              /* its completion is being handled */
};

/* Whether this kernel has multishot accept (5.19): -1 unknown. */
static int accept_multi_ok = -1;

static int kernel_has_accept_multi(void)
{
    int ok = __atomic_load_n(&accept_multi_ok, __ATOMIC_RELAXED);
    if (ok < 0) {
        struct utsname u;
        int major = 0, minor = 0;
        if (uname(&u) == 0)
            sscanf(u.release, "%d.%d", &major, &minor);
        ok = major > 5 || (major == 5 && minor >= 19);
        __atomic_store_n(&accept_multi_ok, ok, __ATOMIC_RELAXED);
    }
    return ok;
}

static struct acceptq *accq_get(struct uring_state *st, int fd, int create)
{
    if ((size_t)fd < st->naccq && st->accq[fd])
        return st->accq[fd];
    if (!create)
        return NULL;
    if ((size_t)fd >= st->naccq) {
        size_t n = st->naccq ? st->naccq : 16;
        while (n <= (size_t)fd)
            n *= 2;
        struct acceptq **a = cio__realloc(st->accq, n * sizeof *a);
        if (!a)
            return NULL;
        memset(a + st->naccq, 0, (n - st->naccq) * sizeof *a);
        st->accq = a;
        st->naccq = n;
    }
    struct acceptq *aq = cio__calloc(1, sizeof *aq);
    if (!aq)
        return NULL;
    aq->fd = fd;
    aq->attached = 1;
    st->accq[fd] = aq;
    return aq;
}

static void accq_free(struct acceptq *aq)
{
    for (unsigned i = 0; i < aq->n; i++)
        close(aq->q[(aq->head + i) % aq->cap]);
    cio__free(aq->q);
    cio__free(aq);
}

/* Queues accepted fd; 0 or -ENOMEM. */
static int accq_push(struct acceptq *aq, int fd)
{
    if (aq->n == aq->cap) {
        unsigned cap = aq->cap ? aq->cap * 2 : 16;
        int *q = cio__malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (unsigned i = 0; i < aq->n; i++)
            q[i] = aq->q[(aq->head + i) % aq->cap];
        cio__free(aq->q);
        aq->q = q;
        aq->cap = cap;
        aq->head = 0;
    }
    aq->q[(aq->head + aq->n) % aq->cap] = fd;
    aq->n++;
    return 0;
}

static int accq_pop(struct acceptq *aq)
{
    int fd = aq->q[aq->head];
    aq->head = (aq->head + 1) % aq->cap;
    aq->n--;
    return fd;
}

static int accept_arm(struct uring_state *st, struct acceptq *aq)
{
    struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_accept(sqe, aq->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    sqe->ioprio |= IORING_ACCEPT_MULTISHOT;
    io_uring_sqe_set_data64(sqe, cio__uring_ud(aq, TAG_ACCEPT));
    aq->armed = 1;
    st->inflight++;
    st->stats->accept_multi_armed++;
    return 0;
}

/* The waiting op ends with res (a new descriptor or -errno). */
static void accept_end(cio_loop *loop, struct acceptq *aq, int res)
{
    struct cio__op *op = aq->op;
    aq->op = NULL;
    loop->nwatch--;
    op->state = CIO__OPS_IDLE;
    op->res = res;
    op->waiter->wake(op->waiter, res);
}

int cio__uring_accept_submit(cio_loop *loop, struct cio__op *op, struct cio__fd *f)
{
    struct uring_state *st = cio__uring_state(loop);
    if (!kernel_has_accept_multi())
        return -1;
    struct acceptq *aq = accq_get(st, op->fd, 1);
    if (!aq)
        return -1; /* no memory: a plain accept */
    f->mode = CIO__FD_OPS;
    if (aq->op) {
        op->res = -EBUSY;
        return 0;
    }
    if (aq->n) {
        op->res = accq_pop(aq);
        return 0;
    }
    if (aq->err) {
        op->res = aq->err;
        aq->err = 0;
        return 0;
    }
    if (!aq->armed && accept_arm(st, aq) < 0) {
        op->res = -EAGAIN;
        return 0;
    }
    aq->op = op;
    op->next = NULL;
    op->state = CIO__OPS_PENDING;
    loop->nwatch++;
    return 1;
}

int cio__uring_accept_cancel(cio_loop *loop, struct cio__op *op, int code)
{
    struct acceptq *aq = accq_get(cio__uring_state(loop), op->fd, 0);
    if (!aq || aq->op != op)
        return 0;
    accept_end(loop, aq, code);
    return 1;
}

int cio__uring_accept_forget(cio_loop *loop, int fd)
{
    struct uring_state *st = cio__uring_state(loop);
    struct acceptq *aq = accq_get(st, fd, 0);
    if (!aq)
        return 0;
    st->accq[fd] = NULL;
    aq->attached = 0;
    int asked = aq->armed;
    if (aq->armed) {
        struct io_uring_sqe *sqe = cio__uring_get_sqe(st);
        if (sqe) {
            io_uring_prep_cancel64(sqe, cio__uring_ud(aq, TAG_ACCEPT), 0);
            io_uring_sqe_set_data64(sqe, UD_IGNORE);
        }
    }
    aq->busy++; /* the op's waiter may run anything */
    if (aq->op)
        accept_end(loop, aq, -EBADF);
    aq->busy--;
    if (!aq->armed && !aq->busy)
        accq_free(aq);
    return asked;
}

void cio__uring_accept_cqe(cio_loop *loop, struct acceptq *aq, int res, unsigned flags)
{
    struct uring_state *st = cio__uring_state(loop);
    if (!(flags & IORING_CQE_F_MORE)) {
        aq->armed = 0;
        st->inflight--;
    }
    aq->busy++;
    if (!aq->attached) {
        if (res >= 0)
            close(res); /* the listener went: as its backlog would be */
    } else if (res >= 0) {
        st->stats->accept_multi_fds++;
        if (aq->op) {
            accept_end(loop, aq, res);
        } else if (accq_push(aq, res) < 0) {
            cio_log(CIO_LOG_WARNING, "io_uring: no memory to queue an accepted connection");
            close(res);
        }
    } else if (res != -ECANCELED) {
        if (aq->op)
            accept_end(loop, aq, res);
        else
            aq->err = res;
    }
    /* An op still waits and the request ended: arm it again. */
    if (aq->attached && aq->op && !aq->armed && accept_arm(st, aq) < 0)
        accept_end(loop, aq, -EAGAIN);
    aq->busy--;
    if (!aq->attached && !aq->armed && !aq->busy)
        accq_free(aq);
}
