/*
 * tls_transport.c - TLS as a transport over a transport (asyncio's
 * sslproto: SSLProtocol + _SSLProtocolTransport).
 *
 * The TLS transport is the protocol of another transport, the "raw" one
 * (a socket transport, or any other kind, even TLS): raw's data_received
 * feeds an OpenSSL memory BIO (in), OpenSSL's records come out of another
 * (out) and are written to raw.  No descriptor is touched here, so it
 * works on every I/O backend, and start_tls is a protocol swap on a live
 * transport.  The application's protocol sees a plain-text transport:
 * connection_made once the handshake is done (not for start_tls: the
 * protocol already had it from raw), data_received with decrypted bytes,
 * eof_received at the peer's close_notify, connection_lost once raw's has
 * come.
 *
 * States: HANDSHAKE (bounded by the handshake timeout), WRAPPED, SHUTDOWN
 * (our close_notify sent, reading on until the peer's, bounded by the
 * shutdown timeout, as asyncio's unwrap) and DONE (raw is being closed or
 * aborted; only raw's connection_lost is awaited).
 *
 * Flow control: plaintext written during the handshake (or while a
 * renegotiation makes SSL_write wait for the peer) waits in a chunk list;
 * records wait in the out BIO while raw has paused our writing.  The two
 * together are this transport's write buffer, checked against its
 * watermarks for the application's pause_writing/resume_writing.  The
 * application's pause_reading pauses raw; what was read already stays in
 * the in BIO until resume_reading.
 *
 * Lifetime: the transport holds a reference to raw, and holds itself
 * alive until raw's connection_lost has run (raw calls it, whatever
 * ended the connection), which is also where the application's
 * connection_lost comes from, so it is never called inside a method.
 *
 * Divided into: lifetime and timers, writing, reading, the handshake,
 * closing, raw's protocol, methods.  Making a TLS transport, waiting for
 * its handshake, cio_start_tls and the accessors are in
 * tls_transport_api.c.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "../task/task.h"
#include "tls_internal.h"
#include "tls_transport.h"

#ifdef CIO_HAVE_OPENSSL
#include <openssl/err.h>

#define CHUNK_MIN 16384

enum { HANDSHAKE = CIO__TLS_HANDSHAKE, WRAPPED, SHUTDOWN, DONE };

static void do_read(struct cio__tls_transport *s);
static void do_shutdown(struct cio__tls_transport *s);
static void finish_shutdown(struct cio__tls_transport *s);
static void fail(struct cio__tls_transport *s, int code, const char *msg);
static void tls_close(cio_transport *bt);
const struct cio__transport_vt cio__tls_transport_vt;

/* ---- lifetime and timers --------------------------------------------------------- */

static void free_chunks(struct cio__tls_transport *s)
{
    for (struct cio__tchunk *c = s->whead, *n; c; c = n) {
        n = c->next;
        cio__free(c);
    }
    s->whead = s->wtail = NULL;
    s->wsize = 0;
}

static void tls_destroy(cio_transport *bt)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    SSL_free(s->ssl); /* frees both BIOs */
    free_chunks(s);
    cio__free(s->rbuf);
    cio__free(s->subject);
    cio_transport_unref(s->raw);
    cio__free(s);
}

static void unref(struct cio__tls_transport *s)
{
    cio__transport_unref(&s->b);
}

static void cancel_timer(struct cio__tls_transport *s)
{
    if (!s->timer)
        return;
    cio_handle_cancel(s->timer);
    cio_handle_unref(s->timer);
    s->timer = NULL;
    unref(s); /* the timer's reference */
}

static void timer_fired(void *arg)
{
    struct cio__tls_transport *s = arg;
    cio_handle_unref(s->timer);
    s->timer = NULL;
    if (s->state == HANDSHAKE)
        fail(s, -ETIMEDOUT, "TLS handshake timed out");
    else if (s->state == SHUTDOWN)
        fail(s, -ETIMEDOUT, "TLS shutdown timed out (no close_notify from the peer)");
    unref(s);
}

/* Arms the timer for seconds (<= 0 or not finite: none). */
static void start_timer(struct cio__tls_transport *s, double seconds)
{
    cancel_timer(s);
    if (!(seconds > 0) || !isfinite(seconds))
        return;
    if (cio_call_later(s->b.loop, seconds, timer_fired, s, &s->timer) < 0) {
        s->timer = NULL;
        fail(s, -ENOMEM, "no memory for the TLS timer");
        return;
    }
    s->b.refs++;
}

/* Ends a waiting cio__tls_transport_wait with code (0: done). */
static void wake_waiter(struct cio__tls_transport *s, int code)
{
    if (!s->hs_fut || cio_future_done(s->hs_fut))
        return;
    if (code == 0)
        cio_future_set_result(s->hs_fut, NULL);
    else if (code == -ECANCELED || cio_future_set_error(s->hs_fut, code, NULL) < 0)
        cio_future_cancel(s->hs_fut, NULL); /* never leave the task hanging */
}

/* ---- writing ----------------------------------------------------------------------- */

static size_t buffered(const struct cio__tls_transport *s)
{
    return s->wsize + (s->out ? BIO_ctrl_pending(s->out) : 0);
}

/* The application's pause_writing / resume_writing at the watermarks. */
static void control_writing(struct cio__tls_transport *s)
{
    size_t size = buffered(s);
    cio__tflow_check_pause(&s->fl, &s->b, size, s->closing);
    cio__tflow_check_resume(&s->fl, &s->b, size);
}

/* Hands the records in out to raw (unless raw paused us and force is 0:
 * then they wait, counted in our buffer).  0, or raw's error (the
 * transport is failed then). */
static int push_out(struct cio__tls_transport *s, int force)
{
    if ((s->raw_wpaused && !force) || s->raw_lost)
        return 0;
    char *p;
    long n = BIO_get_mem_data(s->out, &p);
    if (n <= 0)
        return 0;
    int rc = cio_transport_write(s->raw, p, (size_t)n);
    (void)BIO_reset(s->out);
    if (rc < 0)
        fail(s, rc, "writing to the transport under TLS failed");
    return rc;
}

/* Appends the iov's bytes from offset skip on to the plaintext backlog. */
static int append(struct cio__tls_transport *s, const struct iovec *iov, int iovcnt, size_t skip)
{
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
            struct cio__tchunk *c = s->wtail;
            if (!c || c->end == c->cap) {
                size_t cap = n < CHUNK_MIN ? CHUNK_MIN : n;
                if (!(c = cio__malloc(sizeof *c + cap)))
                    return -ENOMEM;
                *c = (struct cio__tchunk){.cap = cap};
                if (s->wtail)
                    s->wtail->next = c;
                else
                    s->whead = c;
                s->wtail = c;
            }
            size_t k = c->cap - c->end < n ? c->cap - c->end : n;
            memcpy(c->data + c->end, p, k);
            c->end += k;
            p += k;
            n -= k;
            s->wsize += k;
        }
    }
    return 0;
}

/* One SSL_write of len bytes: the count written (> 0), 0 if OpenSSL must
 * read first (renegotiation; retried after the next data), or the error
 * (the transport failed). */
static int ssl_write(struct cio__tls_transport *s, const void *p, size_t len)
{
    ERR_clear_error();
    int r = SSL_write(s->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
    if (r > 0)
        return r;
    int err = SSL_get_error(s->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    char msg[256];
    int code = cio__tls_failure(s->ssl, err, 0, "TLS write", msg, sizeof msg);
    fail(s, code, msg);
    return code;
}

/* Sends close_notify (once): write_eof and close. */
static void send_close_notify(struct cio__tls_transport *s)
{
    if (s->notify_sent)
        return;
    s->notify_sent = 1;
    ERR_clear_error();
    SSL_shutdown(s->ssl);
    ERR_clear_error();
}

/* Encrypts the backlog; then a pending write_eof or shutdown goes on. */
static void flush_backlog(struct cio__tls_transport *s)
{
    while (s->whead && (s->state == WRAPPED || s->state == SHUTDOWN)) {
        struct cio__tchunk *c = s->whead;
        int r = ssl_write(s, c->data + c->start, c->end - c->start);
        if (r <= 0)
            break;
        c->start += (size_t)r;
        s->wsize -= (size_t)r;
        if (c->start == c->end) {
            s->whead = c->next;
            if (!s->whead)
                s->wtail = NULL;
            cio__free(c);
        }
    }
    if (s->wsize || (s->state != WRAPPED && s->state != SHUTDOWN))
        return;
    if (s->eof_wanted && !s->notify_sent) {
        send_close_notify(s);
        if (push_out(s, 1) == 0 && cio_transport_can_write_eof(s->raw))
            cio_transport_write_eof(s->raw);
    }
}

/* ---- reading -------------------------------------------------------------------------- */

/* The peer's close_notify: eof_received, then close unless kept open. */
static void on_close_notify(struct cio__tls_transport *s)
{
    if (s->eof)
        return;
    s->eof = 1;
    if (s->state == SHUTDOWN) {
        finish_shutdown(s);
        return;
    }
    int keep = s->made && s->b.proto->eof_received ? s->b.proto->eof_received(&s->b, s->b.ud)
                                                   : 0;
    if (!keep)
        tls_close(&s->b);
}

/* Decrypts what the in BIO holds and hands it to the application, a
 * buffer (read_size) at a time, while it reads. */
static void do_read(struct cio__tls_transport *s)
{
    if (s->state == SHUTDOWN) {
        do_shutdown(s);
        return;
    }
    while (s->state == WRAPPED && !s->fl.rpaused && !s->closing && !s->eof) {
        int bufd = s->b.proto->get_buffer != NULL;
        char *buf;
        size_t len = 0;
        if (bufd) {
            buf = s->b.proto->get_buffer(&s->b, s->read_size, &len, s->b.ud);
            if (!buf || !len) {
                fail(s, -ENOBUFS, "get_buffer gave no buffer");
                return;
            }
            if (s->state != WRAPPED || s->fl.rpaused || s->closing)
                return; /* get_buffer closed or paused */
        } else {
            if (!s->rbuf && !(s->rbuf = cio__malloc(s->read_size))) {
                fail(s, -ENOMEM, "no memory for the TLS read buffer");
                return;
            }
            buf = s->rbuf;
            len = s->read_size;
        }
        size_t n = 0;
        int r = 1, err = SSL_ERROR_NONE;
        while (n < len) {
            ERR_clear_error();
            size_t want = len - n > INT_MAX ? INT_MAX : len - n;
            r = SSL_read(s->ssl, buf + n, (int)want);
            if (r <= 0) {
                err = SSL_get_error(s->ssl, r);
                break;
            }
            n += (size_t)r;
        }
        if (n) {
            if (bufd && s->b.proto->buffer_updated)
                s->b.proto->buffer_updated(&s->b, n, s->b.ud);
            else if (!bufd && s->b.proto->data_received)
                s->b.proto->data_received(&s->b, buf, n, s->b.ud);
        }
        if (r > 0)
            continue; /* the buffer filled: there may be more */
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
        if (err == SSL_ERROR_ZERO_RETURN) {
            on_close_notify(s);
            break;
        }
        if (s->state == WRAPPED) {
            char msg[256];
            int code = cio__tls_failure(s->ssl, err, 0, "TLS read", msg, sizeof msg);
            fail(s, code, msg);
        }
        return;
    }
    /* Post-handshake messages (a KeyUpdate) may have an answer to send,
     * and a renegotiation may have unblocked the backlog. */
    if (s->state == WRAPPED || s->state == SHUTDOWN) {
        push_out(s, 0);
        if (s->whead) {
            flush_backlog(s);
            push_out(s, 0);
        }
        control_writing(s);
    }
}

static void read_scheduled(void *arg)
{
    struct cio__tls_transport *s = arg;
    s->read_scheduled = 0;
    if (!s->raw_lost)
        do_read(s);
    unref(s);
}

/* ---- the handshake ------------------------------------------------------------------ */

static void handshake_done(struct cio__tls_transport *s)
{
    cancel_timer(s);
    s->state = WRAPPED;
    s->handshaken = 1;
    wake_waiter(s, 0);
    if (s->factory) {
        const cio_protocol *proto = NULL;
        void *ud = NULL;
        if (s->factory(s->factory_arg, &proto, &ud) != 0 || !proto) {
            s->call_made = 0; /* refused: closed unseen */
            cio_transport_abort(&s->b);
            return;
        }
        s->b.proto = proto;
        s->b.ud = ud;
    }
    if (s->call_made) {
        s->made = 1;
        if (s->b.proto->connection_made)
            s->b.proto->connection_made(&s->b, s->b.ud);
    }
    if (s->state != WRAPPED)
        return; /* connection_made closed it */
    flush_backlog(s);
    push_out(s, 0);
    do_read(s); /* records that came with the last handshake message */
}

static void do_handshake(struct cio__tls_transport *s)
{
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, r);
    if (push_out(s, 1) < 0)
        return;
    if (r == 1) {
        handshake_done(s);
        return;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return;
    char msg[256];
    int code = cio__tls_failure(s->ssl, err, 0, "TLS handshake", msg, sizeof msg);
    if (code == -ECONNRESET || err == SSL_ERROR_ZERO_RETURN) {
        code = -ECONNRESET;
        snprintf(msg, sizeof msg, "the peer closed the connection during the TLS handshake");
    }
    fail(s, code, msg);
}

/* Raw is ours: start the handshake (a client's ClientHello goes out). */
static void begin(struct cio__tls_transport *s)
{
    start_timer(s, s->hs_timeout);
    if (s->state == HANDSHAKE)
        do_handshake(s);
}

/* ---- closing --------------------------------------------------------------------------- */

/* The application's failure message, kept for cio_transport_tls_error_message. */
static void set_message(struct cio__tls_transport *s, const char *msg)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s", msg ? msg : "");
}

/* A fatal error (asyncio's _fatal_error): raw is aborted, connection_lost
 * reports code. */
static void fail(struct cio__tls_transport *s, int code, const char *msg)
{
    if (s->state == DONE)
        return;
    cio_log(CIO_LOG_DEBUG, "TLS transport failed: %s (%s)", msg ? msg : "",
            cio_strerror(code));
    if (!s->error) {
        s->error = code;
        set_message(s, msg);
    }
    s->state = DONE;
    s->closing = 1;
    cancel_timer(s);
    wake_waiter(s, code);
    free_chunks(s);
    cio_transport_abort(s->raw);
}

/* Shutdown is over (the peer's close_notify, or its EOF): close raw. */
static void finish_shutdown(struct cio__tls_transport *s)
{
    if (s->state == DONE)
        return;
    cancel_timer(s);
    s->state = DONE;
    push_out(s, 1);
    cio_transport_close(s->raw);
}

/* SHUTDOWN: flush, send close_notify, read (and drop) until the peer's. */
static void do_shutdown(struct cio__tls_transport *s)
{
    flush_backlog(s);
    if (s->state != SHUTDOWN)
        return;
    if (s->whead) {
        push_out(s, 1);
        return; /* a renegotiation holds the backlog: wait for data */
    }
    send_close_notify(s);
    if (push_out(s, 1) < 0)
        return;
    if (s->eof || s->raw_eof || s->quick_close) {
        finish_shutdown(s);
        return;
    }
    char sink[4096];
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(s->ssl, sink, sizeof sink);
        if (r > 0)
            continue; /* data after our close: dropped, as asyncio does */
        int err = SSL_get_error(s->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return;
        /* The peer's close_notify, or anything else that ends the
         * session: either way we are done with it. */
        ERR_clear_error();
        s->eof = 1;
        finish_shutdown(s);
        return;
    }
}

/* ---- raw's protocol -------------------------------------------------------------------- */

static void raw_connection_made(cio_transport *raw, void *ud)
{
    (void)raw;
    struct cio__tls_transport *s = ud;
    s->b.refs++; /* as in raw_data_received */
    begin(s);
    unref(s);
}

static void raw_data_received(cio_transport *raw, const void *data, size_t len, void *ud)
{
    (void)raw;
    struct cio__tls_transport *s = ud;
    if (s->state == DONE)
        return;
    s->b.refs++; /* raw's connection_lost may run inside raw's close
                    when the loop cannot queue it (no memory) */
    if (BIO_write(s->in, data, len > INT_MAX ? INT_MAX : (int)len) != (int)len)
        fail(s, -ENOMEM, "no memory for TLS input");
    else if (s->state == HANDSHAKE)
        do_handshake(s);
    else
        do_read(s);
    unref(s);
}

static int raw_eof_received(cio_transport *raw, void *ud)
{
    (void)raw;
    struct cio__tls_transport *s = ud;
    s->raw_eof = 1;
    /* From now on an empty in BIO is the end, not "wait for more":
     * OpenSSL then tells a truncation from a close_notify. */
    BIO_set_mem_eof_return(s->in, 0);
    s->b.refs++; /* as in raw_data_received */
    if (s->state == HANDSHAKE)
        do_handshake(s);
    else if (s->state == WRAPPED && !s->eof && !s->fl.rpaused)
        do_read(s);
    else if (s->state == SHUTDOWN)
        finish_shutdown(s);
    unref(s);
    return 1; /* raw stays open: we close it */
}

static void raw_connection_lost(cio_transport *raw, int err, void *ud)
{
    struct cio__tls_transport *s = ud;
    s->raw_lost = 1;
    cancel_timer(s);
    if (s->state == HANDSHAKE && !s->error && !s->closing) {
        s->error = err ? err : -ECONNRESET;
        set_message(s, "the connection was lost during the TLS handshake");
    }
    if (!s->error && err) {
        s->error = err;
        snprintf(s->errmsg, sizeof s->errmsg, "the connection under TLS failed: %s",
                 cio_strerror(err));
    }
    s->state = DONE;
    s->closing = 1;
    int code = s->error;
    wake_waiter(s, code ? code : CIO_ECLOSED);
    if (s->made && !s->lost) {
        s->lost = 1;
        /* A failed start_tls: the protocol never saw this transport, so
         * it hears of the end from the one it knew. */
        cio_transport *t = s->handshaken || !s->upgrade ? &s->b : raw;
        if (s->b.proto->connection_lost)
            s->b.proto->connection_lost(t, code, s->b.ud);
    }
    if (s->b.on_lost)
        s->b.on_lost(&s->b, s->b.on_lost_arg);
    free_chunks(s);
    cio__free(s->rbuf);
    s->rbuf = NULL;
    unref(s); /* the "alive" reference */
}

static void raw_pause_writing(cio_transport *raw, void *ud)
{
    (void)raw;
    ((struct cio__tls_transport *)ud)->raw_wpaused = 1;
}

static void raw_resume_writing(cio_transport *raw, void *ud)
{
    (void)raw;
    struct cio__tls_transport *s = ud;
    s->raw_wpaused = 0;
    if (s->state == DONE)
        return;
    s->b.refs++;
    push_out(s, 0);
    control_writing(s);
    unref(s);
}

const cio_protocol cio__tls_raw_protocol = {
    .connection_made = raw_connection_made,
    .data_received = raw_data_received,
    .eof_received = raw_eof_received,
    .connection_lost = raw_connection_lost,
    .pause_writing = raw_pause_writing,
    .resume_writing = raw_resume_writing,
};

/* ---- methods ------------------------------------------------------------------------------ */

static int writelines(struct cio__tls_transport *s, const struct iovec *iov, int iovcnt,
                      size_t total);

/* The methods that may end in raw's close or abort hold a reference
 * meanwhile: when the loop cannot queue raw's connection_lost (no
 * memory) it runs inside that call, and it drops our "alive" one. */
static int tls_writelines(cio_transport *bt, const struct iovec *iov, int iovcnt, size_t total)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    s->b.refs++;
    int rc = writelines(s, iov, iovcnt, total);
    unref(s);
    return rc;
}

static int writelines(struct cio__tls_transport *s, const struct iovec *iov, int iovcnt,
                      size_t total)
{
        if (s->closing || s->state == DONE)
        return s->error ? s->error : CIO_ECLOSED;
    if (s->eof_wanted)
        return -EPIPE;
    if (!total)
        return 0;
    size_t done = 0;
    int i = 0;
    if (s->state == WRAPPED && !s->whead) {
        /* Straight into OpenSSL: no copy of the plaintext. */
        size_t off = 0;
        while (i < iovcnt) {
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
                continue;
            }
            int r = ssl_write(s, (const char *)iov[i].iov_base + off, iov[i].iov_len - off);
            if (r < 0)
                return r;
            if (r == 0)
                break;
            off += (size_t)r;
            done += (size_t)r;
        }
    }
    if (done < total && append(s, iov, iovcnt, done) < 0) {
        if (done)
            fail(s, -ENOMEM, "no memory for the TLS write buffer"); /* bytes lost mid-stream */
        else
            free_chunks(s); /* nothing of this write is kept */
        return -ENOMEM;
    }
    if (push_out(s, 0) < 0)
        return s->error;
    control_writing(s);
    return 0;
}

static int tls_write_eof(cio_transport *bt)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    if (s->closing || s->state == DONE)
        return CIO_ECLOSED;
    if (s->eof_wanted)
        return 0;
    s->eof_wanted = 1;
    s->b.refs++; /* as in tls_writelines */
    flush_backlog(s);
    unref(s);
    return 0;
}

static size_t tls_get_write_buffer_size(const cio_transport *bt)
{
    return buffered((const struct cio__tls_transport *)bt);
}

static int tls_set_write_buffer_limits(cio_transport *bt, size_t high, size_t low)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    return cio__tflow_set_limits(&s->fl, &s->b, buffered(s), s->closing, high, low);
}

static void tls_pause_reading(cio_transport *bt)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    if (cio__tflow_pause_reading(&s->fl, s->closing))
        cio_transport_pause_reading(s->raw);
}

static void tls_resume_reading(cio_transport *bt)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    if (!cio__tflow_resume_reading(&s->fl, s->closing))
        return;
    cio_transport_resume_reading(s->raw);
    /* What OpenSSL holds already will not come from raw again. */
    if (!s->read_scheduled && cio_call_soon(s->b.loop, read_scheduled, s, NULL) == 0) {
        s->read_scheduled = 1;
        s->b.refs++;
    }
}

static int tls_is_reading(const cio_transport *bt)
{
    const struct cio__tls_transport *s = (const struct cio__tls_transport *)bt;
    return cio__tflow_is_reading(&s->fl, s->closing);
}

/* asyncio's _start_shutdown: during the handshake an abort; then the
 * backlog, close_notify, the peer's close_notify (bounded), raw close. */
static void tls_close(cio_transport *bt)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    if (s->closing || s->state == DONE)
        return;
    s->closing = 1;
    if (s->state == HANDSHAKE) {
        s->state = DONE;
        cancel_timer(s);
        wake_waiter(s, CIO_ECLOSED);
        cio_transport_abort(s->raw);
        return;
    }
    s->state = SHUTDOWN;
    if (s->fl.rpaused) {
        s->fl.rpaused = 0; /* the peer's close_notify must get through */
        cio_transport_resume_reading(s->raw);
    }
    s->b.refs++; /* as in tls_writelines */
    start_timer(s, s->sd_timeout);
    do_shutdown(s);
    unref(s);
}

static void tls_abort(cio_transport *bt)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)bt;
    s->closing = 1;
    if (s->state == DONE && s->raw_lost)
        return;
    s->state = DONE;
    cancel_timer(s);
    wake_waiter(s, CIO_ECLOSED);
    free_chunks(s);
    (void)BIO_reset(s->out);
    cio_transport_abort(s->raw);
}

static int tls_is_closing(const cio_transport *bt)
{
    const struct cio__tls_transport *s = (const struct cio__tls_transport *)bt;
    return s->closing || s->state == DONE;
}

static int tls_fd(const cio_transport *bt)
{
    return cio_transport_fd(((const struct cio__tls_transport *)bt)->raw);
}

const struct cio__transport_vt cio__tls_transport_vt = {
    .kind = "tls",
    .writelines = tls_writelines,
    .write_eof = tls_write_eof,
    .get_write_buffer_size = tls_get_write_buffer_size,
    .set_write_buffer_limits = tls_set_write_buffer_limits,
    .pause_reading = tls_pause_reading,
    .resume_reading = tls_resume_reading,
    .is_reading = tls_is_reading,
    .close = tls_close,
    .abort = tls_abort,
    .is_closing = tls_is_closing,
    .fd = tls_fd,
    .destroy = tls_destroy,
};

/* For tls_transport_api.c, which makes TLS transports and waits on them. */
void cio__tls_transport_fail(struct cio__tls_transport *s, int code, const char *msg)
{
    fail(s, code, msg);
}

void cio__tls_transport_begin(struct cio__tls_transport *s)
{
    begin(s);
}

#endif
