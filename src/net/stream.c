/*
 * stream.c - buffered streams: asyncio's StreamReaderProtocol and
 * StreamWriter over a transport.
 *
 * The stream is its transport's protocol (cio__stream_protocol).  The
 * transport receives straight into the stream's read buffer
 * (get_buffer/buffer_updated) and wakes the tasks waiting in the reading
 * calls (stream_read.c); it pauses reading while more than twice the
 * limit is buffered and resumes once readers brought it back under the
 * limit (asyncio's StreamReader rule).  Writing hands the bytes to the
 * transport, which sends at once what the socket takes and flushes the
 * rest from the loop: no task per stream.  cio_stream_drain waits while
 * the transport has paused writing (pause_writing/resume_writing at the
 * watermarks) and fails with the connection's error.
 *
 * The transport is any kind: a socket (here), a TLS transport over one
 * (stream_tls.c), a pipe (here: cio_stream_from_fd on a pipe, FIFO or
 * terminal, and a child's stdio in subprocess.c).  Nothing below depends
 * on which, except the few rules of pipes: one direction only for a
 * pipe's end, no peer address, no TLS.
 *
 * Divided into: creation and lifetime, the protocol, writing, closing,
 * extra info.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"
#include "transport.h"

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

int cio__stream_alloc(cio_loop *loop, const cio_stream_options *opts, cio_stream **out)
{
    cio_stream *s = cio__calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->refs = 1;
    s->holds = 1;
    s->tls_handshake_timeout = opts && opts->tls_handshake_timeout ? opts->tls_handshake_timeout
                                                                   : 60.0;
    s->limit = opts && opts->limit ? opts->limit : CIO__STREAM_DEFAULT_LIMIT;
    s->high = opts && opts->high_water ? opts->high_water : CIO__STREAM_DEFAULT_HIGH;
    s->low = opts && opts->low_water && opts->low_water <= s->high ? opts->low_water
                                                                    : s->high / 4;
    cio__waitq_init(&s->readers);
    cio__waitq_init(&s->writers);
    *out = s;
    return 0;
}

int cio__stream_new(cio_loop *loop, int fd, const cio_stream_options *opts, cio_stream **out)
{
    cio_stream *s;
    int rc = cio__stream_alloc(loop, opts, &s);
    if (rc < 0)
        return rc;
    cio_transport_options to = {.high_water = s->high, .low_water = s->low};
    cio_transport *t;
    if ((rc = cio__transport_new(loop, fd, &to, &t)) < 0) {
        cio__free(s);
        return rc;
    }
    /* connection_made takes the stream's reference to t; the transport
     * holds itself until connection_lost. */
    cio__transport_start(t, &cio__stream_protocol, s);
    *out = s;
    return 0;
}

/* A stream over a pipe, FIFO or terminal fd (non-blocking, taken over
 * on success): a pipe transport of the direction fd was opened for. */
static int stream_new_pipe(cio_loop *loop, int fd, int accmode, const cio_stream_options *opts,
                           cio_stream **out)
{
    int mode = accmode == O_RDONLY ? CIO__PIPE_READ
             : accmode == O_WRONLY ? CIO__PIPE_WRITE
                                   : CIO__PIPE_BOTH;
    cio_stream *s;
    int rc = cio__stream_alloc(loop, opts, &s);
    if (rc < 0)
        return rc;
    s->kind = mode == CIO__PIPE_READ    ? CIO__STREAM_READ_PIPE
            : mode == CIO__PIPE_WRITE ? CIO__STREAM_WRITE_PIPE
                                      : CIO__STREAM_PIPE;
    cio_transport *t;
    if ((rc = cio__pipe_transport_new(loop, fd, mode, &t)) < 0) {
        cio__free(s);
        return rc;
    }
    if (mode != CIO__PIPE_READ)
        cio_transport_set_write_buffer_limits(t, s->high, s->low);
    cio__pipe_transport_start(t, &cio__stream_protocol, s);
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
    if (!(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc;
    if (!S_ISSOCK(st.st_mode)) {
        /* Pipes, FIFOs, terminals (and regular files, which never wait). */
        rc = stream_new_pipe(loop, fd, fl & O_ACCMODE, opts, out);
    } else if (opts && opts->tls) {
        if (!(opts->no_nodelay))
            cio__set_nodelay(fd);
        /* On failure fd is the caller's again, unknown to the loop. */
        rc = cio__stream_open_tls(loop, fd, opts, opts->server_hostname, 1, out);
    } else {
        if (!(opts && opts->no_nodelay))
            cio__set_nodelay(fd);
        rc = cio__stream_new(loop, fd, opts, out);
    }
    if (rc < 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl);
    return rc;
}

static void stream_free(cio_stream *s)
{
    cio_transport_unref(s->t);
    cio__free(s->rbuf);
    cio__free(s->tls_error);
    cio__free(s);
}

void cio__stream_unref(cio_stream *s)
{
    if (--s->refs == 0)
        stream_free(s);
}

void cio__stream_end_input(cio_stream *s)
{
    s->input_ended = 1;
    cio__waitq_wake_all(&s->readers, 0);
}

int cio__stream_park(cio_stream *s, struct cio__waitq *q, cio_task *t)
{
    struct cio__waitq_entry w;
    s->refs++;
    int rc = cio__waitq_park(q, &w, t, s, cio__waitq_interrupt);
    cio__stream_unref(s);
    return rc;
}

void cio__stream_set_werr(cio_stream *s, int err)
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
    s->paused = 0;
    cio__waitq_wake_all(&s->writers, 0);
    cio__waitq_wake_all(&s->readers, 0);
}

/* ---- the protocol ----------------------------------------------------------- */

static void p_connection_made(cio_transport *t, void *ud)
{
    cio_stream *s = ud;
    if (s->t != t) { /* (a TLS stream holds its transport already) */
        cio_transport_unref(s->t);
        s->t = cio_transport_ref(t);
    }
    s->refs++; /* the protocol's hold, until connection_lost */
}

/* Received in place: the free end of the read buffer. */
static void *p_get_buffer(cio_transport *t, size_t sizehint, size_t *len, void *ud)
{
    (void)t;
    cio_stream *s = ud;
    (void)sizehint; /* the whole free end is offered, at least this much */
    if (cio__stream_room(s, 4096) < 0)
        return NULL; /* the transport fails the connection (-ENOBUFS) */
    *len = s->rcap - s->rend;
    return s->rbuf + s->rend;
}

static void p_buffer_updated(cio_transport *t, size_t n, void *ud)
{
    cio_stream *s = ud;
    s->rend += n;
    if (!s->rpaused && cio__stream_buffered(s) > 2 * s->limit) {
        s->rpaused = 1;
        cio_transport_pause_reading(t);
    }
    cio__waitq_wake_all(&s->readers, 0);
}

/* Transports without get_buffer (pipes): one copy into the buffer. */
static void p_data_received(cio_transport *t, const void *data, size_t n, void *ud)
{
    cio_stream *s = ud;
    if (cio__stream_room(s, n) < 0) {
        cio__stream_set_werr(s, -ENOMEM); /* bytes lost: the stream is broken */
        cio_transport_abort(t);
        return;
    }
    memcpy(s->rbuf + s->rend, data, n);
    s->rend += n;
    if (!s->rpaused && cio__stream_buffered(s) > 2 * s->limit) {
        s->rpaused = 1;
        cio_transport_pause_reading(t);
    }
    cio__waitq_wake_all(&s->readers, 0);
}

/* The peer ended its side: readers see the end, writing may go on (a
 * half-close: the stream is closed by its user, asyncio's rule for
 * non-TLS streams). */
static int p_eof_received(cio_transport *t, void *ud)
{
    (void)t;
    cio_stream *s = ud;
    s->eof = 1;
    cio__waitq_wake_all(&s->readers, 0);
    return 1;
}

static void p_connection_lost(cio_transport *t, int error, void *ud)
{
    (void)t;
    cio_stream *s = ud;
    s->lost = 1;
    s->closing = 1;
    /* A pipe's reader left while we wrote nothing: the next write would
     * have met EPIPE, and says so (a pipe transport reports 0 then). */
    if (!error && s->kind == CIO__STREAM_WRITE_PIPE && !s->user_closed && !s->eof_wanted)
        error = -EPIPE;
    /* A failed start_tls aborted the stream: its end is CIO_ECLOSED, the
     * reason is cio_stream_tls_error_message's. */
    if (error && !s->upgrading)
        cio__stream_set_werr(s, error);
    s->paused = 0;
    cio__waitq_wake_all(&s->readers, 0);
    cio__waitq_wake_all(&s->writers, 0);
    cio__stream_unref(s); /* the protocol's hold */
}

static void p_pause_writing(cio_transport *t, void *ud)
{
    (void)t;
    ((cio_stream *)ud)->paused = 1;
}

static void p_resume_writing(cio_transport *t, void *ud)
{
    (void)t;
    cio_stream *s = ud;
    s->paused = 0;
    cio__waitq_wake_all(&s->writers, 0);
}

const cio_protocol cio__stream_protocol = {
    .connection_made = p_connection_made,
    .eof_received = p_eof_received,
    .connection_lost = p_connection_lost,
    .pause_writing = p_pause_writing,
    .resume_writing = p_resume_writing,
    .data_received = p_data_received,
    .get_buffer = p_get_buffer,
    .buffer_updated = p_buffer_updated,
};

/* ---- writing ----------------------------------------------------------------- */

size_t cio_stream_write_buffer_size(const cio_stream *s)
{
    return s && s->t ? cio_transport_get_write_buffer_size(s->t) : 0;
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
    if (s->t && !s->lost)
        cio_transport_set_write_buffer_limits(s->t, s->high, s->low);
    return 0;
}

static int write_check(cio_stream *s, const char *fn)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, fn, "stream is NULL");
    if (s->werr)
        return s->werr;
    if (s->closing || s->eof_wanted || cio__stream_closed(s))
        return CIO_ECLOSED;
    if (s->kind == CIO__STREAM_READ_PIPE)
        return -EBADF; /* a pipe's read end, as write(2) says */
    return 0;
}

/* A transport write failed with rc: a failure that left the connection
 * as it was (no memory, nothing sent) has no effect; any other is the
 * connection's, and the writer's error from now on.  The reader learns
 * it from connection_lost, which comes after the bytes the transport
 * could still read (transport.c's salvage): a reader waiting for the
 * rest of a message gets them before the error. */
static int write_failed(cio_stream *s, int rc)
{
    if (rc == -ENOMEM && !cio_transport_is_closing(s->t))
        return rc;
    if (!s->werr)
        s->werr = rc;
    s->paused = 0;
    cio__waitq_wake_all(&s->writers, 0);
    return rc;
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
    rc = cio_transport_writelines(s->t, iov, iovcnt);
    return rc < 0 ? write_failed(s, rc) : 0;
}

int cio_stream_write(cio_stream *s, const void *buf, size_t len)
{
    if (s && s->t && len && buf && !s->werr && !s->closing && !s->eof_wanted &&
        s->kind != CIO__STREAM_READ_PIPE) {
        /* The common case: straight to the kind's write when it has one
         * (cio_transport_write's own checks are this function's). */
        int rc = s->t->vt->write ? s->t->vt->write(s->t, buf, len)
                                 : cio_transport_write(s->t, buf, len);
        return rc < 0 ? write_failed(s, rc) : 0;
    }
    struct iovec v = {(void *)buf, len};
    return cio_stream_writelines(s, &v, 1);
}

/* drain's every case but the common one (see cio_stream_drain). */
static __attribute__((noinline)) int drain_wait(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, "cio_stream_drain", "stream is NULL");
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
            return s->closing && !s->graceful && cio__stream_closed(s) ? CIO_ECLOSED : 0;
        if ((rc = cio__stream_park(s, &s->writers, t)) < 0)
            return rc;
    }
}

int cio_stream_drain(cio_stream *s)
{
    /* The common case - a task, no cancellation, no error, writing not
     * paused, not closing - answers 0 here, as drain_wait's first round
     * would, with no frame to set up. */
    cio_task *t = cio__current();
    if (CIO_LIKELY(s && t && !cio__checkpoint(t) && !s->werr && !s->paused && !s->closing))
        return 0;
    return drain_wait(s);
}

int cio_stream_write_eof(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    if (s->closing || cio__stream_closed(s))
        return CIO_ECLOSED;
    if (s->eof_wanted)
        return 0;
    s->eof_wanted = 1;
    /* After what is queued.  TLS: close_notify, then the socket's
     * half-close; a pipe: closed (no half-close). */
    cio_transport_write_eof(s->t);
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
    s->user_closed = 1;
    s->graceful = 1;
    if (s->t)
        cio_transport_close(s->t); /* flushes, then connection_lost */
    cio__waitq_wake_all(&s->readers, 0); /* nothing more will arrive */
    return 0;
}

void cio_stream_abort(cio_stream *s)
{
    if (!s)
        return;
    s->closing = 1;
    s->user_closed = 1;
    s->graceful = 0;
    if (s->t)
        cio_transport_abort(s->t);
    s->paused = 0;
    cio__waitq_wake_all(&s->readers, 0);
    cio__waitq_wake_all(&s->writers, 0);
}

int cio_stream_is_closing(const cio_stream *s)
{
    return s ? s->closing || cio__stream_closed(s) : 1;
}

int cio_stream_wait_closed(cio_stream *s)
{
    if (!s)
        return cio__bad_arg(cio__running_loop, __func__, "stream is NULL");
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    while (!cio__stream_closed(s)) {
        int rc = cio__checkpoint(t);
        if (!rc)
            rc = cio__stream_park(s, &s->writers, t);
        if (rc < 0)
            return rc;
    }
    return s->werr && s->werr != CIO_ECLOSED ? s->werr : 0;
}

cio_stream *cio_stream_ref(cio_stream *s)
{
    if (s) {
        s->holds++;
        s->refs++;
    }
    return s;
}

void cio_stream_unref(cio_stream *s)
{
    if (!s)
        return;
    if (s->holds > 1) { /* another holder keeps the stream as it is */
        s->holds--;
        cio__stream_unref(s);
        return;
    }
    /* Closed gracefully: the transport still sends what is queued and
     * holds the stream until connection_lost. */
    if (!(s->closing && s->graceful && s->user_closed))
        cio_stream_abort(s);
    cio__stream_unref(s);
}

/* ---- extra info --------------------------------------------------------------- */

int cio_stream_fd(const cio_stream *s)
{
    if (!s || cio__stream_closed(s))
        return -1;
    int fd = cio_transport_fd(s->t);
    return fd >= 0 ? fd : -1;
}

int cio_stream_peername(const cio_stream *s, struct sockaddr *addr, socklen_t *len)
{
    if (!s || !addr || !len)
        return -EINVAL;
    if (s->kind != CIO__STREAM_SOCKET)
        return -ENOTSOCK; /* a pipe, open or not */
    int fd = cio_stream_fd(s);
    if (fd < 0)
        return CIO_ECLOSED;
    return getpeername(fd, addr, len) < 0 ? -errno : 0;
}

int cio_stream_sockname(const cio_stream *s, struct sockaddr *addr, socklen_t *len)
{
    if (!s || !addr || !len)
        return -EINVAL;
    if (s->kind != CIO__STREAM_SOCKET)
        return -ENOTSOCK;
    int fd = cio_stream_fd(s);
    if (fd < 0)
        return CIO_ECLOSED;
    return getsockname(fd, addr, len) < 0 ? -errno : 0;
}
