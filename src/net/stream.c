/*
 * stream.c - buffered streams: asyncio's StreamReader and StreamWriter on
 * one socket.
 *
 * Reading pulls from the socket only when a read call needs more bytes
 * (there is no background reader), so the read buffer never exceeds the
 * limit.  Large reads bypass the buffer and receive straight into the
 * caller's memory.
 *
 * Writing sends at once what the kernel takes; the rest is queued and a
 * flusher task (started only then) sends it as the socket drains.  The
 * queue is bounded by the caller's use of cio_stream_drain: above the high
 * watermark the stream is "paused" and drain waits until the flusher has
 * brought it down to the low watermark.
 *
 * Bytes move through a transport (struct cio__stream_transport in
 * stream.h): the socket and pipe ones are in stream_transport.c, the TLS
 * one in stream_tls.c.
 *
 * Divided into: creation and lifetime, reading, writing and the flusher,
 * closing, extra info.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../task/task.h"
#include "stream.h"

/* Reads at least this large skip the buffer when it is empty. */
#define DIRECT_READ_MIN 4096

/* ---- creation and lifetime ------------------------------------------------ */

void cio__set_nodelay(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int one = 1;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int cio__stream_new(cio_loop *loop, int fd, const cio_stream_options *opts, cio_stream **out)
{
    cio_stream *s = cio__calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->fd = fd;
    s->tp = &cio__stream_plain;
    s->refs = 1;
    s->tls_handshake_timeout = opts && opts->tls_handshake_timeout ? opts->tls_handshake_timeout
                                                                   : 60.0;
    s->limit = opts && opts->limit ? opts->limit : CIO__STREAM_DEFAULT_LIMIT;
    s->high = opts && opts->high_water ? opts->high_water : CIO__STREAM_DEFAULT_HIGH;
    s->low = opts && opts->low_water && opts->low_water <= s->high ? opts->low_water
                                                                    : s->high / 4;
    *out = s;
    return 0;
}

int cio_stream_from_fd(int fd, const cio_stream_options *opts, cio_stream **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out || fd < 0)
        return cio__bad_arg(loop, __func__, "out NULL or fd negative");
    *out = NULL;
    if (!loop)
        return CIO_ENOLOOP;
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || fstat(fd, &st) < 0)
        return -errno;
    int rc = cio__stream_new(loop, fd, opts, out);
    if (rc < 0)
        return rc;
    if (!(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (!S_ISSOCK(st.st_mode)) {
        (*out)->tp = &cio__stream_pipe; /* pipes, FIFOs, terminals */
        return 0;
    }
    if (!(opts && opts->no_nodelay))
        cio__set_nodelay(fd);
    if (opts && opts->tls) {
        rc = cio__stream_tls_begin(*out, opts->tls, opts->server_hostname);
        if (rc < 0) {
            (*out)->fd = -1; /* the caller keeps fd, unknown to the loop again */
            cio__io_forget(loop, fd);
            cio_stream_release(*out);
            *out = NULL;
            if (!(fl & O_NONBLOCK))
                fcntl(fd, F_SETFL, fl);
            return rc;
        }
    }
    return 0;
}

static void stream_free(cio_stream *s)
{
    if (s->fd >= 0) {
        s->tp->close(s, 0);
        cio_close(s->fd);
    }
    if (s->drain_fut) {
        if (!cio_future_done(s->drain_fut))
            cio_future_set_result(s->drain_fut, NULL);
        cio_future_release(s->drain_fut);
    }
    if (s->closed_fut) {
        if (!cio_future_done(s->closed_fut))
            cio_future_set_result(s->closed_fut, NULL);
        cio_future_release(s->closed_fut);
    }
    cio__free(s->rbuf);
    cio__free(s->wbuf);
    cio__free(s->wold);
    cio_tls_free(s->tls);
    cio__free(s->tls_error);
    cio__free(s);
}

static void stream_unref(cio_stream *s)
{
    if (--s->refs == 0)
        stream_free(s);
}

/* Completes *fp (if made and pending) so its waiters wake. */
static void wake_fut(cio_future *f)
{
    if (f && !cio_future_done(f))
        cio_future_set_result(f, NULL);
}

/* Closes the socket now: waiters on it wake with -EBADF. */
static void close_now(cio_stream *s)
{
    s->closing = 1;
    if (s->fd >= 0) {
        int fd = s->fd;
        s->tp->close(s, s->graceful && !s->werr);
        s->fd = -1;
        cio_close(fd);
    }
    s->wstart = s->wend = 0;
    s->paused = 0;
    wake_fut(s->drain_fut);
    wake_fut(s->closed_fut);
}

/* ---- reading --------------------------------------------------------------- */

static size_t buffered(const cio_stream *s) { return s->rend - s->rstart; }

/*
 * Settles a recv that returned n <= 0.  A 0 is the end of stream unless
 * the stream already failed: the kernel reports a reset once, to the
 * first call, and if the writer took it (set_werr recorded it as the read
 * error too) the next recv returns 0 as if the peer had closed cleanly.
 * A failure becomes the sticky read error unless it concerns this call
 * only (cancelled, timed out, no memory, another reader).  A socket
 * closed meanwhile answers with the error that closed it, else
 * CIO_ECLOSED.  Returns 0 (eof set) or the code for the caller.
 */
static int recv_ended(cio_stream *s, int n)
{
    if (n == 0) {
        if (s->rerr)
            return s->rerr;
        s->eof = 1;
        return 0;
    }
    int closed = s->rerr ? s->rerr : CIO_ECLOSED;
    if (n == -ECANCELED || n == -ETIMEDOUT || n == -ENOMEM || n == -EBUSY)
        return s->fd < 0 ? closed : n;
    if (!s->rerr)
        s->rerr = s->fd < 0 ? CIO_ECLOSED : n;
    return s->rerr;
}

/*
 * Receives more bytes into the buffer.  Returns the count, 0 at end of
 * stream, CIO_ELIMIT if the buffer is full, or a negative code.
 */
static int fill(cio_stream *s)
{
    if (s->rerr)
        return s->rerr;
    if (s->eof)
        return 0;
    if (s->fd < 0)
        return CIO_ECLOSED;
    if (!s->rbuf) {
        s->rcap = s->limit < 4096 ? 4096 : s->limit;
        s->rbuf = cio__malloc(s->rcap);
        if (!s->rbuf)
            return -ENOMEM;
    }
    if (s->rstart == s->rend) {
        s->rstart = s->rend = 0;
    } else if (s->rend == s->rcap) {
        if (s->rstart == 0)
            return CIO_ELIMIT;
        memmove(s->rbuf, s->rbuf + s->rstart, buffered(s));
        s->rend -= s->rstart;
        s->rstart = 0;
    }
    int n = s->tp->recv(s, s->rbuf + s->rend, s->rcap - s->rend);
    if (n > 0) {
        s->rend += (size_t)n;
        return n;
    }
    return recv_ended(s, n);
}

static size_t take(cio_stream *s, void *buf, size_t n)
{
    size_t k = buffered(s) < n ? buffered(s) : n;
    if (!k)
        return 0; /* rbuf may not exist yet: memcpy from NULL is undefined */
    memcpy(buf, s->rbuf + s->rstart, k);
    s->rstart += k;
    return k;
}

int cio_stream_read(cio_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n))
        return cio__bad_arg(cio__running_loop, __func__, "stream or buf is NULL");
    if (n > INT32_MAX)
        n = INT32_MAX;
    if (!n)
        return 0;
    if (buffered(s))
        return (int)take(s, buf, n);
    if (s->rerr)
        return s->rerr;
    if (s->eof)
        return 0;
    if (s->fd < 0)
        return CIO_ECLOSED;
    if (n >= DIRECT_READ_MIN) {
        int r = s->tp->recv(s, buf, n);
        return r > 0 ? r : recv_ended(s, r);
    }
    int r = fill(s);
    if (r <= 0)
        return r;
    return (int)take(s, buf, n);
}

int cio_stream_readexactly(cio_stream *s, void *buf, size_t n, size_t *partial)
{
    if (partial)
        *partial = 0;
    if (!s || (!buf && n) || n > INT32_MAX)
        return cio__bad_arg(cio__running_loop, __func__, "stream/buf NULL or n > INT_MAX");
    char *p = buf;
    size_t got = take(s, p, n);
    while (got < n) {
        int r;
        if (n - got >= DIRECT_READ_MIN && !s->eof && !s->rerr && s->fd >= 0) {
            r = s->tp->recv(s, p + got, n - got);
            if (r > 0)
                got += (size_t)r;
            else
                r = recv_ended(s, r);
        } else {
            r = fill(s);
            if (r > 0)
                got += take(s, p + got, n - got);
        }
        if (r == 0) {
            if (partial)
                *partial = got;
            return CIO_EINCOMPLETE;
        }
        if (r < 0) {
            /* What arrived is in buf and consumed; say how much. */
            if (partial)
                *partial = got;
            return r;
        }
    }
    return (int)n;
}

/* Finds the earliest end of any separator in the buffer, scanning from
 * from (an offset into the unread data).  Returns the length up to and
 * including it, or 0. */
static size_t find_sep(const cio_stream *s, const char *const *seps, size_t nseps,
                       size_t from)
{
    const char *base = s->rbuf + s->rstart;
    size_t len = buffered(s), best = 0;
    for (size_t i = 0; i < nseps; i++) {
        size_t sl = strlen(seps[i]);
        if (sl > len)
            continue;
        size_t start = from > sl - 1 ? from - (sl - 1) : 0;
        const char *m = memmem(base + start, len - start, seps[i], sl);
        if (m) {
            size_t end = (size_t)(m - base) + sl;
            if (!best || end < best)
                best = end;
        }
    }
    return best;
}

/* readuntil's engine; eof_ok: return the partial tail at EOF (readline). */
static int read_until(cio_stream *s, const char *const *seps, size_t nseps, void *buf,
                      size_t cap, size_t *partial, int eof_ok)
{
    if (partial)
        *partial = 0;
    size_t lim = cap < s->limit ? cap : s->limit;
    if (lim > INT32_MAX)
        lim = INT32_MAX;
    size_t scanned = 0;
    for (;;) {
        size_t end = s->rbuf ? find_sep(s, seps, nseps, scanned) : 0;
        if (end) {
            if (end > lim)
                return CIO_ELIMIT;
            return (int)take(s, buf, end);
        }
        scanned = buffered(s);
        if (scanned >= lim)
            return CIO_ELIMIT;
        int r = fill(s);
        if (r == 0) {
            size_t k = buffered(s) < cap ? buffered(s) : cap;
            if (eof_ok)
                return (int)take(s, buf, k);
            take(s, buf, k);
            if (partial)
                *partial = k;
            return CIO_EINCOMPLETE;
        }
        if (r < 0)
            return r;
    }
}

int cio_stream_readuntil_any(cio_stream *s, const char *const *seps, size_t nseps, void *buf,
                             size_t cap, size_t *partial)
{
    if (partial)
        *partial = 0;
    if (!s || !seps || !nseps || !buf || !cap)
        return cio__bad_arg(cio__running_loop, __func__, "NULL argument or empty buffer");
    for (size_t i = 0; i < nseps; i++)
        if (!seps[i] || !seps[i][0])
            return cio__bad_arg(s->loop, __func__, "separator NULL or empty");
    return read_until(s, seps, nseps, buf, cap, partial, 0);
}

int cio_stream_readuntil(cio_stream *s, const char *sep, void *buf, size_t cap,
                         size_t *partial)
{
    return cio_stream_readuntil_any(s, &sep, 1, buf, cap, partial);
}

int cio_stream_readline(cio_stream *s, void *buf, size_t cap)
{
    if (!s || !buf || !cap)
        return cio__bad_arg(cio__running_loop, __func__, "NULL argument or empty buffer");
    static const char *const nl[1] = {"\n"};
    return read_until(s, nl, 1, buf, cap, NULL, 1);
}

int cio_stream_at_eof(const cio_stream *s)
{
    return s && s->eof && s->rstart == s->rend;
}

/* ---- writing ----------------------------------------------------------------- */

size_t cio_stream_write_buffer_size(const cio_stream *s)
{
    return s ? s->wend - s->wstart : 0;
}

int cio_stream_set_write_buffer_limits(cio_stream *s, size_t high, size_t low)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    if (!high)
        high = CIO__STREAM_DEFAULT_HIGH;
    if (low > high)
        return cio__bad_arg(s->loop, __func__, "low > high");
    s->high = high;
    s->low = low ? low : high / 4;
    return 0;
}

/* The flusher ended the queue: half-close or close as asked. */
static void after_flush(cio_stream *s)
{
    if (s->fd < 0)
        return;
    if (s->werr || (s->closing && s->graceful)) {
        close_now(s);
        return;
    }
    if (s->eof_wanted && !s->eof_sent) {
        s->eof_sent = 1;
        s->tp->write_eof(s);
    }
}

static void set_werr(cio_stream *s, int err)
{
    if (!s->werr)
        s->werr = err;
    /* A failed connection fails the reader too (asyncio's reader raises
     * the transport's error): it may be the reset the kernel reports only
     * once, and after it a recv returns 0, so a truncated message would
     * look complete.  Bytes already buffered can still be read; an end
     * of stream seen before stays one.  Local failures (-ENOMEM,
     * -ECANCELED) say nothing about the connection. */
    if (!s->rerr && !s->eof && err != -ENOMEM && err != -ECANCELED)
        s->rerr = err;
    s->wstart = s->wend = 0;
    s->paused = 0;
    wake_fut(s->drain_fut);
}

static int flusher(void *arg, void **result)
{
    (void)result;
    cio_stream *s = arg;
    s->flusher_started = 1;
    while (s->fd >= 0 && s->wend > s->wstart && !s->werr) {
        /* The send may park while writers append: reserve() then leaves
         * these bytes where they are (see there). */
        s->sending = 1;
        int n = s->tp->send(s, s->wbuf + s->wstart, s->wend - s->wstart);
        s->sending = 0;
        cio__free(s->wold);
        s->wold = NULL;
        if (n < 0) {
            if (s->fd >= 0)
                set_werr(s, n);
            break;
        }
        s->wstart += (size_t)n;
        if (s->paused && s->wend - s->wstart <= s->low) {
            s->paused = 0;
            wake_fut(s->drain_fut);
        }
    }
    s->wstart = s->wend = 0;
    s->flushing = 0;
    cio_task_release(s->flusher);
    s->flusher = NULL;
    if (s->paused) {
        s->paused = 0;
        wake_fut(s->drain_fut);
    }
    after_flush(s);
    stream_unref(s);
    return 0;
}

/*
 * Makes room for len more bytes at the end of the queue.  While the
 * flusher is parked inside a send, the transport holds a pointer to
 * wbuf + wstart (the op layer retries with it after EAGAIN; the pipe and
 * TLS sends loop on it), so the queued bytes must neither move nor be
 * freed: no compaction then, and a bigger buffer keeps them at the same
 * offset while the old one lives on in wold until the send returns.
 */
static int reserve(cio_stream *s, size_t len)
{
    if (s->wstart == s->wend && !s->sending)
        s->wstart = s->wend = 0;
    if (s->wcap - s->wend >= len)
        return 0;
    size_t used = s->wend - s->wstart;
    if (s->wstart && !s->sending && s->wcap - used >= len) {
        memmove(s->wbuf, s->wbuf + s->wstart, used);
        s->wstart = 0;
        s->wend = used;
        return 0;
    }
    size_t keep = s->sending ? s->wstart : 0;
    size_t cap = s->wcap ? s->wcap : 4096;
    while (cap < keep + used + len)
        cap *= 2;
    char *b = cio__malloc(cap);
    if (!b)
        return -ENOMEM;
    if (used)
        memcpy(b + keep, s->wbuf + s->wstart, used);
    if (s->sending && !s->wold)
        s->wold = s->wbuf; /* the send in flight reads from it */
    else
        cio__free(s->wbuf);
    s->wbuf = b;
    s->wcap = cap;
    s->wstart = keep;
    s->wend = keep + used;
    return 0;
}

static int write_check(cio_stream *s, const char *fn)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, fn, "stream is NULL");
    if (s->werr)
        return s->werr;
    if (s->closing || s->eof_wanted || s->fd < 0)
        return CIO_ECLOSED;
    return 0;
}

/* Starts the flusher if bytes are queued and none runs. */
static int start_flusher(cio_stream *s)
{
    if (s->flushing || s->wend == s->wstart)
        return 0;
    int rc = cio_create_task_at(s->loop, flusher, s, "cio-stream-flush", 0, &s->flusher,
                                __FILE__, __LINE__);
    if (rc < 0)
        return rc;
    s->flushing = 1;
    s->flusher_started = 0;
    s->refs++;
    return 0;
}

int cio_stream_writelines(cio_stream *s, const struct iovec *iov, int iovcnt)
{
    int rc = write_check(s, __func__);
    if (rc)
        return rc;
    if (iovcnt < 0 || (!iov && iovcnt))
        return cio__bad_arg(s->loop, __func__, "bad iov");
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return cio__bad_arg(s->loop, __func__, "iov_base NULL");
        total += iov[i].iov_len;
    }
    if (!total)
        return 0;
    /* Reserve first for the worst case, so a failure has no effect. */
    if (s->flushing || s->wend > s->wstart) {
        if ((rc = reserve(s, total)) < 0)
            return rc;
        for (int i = 0; i < iovcnt; i++) {
            memcpy(s->wbuf + s->wend, iov[i].iov_base, iov[i].iov_len);
            s->wend += iov[i].iov_len;
        }
    } else {
        /* Nothing queued: hand the kernel what it takes now. */
        ssize_t n = s->tp->send_now ? s->tp->send_now(s, iov, iovcnt) : 0;
        if (n < 0) {
            rc = (int)n;
            set_werr(s, rc);
            return rc;
        }
        size_t sent = (size_t)n;
        if (sent < total) {
            if ((rc = reserve(s, total - sent)) < 0) {
                /* Part went out and the rest cannot be kept: the stream
                 * is broken from here on. */
                set_werr(s, rc);
                return rc;
            }
            size_t skip = sent;
            for (int i = 0; i < iovcnt; i++) {
                size_t l = iov[i].iov_len;
                if (skip >= l) {
                    skip -= l;
                    continue;
                }
                memcpy(s->wbuf + s->wend, (const char *)iov[i].iov_base + skip, l - skip);
                s->wend += l - skip;
                skip = 0;
            }
        }
    }
    if (s->wend - s->wstart > s->high)
        s->paused = 1;
    rc = start_flusher(s);
    if (rc < 0) {
        set_werr(s, rc);
        return rc;
    }
    return 0;
}

int cio_stream_write(cio_stream *s, const void *buf, size_t len)
{
    if (s && s->fd >= 0 && !s->werr && !s->closing && !s->eof_wanted && !s->flushing &&
        s->wend == s->wstart && len && s->tp->send_now) {
        /* Fast path: nothing queued. */
        if (!buf)
            return cio__bad_arg(s->loop, __func__, "buf is NULL");
        struct iovec one = {(void *)buf, len};
        ssize_t n = s->tp->send_now(s, &one, 1);
        if (n < 0) {
            set_werr(s, (int)n);
            return (int)n;
        }
        if ((size_t)n == len)
            return 0;
        struct iovec v = {(char *)buf + n, len - (size_t)n};
        return cio_stream_writelines(s, &v, 1);
    }
    struct iovec v = {(void *)buf, len};
    return cio_stream_writelines(s, &v, 1);
}

/*
 * Waits on the future in *slot (drain_fut, closed_fut), making a fresh one
 * if there is none or it is done, while holding a reference to the stream
 * and to the future.  Returns cio_await's code, or -ENOMEM.  Suspends.
 */
static int await_slot(cio_stream *s, cio_future **slot)
{
    if (!*slot || cio_future_done(*slot)) {
        cio_future *fresh;
        int rc = cio_future_new(s->loop, &fresh);
        if (rc < 0)
            return rc;
        if (*slot)
            cio_future_release(*slot);
        *slot = fresh;
    }
    cio_future *f = *slot;
    cio_future_retain(f);
    s->refs++;
    int rc = cio_await(f, NULL);
    cio_future_release(f);
    stream_unref(s);
    return rc;
}

int cio_stream_drain(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    for (;;) {
        int rc = cio__checkpoint(t);
        if (rc)
            return rc;
        if (s->werr)
            return s->werr;
        if (!s->paused)
            return s->fd < 0 && s->closing && !s->graceful ? CIO_ECLOSED : 0;
        rc = await_slot(s, &s->drain_fut);
        if (rc == -ENOMEM)
            return rc;
        /* Any other outcome (another drainer's cancellation also ends the
         * future) is re-checked at the top of the loop. */
    }
}

int cio_stream_write_eof(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    if (s->closing || s->fd < 0)
        return CIO_ECLOSED;
    s->eof_wanted = 1;
    if (!s->flushing)
        after_flush(s);
    return 0;
}

/* ---- closing --------------------------------------------------------------- */

int cio_stream_close(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    if (s->closing)
        return 0;
    s->closing = 1;
    s->graceful = 1;
    if (!s->flushing)
        close_now(s);
    return 0;
}

/* A flusher that has not run yet will not be needed: cancel it, which
 * guarantees it never runs, and drop its reference here. */
static void drop_unstarted_flusher(cio_stream *s)
{
    if (s->flushing && !s->flusher_started && s->flusher) {
        cio_task_cancel(s->flusher, NULL);
        cio_task_release(s->flusher);
        s->flusher = NULL;
        s->flushing = 0;
        s->refs--; /* never the last: the caller holds one */
    }
}

void cio_stream_abort(cio_stream *s)
{
    if (!s)
        return;
    s->graceful = 0;
    drop_unstarted_flusher(s);
    close_now(s);
}

int cio_stream_is_closing(const cio_stream *s)
{
    return s ? s->closing || s->fd < 0 : 1;
}

int cio_stream_wait_closed(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    while (s->fd >= 0) {
        int rc = cio__checkpoint(t);
        if (rc)
            return rc;
        rc = await_slot(s, &s->closed_fut);
        if (rc == -ENOMEM)
            return rc;
        if (rc == -ECANCELED || rc == -ETIMEDOUT) {
            int c = cio__checkpoint(t);
            if (c)
                return c;
        }
    }
    return s->werr && s->werr != CIO_ECLOSED ? s->werr : 0;
}

void cio_stream_release(cio_stream *s)
{
    if (!s)
        return;
    if (!(s->closing && s->graceful && s->flushing)) {
        drop_unstarted_flusher(s);
        close_now(s);
    }
    stream_unref(s);
}

/* ---- extra info --------------------------------------------------------------- */

int cio_stream_fd(const cio_stream *s) { return s ? s->fd : -1; }

int cio_stream_peername(const cio_stream *s, struct sockaddr *addr, socklen_t *len)
{
    if (!s || !addr || !len)
        return -EINVAL;
    if (s->fd < 0)
        return CIO_ECLOSED;
    return getpeername(s->fd, addr, len) < 0 ? -errno : 0;
}

int cio_stream_sockname(const cio_stream *s, struct sockaddr *addr, socklen_t *len)
{
    if (!s || !addr || !len)
        return -EINVAL;
    if (s->fd < 0)
        return CIO_ECLOSED;
    return getsockname(s->fd, addr, len) < 0 ? -errno : 0;
}
