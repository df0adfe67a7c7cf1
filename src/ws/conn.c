/*
 * conn.c - a WebSocket connection as a buffered protocol over its
 * transport: receiving, control frames, failing and closing, lifetime,
 * and the receiving calls (cio_ws_recv, cio_ws_recv_stream).
 *
 * Receiving.  get_buffer hands out the free end of rbuf; process() parses
 * everything that arrived: a header with cio__ws_frame_parse (checked
 * against every rule of §5 by frame.h), then the payload in pieces as it
 * comes, unmasked in place and appended to the message at the tail of the
 * queue (inflated first for a compressed message), each piece checked by
 * cio__ws_recv_data (size limit, UTF-8 as far as it goes).  Control
 * frames are collected in ctl[] and handled at their end: ping answered,
 * pong matched, close answered.  Nothing here suspends: reading pauses
 * instead when max_queue whole messages wait (or 64 KiB of a streamed
 * one), and resumes when the reader takes them.
 *
 * Lifetime.  refs counts the user's reference and the transport's (from
 * attach until connection_lost); the last one frees everything.
 */
#include <string.h>

#include "close.h"
#include "conn.h"

#define INITIAL_RBUF 4096u
#define MIN_READ 2048u
#define STREAM_WINDOW (64u * 1024u)
#define MAX_HANDSHAKE (16u * 1024u)

void cio_ws_options_init(cio_ws_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->max_message = 1u << 20;
    o->max_frame = 0; /* follows max_message, even one raised after this */
    o->max_queue = 16;
    o->send_buffer_limit = 1u << 20;
    o->ping_interval = 20;
    o->ping_timeout = 20;
    o->close_timeout = 10;
    o->open_timeout = 10;
    o->compression_level = 6;
    o->server_max_window_bits = 15;
    o->client_max_window_bits = 15;
}

/* Copies opts with defaults filled in; -EINVAL for a bad value. */
static int options_fill(cio_ws_options *o, const cio_ws_options *in)
{
    cio_ws_options d;
    cio_ws_options_init(&d);
    if (!in) {
        *o = d;
        return 0;
    }
    *o = *in;
    if (!o->max_message)
        o->max_message = d.max_message;
    if (!o->max_frame)
        o->max_frame = 0; /* follows max_message, even one raised after this */
    if (!o->max_queue)
        o->max_queue = d.max_queue;
    if (!o->send_buffer_limit)
        o->send_buffer_limit = d.send_buffer_limit;
    if (o->ping_interval == 0)
        o->ping_interval = d.ping_interval;
    if (o->ping_timeout == 0)
        o->ping_timeout = d.ping_timeout;
    if (o->close_timeout == 0)
        o->close_timeout = d.close_timeout;
    if (o->open_timeout == 0)
        o->open_timeout = d.open_timeout;
    if (o->compression_level == 0)
        o->compression_level = d.compression_level;
    if (!o->server_max_window_bits)
        o->server_max_window_bits = 15;
    if (!o->client_max_window_bits)
        o->client_max_window_bits = 15;
    if (o->server_max_window_bits < 8 || o->server_max_window_bits > 15 ||
        o->client_max_window_bits < 8 || o->client_max_window_bits > 15 ||
        o->compression_level > 9 ||
        (o->compression_level < 1 && o->compression_level != CIO_WS_LEVEL_NONE) ||
        o->ping_interval != o->ping_interval || o->ping_timeout != o->ping_timeout ||
        o->close_timeout != o->close_timeout || o->open_timeout != o->open_timeout)
        return -EINVAL;
    return 0;
}

int cio__ws_new(int server, const cio_ws_options *opts, cio_ws **out)
{
    cio_loop *loop = cio_get_running_loop();
    if (!loop)
        return CIO_ENOLOOP;
    cio_ws *ws = cio__calloc(1, sizeof *ws);
    if (!ws)
        return -ENOMEM;
    int rc = options_fill(&ws->opts, opts);
    if (rc < 0) {
        cio__free(ws);
        return rc;
    }
    ws->opts.subprotocols = NULL; /* borrowed for the call only */
    ws->opts.headers = NULL;
    ws->opts.origin = NULL;
    ws->loop = loop;
    ws->server = (uint8_t)(server != 0);
    ws->refs = 1;
    ws->rnd_pos = sizeof ws->rnd;
    if (cio_event_new(loop, &ws->readable) < 0 || cio_event_new(loop, &ws->writable) < 0 ||
        cio_event_new(loop, &ws->closed) < 0 || cio_event_new(loop, &ws->hs_done) < 0) {
        cio_event_free(ws->readable);
        cio_event_free(ws->writable);
        cio_event_free(ws->closed);
        cio__free(ws);
        return -ENOMEM;
    }
    cio_event_set(ws->writable);
    *out = ws;
    return 0;
}

static void msg_free(struct cio__ws_msg *m)
{
    if (!m)
        return;
    cio__ws_buf_free(&m->data);
    cio__free(m);
}

void cio__ws_unref(cio_ws *ws)
{
    if (--ws->refs > 0)
        return;
    while (ws->head) {
        struct cio__ws_msg *m = ws->head;
        ws->head = m->next;
        msg_free(m);
    }
    msg_free(ws->given);
    cio__ws_pings_fail(ws);
    if (ws->keepalive) {
        cio_handle_cancel(ws->keepalive);
        cio_handle_unref(ws->keepalive);
    }
    if (ws->close_timer) {
        cio_handle_cancel(ws->close_timer);
        cio_handle_unref(ws->close_timer);
    }
    cio_http_shutdown_hook_free(ws->hook);
    cio_event_free(ws->readable);
    cio_event_free(ws->writable);
    cio_event_free(ws->closed);
    cio_event_free(ws->hs_done);
    if (ws->pmd)
        cio__ws_deflate_free(&ws->z);
    cio__ws_buf_free(&ws->sbuf);
    cio__ws_buf_free(&ws->mbuf);
    cio__free(ws->rbuf);
    cio__free(ws->subprotocol);
    if (ws->t)
        cio_transport_unref(ws->t);
    if (ws->owns_tls)
        cio_tls_context_free(ws->tls);
    cio__free(ws);
}

void cio__ws_attach(cio_ws *ws, cio_transport *t)
{
    ws->t = t;
    ws->refs++; /* the transport's, until connection_lost */
}

int cio__ws_start(cio_ws *ws, const struct cio__ws_pmd_params *pmd)
{
    if (pmd) {
        int level = ws->opts.compression_level == CIO_WS_LEVEL_NONE ? 0
                                                                     : ws->opts.compression_level;
        int rc = cio__ws_deflate_init(&ws->z, pmd, ws->server, level, ws->opts.max_message);
        if (rc < 0)
            return rc;
        ws->pmd = 1;
        ws->pmd_params = *pmd;
    }
    cio__ws_recv_init(&ws->rx, ws->server, pmd ? CIO__WS_RSV1 : 0, ws->opts.max_frame,
                      ws->opts.max_message);
    ws->state = CIO__WS_OPEN;
    if (ws->rpaused) {
        ws->rpaused = 0;
        cio_transport_resume_reading(ws->t);
    }
    cio__ws_keepalive_start(ws);
    return 0;
}

/* ---- failing and closing ------------------------------------------------------- */

static void wake_all(cio_ws *ws)
{
    cio_event_set(ws->readable);
    cio_event_set(ws->writable);
}

void cio__ws_fail(cio_ws *ws, unsigned code, const char *why)
{
    if (ws->failed || ws->state == CIO__WS_CLOSED)
        return;
    ws->failed = 1;
    if (!ws->close_sent && ws->state != CIO__WS_CONNECTING) {
        size_t wl = why ? strlen(why) : 0;
        if (wl > CIO__WS_MAX_REASON)
            wl = CIO__WS_MAX_REASON;
        if (cio__ws_send_close(ws, code, why, wl) < 0)
            cio__ws_send_close(ws, code, NULL, 0);
    }
    ws->state = CIO__WS_CLOSING;
    wake_all(ws);
    cio_transport_close(ws->t);
}

void cio__ws_going_away(void *ud)
{
    cio_ws *ws = ud;
    /* as websockets does when its server closes: 1001, then the closing
     * handshake runs as usual (the close timer and the server's deadline
     * bound it) */
    static const char why[] = "server shutdown";
    if (ws->state == CIO__WS_OPEN && !ws->close_sent && !ws->failed)
        cio__ws_send_close(ws, CIO__WS_CLOSE_GOING_AWAY, why, sizeof why - 1);
}

/* ---- receiving: messages ---------------------------------------------------------- */

/* Appends n bytes to b; 0 or -ENOMEM. */
static int buf_append(struct cio__ws_buf *b, const uint8_t *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        uint8_t *nd = cio__realloc(b->data, ncap);
        if (!nd)
            return -ENOMEM;
        b->data = nd;
        b->cap = ncap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* A piece of the current data frame's payload, unmasked. */
static int data_piece(cio_ws *ws, const uint8_t *p, size_t n, int fin)
{
    struct cio__ws_msg *m = ws->tail;
    size_t before = m->data.len;
    int rc;
    if (ws->rx.msg_compressed)
        rc = cio__ws_deflate_decompress(&ws->z, p, n, fin, &m->data);
    else
        rc = buf_append(&m->data, p, n);
    if (rc < 0)
        return rc;
    rc = cio__ws_recv_data(&ws->rx, m->data.data + before, m->data.len - before);
    if (rc < 0)
        return rc;
    if (m == ws->head && m->data.len > before)
        cio_event_set(ws->readable);
    return 0;
}

/* The current data frame ended. */
static int data_frame_end(cio_ws *ws)
{
    int rc;
    if (ws->rx.msg_compressed && ws->fr.fin) {
        rc = data_piece(ws, NULL, 0, 1);
        if (rc < 0)
            return rc;
    }
    rc = cio__ws_recv_frame_end(&ws->rx);
    if (rc <= 0)
        return rc;
    struct cio__ws_msg *m = ws->tail;
    if (buf_append(&m->data, NULL, 0) < 0) /* room for the NUL */
        return -ENOMEM;
    if (m->data.data)
        m->data.data[m->data.len] = 0;
    m->complete = 1;
    ws->ncomplete++;
    cio_event_set(ws->readable);
    return 0;
}

static int msg_begin(cio_ws *ws, int opcode)
{
    struct cio__ws_msg *m = cio__calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->type = (uint8_t)opcode;
    if (ws->tail)
        ws->tail->next = m;
    else
        ws->head = m;
    ws->tail = m;
    return 0;
}

/* ---- receiving: control frames ---------------------------------------------------- */

static void close_received(cio_ws *ws)
{
    unsigned code;
    const char *reason;
    size_t rl;
    int rc = cio__ws_close_parse(ws->ctl, ws->ctl_len, &code, &reason, &rl);
    if (rc < 0) {
        cio__ws_fail(ws, (unsigned)cio__ws_close_code_for(rc), "invalid close frame");
        return;
    }
    ws->close_rcvd = 1;
    ws->close_code = code;
    memcpy(ws->close_reason, reason ? reason : "", rl);
    ws->close_reason[rl] = 0;
    if (!ws->close_sent)
        cio__ws_send_close(ws, code == CIO__WS_CLOSE_NO_STATUS ? 0 : code, NULL, 0);
    ws->state = CIO__WS_CLOSING;
    wake_all(ws);
    /* §7.1.1: the server closes TCP first; a client waits for that
     * (bounded by the close timer that sending our close started). */
    if (ws->server)
        cio_transport_close(ws->t);
}

static void control_frame(cio_ws *ws)
{
    switch (ws->fr.opcode) {
    case CIO__WS_OP_PING:
        if (!ws->close_sent)
            cio__ws_write_frame(ws, CIO__WS_OP_PONG, CIO__WS_FIN, ws->ctl, ws->ctl_len);
        break;
    case CIO__WS_OP_PONG:
        cio__ws_pong_received(ws, ws->ctl, ws->ctl_len);
        break;
    case CIO__WS_OP_CLOSE:
        close_received(ws);
        break;
    }
}

/* ---- receiving: the parse loop ------------------------------------------------------ */

static void maybe_pause(cio_ws *ws)
{
    struct cio__ws_msg *m = ws->tail;
    if (ws->rpaused || ws->state == CIO__WS_CLOSED)
        return;
    if (ws->ncomplete >= ws->opts.max_queue ||
        (m && m->streamed && !m->complete && m->data.len - m->taken >= STREAM_WINDOW)) {
        ws->rpaused = 1;
        cio_transport_pause_reading(ws->t);
    }
}

static void maybe_resume(cio_ws *ws)
{
    struct cio__ws_msg *m = ws->tail;
    if (!ws->rpaused || ws->state == CIO__WS_CONNECTING || ws->state == CIO__WS_CLOSED)
        return;
    if (ws->ncomplete < ws->opts.max_queue &&
        !(m && m->streamed && !m->complete && m->data.len - m->taken >= STREAM_WINDOW / 2)) {
        ws->rpaused = 0;
        cio_transport_resume_reading(ws->t);
    }
}

/* Client: looks for the end of the 101 answer's head. */
static void handshake_scan(cio_ws *ws)
{
    for (size_t i = ws->rpos; i + 3 < ws->rlen; i++) {
        if (ws->rbuf[i] == '\r' && memcmp(ws->rbuf + i, "\r\n\r\n", 4) == 0) {
            ws->head_len = i + 4;
            break;
        }
    }
    ws->rpos = ws->rlen >= 3 ? ws->rlen - 3 : 0;
    if (!ws->head_len && ws->rlen > MAX_HANDSHAKE)
        ws->hs_err = -EPROTO;
    if (ws->head_len || ws->hs_err) {
        ws->rpaused = 1;
        cio_transport_pause_reading(ws->t);
        cio_event_set(ws->hs_done);
    }
}

void cio__ws_process(cio_ws *ws)
{
    if (ws->state == CIO__WS_CONNECTING) {
        if (!ws->head_len)
            handshake_scan(ws);
        return;
    }
    for (;;) {
        if (ws->failed || ws->close_rcvd || ws->state == CIO__WS_CLOSED) {
            ws->rpos = ws->rlen; /* §5.5.1: nothing after a close frame */
            break;
        }
        int rc;
        if (!ws->in_frame) {
            size_t avail = ws->rlen - ws->rpos;
            if (!avail)
                break;
            int hl = cio__ws_frame_parse(&ws->rx, ws->rbuf + ws->rpos, avail, &ws->fr);
            if (hl == 0)
                break;
            if (hl < 0) {
                cio__ws_fail(ws, (unsigned)cio__ws_close_code_for(hl), ws->fr.why);
                break;
            }
            cio__ws_recv_frame(&ws->rx, &ws->fr);
            ws->rpos += (size_t)hl;
            ws->in_frame = 1;
            ws->frame_left = ws->fr.len;
            ws->mask_off = 0;
            ws->ctl_len = 0;
            if (ws->fr.opcode == CIO__WS_OP_TEXT || ws->fr.opcode == CIO__WS_OP_BINARY) {
                if (msg_begin(ws, ws->fr.opcode) < 0) {
                    cio__ws_fail(ws, CIO__WS_CLOSE_INTERNAL, "out of memory");
                    break;
                }
            }
        }
        size_t n = ws->rlen - ws->rpos;
        if (n > ws->frame_left)
            n = (size_t)ws->frame_left;
        if (!n && ws->frame_left)
            break;
        uint8_t *p = ws->rbuf + ws->rpos;
        if (ws->fr.masked)
            ws->mask_off = cio__ws_mask(p, n, ws->fr.mask, ws->mask_off);
        rc = 0;
        if (ws->fr.opcode >= CIO__WS_OP_CLOSE) {
            memcpy(ws->ctl + ws->ctl_len, p, n);
            ws->ctl_len += n;
        } else if (n) {
            rc = data_piece(ws, p, n, 0);
        }
        ws->rpos += n;
        ws->frame_left -= n;
        if (rc < 0) {
            cio__ws_fail(ws, (unsigned)cio__ws_close_code_for(rc),
                         rc == -EILSEQ ? "invalid UTF-8" : rc == -EMSGSIZE ? "message too big"
                                                                            : "bad compressed data");
            break;
        }
        if (ws->frame_left)
            break;
        ws->in_frame = 0;
        if (ws->fr.opcode >= CIO__WS_OP_CLOSE) {
            control_frame(ws);
            continue;
        }
        rc = data_frame_end(ws);
        if (rc < 0) {
            cio__ws_fail(ws, (unsigned)cio__ws_close_code_for(rc),
                         rc == -EILSEQ ? "invalid UTF-8" : "bad message");
            break;
        }
    }
    maybe_pause(ws);
}

/* ---- the protocol ------------------------------------------------------------------ */

static void *on_get_buffer(cio_transport *t, size_t sizehint, size_t *len, void *ud)
{
    (void)t;
    (void)sizehint;
    cio_ws *ws = ud;
    if (ws->rpos && ws->state != CIO__WS_CONNECTING) {
        size_t keep = ws->rlen - ws->rpos;
        if (keep)
            memmove(ws->rbuf, ws->rbuf + ws->rpos, keep);
        ws->rlen = keep;
        ws->rpos = 0;
    }
    if (ws->rcap - ws->rlen < MIN_READ) {
        size_t ncap = ws->rcap ? ws->rcap * 2 : INITIAL_RBUF;
        while (ncap - ws->rlen < MIN_READ)
            ncap *= 2;
        uint8_t *nb = cio__realloc(ws->rbuf, ncap);
        if (!nb)
            return NULL;
        ws->rbuf = nb;
        ws->rcap = ncap;
    }
    ws->rd_off = ws->rlen;
    *len = ws->rcap - ws->rlen;
    return ws->rbuf + ws->rlen;
}

static void on_buffer_updated(cio_transport *t, size_t n, void *ud)
{
    (void)t;
    cio_ws *ws = ud;
    if (ws->rd_off != ws->rlen)
        memmove(ws->rbuf + ws->rlen, ws->rbuf + ws->rd_off, n);
    ws->rlen += n;
    ws->rd_off = ws->rlen;
    cio__ws_process(ws);
}

static int on_eof(cio_transport *t, void *ud)
{
    (void)t;
    (void)ud;
    return 0; /* the transport closes; connection_lost says the rest */
}

static void on_lost(cio_transport *t, int error, void *ud)
{
    (void)t;
    (void)error;
    cio_ws *ws = ud;
    if (ws->state == CIO__WS_CONNECTING && !ws->hs_err)
        ws->hs_err = CIO_ECLOSED;
    ws->state = CIO__WS_CLOSED;
    if (!ws->close_rcvd)
        ws->close_code = CIO__WS_CLOSE_ABNORMAL;
    if (ws->keepalive) {
        cio_handle_cancel(ws->keepalive);
        cio_handle_unref(ws->keepalive);
        ws->keepalive = NULL;
    }
    if (ws->close_timer) {
        cio_handle_cancel(ws->close_timer);
        cio_handle_unref(ws->close_timer);
        ws->close_timer = NULL;
    }
    cio__ws_pings_fail(ws);
    cio_http_shutdown_hook_free(ws->hook); /* the server's shutdown may end */
    ws->hook = NULL;
    wake_all(ws);
    cio_event_set(ws->hs_done);
    cio_event_set(ws->closed);
    cio__ws_unref(ws);
}

static void on_pause_writing(cio_transport *t, void *ud)
{
    (void)t;
    cio_ws *ws = ud;
    ws->wpaused = 1;
    cio_event_clear(ws->writable);
}

static void on_resume_writing(cio_transport *t, void *ud)
{
    (void)t;
    cio_ws *ws = ud;
    ws->wpaused = 0;
    cio_event_set(ws->writable);
}

const cio_protocol cio__ws_protocol = {
    .eof_received = on_eof,
    .connection_lost = on_lost,
    .pause_writing = on_pause_writing,
    .resume_writing = on_resume_writing,
    .get_buffer = on_get_buffer,
    .buffer_updated = on_buffer_updated,
};

/* ---- the receiving calls ------------------------------------------------------------ */

/* 1 when no further message can come. */
static int recv_over(const cio_ws *ws)
{
    return ws->state == CIO__WS_CLOSED || ws->close_rcvd || ws->failed;
}

static struct cio__ws_msg *pop(cio_ws *ws)
{
    struct cio__ws_msg *m = ws->head;
    ws->head = m->next;
    if (!ws->head)
        ws->tail = NULL;
    m->next = NULL;
    ws->ncomplete--;
    return m;
}

int cio_ws_recv(cio_ws *ws, int *type, const void **data, size_t *len)
{
    if (!ws || !type || !data || !len)
        return -EINVAL;
    if (ws->receiving)
        return -EBUSY;
    msg_free(ws->given);
    ws->given = NULL;
    ws->receiving = 1;
    int rc;
    for (;;) {
        struct cio__ws_msg *m = ws->head;
        if (m && m->streamed) {
            rc = CIO_EINVALSTATE;
            break;
        }
        if (m && m->complete) {
            ws->given = pop(ws);
            *type = m->type;
            *data = m->data.data ? (const void *)m->data.data : (const void *)"";
            *len = m->data.len;
            maybe_resume(ws);
            rc = 0;
            break;
        }
        if (recv_over(ws)) {
            rc = CIO_ECLOSED;
            break;
        }
        cio_event_clear(ws->readable);
        rc = cio_event_wait(ws->readable);
        if (rc < 0)
            break;
    }
    ws->receiving = 0;
    return rc;
}

int cio_ws_recv_stream(cio_ws *ws, void *buf, size_t cap, int *type, int *fin)
{
    if (!ws || (!buf && cap) || !type || !fin)
        return -EINVAL;
    if (ws->receiving)
        return -EBUSY;
    msg_free(ws->given);
    ws->given = NULL;
    ws->receiving = 1;
    int rc;
    for (;;) {
        struct cio__ws_msg *m = ws->head;
        if (m && (m->data.len > m->taken || m->complete)) {
            size_t n = m->data.len - m->taken;
            if (n > cap)
                n = cap;
            if (n)
                memcpy(buf, m->data.data + m->taken, n);
            m->taken += n;
            m->streamed = 1;
            *type = m->type;
            *fin = m->complete && m->taken == m->data.len;
            if (*fin) {
                msg_free(pop(ws));
            } else if (!m->complete && m->taken) {
                /* keep a streamed message's buffer small */
                memmove(m->data.data, m->data.data + m->taken, m->data.len - m->taken);
                m->data.len -= m->taken;
                m->taken = 0;
            }
            maybe_resume(ws);
            rc = n > INT32_MAX ? INT32_MAX : (int)n;
            break;
        }
        if (recv_over(ws)) {
            rc = CIO_ECLOSED;
            break;
        }
        cio_event_clear(ws->readable);
        rc = cio_event_wait(ws->readable);
        if (rc < 0)
            break;
    }
    ws->receiving = 0;
    return rc;
}

/* ---- state and lifetime ------------------------------------------------------------- */

int cio_ws_wait_closed(cio_ws *ws)
{
    if (!ws)
        return -EINVAL;
    return cio_event_wait(ws->closed);
}

void cio_ws_free(cio_ws *ws)
{
    if (!ws)
        return;
    if (ws->t && ws->state != CIO__WS_CLOSED)
        cio_transport_abort(ws->t);
    cio__ws_unref(ws);
}

int cio_ws_is_open(const cio_ws *ws)
{
    return ws && ws->state == CIO__WS_OPEN && !ws->close_sent && !ws->close_rcvd && !ws->failed;
}

unsigned cio_ws_close_code(const cio_ws *ws)
{
    return ws ? ws->close_code : 0;
}

const char *cio_ws_close_reason(const cio_ws *ws)
{
    return ws ? ws->close_reason : "";
}

const char *cio_ws_subprotocol(const cio_ws *ws)
{
    return ws ? ws->subprotocol : NULL;
}

int cio_ws_compressed(const cio_ws *ws)
{
    return ws && ws->pmd;
}

cio_transport *cio_ws_transport(const cio_ws *ws)
{
    return ws ? ws->t : NULL;
}
