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

/* The socket transport: the base, then its reading and writing state. */
struct sock {
    struct cio_transport b;    /* first: what protocols see */
    int fd;                    /* the socket, -1 once closed */
    /* reading */
    struct cio__op rop;        /* the read in flight (recv) */
    struct cio__waiter rwait;  /* woken when it ends */
    char *rbuf;                /* own read buffer (plain protocols), lazily */
    size_t read_size;          /* bytes per read */
    uint8_t reading;           /* rop is pending (2: into get_buffer's) */
    uint8_t read_scheduled;    /* a read step is queued (call_soon) */
    uint8_t rpaused;           /* pause_reading in effect */
    uint8_t eof;               /* the peer's EOF was seen */
    /* writing */
    struct cio__op wop;        /* the writev in flight */
    struct cio__waiter wwait;
    struct iovec wiov[CIO__TRANSPORT_IOV]; /* its pieces */
    struct cio__tchunk *whead, *wtail; /* the buffer, oldest first */
    size_t wsize;              /* bytes in it */
    size_t high, low;          /* watermarks */
    uint8_t writing;           /* wop is pending */
    uint8_t wpaused;           /* pause_writing was called, not resumed */
    uint8_t eof_wanted;        /* write_eof: shutdown once flushed */
    uint8_t eof_sent;          /* shutdown(SHUT_WR) done */
    /* closing */
    uint8_t made;              /* connection_made was called */
    uint8_t closing;           /* close/abort/failure began */
    uint8_t lost_scheduled;    /* connection_lost is queued or done */
    uint8_t lost;              /* connection_lost has run */
    int error;                 /* what connection_lost will report */
};

#define DEFAULT_HIGH (64 * 1024)
#define DEFAULT_READ (64 * 1024)
#define CHUNK_MIN 16384

unsigned long cio__transport_writev_count;


static void read_wake(struct cio__waiter *w, int res);
static void write_wake(struct cio__waiter *w, int res);
static void schedule_read(struct sock *t);
static void flush(struct sock *t);
static void sock_close(cio_transport *bt);
static const struct cio__transport_vt sock_vt;

/* ---- lifetime ---------------------------------------------------------------- */

static void free_chunks(struct sock *t)
{
    for (struct cio__tchunk *c = t->whead, *n; c; c = n) {
        n = c->next;
        cio__free(c);
    }
    t->whead = t->wtail = NULL;
    t->wsize = 0;
}

static void unref(struct sock *t)
{
    cio__transport_unref(&t->b);
}

int cio__transport_limits(size_t *high, size_t *low, size_t h, size_t l)
{
    if (h == CIO_TRANSPORT_LIMIT_DEFAULT)
        h = l == CIO_TRANSPORT_LIMIT_DEFAULT ? DEFAULT_HIGH : 4 * l;
    if (l == CIO_TRANSPORT_LIMIT_DEFAULT)
        l = h / 4;
    if (l > h)
        return -EINVAL;
    *high = h;
    *low = l;
    return 0;
}

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
    t->rwait.wake = read_wake;
    t->wwait.wake = write_wake;
    t->read_size = opts && opts->read_size ? opts->read_size : DEFAULT_READ;
    if (t->read_size > INT32_MAX)
        t->read_size = INT32_MAX;
    size_t high = opts && opts->high_water ? opts->high_water : CIO_TRANSPORT_LIMIT_DEFAULT;
    size_t low = opts && opts->low_water ? opts->low_water : CIO_TRANSPORT_LIMIT_DEFAULT;
    if (cio__transport_limits(&t->high, &t->low, high, low) < 0)
        t->high = t->low = high == CIO_TRANSPORT_LIMIT_DEFAULT ? DEFAULT_HIGH : high;
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
        schedule_read(t);
    unref(t);
}

void cio__transport_discard(cio_transport *t)
{
    cio__transport_unref(t);
}

/* ---- closing ------------------------------------------------------------------- */

static void call_connection_lost(void *arg)
{
    struct sock *t = arg;
    t->lost = 1;
    if (t->made && t->b.proto->connection_lost)
        t->b.proto->connection_lost(&t->b, t->error, t->b.ud);
    if (t->b.on_lost)
        t->b.on_lost(&t->b, t->b.on_lost_arg);
    int fd = t->fd;
    t->fd = -1;
    if (fd >= 0)
        cio__io_close(t->b.loop, fd); /* ends a pending op with -EBADF */
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
static void schedule_lost(struct sock *t)
{
    if (t->lost_scheduled)
        return;
    t->lost_scheduled = 1;
    if (cio_call_soon(t->b.loop, call_connection_lost, t, NULL) < 0)
        call_connection_lost(t); /* loop closed or no memory: now, not never */
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
        free_chunks(t);
    t->wsize = 0;
    unref(t);
}

/* A fatal error: asyncio's _fatal_error. */
static void fail(struct sock *t, int err)
{
    cio_log(CIO_LOG_DEBUG, "transport: fd %d failed: %s", t->fd, cio_strerror(err));
    force_close(t, err);
}

/* ---- reading ------------------------------------------------------------------- */

static void on_read(struct sock *t, int res, int buffered)
{
    if (t->lost_scheduled)
        return;
    if (res > 0) {
        if (buffered && t->b.proto->buffer_updated)
            t->b.proto->buffer_updated(&t->b, (size_t)res, t->b.ud);
        else if (!buffered && t->b.proto->data_received)
            t->b.proto->data_received(&t->b, t->rbuf, (size_t)res, t->b.ud);
        return;
    }
    if (res == 0) {
        t->eof = 1;
        int keep = t->b.proto->eof_received ? t->b.proto->eof_received(&t->b, t->b.ud) : 0;
        if (!keep)
            sock_close(&t->b);
        return;
    }
    if (res == -ECANCELED || res == -EAGAIN)
        return; /* pause_reading or close cancelled it */
    fail(t, res);
}

static int want_read(const struct sock *t)
{
    return !t->closing && !t->rpaused && !t->eof && !t->reading && t->fd >= 0;
}

/* Starts one recv; handles it if it completed at once. */
static void read_step(struct sock *t)
{
    if (!want_read(t))
        return;
    void *buf;
    size_t len;
    int buffered = t->b.proto->get_buffer != NULL;
    if (buffered) {
        len = 0;
        buf = t->b.proto->get_buffer(&t->b, t->read_size, &len, t->b.ud);
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
    int rc = cio__io_submit(t->b.loop, &t->rop);
    if (rc == 1) {
        t->reading = 1 + buffered; /* 2: into the protocol's buffer */
        t->b.refs++;
        return;
    }
    t->b.refs++;
    on_read(t, t->rop.res, buffered);
    if (want_read(t))
        schedule_read(t);
    unref(t);
}

static void read_scheduled(void *arg)
{
    struct sock *t = arg;
    t->read_scheduled = 0;
    read_step(t);
    unref(t);
}

static void schedule_read(struct sock *t)
{
    if (t->read_scheduled || !want_read(t))
        return;
    if (cio_call_soon(t->b.loop, read_scheduled, t, NULL) < 0) {
        fail(t, -ENOMEM);
        return;
    }
    t->read_scheduled = 1;
    t->b.refs++;
}

static void read_wake(struct cio__waiter *w, int res)
{
    struct sock *t = CIO_CONTAINER_OF(w, struct sock, rwait);
    int buffered = t->reading == 2;
    t->reading = 0;
    on_read(t, res, buffered);
    read_step(t);
    unref(t); /* the pending op's reference */
}

/* ---- writing ------------------------------------------------------------------- */

static void maybe_pause(struct sock *t)
{
    if (t->wsize <= t->high || t->wpaused || t->closing)
        return;
    t->wpaused = 1;
    if (t->b.proto->pause_writing)
        t->b.proto->pause_writing(&t->b, t->b.ud);
}

static void maybe_resume(struct sock *t)
{
    if (!t->wpaused || t->wsize > t->low)
        return;
    t->wpaused = 0;
    if (t->b.proto->resume_writing)
        t->b.proto->resume_writing(&t->b, t->b.ud);
}

/* Appends the iov's bytes from offset skip on; 0 or -ENOMEM (nothing
 * appended then). */
static int append(struct sock *t, const struct iovec *iov, int iovcnt, size_t skip)
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
static void consume(struct sock *t, size_t n)
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

/* Sends what is queued: one writev op for all of it (up to the iov cap). */
static void flush(struct sock *t)
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
        if (cio__io_submit(t->b.loop, &t->wop) == 1) {
            t->writing = 1;
            t->b.refs++;
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
    struct sock *t = CIO_CONTAINER_OF(w, struct sock, wwait);
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

static int sock_writelines(cio_transport *bt, const struct iovec *iov, int iovcnt, size_t total)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing || t->lost_scheduled)
        return t->error ? t->error : CIO_ECLOSED;
    if (t->eof_wanted)
        return -EPIPE;
    if (!total)
        return 0;
    size_t sent = 0;
    /* On a completion backend the bytes are queued and go with the loop's
     * next io_uring_enter, as one sendmsg submission for everything
     * written until then: trying sendmsg here would cost a syscall per
     * write. */
    if (!t->wsize && !t->writing && !cio__io_completion(t->b.loop)) {
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

static int sock_write_eof(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
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


static size_t sock_get_write_buffer_size(const cio_transport *bt)
{
    return ((const struct sock *)bt)->wsize;
}

static int sock_set_write_buffer_limits(cio_transport *bt, size_t high, size_t low)
{
    struct sock *t = (struct sock *)bt;
    int rc = cio__transport_limits(&t->high, &t->low, high, low);
    if (rc < 0)
        return rc;
    maybe_pause(t);
    maybe_resume(t);
    return 0;
}

static void sock_pause_reading(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing || t->rpaused)
        return;
    t->rpaused = 1;
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
}

static void sock_resume_reading(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing || !t->rpaused)
        return;
    t->rpaused = 0;
    if (!t->reading)
        schedule_read(t);
}

static int sock_is_reading(const cio_transport *bt)
{
    const struct sock *t = (const struct sock *)bt;
    return !t->closing && !t->rpaused;
}

static void sock_close(cio_transport *bt)
{
    struct sock *t = (struct sock *)bt;
    if (t->closing)
        return;
    t->closing = 1;
    if (t->reading)
        cio__io_cancel(t->b.loop, &t->rop, -ECANCELED);
    if (!t->wsize && !t->writing)
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
    if (t->fd >= 0)
        cio__io_close(t->b.loop, t->fd);
    free_chunks(t);
    cio__free(t->rbuf);
    cio__free(t);
}

static const struct cio__transport_vt sock_vt = {
    .kind = "socket",
    .writelines = sock_writelines,
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
