/*
 * stream_tls.c - TLS inside streams: the TLS way of moving a legacy
 * stream's bytes (struct cio__stream_transport over a cio_tls session),
 * the handshake that turns a plain stream into a TLS one (for
 * cio_open_connection, cio_stream_from_fd, servers and
 * cio_stream_start_tls), and the TLS accessors.
 *
 * TLS streams are legacy streams (stream_legacy.c) until TLS is a
 * cio_transport: their buffers and watermarks are the shared ones, their
 * writes queue for the flusher, which sends them with cio_tls_write, one
 * record (16 KiB) at a time so drain sees progress.  start_tls takes a
 * plain stream off its socket transport (the socket itself stays) and
 * makes it a legacy TLS stream.
 *
 * The session lives as long as the stream: a task parked inside
 * cio_tls_read when the stream is closed wakes up and returns from the
 * session, so it is freed with the stream, not at close.
 *
 * Divided into: the transport, the handshake, start_tls, accessors.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <sys/socket.h>

#include "cio/combine.h"
#include "stream.h"

/* OpenSSL's largest record: one flusher step. */
#define TLS_CHUNK 16384

/* ---- the transport ---------------------------------------------------------- */

void cio__stream_set_tls_error(cio_stream *s, const char *msg)
{
    cio__free(s->tls_error);
    s->tls_error = NULL;
    if (msg && *msg) {
        size_t n = strlen(msg) + 1;
        s->tls_error = cio__malloc(n);
        if (s->tls_error)
            memcpy(s->tls_error, msg, n);
    }
}

static int tls_recv(cio_stream *s, void *buf, size_t len)
{
    int r = cio_tls_read(s->tls, buf, len);
    if (r == CIO_ETLS)
        cio__stream_set_tls_error(s, cio_tls_error_message(s->tls));
    return r;
}

static int tls_send(cio_stream *s, const void *buf, size_t len)
{
    if (len > TLS_CHUNK)
        len = TLS_CHUNK;
    int r = cio_tls_write(s->tls, buf, len);
    if (r == CIO_ETLS)
        cio__stream_set_tls_error(s, cio_tls_error_message(s->tls));
    return r;
}

/* TLS's half-close is close_notify; the TCP half-close after it gives
 * the peer's kernel an end of stream too (nothing may follow it). */
static void tls_write_eof(cio_stream *s)
{
    cio__tls_close_notify(s->tls);
    shutdown(s->fd, SHUT_WR);
}

static void tls_close(cio_stream *s, int graceful)
{
    if (graceful && !s->eof_sent)
        cio__tls_close_notify(s->tls);
}

static const struct cio__stream_transport tls_transport = {
    .name = "tls",
    .recv = tls_recv,
    .send = tls_send,
    .write_eof = tls_write_eof,
    .close = tls_close,
};

/* ---- the handshake ----------------------------------------------------------- */

int cio__stream_tls_begin(cio_stream *s, cio_tls_context *ctx, const char *server_hostname)
{
    cio_tls *tls;
    int rc = cio_tls_new(ctx, s->fd, server_hostname, &tls);
    if (rc < 0) {
        cio__stream_set_tls_error(s, cio_tls_context_error_message(ctx));
        return rc;
    }
    double limit = s->tls_handshake_timeout;
    cio_timeout *tm = NULL;
    if (limit > 0 && isfinite(limit) && (rc = cio_timeout_begin(limit, &tm)) < 0) {
        cio_tls_free(tls);
        return rc;
    }
    rc = cio_tls_handshake(tls);
    if (tm) {
        int t = cio_timeout_end(tm);
        if (t == -ETIMEDOUT && rc < 0)
            rc = -ETIMEDOUT;
    }
    if (rc < 0) {
        if (rc == CIO_ETLS)
            cio__stream_set_tls_error(s, cio_tls_error_message(tls));
        else if (rc == -ETIMEDOUT)
            cio__stream_set_tls_error(s, "TLS handshake timed out");
        else if (rc == -ECONNRESET)
            cio__stream_set_tls_error(s, "the peer closed the connection during the handshake");
        cio_tls_free(tls);
        return rc;
    }
    s->tls = tls;
    s->tp = &tls_transport;
    cio__stream_set_tls_error(s, NULL);
    return 0;
}

int cio__stream_open_tls(cio_loop *loop, int fd, const cio_stream_options *opts,
                         const char *host, cio_stream **out)
{
    int rc = cio__stream_new_legacy(loop, fd, NULL, opts, out);
    if (rc < 0) {
        cio_close(fd);
        return rc;
    }
    const char *name = opts->server_hostname ? opts->server_hostname : host;
    rc = cio__stream_tls_begin(*out, opts->tls, name);
    if (rc < 0) {
        cio__tls_context_set_error(opts->tls, cio_stream_tls_error_message(*out));
        cio_stream_release(*out); /* closes fd */
        *out = NULL;
    }
    return rc;
}

/* ---- start_tls ------------------------------------------------------------------ */

/*
 * Takes a transport stream off its transport, keeping the socket: with
 * reading paused and the write buffer empty, a duplicate of the socket
 * becomes the stream's own descriptor and the transport is aborted
 * without telling the stream (no data is lost: none is buffered, none in
 * flight).  0, or -errno (nothing changed then).
 */
static int leave_transport(cio_stream *s)
{
    int fd = fcntl(cio_transport_fd(s->t), F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    cio_transport *t = s->t;
    cio_transport_set_protocol(t, NULL, NULL);
    cio_transport_abort(t);
    cio_transport_release(t);
    s->t = NULL;
    s->fd = fd;
    s->rpaused = 0;
    s->refs--; /* connection_lost will not come: the protocol's hold */
    return 0;
}

/* Waits until everything written went out, reading paused so that
 * nothing the peer sends after our last plaintext lands in the buffer. */
static int flush_all(cio_stream *s)
{
    if (s->t) {
        cio_transport_pause_reading(s->t);
        s->rpaused = 1;
        cio_transport_set_write_buffer_limits(s->t, 0, 0);
    }
    int rc = 0;
    while (rc == 0 && (cio_stream_write_buffer_size(s) || s->flushing)) {
        size_t low = s->low;
        s->low = 0;
        s->paused = 1;
        rc = cio_stream_drain(s);
        s->low = low;
        if (rc == 0 && cio__stream_closed(s))
            rc = CIO_ECLOSED;
    }
    if (s->t && !s->lost)
        cio_transport_set_write_buffer_limits(s->t, s->high, s->low);
    if (rc == 0 && cio__stream_buffered(s))
        rc = -EBUSY; /* arrived before reading stopped */
    if (rc < 0 && s->t && !s->lost) {
        s->rpaused = 0;
        cio_transport_resume_reading(s->t);
    }
    return rc;
}

int cio_stream_start_tls(cio_stream *s, cio_tls_context *ctx, const char *server_hostname)
{
    if (!s || !ctx)
        return cio__bad_arg(cio__running_loop, __func__, "stream or ctx is NULL");
    if (s->tp == &cio__stream_pipe)
        return cio__bad_arg(s->loop, __func__, "TLS needs a socket, not a pipe");
    if (s->tls)
        return -EALREADY;
    if (s->werr)
        return s->werr;
    if (s->closing || s->eof_wanted || cio__stream_closed(s) || s->eof)
        return CIO_ECLOSED;
    if (cio__stream_buffered(s))
        return -EBUSY;
    /* A missing name is a bad argument: refused before anything is
     * sent, the stream stays as it was. */
    int rc = cio__tls_check_name(ctx, server_hostname, __func__);
    if (rc < 0) {
        cio__stream_set_tls_error(s, cio_tls_context_error_message(ctx));
        return rc;
    }
    /* Everything written in plaintext goes out before the ClientHello. */
    if ((rc = flush_all(s)) < 0)
        return rc;
    if (s->t && (rc = leave_transport(s)) < 0) {
        s->rpaused = 0;
        cio_transport_resume_reading(s->t);
        return rc;
    }
    rc = cio__stream_tls_begin(s, ctx, server_hostname);
    if (rc < 0)
        cio_stream_abort(s);
    return rc;
}

/* ---- accessors ----------------------------------------------------------------- */

int cio_stream_is_tls(const cio_stream *s) { return s && s->tls; }

const char *cio_stream_tls_version(const cio_stream *s)
{
    return s && s->tls ? cio_tls_version(s->tls) : NULL;
}

const char *cio_stream_tls_alpn(const cio_stream *s)
{
    return s && s->tls ? cio_tls_alpn_selected(s->tls) : NULL;
}

const char *cio_stream_tls_error_message(const cio_stream *s)
{
    return s && s->tls_error ? s->tls_error : "";
}
