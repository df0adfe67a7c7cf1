/*
 * transport.c - asyncio's socket transport (selector_events'
 * _SelectorSocketTransport) over the I/O layer: a read op and a writev op
 * with waiters embedded in the transport, so no task runs per connection
 * and the code is the same on a readiness or a completion backend.
 *
 * Reading: one recv per loop iteration while reading is on.  A recv that
 * completes at once is handled and the next is scheduled with call_soon
 * (a fast peer cannot starve the loop); one that waits wakes rwait.
 * Where the backend has multishot receive (io_uring, io.h) and the
 * protocol takes data_received (no get_buffer), one CIO__OP_RECV_MULTI
 * replaces them: armed once, it wakes rwait with each arrival, in a
 * buffer of the loop's ring that data_received consumes and that goes
 * back to the ring when it returns; no buffer of the transport's own.
 * Pausing or closing cancels it, and the kernel may have received more
 * before the cancel is confirmed: what comes while paused is held
 * (copied into "held", end of file as eof_held) and delivered in order
 * on resume, as a plain recv would have found it in the socket; what
 * comes after close is dropped, as asyncio stops reading at close.
 * A protocol with get_buffer (a stream) gets the bytes copied into its
 * buffer (deliver_copy): a copy of what arrived, cheaper than a recv
 * submission per read; the plain recv straight into its buffer stays
 * for epoll.  A protocol replaced (set_protocol, start_tls) while a
 * plain recv into its buffer is in flight, which pausing does not end
 * at once on io_uring, does not lose what that recv brings: the new
 * protocol gets the bytes as it takes bytes (deliver).
 * Writing: a write of up to QUEUE_MAX bytes is copied to the write
 * buffer (chunks, transport_buf.c), which a send op drains at the loop's
 * next wait (CIO__OPF_DEFER): io_uring submits it with the iteration's
 * other submissions and the wait, with no system call of its own (issue
 * 9); epoll makes the send as its wait begins, so one iteration's
 * responses reach their peers together instead of each waking an idle
 * peer on its own (the wake-up is charged to the sender: FastAPI behind
 * cio.serve_asgi on epoll took 9-10 µs of system time per request sent
 * at once, 5.1-5.5 deferred).  Each op takes everything queued when it
 * starts.  A reset then reaches the protocol through connection_lost, as
 * asyncio's write reports it, instead of through write's return value.
 * A larger write is still tried at once when nothing is queued, where the
 * copy would cost more than the call.  Closing: connection_lost always
 * runs from a call_soon callback, once, and the socket is closed after
 * it.
 *
 * A failed send delivers first what the socket still holds ("salvage"):
 * the kernel reports a reset once, to whichever call comes first, and a
 * later recv returns 0 as if the peer had closed cleanly; the bytes
 * received before the reset are still readable, and a protocol waiting
 * for the rest of a message must get them before the error.  So when a
 * send fails while reading is on, connection_lost's callback first waits
 * for the read op to end (it was cancelled), then takes the bytes with
 * NOWAIT recv ops (tried at once, never waiting: the I/O layer's last
 * look) until the socket has no more or the protocol pauses reading,
 * delivers them, and only then reports the error.
 *
 * Divided into: lifetime, closing, writing, public methods; the reading
 * is transport_read.c, the state both share transport_sock.h.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <unistd.h>

#include "../util/internal.h"
#include "transport_sock.h"

unsigned long cio__transport_writev_count;


static void write_wake(struct cio__waiter *w, int res);
static void flush(struct sock *t);
static void sock_close(cio_transport *bt);
static const struct cio__transport_vt sock_vt;

/* ---- lifetime ---------------------------------------------------------------- */


int cio__transport_new(cio_loop *loop, int fd, const cio_transport_options *opts,
                       cio_transport **out)
{
    if (!loop || fd < 0)
        return -EINVAL;
    struct sock *t = cio__calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->b.vt = &sock_vt;
    t->b.loop = loop;
    t->fd = fd;
    t->b.refs = 1; /* alive until connection_lost has run */
    t->b.proto = &cio__no_protocol;
    t->rwait.wake = cio__sock_read_wake;
    t->wwait.wake = write_wake;
    t->read_size = opts && opts->read_size ? opts->read_size : DEFAULT_READ;
    if (t->read_size > INT32_MAX)
        t->read_size = INT32_MAX;
    cio__tflow_init(&t->fl, opts);
    *out = &t->b;
    return 0;
}

void cio__transport_start(cio_transport *bt, const cio_protocol *proto, void *ud)
{
    struct sock *t = (struct sock *)bt;
    t->b.proto = proto ? proto : &cio__no_protocol;
    t->b.ud = ud;
    t->made = 1;
    t->b.refs++; /* connection_made may close and drop the caller's hold */
    if (t->b.proto->connection_made)
        t->b.proto->connection_made(&t->b, t->b.ud);
    if (!t->closing)
        cio__sock_schedule_read(t);
    cio__sock_unref(t);
}

void cio__transport_discard(cio_transport *t)
{
    cio__transport_unref(t);
}

void cio__transport_keep_fd(cio_transport *t)
{
    ((struct sock *)t)->keep_fd = 1;
}

/* ---- closing ------------------------------------------------------------------- */


/* A send failed: hands the protocol what the socket still holds (see the
 * top of the file).  No op is in flight: the read was cancelled and has
 * ended.  Each recv is a NOWAIT op, so this never waits, on any backend;
 * it stops at the end of the data, an error, end of file, or when the
 * protocol pauses reading (its buffer is full: the rest would be lost
 * with the connection anyway). */
static void salvage(struct sock *t)
{
    t->salvage = 0;
    t->b.refs++; /* the protocol may close or release meanwhile */
    while (!t->fl.rpaused && t->fd >= 0) {
        void *buf;
        size_t len;
        int buffered;
        if (cio__sock_read_buffer(t, &buf, &len, &buffered) < 0 || t->fl.rpaused)
            break;
        t->rop = (struct cio__op){.kind = CIO__OP_RECV, .fd = t->fd, .buf = buf, .len = len,
                                  .opflags = CIO__OPF_NOWAIT, .waiter = &t->rwait,
                                  .cancel_code = -ECANCELED};
        if (cio__io_submit(t->b.loop, &t->rop) != 0 || t->rop.res <= 0)
            break; /* (a NOWAIT op never stays pending) */
        cio__sock_deliver(t, t->rbuf, (size_t)t->rop.res, buffered);
    }
    t->b.refs--; /* never the last: the "alive" reference is held */
}

/* Closes the socket (or, keep_fd, hands it back: forgotten by the
 * loop); a pending op ends with -EBADF. */
static void close_fd(struct sock *t)
{
    int fd = t->fd;
    t->fd = -1;
    if (fd >= 0 && t->keep_fd)
        cio__io_forget(t->b.loop, fd);
    else if (fd >= 0)
        cio__io_close(t->b.loop, fd);
}

void cio__sock_call_lost(void *arg)
{
    struct sock *t = arg;
    if (t->reading || t->writing) {
        /* A cancelled op is not confirmed yet (io_uring confirms later):
         * its buffer - the protocol's own, with get_buffer - may still be
         * written, so connection_lost, after which the protocol frees it,
         * waits for the op's end (cio__sock_read_wake / write_wake call again). */
        t->lost_waiting = 1;
        return;
    }
    t->lost_waiting = 0;
    if (t->salvage)
        salvage(t);
    t->lost = 1;
    if (t->made && t->b.proto->connection_lost)
        t->b.proto->connection_lost(&t->b, t->error, t->b.ud);
    if (t->b.on_lost)
        t->b.on_lost(&t->b, t->b.on_lost_arg);
    close_fd(t);
    if (!t->writing)
        cio__tbuf_free(&t->wbuf);
    cio__free(t->rbuf);
    t->rbuf = NULL;
    cio__tbuf_free(&t->held);
    cio__sock_unref(t); /* the "alive" reference */
}

/* Queues connection_lost (once). */
static void schedule_lost(struct sock *t)
{
    if (t->lost_scheduled)
        return;
    t->lost_scheduled = 1;
    if (cio_call_soon(t->b.loop, cio__sock_call_lost, t, NULL) < 0)
        cio__sock_call_lost(t); /* loop closed or no memory: now, not never */
}

/* asyncio's _force_close: drop the buffer, stop everything, lost(err). */
static void force_close(struct sock *t, int err)
{
    if (t->lost_scheduled)
        return;
    if (!t->closing || !t->error)
        t->error = err;
    t->closing = 1;
    t->b.refs++; /* schedule_lost may run connection_lost at once */
    schedule_lost(t); /* first: the cancelled ops' wakes see it */
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
    if (t->writing)
        cio__io_cancel(t->b.loop, &t->wop, -ECANCELED);
    if (!t->writing)
        cio__tbuf_free(&t->wbuf);
    t->wbuf.size = 0;
    /* The socket closes at once when no op needs it any more (a
     * readiness backend ended them above; a salvage reads it first), as
     * abort promises: the descriptor is not left open for an iteration
     * after a stream's release or a server's wait_closed. */
    if (!t->reading && !t->writing && !t->salvage && !t->lost)
        close_fd(t);
    cio__sock_unref(t);
}

/* A fatal error: asyncio's _fatal_error. */
void cio__sock_fail(struct sock *t, int err)
{
    cio_log(CIO_LOG_DEBUG, "transport: fd %d failed: %s", t->fd, cio_strerror(err));
    force_close(t, err);
}

/* ---- writing ------------------------------------------------------------------- */

static void maybe_pause(struct sock *t)
{
    cio__tflow_check_pause(&t->fl, &t->b, t->wbuf.size, t->closing);
}

static void maybe_resume(struct sock *t)
{
    cio__tflow_check_resume(&t->fl, &t->b, t->wbuf.size);
}

/* The buffer emptied: resume, half-close or finish closing. */
static void write_done(struct sock *t)
{
    maybe_resume(t);
    if (t->eof_wanted && !t->eof_sent && t->fd >= 0) {
        t->eof_sent = 1;
        shutdown(t->fd, SHUT_WR);
    }
    if (t->closing)
        schedule_lost(t);
}

/* A send failed with err: the connection is over, but what the socket
 * received before is delivered first when reading is on. */
static void send_failed(struct sock *t, int err)
{
    if (!t->eof && !t->fl.rpaused && !t->closing && t->made)
        t->salvage = 1;
    cio__sock_fail(t, err);
}

/* The socket's error for a failed send: a reset rather than EPIPE. */
static int send_error(struct sock *t, int err)
{
    if (err == -EPIPE && t->fd >= 0) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
            return -soerr;
    }
    return err;
}

/* Points the write op at what is queued: one send, or one sendmsg of
 * every piece (up to the iov cap).  The fields each kind reads, not the
 * whole op (its msghdr is the backend's scratch): a queued write makes
 * one per message on io_uring.  One piece goes as a plain send, which
 * spares the kernel copying a msghdr and an iovec in. */
static void aim_wop(struct sock *t)
{
    int n = cio__tbuf_iov(&t->wbuf, t->wiov, CIO__TRANSPORT_IOV);
    struct cio__op *op = &t->wop;
    if (n == 1) {
        op->kind = CIO__OP_SEND;
        op->buf = t->wiov[0].iov_base;
        op->len = t->wiov[0].iov_len;
    } else {
        op->kind = CIO__OP_SENDMSG;
        op->iov = t->wiov;
        op->iovcnt = n;
        op->addr = NULL;
        op->addrlen_in = 0;
    }
}

/* Sends what is queued: one op for all of it. */
static void flush(struct sock *t)
{
    while (t->wbuf.size && !t->writing && !t->lost_scheduled && t->fd >= 0) {
        struct cio__op *op = &t->wop;
        op->state = CIO__OPS_IDLE;
        op->opflags = CIO__OPF_DEFER;
        op->fd = t->fd;
        op->flags = 0;
        op->waiter = &t->wwait;
        op->cancel_code = -ECANCELED;
        aim_wop(t);
        cio__transport_writev_count++;
        if (cio__io_submit(t->b.loop, &t->wop) == 1) {
            t->writing = 1;
            t->b.refs++;
            return;
        }
        if (t->wop.res < 0) {
            send_failed(t, send_error(t, t->wop.res));
            return;
        }
        cio__tbuf_consume(&t->wbuf, (size_t)t->wop.res);
    }
    if (!t->wbuf.size && !t->writing && !t->lost_scheduled)
        write_done(t);
}

static void write_wake(struct cio__waiter *w, int res)
{
    struct sock *t = CIO_CONTAINER_OF(w, struct sock, wwait);
    t->writing = 0;
    if (t->lost_scheduled) {
        if (t->lost || t->wbuf.size == 0)
            cio__tbuf_free(&t->wbuf); /* abort: the buffer was dropped */
    } else if (res == -ECANCELED) {
        /* cancelled by nobody but force_close: nothing to do */
    } else if (res < 0) {
        send_failed(t, send_error(t, res));
    } else {
        cio__tbuf_consume(&t->wbuf, (size_t)res);
        flush(t);
    }
    if (t->lost_waiting && !t->reading)
        cio__sock_call_lost(t);
    cio__sock_unref(t);
}

/* ---- public methods ------------------------------------------------------------- */

/* The largest write that is queued for the loop's next wait rather than
 * sent: the copy into the buffer grows with the size, the system call it
 * saves does not (bench-net's 16 KiB echo, queued on io_uring, took 3-5%
 * more CPU per message than sent at once, on a busy machine). */
#define QUEUE_MAX 4096

/* Whether a write of len bytes is sent at once: nothing is queued before
 * it, and it is too large to be queued for the loop's next wait. */
static inline int send_at_once(const struct sock *t, size_t len)
{
    return !t->wbuf.size && !t->writing && len > QUEUE_MAX;
}

/* Why writing is refused (closing, or after write_eof), or 0. */
static int write_refused(const struct sock *t)
{
    if (t->closing || t->lost_scheduled)
        return t->error ? t->error : CIO_ECLOSED;
    return t->eof_wanted ? -EPIPE : 0;
}

/* A send tried at once failed with errno e: 0 when the socket was only
 * full (the bytes are queued), else the connection's error, and the
 * transport failed. */
static int send_now_failed(struct sock *t, int e)
{
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
        return 0;
    e = send_error(t, -e);
    send_failed(t, e);
    return e;
}

/* Queues what a first send left of iov (sent of its total bytes went
 * out) and starts flushing it: 0, or -ENOMEM with nothing queued. */
static int queue_rest(struct sock *t, const struct iovec *iov, int iovcnt, size_t total,
                      size_t sent)
{
    int rc = cio__tbuf_append(&t->wbuf, iov, iovcnt, total, sent);
    if (rc < 0) {
        if (sent)
            cio__sock_fail(t, rc); /* the stream lost bytes in the middle */
        return rc;
    }
    if (!t->writing)
        flush(t);
    else if (cio__io_held(t->b.loop, &t->wop)) {
        aim_wop(t); /* not sent yet: it takes these bytes too */
        cio__io_reaim(t->b.loop, &t->wop);
    }
    maybe_pause(t);
    return 0;
}

static int sock_writelines(cio_transport *bt, const struct iovec *iov, int iovcnt, size_t total)
{
    struct sock *t = (struct sock *)bt;
    int rc = write_refused(t);
    if (rc || !total)
        return rc;
    size_t sent = 0;
    if (send_at_once(t, total)) {
        int cnt = iovcnt < 1024 ? iovcnt : 1024;
        struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
        ssize_t n;
        do
            n = sendmsg(t->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (rc = send_now_failed(t, errno)) < 0)
            return rc;
        sent = n > 0 ? (size_t)n : 0;
        if (sent == total)
            return 0;
    }
    return queue_rest(t, iov, iovcnt, total, sent);
}

/* writelines of one piece, the common case (a stream's write, a
 * protocol echoing): a send(2) with no iovec built or counted. */
static int sock_write(cio_transport *bt, const void *data, size_t len)
{
    struct sock *t = (struct sock *)bt;
    if (CIO_UNLIKELY(t->closing || t->lost_scheduled || t->eof_wanted))
        return write_refused(t);
    if (!len)
        return 0;
    size_t sent = 0;
    if (send_at_once(t, len)) {
        ssize_t n;
        do
            n = send(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (CIO_LIKELY(n >= 0 && (size_t)n == len))
            return 0;
        int rc;
        if (n < 0 && (rc = send_now_failed(t, errno)) < 0)
            return rc;
        sent = n > 0 ? (size_t)n : 0;
    }
    struct iovec v = {.iov_base = (void *)data, .iov_len = len};
    return queue_rest(t, &v, 1, len, sent);
}

static int sock_write_eof(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing)
        return CIO_ECLOSED;
    if (t->eof_wanted)
        return 0;
    t->eof_wanted = 1;
    if (!t->wbuf.size && !t->writing && t->fd >= 0) {
        t->eof_sent = 1;
        shutdown(t->fd, SHUT_WR);
    }
    return 0;
}


static size_t sock_get_write_buffer_size(const cio_transport *bt)
{
    return ((const struct sock *)bt)->wbuf.size;
}

static int sock_set_write_buffer_limits(cio_transport *bt, size_t high, size_t low)
{
    struct sock *t = (struct sock *)bt;
    return cio__tflow_set_limits(&t->fl, &t->b, t->wbuf.size, t->closing, high, low);
}

static void sock_pause_reading(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing) {
        t->fl.rpaused = 1; /* it ends a salvage */
        return;
    }
    if (cio__tflow_pause_reading(&t->fl, t->closing) && t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
}

static void sock_resume_reading(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (cio__tflow_resume_reading(&t->fl, t->closing) && !t->reading)
        cio__sock_schedule_read(t);
}

static int sock_is_reading(const cio_transport *bt)
{
    const struct sock *t = (const struct sock *)bt;
    return cio__tflow_is_reading(&t->fl, t->closing);
}

static void sock_close(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing)
        return;
    t->closing = 1;
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
    if (!t->wbuf.size && !t->writing)
        schedule_lost(t);
}

static void sock_abort(cio_transport *bt)
{
    force_close((struct sock *)bt, 0);
}

static int sock_is_closing(const cio_transport *bt)
{
    return ((const struct sock *)bt)->closing;
}

static int sock_fd(const cio_transport *bt)
{
    const struct sock *t = (const struct sock *)bt;
    return t->fd >= 0 ? t->fd : CIO_ECLOSED;
}

static void sock_destroy(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    close_fd(t);
    cio__tbuf_free(&t->wbuf);
    cio__tbuf_free(&t->held);
    cio__free(t->rbuf);
    cio__free(t);
}

static const struct cio__transport_vt sock_vt = {
    .kind = "socket",
    .writelines = sock_writelines,
    .write = sock_write,
    .write_eof = sock_write_eof,
    .get_write_buffer_size = sock_get_write_buffer_size,
    .set_write_buffer_limits = sock_set_write_buffer_limits,
    .pause_reading = sock_pause_reading,
    .resume_reading = sock_resume_reading,
    .is_reading = sock_is_reading,
    .close = sock_close,
    .abort = sock_abort,
    .is_closing = sock_is_closing,
    .fd = sock_fd,
    .destroy = sock_destroy,
};
