/*
 * transport.c - asyncio's socket transport (selector_events'
 * _SelectorSocketTransport) over the I/O layer: a read op and a writev op
 * with waiters embedded in the transport, so no task runs per connection
 * and the code is the same on a readiness or a completion backend.
 *
 * Reading: one recv per loop iteration while reading is on.  A recv that
 * completes at once is handled and the next is scheduled with call_soon
 * (a fast peer cannot starve the loop); one that waits wakes rwait.
 * Writing: write() tries sendmsg itself when nothing is queued; the rest
 * goes to a list of chunks that a writev op drains, each op taking
 * everything queued when it starts.  Closing: connection_lost always runs
 * from a call_soon callback, once, and the socket is closed after it.
 *
 * Divided into: lifetime, closing, reading, writing, public methods.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <unistd.h>

#include "../util/internal.h"
#include "transport.h"

#define DEFAULT_HIGH (64 * 1024)
#define DEFAULT_READ (64 * 1024)
#define CHUNK_MIN 16384

unsigned long cio__transport_writev_count;

static const cio_protocol no_protocol;

static void read_wake(struct cio__waiter *w, int res);
static void write_wake(struct cio__waiter *w, int res);
static void schedule_read(cio_transport *t);
static void flush(cio_transport *t);

/* ---- lifetime ---------------------------------------------------------------- */

static void free_chunks(cio_transport *t)
{
    for (struct cio__tchunk *c = t->whead, *n; c; c = n) {
        n = c->next;
        cio__free(c);
    }
    t->whead = t->wtail = NULL;
    t->wsize = 0;
}

static void unref(cio_transport *t)
{
    if (--t->refs)
        return;
    if (t->fd >= 0)
        cio__io_close(t->loop, t->fd);
    free_chunks(t);
    cio__free(t->rbuf);
    cio__free(t);
}

static void limits(cio_transport *t, size_t high, size_t low)
{
    if (high == CIO_TRANSPORT_LIMIT_DEFAULT)
        high = low == CIO_TRANSPORT_LIMIT_DEFAULT ? DEFAULT_HIGH : 4 * low;
    if (low == CIO_TRANSPORT_LIMIT_DEFAULT)
        low = high / 4;
    t->high = high;
    t->low = low;
}

int cio__transport_new(cio_loop *loop, int fd, const cio_transport_options *opts,
                       cio_transport **out)
{
    if (!loop || fd < 0)
        return -EINVAL;
    cio_transport *t = cio__calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->fd = fd;
    t->refs = 1; /* alive until connection_lost has run */
    t->proto = &no_protocol;
    t->rwait.wake = read_wake;
    t->wwait.wake = write_wake;
    t->read_size = opts && opts->read_size ? opts->read_size : DEFAULT_READ;
    if (t->read_size > INT32_MAX)
        t->read_size = INT32_MAX;
    size_t high = opts && opts->high_water ? opts->high_water : CIO_TRANSPORT_LIMIT_DEFAULT;
    size_t low = opts && opts->low_water ? opts->low_water : CIO_TRANSPORT_LIMIT_DEFAULT;
    limits(t, high, low);
    if (t->low > t->high)
        t->low = t->high;
    *out = t;
    return 0;
}

void cio__transport_start(cio_transport *t, const cio_protocol *proto, void *ud)
{
    t->proto = proto ? proto : &no_protocol;
    t->ud = ud;
    t->made = 1;
    t->refs++; /* connection_made may close and drop the caller's hold */
    if (t->proto->connection_made)
        t->proto->connection_made(t, t->ud);
    if (!t->closing)
        schedule_read(t);
    unref(t);
}

void cio__transport_discard(cio_transport *t)
{
    unref(t);
}

/* ---- closing ------------------------------------------------------------------- */

static void call_connection_lost(void *arg)
{
    cio_transport *t = arg;
    t->lost = 1;
    if (t->made && t->proto->connection_lost)
        t->proto->connection_lost(t, t->error, t->ud);
    if (t->on_lost)
        t->on_lost(t, t->on_lost_arg);
    int fd = t->fd;
    t->fd = -1;
    if (fd >= 0)
        cio__io_close(t->loop, fd); /* ends a pending op with -EBADF */
    if (!t->writing)
        free_chunks(t);
    /* A completion backend owns rbuf until the cancelled recv's own
     * completion (unref frees it then). */
    if (!t->reading) {
        cio__free(t->rbuf);
        t->rbuf = NULL;
    }
    unref(t); /* the "alive" reference */
}

/* Queues connection_lost (once). */
static void schedule_lost(cio_transport *t)
{
    if (t->lost_scheduled)
        return;
    t->lost_scheduled = 1;
    if (cio_call_soon(t->loop, call_connection_lost, t, NULL) < 0)
        call_connection_lost(t); /* loop closed or no memory: now, not never */
}

/* asyncio's _force_close: drop the buffer, stop everything, lost(err). */
static void force_close(cio_transport *t, int err)
{
    if (t->lost_scheduled)
        return;
    if (!t->closing || !t->error)
        t->error = err;
    t->closing = 1;
    t->refs++; /* schedule_lost may run connection_lost at once */
    schedule_lost(t); /* first: the cancelled ops' wakes see it */
    if (t->reading)
        cio__io_cancel(t->loop, &t->rop, -ECANCELED);
    if (t->writing)
        cio__io_cancel(t->loop, &t->wop, -ECANCELED);
    if (!t->writing)
        free_chunks(t);
    t->wsize = 0;
    unref(t);
}

/* A fatal error: asyncio's _fatal_error. */
static void fail(cio_transport *t, int err)
{
    cio_log(CIO_LOG_DEBUG, "transport: fd %d failed: %s", t->fd, cio_strerror(err));
    force_close(t, err);
}

/* ---- reading ------------------------------------------------------------------- */

static void on_read(cio_transport *t, int res, int buffered)
{
    if (t->lost_scheduled)
        return;
    if (res > 0) {
        if (buffered && t->proto->buffer_updated)
            t->proto->buffer_updated(t, (size_t)res, t->ud);
        else if (!buffered && t->proto->data_received)
            t->proto->data_received(t, t->rbuf, (size_t)res, t->ud);
        return;
    }
    if (res == 0) {
        t->eof = 1;
        int keep = t->proto->eof_received ? t->proto->eof_received(t, t->ud) : 0;
        if (!keep)
            cio_transport_close(t);
        return;
    }
    if (res == -ECANCELED || res == -EAGAIN)
        return; /* pause_reading or close cancelled it */
    fail(t, res);
}

static int want_read(const cio_transport *t)
{
    return !t->closing && !t->rpaused && !t->eof && !t->reading && t->fd >= 0;
}

/* Starts one recv; handles it if it completed at once. */
static void read_step(cio_transport *t)
{
    if (!want_read(t))
        return;
    void *buf;
    size_t len;
    int buffered = t->proto->get_buffer != NULL;
    if (buffered) {
        len = 0;
        buf = t->proto->get_buffer(t, t->read_size, &len, t->ud);
        if (!buf || !len) {
            fail(t, -ENOBUFS);
            return;
        }
        if (!want_read(t))
            return; /* get_buffer closed or paused */
        if (len > INT32_MAX)
            len = INT32_MAX;
    } else {
        if (!t->rbuf && !(t->rbuf = cio__malloc(t->read_size))) {
            fail(t, -ENOMEM);
            return;
        }
        buf = t->rbuf;
        len = t->read_size;
    }
    t->rop = (struct cio__op){.kind = CIO__OP_RECV, .fd = t->fd, .buf = buf, .len = len,
                              .waiter = &t->rwait, .cancel_code = -ECANCELED};
    int rc = cio__io_submit(t->loop, &t->rop);
    if (rc == 1) {
        t->reading = 1 + buffered; /* 2: into the protocol's buffer */
        t->refs++;
        return;
    }
    t->refs++;
    on_read(t, t->rop.res, buffered);
    if (want_read(t))
        schedule_read(t);
    unref(t);
}

static void read_scheduled(void *arg)
{
    cio_transport *t = arg;
    t->read_scheduled = 0;
    read_step(t);
    unref(t);
}

static void schedule_read(cio_transport *t)
{
    if (t->read_scheduled || !want_read(t))
        return;
    if (cio_call_soon(t->loop, read_scheduled, t, NULL) < 0) {
        fail(t, -ENOMEM);
        return;
    }
    t->read_scheduled = 1;
    t->refs++;
}

static void read_wake(struct cio__waiter *w, int res)
{
    cio_transport *t = CIO_CONTAINER_OF(w, cio_transport, rwait);
    int buffered = t->reading == 2;
    t->reading = 0;
    on_read(t, res, buffered);
    read_step(t);
    unref(t); /* the pending op's reference */
}

/* ---- writing ------------------------------------------------------------------- */

static void maybe_pause(cio_transport *t)
{
    if (t->wsize <= t->high || t->wpaused || t->closing)
        return;
    t->wpaused = 1;
    if (t->proto->pause_writing)
        t->proto->pause_writing(t, t->ud);
}

static void maybe_resume(cio_transport *t)
{
    if (!t->wpaused || t->wsize > t->low)
        return;
    t->wpaused = 0;
    if (t->proto->resume_writing)
        t->proto->resume_writing(t, t->ud);
}

/* Appends the iov's bytes from offset skip on; 0 or -ENOMEM (nothing
 * appended then). */
static int append(cio_transport *t, const struct iovec *iov, int iovcnt, size_t skip)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    total -= skip;
    size_t room = t->wtail ? t->wtail->cap - t->wtail->end : 0;
    struct cio__tchunk *nc = NULL;
    if (total > room) {
        size_t cap = total - room < CHUNK_MIN ? CHUNK_MIN : total - room;
        if (!(nc = cio__malloc(sizeof *nc + cap)))
            return -ENOMEM;
        *nc = (struct cio__tchunk){.cap = cap};
    }
    for (int i = 0; i < iovcnt; i++) {
        const char *p = iov[i].iov_base;
        size_t n = iov[i].iov_len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        p += skip;
        n -= skip;
        skip = 0;
        while (n) {
            struct cio__tchunk *c = t->wtail;
            if (!c || c->end == c->cap) {
                nc->next = NULL;
                if (t->wtail)
                    t->wtail->next = nc;
                else
                    t->whead = nc;
                t->wtail = c = nc;
                nc = NULL;
            }
            size_t k = c->cap - c->end < n ? c->cap - c->end : n;
            memcpy(c->data + c->end, p, k);
            c->end += k;
            p += k;
            n -= k;
            t->wsize += k;
        }
    }
    cio__free(nc); /* not needed after all */
    return 0;
}

/* n bytes went out: drop them from the front. */
static void consume(cio_transport *t, size_t n)
{
    t->wsize -= n;
    while (n && t->whead) {
        struct cio__tchunk *c = t->whead;
        size_t k = c->end - c->start < n ? c->end - c->start : n;
        c->start += k;
        n -= k;
        if (c->start == c->end) {
            t->whead = c->next;
            if (!t->whead)
                t->wtail = NULL;
            cio__free(c);
        }
    }
}

/* The buffer emptied: resume, half-close or finish closing. */
static void write_done(cio_transport *t)
{
    maybe_resume(t);
    if (t->eof_wanted && !t->eof_sent && t->fd >= 0) {
        t->eof_sent = 1;
        shutdown(t->fd, SHUT_WR);
    }
    if (t->closing)
        schedule_lost(t);
}

/* The socket's error for a failed send: a reset rather than EPIPE. */
static int send_error(cio_transport *t, int err)
{
    if (err == -EPIPE && t->fd >= 0) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
            return -soerr;
    }
    return err;
}

/* Sends what is queued: one writev op for all of it (up to the iov cap). */
static void flush(cio_transport *t)
{
    while (t->wsize && !t->writing && !t->lost_scheduled && t->fd >= 0) {
        int n = 0;
        for (struct cio__tchunk *c = t->whead; c && n < CIO__TRANSPORT_IOV; c = c->next) {
            t->wiov[n].iov_base = c->data + c->start;
            t->wiov[n++].iov_len = c->end - c->start;
        }
        t->wop = (struct cio__op){.kind = CIO__OP_SENDMSG, .fd = t->fd, .iov = t->wiov,
                                  .iovcnt = n, .waiter = &t->wwait,
                                  .cancel_code = -ECANCELED};
        cio__transport_writev_count++;
        if (cio__io_submit(t->loop, &t->wop) == 1) {
            t->writing = 1;
            t->refs++;
            return;
        }
        if (t->wop.res < 0) {
            fail(t, send_error(t, t->wop.res));
            return;
        }
        consume(t, (size_t)t->wop.res);
    }
    if (!t->wsize && !t->writing && !t->lost_scheduled)
        write_done(t);
}

static void write_wake(struct cio__waiter *w, int res)
{
    cio_transport *t = CIO_CONTAINER_OF(w, cio_transport, wwait);
    t->writing = 0;
    if (t->lost_scheduled) {
        if (t->lost || t->wsize == 0)
            free_chunks(t); /* abort: the buffer was dropped */
    } else if (res == -ECANCELED) {
        /* cancelled by nobody but force_close: nothing to do */
    } else if (res < 0) {
        fail(t, send_error(t, res));
    } else {
        consume(t, (size_t)res);
        flush(t);
    }
    unref(t);
}

/* ---- public methods ------------------------------------------------------------- */

int cio_transport_writelines(cio_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!t || iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        total += iov[i].iov_len;
    }
    if (t->closing || t->lost_scheduled)
        return t->error ? t->error : CIO_ECLOSED;
    if (t->eof_wanted)
        return -EPIPE;
    if (!total)
        return 0;
    size_t sent = 0;
    if (!t->wsize && !t->writing) {
        int cnt = iovcnt < 1024 ? iovcnt : 1024;
        struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
        ssize_t n;
        do
            n = sendmsg(t->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
            int e = send_error(t, -errno);
            fail(t, e);
            return e;
        }
        sent = n > 0 ? (size_t)n : 0;
        if (sent == total)
            return 0;
    }
    int rc = append(t, iov, iovcnt, sent);
    if (rc < 0) {
        if (sent)
            fail(t, rc); /* the stream lost bytes in the middle */
        return rc;
    }
    if (!t->writing)
        flush(t);
    maybe_pause(t);
    return 0;
}

int cio_transport_write(cio_transport *t, const void *data, size_t len)
{
    if (!data && len)
        return -EINVAL;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return cio_transport_writelines(t, &iov, 1);
}

int cio_transport_write_eof(cio_transport *t)
{
    if (!t)
        return -EINVAL;
    if (t->closing)
        return CIO_ECLOSED;
    if (t->eof_wanted)
        return 0;
    t->eof_wanted = 1;
    if (!t->wsize && !t->writing && t->fd >= 0) {
        t->eof_sent = 1;
        shutdown(t->fd, SHUT_WR);
    }
    return 0;
}

int cio_transport_can_write_eof(const cio_transport *t) { return t != NULL; }

size_t cio_transport_get_write_buffer_size(const cio_transport *t)
{
    return t ? t->wsize : 0;
}

int cio_transport_set_write_buffer_limits(cio_transport *t, size_t high, size_t low)
{
    if (!t)
        return -EINVAL;
    size_t oh = t->high, ol = t->low;
    limits(t, high, low);
    if (t->low > t->high) {
        t->high = oh;
        t->low = ol;
        return -EINVAL;
    }
    maybe_pause(t);
    maybe_resume(t);
    return 0;
}

void cio_transport_pause_reading(cio_transport *t)
{
    if (!t || t->closing || t->rpaused)
        return;
    t->rpaused = 1;
    if (t->reading)
        cio__io_cancel(t->loop, &t->rop, -ECANCELED);
}

void cio_transport_resume_reading(cio_transport *t)
{
    if (!t || t->closing || !t->rpaused)
        return;
    t->rpaused = 0;
    if (!t->reading)
        schedule_read(t);
}

int cio_transport_is_reading(const cio_transport *t)
{
    return t && !t->closing && !t->rpaused;
}

void cio_transport_close(cio_transport *t)
{
    if (!t || t->closing)
        return;
    t->closing = 1;
    if (t->reading)
        cio__io_cancel(t->loop, &t->rop, -ECANCELED);
    if (!t->wsize && !t->writing)
        schedule_lost(t);
}

void cio_transport_abort(cio_transport *t)
{
    if (t)
        force_close(t, 0);
}

int cio_transport_is_closing(const cio_transport *t) { return !t || t->closing; }

int cio_transport_fd(const cio_transport *t)
{
    if (!t)
        return -EINVAL;
    return t->fd >= 0 ? t->fd : CIO_ECLOSED;
}

int cio_transport_sockname(const cio_transport *t, struct sockaddr *addr, socklen_t *len)
{
    if (!t || !addr || !len)
        return -EINVAL;
    if (t->fd < 0)
        return CIO_ECLOSED;
    return getsockname(t->fd, addr, len) < 0 ? -errno : 0;
}

int cio_transport_peername(const cio_transport *t, struct sockaddr *addr, socklen_t *len)
{
    if (!t || !addr || !len)
        return -EINVAL;
    if (t->fd < 0)
        return CIO_ECLOSED;
    return getpeername(t->fd, addr, len) < 0 ? -errno : 0;
}

void cio_transport_set_protocol(cio_transport *t, const cio_protocol *proto, void *ud)
{
    if (!t)
        return;
    t->proto = proto ? proto : &no_protocol;
    t->ud = ud;
}

cio_transport *cio_transport_retain(cio_transport *t)
{
    if (t)
        t->refs++;
    return t;
}

void cio_transport_release(cio_transport *t)
{
    if (t)
        unref(t);
}
