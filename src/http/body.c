/*
 * body.c - HTTP/1.1 message bodies (RFC 9112 §6, §7): Content-Length,
 * chunked and close-delimited framing, returned as slices of the caller's
 * buffer (or compacted in place), and the end of the stream.
 *
 * Chunked framing is a byte-level state machine over the chunk-size line
 * (size, extensions) and the CRLF after each chunk's data, so it keeps
 * nothing of the buffer between calls; data runs are handed out in one
 * piece each.  The trailer section is scanned by the field scanner of
 * parser.c, from the trailer's first byte, under the head's rules.
 */
#include <limits.h>

#include "parser_impl.h"

/* Sub-states of chunked framing (p->sub in phase BODY). */
enum {
    C_SIZE0 = 0,  /* first hex digit of a chunk-size */
    C_SIZE,       /* more hex digits */
    C_BWS_SEMI,   /* BWS after the size or a value: only ';' may follow */
    C_EXT_NAME0,  /* BWS, then the first byte of an extension name */
    C_EXT_NAME,   /* in an extension name */
    C_EXT_NAME_WS,/* BWS after the name: '=' or ';' */
    C_EXT_VAL0,   /* BWS after '=', then a token or a quoted-string */
    C_EXT_TOKEN,  /* in a token value */
    C_EXT_QUOTED, /* in a quoted-string value */
    C_EXT_ESC,    /* after a backslash in it */
    C_EXT_AFTER,  /* after a value: BWS, then ';' or CR */
    C_SIZE_LF,    /* LF ending the chunk-size line */
    C_DATA,       /* chunk data (p->chunk_left bytes to go) */
    C_DATA_CR,    /* CR after the data */
    C_DATA_LF,    /* LF after the data */
};

#define MAX_HEX_DIGITS 16 /* a chunk-size that fits uint64_t, leading zeros too */

static int bad(cio__http_parser *p, const char *reason)
{
    return cio__http_fail(p, -EPROTO, 400, reason);
}

static int too_large(cio__http_parser *p)
{
    return cio__http_fail(p, CIO_ELIMIT, 413, "body too large");
}

/*
 * Chunked framing from buf[0, len): walks chunk lines byte by byte until a
 * data run starts, hands out that run (up to the end of the chunk or of
 * the buffer) and returns.  Returns bytes consumed or a negative code.
 */
static int chunked(cio__http_parser *p, const unsigned char *b, size_t len, cio__http_data *d)
{
    size_t i = 0;
    unsigned s = p->sub;
    while (i < len) {
        unsigned c = b[i];
        /* Bytes of extensions count against max_chunk_ext, whichever
         * state they are scanned in (CVE-2024-22019). */
        if (s >= C_BWS_SEMI && s <= C_EXT_AFTER && ++p->ext_bytes > p->lim.max_chunk_ext)
            return bad(p, "chunk extensions too long");
        switch (s) {
        case C_SIZE0:
        case C_SIZE:
            if (cio__http_is(c, CIO__HTTP_HEX)) {
                if (++p->hex_digits > MAX_HEX_DIGITS)
                    return bad(p, "chunk size too large");
                unsigned v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
                p->chunk_left = p->chunk_left << 4 | v;
                s = C_SIZE;
                break;
            }
            if (s == C_SIZE0)
                return bad(p, "invalid chunk size");
            if (c == '\r')
                s = C_SIZE_LF;
            else if (c == ';')
                s = C_EXT_NAME0;
            else if (cio__http_is(c, CIO__HTTP_WS))
                s = C_BWS_SEMI;
            else
                return bad(p, "invalid chunk size");
            if (s != C_SIZE_LF && ++p->ext_bytes > p->lim.max_chunk_ext)
                return bad(p, "chunk extensions too long");
            break;
        case C_BWS_SEMI:
            if (c == ';')
                s = C_EXT_NAME0;
            else if (!cio__http_is(c, CIO__HTTP_WS))
                return bad(p, "invalid chunk size");
            break;
        case C_EXT_NAME0:
            if (cio__http_is(c, CIO__HTTP_TCHAR))
                s = C_EXT_NAME;
            else if (!cio__http_is(c, CIO__HTTP_WS))
                return bad(p, "invalid chunk extension");
            break;
        case C_EXT_NAME:
            /* What may follow a name may follow its BWS too, except the
             * CR (no whitespace before the line's end). */
            if (cio__http_is(c, CIO__HTTP_TCHAR))
                break;
            /* fall through */
        case C_EXT_NAME_WS:
            if (c == '=')
                s = C_EXT_VAL0;
            else if (c == ';')
                s = C_EXT_NAME0;
            else if (cio__http_is(c, CIO__HTTP_WS))
                s = C_EXT_NAME_WS;
            else if (c == '\r' && s == C_EXT_NAME)
                s = C_SIZE_LF;
            else
                return bad(p, "invalid chunk extension");
            break;
        case C_EXT_VAL0:
            if (c == '"')
                s = C_EXT_QUOTED;
            else if (cio__http_is(c, CIO__HTTP_TCHAR))
                s = C_EXT_TOKEN;
            else if (!cio__http_is(c, CIO__HTTP_WS))
                return bad(p, "invalid chunk extension");
            break;
        case C_EXT_TOKEN:
            if (cio__http_is(c, CIO__HTTP_TCHAR))
                break;
            /* fall through */
        case C_EXT_AFTER:
            if (c == ';')
                s = C_EXT_NAME0;
            else if (c == '\r')
                s = C_SIZE_LF;
            else if (cio__http_is(c, CIO__HTTP_WS))
                s = C_BWS_SEMI; /* no whitespace before the line's end */
            else
                return bad(p, "invalid chunk extension");
            break;
        case C_EXT_QUOTED:
            if (c == '"')
                s = C_EXT_AFTER;
            else if (c == '\\')
                s = C_EXT_ESC;
            else if (!cio__http_is(c, CIO__HTTP_QDTEXT))
                return bad(p, "invalid chunk extension");
            break;
        case C_EXT_ESC:
            /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
            if (!cio__http_is(c, CIO__HTTP_VALUE))
                return bad(p, "invalid chunk extension");
            s = C_EXT_QUOTED;
            break;
        case C_SIZE_LF:
            if (c != '\n')
                return bad(p, "bare CR in chunk line");
            i++;
            if (p->chunk_left == 0) {
                /* last-chunk: the trailer section starts at the next
                 * byte; return so the caller's next buf begins there */
                p->phase = CIO__HTTP_PH_TRAILER;
                p->sub = CIO__HTTP_SUB_FIELDS;
                p->pos = 0;
                p->mark = 0;
                return (int)i;
            }
            if (p->chunk_left > p->lim.max_body - p->body_seen)
                return too_large(p);
            s = C_DATA;
            continue;
        case C_DATA: {
            size_t n = len - i;
            if (n > p->chunk_left)
                n = (size_t)p->chunk_left;
            d->off = i;
            d->len = n;
            p->chunk_left -= n;
            p->body_seen += n;
            i += n;
            p->sub = (uint8_t)(p->chunk_left ? C_DATA : C_DATA_CR);
            return (int)i;
        }
        case C_DATA_CR:
            if (c != '\r')
                return bad(p, "no CRLF after chunk data");
            s = C_DATA_LF;
            break;
        case C_DATA_LF:
            if (c != '\n')
                return bad(p, "no CRLF after chunk data");
            s = C_SIZE0;
            p->hex_digits = 0;
            p->chunk_left = 0;
            break;
        }
        i++;
    }
    p->sub = (uint8_t)s;
    return (int)i;
}

int cio__http_parse_body(cio__http_parser *p, const char *buf, size_t len,
                         cio__http_data *data)
{
    if (!p || !data || (!buf && len))
        return -EINVAL;
    data->off = 0;
    data->len = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    const unsigned char *b = (const unsigned char *)buf;
    switch (p->phase) {
    case CIO__HTTP_PH_BODY:
        break;
    case CIO__HTTP_PH_TRAILER: {
        int r = cio__http_scan_trailer(p, b, len);
        return r;
    }
    case CIO__HTTP_PH_DONE:
        return 0;
    case CIO__HTTP_PH_ERROR:
        return p->err;
    default:
        return -EINVAL; /* the head is not parsed yet */
    }
    switch (p->body) {
    case CIO__HTTP_BODY_LENGTH: {
        size_t n = len < p->chunk_left ? len : (size_t)p->chunk_left;
        data->len = n;
        p->chunk_left -= n;
        p->body_seen += n;
        if (p->chunk_left == 0)
            p->phase = CIO__HTTP_PH_DONE;
        return (int)n;
    }
    case CIO__HTTP_BODY_CLOSE: {
        /* Data up to the limit is delivered; a byte beyond it fails, so
         * the outcome does not depend on how the bytes were split. */
        uint64_t room = p->lim.max_body - p->body_seen;
        if (len && room == 0)
            return too_large(p);
        size_t n = len < room ? len : (size_t)room;
        data->len = n;
        p->body_seen += n;
        return (int)n;
    }
    case CIO__HTTP_BODY_CHUNKED:
        return chunked(p, b, len, data);
    }
    return -EINVAL;
}

int cio__http_decode_body(cio__http_parser *p, char *buf, size_t len, size_t *consumed)
{
    if (!p || !consumed || (!buf && len))
        return -EINVAL;
    if (len > INT_MAX)
        len = INT_MAX;
    size_t in = 0, out = 0;
    *consumed = 0;
    while (in < len && p->phase != CIO__HTTP_PH_DONE) {
        cio__http_data d;
        int r = cio__http_parse_body(p, buf + in, len - in, &d);
        if (r < 0)
            return r;
        if (d.len) {
            if (buf + out != buf + in + d.off)
                memmove(buf + out, buf + in + d.off, d.len);
            out += d.len;
        }
        in += (size_t)r;
        if (r == 0)
            break;
    }
    *consumed = in;
    return (int)out;
}

int cio__http_parse_eof(cio__http_parser *p)
{
    if (!p)
        return -EINVAL;
    switch (p->phase) {
    case CIO__HTTP_PH_ERROR:
        return p->err;
    case CIO__HTTP_PH_DONE:
        return 0;
    case CIO__HTTP_PH_HEAD:
        /* nothing but (maybe) empty lines: the peer closed between messages */
        if (p->kind == CIO__HTTP_REQUEST ? p->sub <= 1 : p->pos == 0)
            return 0;
        break;
    case CIO__HTTP_PH_BODY:
        if (p->body == CIO__HTTP_BODY_CLOSE) {
            p->phase = CIO__HTTP_PH_DONE;
            return 0;
        }
        break;
    }
    return cio__http_fail(p, CIO_EINCOMPLETE, 400, "connection closed inside a message");
}
