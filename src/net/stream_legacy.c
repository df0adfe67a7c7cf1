/*
 * stream_legacy.c - streams that move their own bytes, for the kinds not
 * yet available as transports: TLS sessions (stream_tls.c) and pipes.
 * They go away when TLS and pipe transports exist; a transport stream
 * never enters this file.
 *
 * Reading pulls from the descriptor when a read call needs more bytes.
 * Writing queues every write and a flusher task (started only then)
 * sends it as the descriptor drains (an SSL_write that stops half-way
 * must be repeated with the same bytes, which the queue keeps); above the
 * high watermark the stream is "paused" and drain waits until the
 * flusher has brought it down to the low one.
 *
 * Divided into: reading, the flusher, writing, closing, the pipe
 * transport.
 */
#define _GNU_SOURCE
#include <sys/socket.h>

#include "stream.h"
#include "../exec/exec.h"

/* ---- reading --------------------------------------------------------------- */

/*
 * Settles a recv that returned n <= 0.  A 0 is the end of stream unless
 * the stream already failed: the kernel reports a reset once, to the
 * first call, and if the writer took it (cio__stream_set_werr recorded it
 * as the read error too) the next recv returns 0 as if the peer had
 * closed cleanly.  A failure becomes the sticky read error unless it
 * concerns this call only (cancelled, timed out, no memory, another
 * reader).  A descriptor closed meanwhile answers with the error that
 * closed it, else CIO_ECLOSED.
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

int cio__legacy_fill(cio_stream *s)
{
    if (s->rerr)
        return s->rerr;
    if (s->eof)
        return 0;
    if (s->fd < 0 || !s->tp)
        return CIO_ECLOSED;
    if (cio__stream_room(s, 2048) < 0)
        return -ENOMEM;
    int n = s->tp->recv(s, s->rbuf + s->rend, s->rcap - s->rend);
    if (n > 0) {
        s->rend += (size_t)n;
        return n;
    }
    return recv_ended(s, n);
}

/* ---- the flusher ------------------------------------------------------------ */

/* Closes the descriptor now: waiters on it wake with -EBADF. */
static void close_now(cio_stream *s)
{
    s->closing = 1;
    if (s->fd >= 0) {
        int fd = s->fd;
        if (s->tp)
            s->tp->close(s, s->graceful && !s->werr);
        s->fd = -1;
        cio_close(fd);
    }
    s->wstart = s->wend = 0;
    s->paused = 0;
    cio__waitq_wake_all(&s->writers, 0);
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
    if (s->eof_wanted && !s->eof_sent && s->tp) {
        s->eof_sent = 1;
        s->tp->write_eof(s);
    }
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
                cio__stream_set_werr(s, n);
            break;
        }
        s->wstart += (size_t)n;
        if (s->paused && s->wend - s->wstart <= s->low) {
            s->paused = 0;
            cio__waitq_wake_all(&s->writers, 0);
        }
    }
    s->wstart = s->wend = 0;
    s->flushing = 0;
    cio_task_release(s->flusher);
    s->flusher = NULL;
    if (s->paused) {
        s->paused = 0;
        cio__waitq_wake_all(&s->writers, 0);
    }
    after_flush(s);
    cio__stream_unref(s);
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

/* ---- writing ------------------------------------------------------------------ */

/*
 * Makes room for len more bytes at the end of the queue.  While the
 * flusher is parked inside a send, the transport holds a pointer to
 * wbuf + wstart (the pipe and TLS sends loop on it), so the queued bytes
 * must neither move nor be freed: no compaction then, and a bigger buffer
 * keeps them at the same offset while the old one lives on in wold until
 * the send returns.
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

int cio__legacy_writelines(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total)
{
    if (!s->tp)
        return CIO_ECLOSED;
    /* Reserve first for the worst case, so a failure has no effect. */
    int rc = reserve(s, total);
    if (rc < 0)
        return rc;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(s->wbuf + s->wend, iov[i].iov_base, iov[i].iov_len);
        s->wend += iov[i].iov_len;
    }
    if (s->wend - s->wstart > s->high)
        s->paused = 1;
    if ((rc = start_flusher(s)) < 0) {
        cio__stream_set_werr(s, rc);
        return rc;
    }
    return 0;
}

void cio__legacy_write_eof(cio_stream *s)
{
    if (!s->flushing)
        after_flush(s);
}

/* ---- closing ------------------------------------------------------------------ */

void cio__legacy_close(cio_stream *s)
{
    if (!s->flushing)
        close_now(s);
}

void cio__legacy_abort(cio_stream *s)
{
    drop_unstarted_flusher(s);
    close_now(s);
}

int cio__legacy_flushing(const cio_stream *s)
{
    return s->closing && s->graceful && s->flushing;
}

void cio__legacy_free(cio_stream *s)
{
    if (s->fd >= 0) {
        if (s->tp)
            s->tp->close(s, 0);
        cio_close(s->fd);
        s->fd = -1;
    }
    cio__free(s->wbuf);
    cio__free(s->wold);
}

/* ---- the pipe transport ---------------------------------------------------------- */

/* Pipes (a child's stdin/stdout): read/write, never SIGPIPE (pipe.c). */
static int pipe_recv(cio_stream *s, void *buf, size_t len)
{
    int rc = cio__checkpoint(cio__current());
    return rc ? rc : cio__pipe_read(s->loop, s->fd, buf, len);
}

/* Writes in pieces of at most 64 KiB so the flusher reports progress to
 * drain as the reader takes the data. */
static int pipe_send(cio_stream *s, const void *buf, size_t len)
{
    if (len > 65536)
        len = 65536;
    int rc = cio__checkpoint(cio__current());
    if (!rc)
        rc = cio__pipe_write_all(s->loop, s->fd, buf, len);
    return rc < 0 ? rc : (int)len;
}

/* A pipe has no half-close: the write end is closed as a whole (the
 * queue is empty by now, so nothing is dropped). */
static void pipe_write_eof(cio_stream *s) { cio_stream_abort(s); }

static void pipe_close(cio_stream *s, int graceful)
{
    (void)s;
    (void)graceful;
}

const struct cio__stream_transport cio__stream_pipe = {
    .name = "pipe",
    .recv = pipe_recv,
    .send = pipe_send,
    .write_eof = pipe_write_eof,
    .close = pipe_close,
};
