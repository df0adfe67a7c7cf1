/*
 * stream_tls.c - TLS streams: a stream whose transport is a TLS transport
 * (tls_transport.c) over a socket transport, made for cio_open_connection,
 * cio_open_unix_connection, cio_stream_from_fd and TLS servers;
 * cio_stream_start_tls as a transport swap (cio_start_tls under the
 * stream's protocol); the TLS accessors, read from the TLS transport.
 *
 * A TLS stream is attached to its TLS transport from the start (s->t),
 * before connection_made (which comes after the handshake), so that
 * close and abort reach a handshake in progress.  Its transport closes
 * as cio/stream.h documents: close_notify after the buffer, then the
 * socket is closed without waiting for the peer's close_notify
 * (cio__tls_transport_quick_close).
 *
 * Divided into: making TLS streams, start_tls, accessors.
 */
#define _GNU_SOURCE
#include <string.h>

#include "stream.h"
#include "tls_transport.h"
#include "transport.h"

/* ---- making TLS streams ----------------------------------------------------- */

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

/* The options of s's TLS transport: the stream's watermarks and
 * handshake timeout. */
static cio_transport_options tls_options(const cio_stream *s)
{
    return (cio_transport_options){.high_water = s->high,
                                   .low_water = s->low,
                                   .tls_handshake_timeout = s->tls_handshake_timeout};
}

/* Makes s's TLS transport over raw (new, not started) and starts both:
 * the stream is its protocol and holds it at once.  0, or -ENOMEM /
 * -EINVAL / CIO_ETLS with nothing made (raw is still the caller's). */
static int attach_tls(cio_stream *s, cio_transport *raw, cio_tls_context *ctx,
                      const char *name)
{
    int server = cio__tls_context_is_server(ctx);
    cio_transport_options to = tls_options(s);
    cio_transport *tt;
    int rc = cio__tls_transport_new(raw, ctx, server, server ? NULL : name, &to, &tt);
    if (rc < 0)
        return rc;
    cio__tls_transport_quick_close(tt);
    s->t = cio_transport_ref(tt);
    cio__tls_transport_start(tt, &cio__stream_protocol, s);
    return 0;
}

int cio__stream_tls_wait(cio_stream *s)
{
    int rc = cio__tls_transport_wait(s->t);
    if (rc < 0) {
        /* connection_made never came, connection_lost never will: the
         * stream is over (its transport keeps the message). */
        s->lost = 1;
        s->closing = 1;
    }
    return rc;
}

int cio__stream_open_tls(cio_loop *loop, int fd, const cio_stream_options *opts,
                         const char *name, int give_back, cio_stream **out)
{
    cio_tls_context *ctx = opts->tls;
    *out = NULL;
    /* A bad name is refused before any byte of TLS (fail closed). */
    int rc = cio__tls_check_name(ctx, name, "cio_open_connection");
    cio_stream *s = NULL;
    cio_transport *raw = NULL;
    if (rc == 0 && !cio__current())
        rc = CIO_ENOTASK;
    if (rc == 0)
        rc = cio__stream_alloc(loop, opts, &s);
    if (rc == 0 && (rc = cio__transport_new(loop, fd, NULL, &raw)) < 0)
        cio__free(s);
    if (rc < 0) {
        if (!give_back)
            cio_fd_close(fd);
        return rc;
    }
    if (give_back)
        cio__transport_keep_fd(raw);
    if ((rc = attach_tls(s, raw, ctx, name)) < 0) {
        cio__transport_discard(raw); /* closes fd, or forgets it */
        cio__free(s);
        return rc;
    }
    rc = cio__stream_tls_wait(s);
    if (rc < 0) {
        if (give_back) {
            /* The failed handshake aborted raw: once its connection_lost
             * has run (next iteration, or when a completion backend
             * confirms the cancelled ops) the loop has forgotten fd. */
            cio_shield_begin();
            while (cio_transport_fd(raw) >= 0 && cio_sleep(0) == 0)
                ;
            cio_shield_end();
        }
        cio_stream_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cio__stream_tls_server(cio_loop *loop, cio_transport *raw, const cio_stream_options *opts,
                           cio_stream **out)
{
    cio_stream *s;
    int rc = cio__stream_alloc(loop, opts, &s);
    if (rc < 0)
        return rc;
    if ((rc = attach_tls(s, raw, opts->tls, NULL)) < 0) {
        cio__free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- start_tls ------------------------------------------------------------------ */

/* Sends everything written so far, reading paused so that nothing the
 * peer sends after our last plaintext lands in the buffer; -EBUSY if
 * something did before (reading resumes on any failure). */
static int flush_all(cio_stream *s)
{
    cio_transport_pause_reading(s->t);
    /* Limits 0/0: the transport pauses us while anything is queued and
     * resumes us when all of it went out, which drain waits for. */
    cio_transport_set_write_buffer_limits(s->t, 0, 0);
    int rc = 0;
    while (rc == 0 && cio_stream_write_buffer_size(s) && s->paused) {
        rc = cio_stream_drain(s);
        if (rc == 0 && cio__stream_closed(s))
            rc = CIO_ECLOSED;
    }
    if (!cio__stream_closed(s))
        cio_transport_set_write_buffer_limits(s->t, s->high, s->low);
    if (rc == 0 && (cio_stream_write_buffer_size(s) || cio__stream_closed(s)))
        rc = s->werr ? s->werr : CIO_ECLOSED;
    if (rc == 0 && cio__stream_buffered(s))
        rc = -EBUSY; /* arrived before reading stopped */
    if (rc < 0 && !cio__stream_closed(s))
        cio_transport_resume_reading(s->t);
    return rc;
}

int cio_stream_start_tls(cio_stream *s, cio_tls_context *ctx, const char *server_hostname)
{
    if (!s || !ctx)
        return cio__bad_arg(cio__running_loop, __func__, "stream or ctx is NULL");
    if (s->kind != CIO__STREAM_SOCKET)
        return cio__bad_arg(s->loop, __func__, "TLS needs a socket, not a pipe");
    if (cio_stream_is_tls(s))
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
    if (!cio__current())
        return CIO_ENOTASK;
    /* Everything written in plaintext goes out before the ClientHello. */
    if ((rc = flush_all(s)) < 0)
        return rc;
    /* On io_uring the pause only asked the kernel to cancel the receive
     * in flight: one that completes after the swap anyway (with the
     * peer's first TLS bytes) goes to the TLS layer, the socket transport
     * sees to it (cio_transport_set_protocol).  A plain recv (no provided
     * buffer ring) reads into our buffer, which stays put until then: it
     * moves only in our get_buffer / data_received, which the TLS
     * transport calls only with what raw delivered after that recv. */
    int server = cio__tls_context_is_server(ctx);
    cio_transport_options to = tls_options(s);
    cio_transport *nt = NULL;
    s->upgrading = 1;
    rc = cio__start_tls(s->t, ctx, server, server ? NULL : server_hostname, &to, &nt);
    if (rc < 0) {
        cio__stream_set_tls_error(s, nt ? cio_transport_tls_error_message(nt)
                                        : cio_tls_context_error_message(ctx));
        if (!nt) { /* nothing was done */
            s->upgrading = 0;
            if (!cio__stream_closed(s))
                cio_transport_resume_reading(s->t);
            return rc;
        }
        /* The handshake failed: the connection is aborted, the stream
         * ends (upgrading stays: its connection_lost only ends it). */
        cio_transport_unref(nt);
        cio_stream_abort(s);
        return rc;
    }
    s->upgrading = 0;
    cio__tls_transport_quick_close(nt);
    cio_transport_unref(s->t); /* the TLS transport holds it now */
    s->t = nt;                   /* the reference cio__start_tls gave */
    cio__stream_set_tls_error(s, NULL);
    return 0;
}

/* ---- accessors ----------------------------------------------------------------- */

/* s's transport if it is TLS, else NULL. */
static cio_transport *tls_of(const cio_stream *s)
{
    return s && s->t && cio_transport_is_tls(s->t) ? s->t : NULL;
}

int cio_stream_is_tls(const cio_stream *s) { return tls_of(s) != NULL; }

const char *cio_stream_tls_version(const cio_stream *s)
{
    cio_transport *t = tls_of(s);
    return t ? cio_transport_tls_version(t) : NULL;
}

const char *cio_stream_tls_alpn_selected(const cio_stream *s)
{
    cio_transport *t = tls_of(s);
    return t ? cio_transport_tls_alpn(t) : NULL;
}

const char *cio_stream_tls_error_message(const cio_stream *s)
{
    if (!s)
        return "";
    if (s->tls_error)
        return s->tls_error;
    cio_transport *t = tls_of(s);
    return t ? cio_transport_tls_error_message(t) : "";
}
