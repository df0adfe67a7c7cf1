/*
 * send.c - the sending side of a WebSocket connection: frames (masked by
 * a client), messages with their fragmentation and compression, the
 * broadcast that encodes a message once for many connections, pings and
 * the keepalive, and the closing handshake.
 *
 * A message is written to the transport whole, every fragment in one go,
 * so messages of concurrent senders never interleave and control frames
 * may still go between fragments.  Backpressure is the transport's: a
 * sender first waits while the transport's buffer is above its high-water
 * mark (pause_writing / resume_writing drive the writable event), so at
 * most the high-water mark plus one message per sender is ever buffered.
 */
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include "close.h"
#include "conn.h"

#define SCRATCH_KEEP (256u * 1024u) /* scratch buffers larger are freed */
#define SMALL_FRAME 512u

void cio__ws_random(cio_ws *ws, uint8_t *out, size_t n)
{
    while (n) {
        if (ws->rnd_pos == sizeof ws->rnd) {
            size_t got = 0;
            while (got < sizeof ws->rnd) {
                ssize_t r = getrandom(ws->rnd + got, sizeof ws->rnd - got, 0);
                if (r > 0)
                    got += (size_t)r;
                else if (errno != EINTR)
                    break; /* no entropy source: keep what the buffer holds */
            }
            ws->rnd_pos = 0;
        }
        size_t k = sizeof ws->rnd - ws->rnd_pos;
        if (k > n)
            k = n;
        memcpy(out, ws->rnd + ws->rnd_pos, k);
        ws->rnd_pos += k;
        out += k;
        n -= k;
    }
}

static int buf_reserve(struct cio__ws_buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    uint8_t *nd = cio__realloc(b->data, n);
    if (!nd)
        return -ENOMEM;
    b->data = nd;
    b->cap = n;
    return 0;
}

static void buf_trim(struct cio__ws_buf *b)
{
    b->len = 0;
    if (b->cap > SCRATCH_KEEP)
        cio__ws_buf_free(b);
}

static int write_err(int rc)
{
    return rc == -ENOMEM ? rc : CIO_ECLOSED;
}

int cio__ws_write_frame(cio_ws *ws, int opcode, int flags, const void *p, size_t n)
{
    if (!ws->t || ws->state == CIO__WS_CLOSED)
        return CIO_ECLOSED;
    uint8_t hdr[CIO__WS_MAX_HEADER];
    int rc;
    if (ws->server) {
        int hl = cio__ws_frame_build(hdr, opcode, flags, n, NULL);
        if (hl < 0)
            return hl;
        struct iovec iov[2] = {{hdr, (size_t)hl}, {(void *)p, n}};
        rc = cio_transport_writelines(ws->t, iov, n ? 2 : 1);
        return rc < 0 ? write_err(rc) : 0;
    }
    uint8_t key[4];
    cio__ws_random(ws, key, 4);
    if (n <= SMALL_FRAME) {
        uint8_t small[CIO__WS_MAX_HEADER + SMALL_FRAME];
        int hl = cio__ws_frame_build(small, opcode, flags, n, key);
        if (hl < 0)
            return hl;
        cio__ws_mask_copy(small + hl, p, n, key, 0);
        rc = cio_transport_write(ws->t, small, (size_t)hl + n);
        return rc < 0 ? write_err(rc) : 0;
    }
    if (buf_reserve(&ws->mbuf, CIO__WS_MAX_HEADER + n) < 0)
        return -ENOMEM;
    int hl = cio__ws_frame_build(ws->mbuf.data, opcode, flags, n, key);
    if (hl < 0)
        return hl;
    cio__ws_mask_copy(ws->mbuf.data + hl, p, n, key, 0);
    rc = cio_transport_write(ws->t, ws->mbuf.data, (size_t)hl + n);
    buf_trim(&ws->mbuf);
    return rc < 0 ? write_err(rc) : 0;
}

/* Writes a message (payload already compressed if rsv says so) in frames
 * of at most fragment_size bytes. */
static int write_message(cio_ws *ws, int opcode, int rsv, const uint8_t *p, size_t n)
{
    size_t fs = ws->opts.fragment_size ? ws->opts.fragment_size : n;
    size_t off = 0;
    int first = 1;
    do {
        size_t k = n - off < fs ? n - off : fs;
        int last = off + k == n;
        int rc = cio__ws_write_frame(ws, first ? opcode : CIO__WS_OP_CONT,
                                     (last ? CIO__WS_FIN : 0) | (first ? rsv : 0), p + off, k);
        if (rc < 0)
            return rc;
        off += k;
        first = 0;
    } while (off < n);
    return 0;
}

static int sendable(const cio_ws *ws)
{
    return ws->state == CIO__WS_OPEN && !ws->close_sent && !ws->close_rcvd && !ws->failed;
}

static int send_message(cio_ws *ws, int opcode, const void *data, size_t len)
{
    if (!ws || (!data && len))
        return -EINVAL;
    if (opcode == CIO__WS_OP_TEXT && cio__ws_utf8_valid(data, len) < 0)
        return -EILSEQ;
    while (sendable(ws) && ws->wpaused) {
        int rc = cio_event_wait(ws->writable);
        if (rc < 0)
            return rc;
    }
    if (!sendable(ws))
        return CIO_ECLOSED;
    if (!ws->pmd)
        return write_message(ws, opcode, 0, data, len);
    ws->sbuf.len = 0;
    int rc = cio__ws_deflate_compress(&ws->z, data, len, 1, &ws->sbuf);
    if (rc < 0) {
        cio__ws_fail(ws, CIO__WS_CLOSE_INTERNAL, "compression failed");
        return rc;
    }
    rc = write_message(ws, opcode, CIO__WS_RSV1, ws->sbuf.data, ws->sbuf.len);
    buf_trim(&ws->sbuf);
    return rc;
}

int cio_ws_send_text(cio_ws *ws, const char *data, size_t len)
{
    return send_message(ws, CIO__WS_OP_TEXT, data, len);
}

int cio_ws_send_binary(cio_ws *ws, const void *data, size_t len)
{
    return send_message(ws, CIO__WS_OP_BINARY, data, len);
}

/* ---- broadcast ---------------------------------------------------------------------- */

/* The frames of one encoding of the message, built once. */
struct encoding {
    uint8_t hdr[CIO__WS_MAX_HEADER]; /* header (single frame, server side) */
    int hl;                          /* its length */
    struct cio__ws_buf payload;      /* compressed payload (or unused) */
    int ready;                       /* built */
};

/* A slow connection is failed rather than buffered for. */
static int too_slow(cio_ws *ws)
{
    if (cio_transport_get_write_buffer_size(ws->t) <= ws->opts.send_buffer_limit)
        return 0;
    cio__ws_fail(ws, CIO__WS_CLOSE_POLICY, "too slow to keep up");
    return 1;
}

int cio_ws_broadcast(cio_ws *const *conns, size_t n, int type, const void *data, size_t len)
{
    if ((!conns && n) || (!data && len) || (type != CIO_WS_TEXT && type != CIO_WS_BINARY))
        return -EINVAL;
    if (type == CIO_WS_TEXT && cio__ws_utf8_valid(data, len) < 0)
        return -EILSEQ;
    struct encoding plain = {.ready = 0};
    struct encoding shared[8]; /* compressed once, by window bits 8..15 */
    memset(shared, 0, sizeof shared);
    int sent = 0, rc = 0;
    for (size_t i = 0; i < n; i++) {
        cio_ws *ws = conns[i];
        if (!ws || !sendable(ws) || too_slow(ws))
            continue;
        if (!ws->server || (ws->pmd && !ws->pmd_params.server_no_context_takeover)) {
            /* masked, or a compressor with history: a frame of its own */
            int r = ws->pmd ? (ws->sbuf.len = 0,
                               cio__ws_deflate_compress(&ws->z, data, len, 1, &ws->sbuf))
                            : 0;
            if (r >= 0)
                r = ws->pmd ? write_message(ws, type, CIO__WS_RSV1, ws->sbuf.data, ws->sbuf.len)
                            : write_message(ws, type, 0, data, len);
            if (ws->pmd)
                buf_trim(&ws->sbuf);
            if (r >= 0)
                sent++;
            else if (r == -ENOMEM)
                rc = r;
            continue;
        }
        struct encoding *e = &plain;
        if (ws->pmd) {
            int bits = ws->pmd_params.server_max_window_bits;
            e = &shared[bits - 8];
            if (!e->ready) {
                /* a compressor that starts empty and is thrown away: its
                 * output decodes with any receiver's window of >= bits */
                struct cio__ws_pmd_params p = {.server_no_context_takeover = 1,
                                               .client_no_context_takeover = 1,
                                               .server_max_window_bits = (uint8_t)bits,
                                               .client_max_window_bits = 15};
                struct cio__ws_deflate z;
                int r = cio__ws_deflate_init(&z, &p, 1, ws->z.level, 0);
                if (r >= 0)
                    r = cio__ws_deflate_compress(&z, data, len, 1, &e->payload);
                cio__ws_deflate_free(&z);
                if (r < 0) {
                    rc = r;
                    continue;
                }
            }
        }
        if (!e->ready) {
            size_t plen = ws->pmd ? e->payload.len : len;
            e->hl = cio__ws_frame_build(e->hdr, type,
                                        CIO__WS_FIN | (ws->pmd ? CIO__WS_RSV1 : 0), plen, NULL);
            e->ready = 1;
        }
        if (ws->opts.fragment_size && (ws->pmd ? e->payload.len : len) > ws->opts.fragment_size) {
            int r = ws->pmd ? write_message(ws, type, CIO__WS_RSV1, e->payload.data,
                                            e->payload.len)
                            : write_message(ws, type, 0, data, len);
            if (r >= 0)
                sent++;
            continue;
        }
        struct iovec iov[2] = {{e->hdr, (size_t)e->hl},
                               {ws->pmd ? (void *)e->payload.data : (void *)data,
                                ws->pmd ? e->payload.len : len}};
        if (cio_transport_writelines(ws->t, iov, iov[1].iov_len ? 2 : 1) >= 0)
            sent++;
    }
    for (size_t b = 0; b < 8; b++)
        cio__ws_buf_free(&shared[b].payload);
    return rc < 0 && !sent ? rc : sent;
}

/* ---- pings and keepalive ------------------------------------------------------------- */

static void ping_resolve(struct cio__ws_ping *p, int code)
{
    if (p->done) {
        if (!cio_future_done(p->done)) {
            if (code)
                cio_future_set_error(p->done, code, "websocket closed");
            else
                cio_future_set_result(p->done, NULL);
        }
        cio_future_unref(p->done);
    }
    cio__free(p);
}

void cio__ws_pings_fail(cio_ws *ws)
{
    while (ws->pings) {
        struct cio__ws_ping *p = ws->pings;
        ws->pings = p->next;
        ping_resolve(p, CIO_ECLOSED);
    }
}

static void keepalive_tick(void *arg);

static void keepalive_at(cio_ws *ws, double delay)
{
    if (ws->keepalive) {
        cio_handle_cancel(ws->keepalive);
        cio_handle_unref(ws->keepalive);
        ws->keepalive = NULL;
    }
    if (delay < 0 || ws->state == CIO__WS_CLOSED)
        return;
    if (cio_call_later(ws->loop, delay, keepalive_tick, ws, &ws->keepalive) < 0)
        ws->keepalive = NULL;
}

void cio__ws_keepalive_start(cio_ws *ws)
{
    keepalive_at(ws, ws->opts.ping_interval);
}

void cio__ws_pong_received(cio_ws *ws, const uint8_t *p, size_t n)
{
    struct cio__ws_ping *match = NULL;
    for (struct cio__ws_ping *q = ws->pings; q; q = q->next)
        if (q->len == n && memcmp(q->data, p, n) == 0) {
            match = q;
            break;
        }
    if (!match)
        return; /* unsolicited: a heartbeat, nothing to do */
    int keepalive = 0;
    for (;;) {
        struct cio__ws_ping *q = ws->pings;
        ws->pings = q->next;
        keepalive |= q->done == NULL;
        int last = q == match;
        ping_resolve(q, 0);
        if (last)
            break;
    }
    if (keepalive && ws->ka_sent) {
        ws->ka_sent = 0;
        keepalive_at(ws, ws->opts.ping_interval);
    }
}

/* Queues a ping and sends it.  done may be NULL (keepalive). */
static int ping_send(cio_ws *ws, const void *data, size_t len, cio_future *done)
{
    struct cio__ws_ping *p = cio__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    if (len)
        memcpy(p->data, data, len);
    else {
        cio__ws_random(ws, p->data, 4);
        len = 4;
    }
    p->len = (uint8_t)len;
    int rc = cio__ws_write_frame(ws, CIO__WS_OP_PING, CIO__WS_FIN, p->data, len);
    if (rc < 0) {
        cio__free(p);
        return rc;
    }
    p->done = done;
    if (done)
        cio_future_ref(done);
    struct cio__ws_ping **at = &ws->pings;
    while (*at)
        at = &(*at)->next;
    *at = p;
    return 0;
}

static void keepalive_tick(void *arg)
{
    cio_ws *ws = arg;
    cio_handle_unref(ws->keepalive);
    ws->keepalive = NULL;
    if (!sendable(ws))
        return;
    if (ws->ka_sent && ws->opts.ping_timeout >= 0) {
        cio__ws_fail(ws, CIO__WS_CLOSE_INTERNAL, "keepalive ping timeout");
        return;
    }
    if (ping_send(ws, NULL, 0, NULL) < 0)
        return;
    ws->ka_sent = cio_loop_time(ws->loop);
    keepalive_at(ws, ws->opts.ping_timeout >= 0 ? ws->opts.ping_timeout
                                                 : ws->opts.ping_interval);
}

int cio_ws_ping(cio_ws *ws, const void *data, size_t len, double timeout)
{
    if (!ws || len > CIO__WS_MAX_CONTROL || (!data && len) || timeout != timeout)
        return -EINVAL;
    if (!sendable(ws))
        return CIO_ECLOSED;
    cio_future *f;
    int rc = cio_future_new(ws->loop, &f);
    if (rc < 0)
        return rc;
    rc = ping_send(ws, data, len, f);
    if (rc >= 0)
        rc = cio_wait_for(f, timeout < 0 ? INFINITY : timeout, NULL);
    cio_future_unref(f);
    return rc < 0 ? rc : 0;
}

int cio_ws_pong(cio_ws *ws, const void *data, size_t len)
{
    if (!ws || len > CIO__WS_MAX_CONTROL || (!data && len))
        return -EINVAL;
    if (!sendable(ws))
        return CIO_ECLOSED;
    return cio__ws_write_frame(ws, CIO__WS_OP_PONG, CIO__WS_FIN, data, len);
}

/* ---- closing ---------------------------------------------------------------------------- */

static void close_timer_fired(void *arg)
{
    cio_ws *ws = arg;
    cio_handle_unref(ws->close_timer);
    ws->close_timer = NULL;
    if (ws->state != CIO__WS_CLOSED) {
        ws->close_timed_out = 1;
        cio_transport_abort(ws->t);
    }
}

int cio__ws_send_close(cio_ws *ws, unsigned code, const char *reason, size_t rlen)
{
    uint8_t pl[CIO__WS_MAX_CONTROL];
    int n = cio__ws_close_build(pl, code, reason, rlen);
    if (n < 0)
        return n;
    int rc = cio__ws_write_frame(ws, CIO__WS_OP_CLOSE, CIO__WS_FIN, pl, (size_t)n);
    ws->close_sent = 1;
    if (ws->state == CIO__WS_OPEN)
        ws->state = CIO__WS_CLOSING;
    cio_event_set(ws->writable);
    if (!ws->close_timer && ws->opts.close_timeout >= 0 && ws->state != CIO__WS_CLOSED)
        cio_call_later(ws->loop, ws->opts.close_timeout, close_timer_fired, ws,
                       &ws->close_timer);
    return rc;
}

int cio_ws_close(cio_ws *ws, unsigned code, const char *reason)
{
    if (!ws)
        return -EINVAL;
    size_t rl = reason ? strlen(reason) : 0;
    uint8_t check[CIO__WS_MAX_CONTROL];
    if (cio__ws_close_build(check, code, reason, rl) < 0)
        return -EINVAL;
    if (ws->state == CIO__WS_OPEN && !ws->close_sent)
        cio__ws_send_close(ws, code, reason, rl);
    else if (ws->state == CIO__WS_CONNECTING)
        cio_transport_abort(ws->t);
    int rc = cio_event_wait(ws->closed);
    if (rc < 0)
        return rc;
    return ws->close_timed_out ? -ETIMEDOUT : 0;
}
