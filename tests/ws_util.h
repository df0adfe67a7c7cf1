/*
 * ws_util.h - what the WebSocket codec tests share: a wire builder that
 * writes frames (masked or not), and a receiver simulation that does what
 * a connection will do with src/ws — parse headers in place as bytes
 * trickle in (any chunk size, down to one byte), unmask payload pieces
 * with the running key offset, inflate compressed messages, feed the
 * message state, and collect whole messages and control frames.
 * Header-only (static inline), like helpers.h.
 */
#ifndef CIO_TEST_WS_UTIL_H
#define CIO_TEST_WS_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/internal.h"
#include "ws/deflate.h"
#include "ws/frame.h"

/* A growing byte string (test memory: plain malloc). */
struct ws_wire {
    uint8_t *data; /* the bytes */
    size_t len;    /* used */
    size_t cap;    /* allocated */
};

static inline void ws_wire_put(struct ws_wire *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 64;
        w->data = realloc(w->data, w->cap);
    }
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
}

static inline void ws_wire_free(struct ws_wire *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

/* Appends one frame: header from cio__ws_frame_build, payload masked with
 * key when key is not NULL. */
static inline void ws_wire_frame(struct ws_wire *w, int opcode, int flags, const void *payload,
                                 size_t n, const uint8_t *key)
{
    uint8_t h[CIO__WS_MAX_HEADER];
    int hl = cio__ws_frame_build(h, opcode, flags, n, key);
    if (hl < 0)
        abort();
    ws_wire_put(w, h, (size_t)hl);
    size_t at = w->len;
    ws_wire_put(w, payload, n);
    if (key)
        cio__ws_mask(w->data + at, n, key, 0);
}

/* The receiver simulation. */
struct ws_sim {
    struct cio__ws_recv r;        /* the codec's receive state */
    struct cio__ws_deflate *z;    /* decompressor for RSV1 messages, or NULL */
    uint8_t hdr[CIO__WS_MAX_HEADER]; /* header bytes gathered so far */
    size_t hdr_len;               /* how many */
    int in_payload;               /* reading a payload (else a header) */
    struct cio__ws_frame f;       /* the frame being read */
    uint64_t left;                /* its payload bytes still to come */
    size_t mask_off;              /* running masking key offset */
    struct ws_wire msg;           /* the message being assembled */
    struct ws_wire ctrl_buf;      /* the control payload being read */
    struct cio__ws_buf inflated;  /* decompressor output */
    int frames, messages, controls; /* counts of complete ones */
    uint64_t payload_bytes;       /* message bytes handed to recv_data */
    uint8_t *first, *last;        /* copies of the first and last message */
    size_t first_len, last_len;   /* their lengths */
    int last_opcode;              /* opcode of the last message */
    uint8_t ctrl[CIO__WS_MAX_CONTROL]; /* the last control payload */
    size_t ctrl_len;              /* its length */
    int ctrl_opcode;              /* its opcode */
};

static inline void ws_sim_init(struct ws_sim *s, int server, int rsv, uint64_t max_frame,
                               uint64_t max_message)
{
    memset(s, 0, sizeof *s);
    cio__ws_recv_init(&s->r, server, rsv, max_frame, max_message);
}

static inline void ws_sim_free(struct ws_sim *s)
{
    ws_wire_free(&s->msg);
    ws_wire_free(&s->ctrl_buf);
    cio__ws_buf_free(&s->inflated);
    free(s->first);
    free(s->last);
}

/* Gives message bytes to the codec and keeps them. */
static inline int ws_sim_data(struct ws_sim *s, const uint8_t *p, size_t n)
{
    s->payload_bytes += n;
    int rc = cio__ws_recv_data(&s->r, p, n);
    if (rc < 0)
        return rc;
    ws_wire_put(&s->msg, p, n);
    return 0;
}

/* Inflates a compressed piece and hands the output on. */
static inline int ws_sim_inflate(struct ws_sim *s, const uint8_t *p, size_t n, int fin)
{
    s->inflated.len = 0;
    int rc = cio__ws_deflate_decompress(s->z, p, n, fin, &s->inflated);
    if (rc < 0)
        return rc;
    return ws_sim_data(s, s->inflated.data, s->inflated.len);
}

static inline int ws_sim_frame_done(struct ws_sim *s)
{
    int control = (s->f.opcode & 0x08) != 0;
    int rc;
    s->frames++;
    s->in_payload = 0;
    if (!control && s->r.msg_compressed && s->f.fin) {
        if (!s->z)
            return -EPROTO;
        if ((rc = ws_sim_inflate(s, NULL, 0, 1)) < 0)
            return rc;
    }
    int op = s->r.msg_opcode;
    if ((rc = cio__ws_recv_frame_end(&s->r)) < 0)
        return rc;
    if (control) {
        s->controls++;
        s->ctrl_opcode = s->f.opcode;
        s->ctrl_len = s->ctrl_buf.len;
        if (s->ctrl_len)
            memcpy(s->ctrl, s->ctrl_buf.data, s->ctrl_len);
        s->ctrl_buf.len = 0;
    } else if (rc == 1) {
        uint8_t *copy = malloc(s->msg.len + 1);
        if (s->msg.len)
            memcpy(copy, s->msg.data, s->msg.len);
        if (!s->messages) {
            s->first = copy;
            s->first_len = s->msg.len;
            copy = malloc(s->msg.len + 1);
            if (s->msg.len)
                memcpy(copy, s->msg.data, s->msg.len);
        }
        free(s->last);
        s->last = copy;
        s->last_len = s->msg.len;
        s->last_opcode = op;
        s->messages++;
        s->msg.len = 0;
    }
    return 0;
}

/* Processes one chunk as it arrived from the network. */
static inline int ws_sim_chunk(struct ws_sim *s, const uint8_t *p, size_t n)
{
    int rc;
    while (n) {
        if (!s->in_payload) {
            /* The parser reads in place; a header cut by the chunk end is
             * kept and parsed again from its start with the next bytes. */
            size_t take = sizeof s->hdr - s->hdr_len < n ? sizeof s->hdr - s->hdr_len : n;
            memcpy(s->hdr + s->hdr_len, p, take);
            size_t had = s->hdr_len;
            s->hdr_len += take;
            rc = cio__ws_frame_parse(&s->r, s->hdr, s->hdr_len, &s->f);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                p += take;
                n -= take;
                continue;
            }
            size_t used = (size_t)rc - had;
            p += used;
            n -= used;
            s->hdr_len = 0;
            if ((rc = cio__ws_recv_frame(&s->r, &s->f)) < 0)
                return rc;
            s->in_payload = 1;
            s->left = s->f.len;
            s->mask_off = 0;
            if (s->left == 0 && (rc = ws_sim_frame_done(s)) < 0)
                return rc;
            continue;
        }
        size_t take = s->left < n ? (size_t)s->left : n;
        uint8_t *piece = malloc(take);
        memcpy(piece, p, take);
        if (s->f.masked)
            s->mask_off = cio__ws_mask(piece, take, s->f.mask, s->mask_off);
        if (s->f.opcode & 0x08)
            ws_wire_put(&s->ctrl_buf, piece, take), rc = 0;
        else if (s->r.msg_compressed)
            rc = s->z ? ws_sim_inflate(s, piece, take, 0) : -EPROTO;
        else
            rc = ws_sim_data(s, piece, take);
        free(piece);
        if (rc < 0)
            return rc;
        p += take;
        n -= take;
        s->left -= take;
        if (s->left == 0 && (rc = ws_sim_frame_done(s)) < 0)
            return rc;
    }
    return 0;
}

/* Feeds wire[0..n) in chunks of step bytes.  Returns 0 or the first error. */
static inline int ws_sim_feed(struct ws_sim *s, const uint8_t *wire, size_t n, size_t step)
{
    for (size_t i = 0; i < n; i += step) {
        int rc = ws_sim_chunk(s, wire + i, n - i < step ? n - i : step);
        if (rc < 0)
            return rc;
    }
    return 0;
}

#endif
