/*
 * frame.c - RFC 6455 frame headers, the receiver's message state, masking
 * (see frame.h for the contract of each function).
 *
 * The parser checks each rule on the first byte that carries it: opcode,
 * RSV bits and the fragmentation sequence on byte 0; masking and the
 * control-frame length on byte 1; the 64-bit length's top bit on byte 2;
 * the size limits once the length field is complete.
 *
 * Masking XORs 16 bytes per step through GCC/clang vector types (SSE2 on
 * x86-64, NEON on aarch64, plain words elsewhere).  Since 16 is a multiple
 * of the 4-byte key, one 16-byte pattern (the key rotated by the running
 * offset) serves every step; loads and stores go through memcpy, so any
 * alignment of the buffer is fine and costs nothing on these machines.
 */
#include <errno.h>
#include <string.h>

#include "frame.h"

int cio__ws_close_code_for(int err)
{
    switch (err) {
    case -EPROTO:
        return CIO__WS_CLOSE_PROTOCOL;
    case -EMSGSIZE:
        return CIO__WS_CLOSE_TOO_BIG;
    case -EILSEQ:
        return CIO__WS_CLOSE_INVALID_DATA;
    default:
        return CIO__WS_CLOSE_INTERNAL;
    }
}

void cio__ws_recv_init(struct cio__ws_recv *r, int server, int rsv_allowed,
                       uint64_t max_frame, uint64_t max_message)
{
    memset(r, 0, sizeof *r);
    r->server = server ? 1 : 0;
    r->rsv_allowed = (uint8_t)(rsv_allowed & (CIO__WS_RSV1 | CIO__WS_RSV2 | CIO__WS_RSV3));
    r->max_frame = max_frame ? max_frame : UINT64_MAX;
    r->max_message = max_message ? max_message : UINT64_MAX;
    r->frame_opcode = 0xFF;
    cio__ws_utf8_init(&r->utf8);
}

static int fail(struct cio__ws_frame *f, int err, const char *why)
{
    f->why = why;
    return err;
}

static int opcode_known(unsigned op)
{
    return op <= CIO__WS_OP_BINARY || (op >= CIO__WS_OP_CLOSE && op <= CIO__WS_OP_PONG);
}

/* The most wire bytes a compressed message of max bytes may take: deflate
 * expands incompressible data by a few bytes per 16 KiB block; an eighth
 * plus 1 KiB leaves room for any sane sender while bounding a peer that
 * sends endless empty blocks. */
static uint64_t compressed_bound(uint64_t max)
{
    uint64_t extra = (max >> 3) + 1024;
    return max > UINT64_MAX - extra ? UINT64_MAX : max + extra;
}

int cio__ws_frame_parse(const struct cio__ws_recv *r, const uint8_t *buf, size_t len,
                        struct cio__ws_frame *f)
{
    f->why = NULL;
    if (len < 1)
        return 0;
    unsigned b0 = buf[0];
    unsigned op = b0 & 0x0F, rsv = b0 & 0x70, fin = b0 & 0x80;
    int control = (op & 0x08) != 0;
    if (!opcode_known(op))
        return fail(f, -EPROTO, "reserved opcode");
    if (rsv & ~(unsigned)r->rsv_allowed)
        return fail(f, -EPROTO, "reserved bit set without an extension defining it");
    if (control) {
        if (!fin)
            return fail(f, -EPROTO, "fragmented control frame");
        /* RFC 7692 §6.1: the compressed bit never goes on a control frame
         * (and no other extension of ours defines RSV bits). */
        if (rsv)
            return fail(f, -EPROTO, "RSV bit on a control frame");
    } else if (op == CIO__WS_OP_CONT) {
        if (!r->msg_opcode)
            return fail(f, -EPROTO, "continuation frame without a message to continue");
        /* RFC 7692 §6.1: only a message's first frame carries RSV1. */
        if (rsv)
            return fail(f, -EPROTO, "RSV bit on a continuation frame");
    } else if (r->msg_opcode) {
        return fail(f, -EPROTO, "new data message before the previous one ended");
    }
    if (len < 2)
        return 0;
    unsigned b1 = buf[1];
    unsigned masked = b1 >> 7, len7 = b1 & 0x7F;
    if (masked != r->server)
        return fail(f, -EPROTO, r->server ? "unmasked frame from a client"
                                          : "masked frame from a server");
    if (control && len7 > CIO__WS_MAX_CONTROL)
        return fail(f, -EPROTO, "control frame longer than 125 bytes");
    size_t hlen = 2;
    uint64_t plen = len7;
    if (len7 == 126) {
        hlen += 2;
        if (len < hlen)
            return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
    } else if (len7 == 127) {
        if (len >= 3 && (buf[2] & 0x80))
            return fail(f, -EPROTO, "64-bit payload length with its top bit set");
        hlen += 8;
        if (len < hlen)
            return 0;
        plen = 0;
        for (int i = 2; i < 10; i++)
            plen = plen << 8 | buf[i];
    }
    if (plen > r->max_frame)
        return fail(f, -EMSGSIZE, "frame larger than the limit");
    if (!control) {
        int compressed = op == CIO__WS_OP_CONT ? r->msg_compressed : (rsv & CIO__WS_RSV1) != 0;
        uint64_t so_far = op == CIO__WS_OP_CONT ? r->msg_wire : 0;
        uint64_t limit = compressed ? compressed_bound(r->max_message) : r->max_message;
        if (so_far > limit || plen > limit - so_far)
            return fail(f, -EMSGSIZE, "message larger than the limit");
    }
    if (masked) {
        if (len < hlen + 4)
            return 0;
        memcpy(f->mask, buf + hlen, 4);
        hlen += 4;
    } else {
        memset(f->mask, 0, 4);
    }
    f->len = plen;
    f->fin = fin ? 1 : 0;
    f->rsv = (uint8_t)rsv;
    f->opcode = (uint8_t)op;
    f->masked = (uint8_t)masked;
    return (int)hlen;
}

int cio__ws_recv_frame(struct cio__ws_recv *r, const struct cio__ws_frame *f)
{
    if (!opcode_known(f->opcode) || f->len > r->max_frame)
        return -EINVAL;
    r->frame_opcode = f->opcode;
    r->frame_fin = f->fin;
    if (f->opcode & 0x08)
        return 0; /* a control frame between fragments leaves the message be */
    if (f->opcode == CIO__WS_OP_CONT) {
        if (!r->msg_opcode)
            return -EINVAL;
    } else {
        if (r->msg_opcode)
            return -EINVAL;
        r->msg_opcode = f->opcode;
        r->msg_compressed = (f->rsv & CIO__WS_RSV1) != 0;
        r->msg_wire = 0;
        r->msg_len = 0;
        cio__ws_utf8_init(&r->utf8);
    }
    r->msg_wire += f->len;
    return 0;
}

int cio__ws_recv_data(struct cio__ws_recv *r, const uint8_t *p, size_t n)
{
    if (!r->msg_opcode || (r->frame_opcode & 0x08))
        return -EINVAL;
    if (n > r->max_message - r->msg_len)
        return -EMSGSIZE;
    r->msg_len += n;
    if (r->msg_opcode == CIO__WS_OP_TEXT)
        return cio__ws_utf8_feed(&r->utf8, p, n);
    return 0;
}

int cio__ws_recv_frame_end(struct cio__ws_recv *r)
{
    unsigned op = r->frame_opcode;
    r->frame_opcode = 0xFF;
    if (op == 0xFF || (op & 0x08) || !r->msg_opcode || !r->frame_fin)
        return 0;
    int text = r->msg_opcode == CIO__WS_OP_TEXT;
    r->msg_opcode = 0;
    r->msg_compressed = 0;
    if (text && cio__ws_utf8_finish(&r->utf8) < 0)
        return -EILSEQ;
    return 1;
}

int cio__ws_frame_build(uint8_t *out, int opcode, int flags, uint64_t len,
                        const uint8_t *mask)
{
    if (opcode < 0 || opcode > 0x0F || !opcode_known((unsigned)opcode) ||
        (flags & ~(CIO__WS_FIN | CIO__WS_RSV1 | CIO__WS_RSV2 | CIO__WS_RSV3)) ||
        len >> 63)
        return -EINVAL;
    if ((opcode & 0x08) && (!(flags & CIO__WS_FIN) || len > CIO__WS_MAX_CONTROL))
        return -EINVAL;
    size_t h = 0;
    out[h++] = (uint8_t)(flags | opcode);
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[h++] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = m | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[h++] = (uint8_t)(len >> shift);
    }
    if (mask) {
        memcpy(out + h, mask, 4);
        h += 4;
    }
    return (int)h;
}

typedef uint64_t vec16 __attribute__((vector_size(16)));

size_t cio__ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                         size_t offset)
{
    uint8_t pat[16];
    for (int i = 0; i < 16; i++)
        pat[i] = key[(offset + (size_t)i) & 3];
    size_t i = 0;
    if (n >= 16) {
        vec16 k, a, b, c, d;
        memcpy(&k, pat, 16);
        for (; n - i >= 64; i += 64) {
            memcpy(&a, src + i, 16);
            memcpy(&b, src + i + 16, 16);
            memcpy(&c, src + i + 32, 16);
            memcpy(&d, src + i + 48, 16);
            a ^= k;
            b ^= k;
            c ^= k;
            d ^= k;
            memcpy(dst + i, &a, 16);
            memcpy(dst + i + 16, &b, 16);
            memcpy(dst + i + 32, &c, 16);
            memcpy(dst + i + 48, &d, 16);
        }
        for (; n - i >= 16; i += 16) {
            memcpy(&a, src + i, 16);
            a ^= k;
            memcpy(dst + i, &a, 16);
        }
    }
    /* i is a multiple of 16 here, so the pattern lines up with pat[0]. */
    for (size_t j = 0; i < n; i++, j++)
        dst[i] = src[i] ^ pat[j];
    return (offset + n) & 3;
}

size_t cio__ws_mask(uint8_t *buf, size_t n, const uint8_t key[4], size_t offset)
{
    return cio__ws_mask_copy(buf, buf, n, key, offset);
}
