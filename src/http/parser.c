/*
 * parser.c - HTTP/1.1 heads: the request line or status line and the
 * field lines (also of trailer sections), and what the fields that frame
 * and route a message mean (RFC 9112 §2-§7, RFC 9110 §7.2, §7.6, §10.1).
 *
 * The scanner is one resumable state machine.  Each state is a label;
 * entering scan() jumps to the label of the state where the last call
 * stopped, and the code then falls from label to label as the grammar
 * goes, with a tight class-table loop inside each token.  When the bytes
 * run out the state and two offsets are saved (NEED), so no byte is ever
 * scanned twice (trailing whitespace of a field value aside, which is
 * trimmed backwards once the value ends).
 *
 * Layout: limits and set-up; small validators (target form, Host,
 * Content-Length, Transfer-Encoding, Connection); the meaning of each
 * field (on_field) and of the completed head (finish_*); the scanner.
 */
#include <limits.h>

#include "parser_impl.h"

/* Sub-states of the head scanner (p->sub). */
enum {
    H_START = 0,  /* before the start line */
    H_START_LF,   /* CR of an empty line before the request line seen */
    H_METHOD,     /* in the method */
    H_TARGET,     /* in the request-target */
    H_VERSION,    /* in "HTTP/x.y" (p->vi bytes of it seen) */
    H_RL_CR,      /* after the request line's version: CR */
    H_RL_LF,      /* its LF */
    H_STATUS_SP,  /* after the status line's version: SP */
    H_STATUS,     /* the three digits (p->vi seen) */
    H_STATUS_END, /* SP before the reason, or CR */
    H_REASON,     /* in the reason phrase */
    H_SL_LF,      /* LF of the status line */
    H_FIELD,      /* start of a field line, or the CR of the empty line */
    H_NAME,       /* in a field name */
    H_OWS,        /* whitespace after the colon */
    H_VALUE,      /* in a field value */
    H_VALUE_LF,   /* LF after a field value */
    H_END_LF,     /* LF of the empty line ending the section */
};

_Static_assert(H_FIELD == CIO__HTTP_SUB_FIELDS, "trailers start at H_FIELD");

#define MAX_HEAD_CAP (1u << 30)

void cio__http_limits_init(cio__http_limits *l)
{
    l->max_target = CIO__HTTP_DEFAULT_MAX_TARGET;
    l->max_head = CIO__HTTP_DEFAULT_MAX_HEAD;
    l->max_headers = CIO__HTTP_DEFAULT_MAX_HEADERS;
    l->max_chunk_ext = CIO__HTTP_DEFAULT_MAX_CHUNK_EXT;
    l->max_body = CIO__HTTP_DEFAULT_MAX_BODY;
}

int cio__http_parser_init(cio__http_parser *p, int kind, const cio__http_limits *lim,
                          cio__http_header *headers, uint32_t cap)
{
    if (!p || !headers || cap == 0 || (kind != CIO__HTTP_REQUEST && kind != CIO__HTTP_RESPONSE))
        return -EINVAL;
    if (lim && lim->max_head > MAX_HEAD_CAP)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    if (lim)
        p->lim = *lim;
    else
        cio__http_limits_init(&p->lim);
    p->headers = headers;
    p->cap = cap < p->lim.max_headers ? cap : p->lim.max_headers;
    p->kind = (uint8_t)kind;
    p->req_method = CIO__HTTP_GET;
    cio__http_parser_reset(p);
    return 0;
}

void cio__http_parser_reset(cio__http_parser *p)
{
    cio__http_limits lim = p->lim;
    cio__http_header *headers = p->headers;
    uint32_t cap = p->cap;
    uint8_t kind = p->kind, req_method = p->req_method;
    memset(p, 0, sizeof(*p));
    p->lim = lim;
    p->headers = headers;
    p->cap = cap;
    p->kind = kind;
    p->req_method = req_method;
    p->upgrade = -1;
    p->host = -1;
}

void cio__http_parser_set_request_method(cio__http_parser *p, int method)
{
    p->req_method = (uint8_t)method;
}

int cio__http_fail(cio__http_parser *p, int code, int status, const char *reason)
{
    p->phase = CIO__HTTP_PH_ERROR;
    p->err = code;
    p->err_status = (uint16_t)(p->kind == CIO__HTTP_RESPONSE ? 502 : status);
    p->err_reason = reason;
    return code;
}

static int bad(cio__http_parser *p, const char *reason)
{
    return cio__http_fail(p, -EPROTO, 400, reason);
}

int cio__http_find_header(const cio__http_parser *p, const char *buf, const char *name,
                          uint32_t from)
{
    size_t n = strlen(name);
    for (uint32_t i = from; i < p->nheaders; i++) {
        const cio__http_header *h = &p->headers[i];
        if (h->name.len != n)
            continue;
        const char *s = buf + h->name.off;
        size_t k = 0;
        while (k < n) {
            unsigned a = (unsigned char)s[k], b = (unsigned char)name[k];
            if (a - 'A' < 26)
                a |= 0x20;
            if (b - 'A' < 26)
                b |= 0x20;
            if (a != b)
                break;
            k++;
        }
        if (k == n)
            return (int)i;
    }
    return -1;
}

/* ---- validators --------------------------------------------------------- */

static int is_digit(unsigned c)
{
    return c - '0' < 10;
}

static uint8_t method_id(const unsigned char *s, size_t n)
{
#define IS(w) (n == sizeof(w) - 1 && memcmp(s, w, n) == 0)
    switch (n) {
    case 3:
        return IS("GET") ? CIO__HTTP_GET : IS("PUT") ? CIO__HTTP_PUT : CIO__HTTP_OTHER;
    case 4:
        return IS("HEAD") ? CIO__HTTP_HEAD : IS("POST") ? CIO__HTTP_POST : CIO__HTTP_OTHER;
    case 5:
        return IS("TRACE") ? CIO__HTTP_TRACE : IS("PATCH") ? CIO__HTTP_PATCH : CIO__HTTP_OTHER;
    case 6:
        return IS("DELETE") ? CIO__HTTP_DELETE : CIO__HTTP_OTHER;
    case 7:
        return IS("CONNECT")   ? CIO__HTTP_CONNECT
               : IS("OPTIONS") ? CIO__HTTP_OPTIONS
                               : CIO__HTTP_OTHER;
    }
    return CIO__HTTP_OTHER;
#undef IS
}

/* The first index in [i, end) whose byte is not in class mask, or end.
 * Four bytes a round while they last: one bound check for four lookups. */
static inline size_t span(const unsigned char *b, size_t i, size_t end, unsigned mask)
{
    const uint8_t *cls = cio__http_class;
    while (end - i >= 4) {
        if (!(cls[b[i]] & mask))
            return i;
        if (!(cls[b[i + 1]] & mask))
            return i + 1;
        if (!(cls[b[i + 2]] & mask))
            return i + 2;
        if (!(cls[b[i + 3]] & mask))
            return i + 3;
        i += 4;
    }
    while (i < end && (cls[b[i]] & mask))
        i++;
    return i;
}

/* uri-host [":" port] (RFC 3986): an IP-literal in brackets or a reg-name /
 * IPv4 address, then an optional port of digits (may be empty).  With
 * need_port (CONNECT's authority-form) the port must be there. */
static int valid_authority(const unsigned char *s, size_t n, int need_port)
{
    size_t i = 0;
    if (n && s[0] == '[') {
        for (i = 1; i < n && (cio__http_is(s[i], CIO__HTTP_REGNAME) || s[i] == ':'); i++)
            ;
        if (i == n || s[i] != ']' || i == 1)
            return 0;
        i++;
    } else {
        i = span(s, 0, n, CIO__HTTP_REGNAME);
    }
    if (i == n)
        return !need_port;
    if (s[i++] != ':')
        return 0;
    size_t digits = i;
    while (i < n && is_digit(s[i]))
        i++;
    return i == n && (!need_port || i > digits);
}

/* The four forms of request-target (RFC 9112 §3.2), each only where it
 * belongs: origin-form "/..." (not for CONNECT), authority-form for
 * CONNECT, "*" for OPTIONS, absolute-form "scheme:..." for the rest. */
static int check_target(cio__http_parser *p, const unsigned char *t, size_t n)
{
    if (p->method == CIO__HTTP_CONNECT)
        return valid_authority(t, n, 1) ? 0 : bad(p, "CONNECT needs host:port");
    if (t[0] == '/')
        return 0;
    if (n == 1 && t[0] == '*')
        return p->method == CIO__HTTP_OPTIONS ? 0 : bad(p, "'*' target is for OPTIONS");
    if (t[0] - 'A' < 26 || t[0] - 'a' < 26) {
        size_t i = 1;
        while (i < n && cio__http_is(t[i], CIO__HTTP_SCHEME))
            i++;
        if (i < n && t[i] == ':')
            return 0;
    }
    return bad(p, "invalid request target");
}

/* Content-Length = 1*DIGIT, one field (RFC 9112 §6.3: a list or a second
 * field, even with the same value, is how smuggling starts). */
static int on_content_length(cio__http_parser *p, const unsigned char *v, size_t n)
{
    if (p->flags & CIO__HTTP_F_HAS_LENGTH)
        return bad(p, "duplicate Content-Length");
    if (p->flags & CIO__HTTP_F_HAS_TE)
        return bad(p, "Content-Length with Transfer-Encoding");
    if (n == 0)
        return bad(p, "invalid Content-Length");
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)v[i] - '0';
        if (d > 9)
            return bad(p, "invalid Content-Length");
        if (x > (UINT64_MAX - d) / 10)
            return bad(p, "Content-Length overflow");
        x = x * 10 + d;
    }
    p->content_length = x;
    p->flags |= CIO__HTTP_F_HAS_LENGTH;
    return 0;
}

/*
 * Transfer-Encoding must be exactly "chunked".  Anything else is refused;
 * how depends on what it is: a well-formed list that names a coding other
 * than chunked is valid HTTP we do not implement (501, as nginx answers);
 * a malformed list, or chunked twice or with parameters, is a bad request.
 */
static int on_transfer_encoding(cio__http_parser *p, const unsigned char *v, size_t n)
{
    if (p->flags & CIO__HTTP_F_HAS_TE)
        return bad(p, "duplicate Transfer-Encoding");
    if (p->flags & CIO__HTTP_F_HAS_LENGTH)
        return bad(p, "Content-Length with Transfer-Encoding");
    if (p->kind == CIO__HTTP_REQUEST && p->version_minor == 0)
        return bad(p, "Transfer-Encoding on HTTP/1.0");
    p->flags |= CIO__HTTP_F_HAS_TE;
    if (cio__http_eq_lower((const char *)v, n, "chunked", 7))
        return 0;
    int other = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && (v[i] == ',' || cio__http_is(v[i], CIO__HTTP_WS)))
            i++;
        if (i == n)
            break;
        size_t s = i;
        while (i < n && cio__http_is(v[i], CIO__HTTP_TCHAR))
            i++;
        if (i == s)
            return bad(p, "invalid Transfer-Encoding");
        if (!cio__http_eq_lower((const char *)v + s, i - s, "chunked", 7))
            other = 1;
        /* parameters: skip to the next element (the list is refused anyway) */
        while (i < n && v[i] != ',')
            i++;
    }
    if (other)
        return cio__http_fail(p, -ENOTSUP, 501, "unsupported transfer coding");
    return bad(p, "invalid Transfer-Encoding");
}

/* Connection = #connection-option: tokens, commas, whitespace; empty
 * elements allowed (RFC 9110 §5.6.1). */
static int on_connection(cio__http_parser *p, const unsigned char *v, size_t n)
{
    size_t i = 0;
    for (;;) {
        while (i < n && (v[i] == ',' || cio__http_is(v[i], CIO__HTTP_WS)))
            i++;
        if (i == n)
            return 0;
        size_t s = i;
        while (i < n && cio__http_is(v[i], CIO__HTTP_TCHAR))
            i++;
        if (i == s || (i < n && v[i] != ',' && !cio__http_is(v[i], CIO__HTTP_WS)))
            return bad(p, "invalid Connection");
        const char *w = (const char *)v + s;
        if (cio__http_eq_lower(w, i - s, "close", 5))
            p->flags |= CIO__HTTP_F_CONN_CLOSE;
        else if (cio__http_eq_lower(w, i - s, "keep-alive", 10))
            p->flags |= CIO__HTTP_F_CONN_KEEP;
        else if (cio__http_eq_lower(w, i - s, "upgrade", 7))
            p->flags |= CIO__HTTP_F_CONN_UPGRADE;
        /* whitespace inside an element ("a b") is not a list */
        while (i < n && cio__http_is(v[i], CIO__HTTP_WS))
            i++;
        if (i < n && v[i] != ',')
            return bad(p, "invalid Connection");
    }
}

/* ---- what fields mean --------------------------------------------------- */

/* A complete field line: store it, then act on the fields that frame or
 * route the message.  In a trailer section those are refused instead
 * (RFC 9110 §6.5.1: a trailer must not change framing or routing). */
static int on_field(cio__http_parser *p, const unsigned char *b, size_t voff, size_t vlen,
                    int trailer)
{
    uint32_t idx = p->nheaders + p->ntrailers;
    if (idx >= p->cap)
        return cio__http_fail(p, CIO_ELIMIT, 431, "too many header fields");
    cio__http_header *h = &p->headers[idx];
    h->name.off = p->name_off;
    h->name.len = p->name_len;
    h->value.off = (uint32_t)voff;
    h->value.len = (uint32_t)vlen;
    const char *name = (const char *)b + p->name_off;
    size_t nlen = p->name_len;
    const unsigned char *v = b + voff;
    if (trailer) {
        p->ntrailers++;
        if (cio__http_eq_lower(name, nlen, "content-length", 14) ||
            cio__http_eq_lower(name, nlen, "transfer-encoding", 17) ||
            cio__http_eq_lower(name, nlen, "host", 4))
            return bad(p, "forbidden trailer field");
        return 0;
    }
    p->nheaders++;
    int req = p->kind == CIO__HTTP_REQUEST;
    switch (nlen) {
    case 4:
        if (req && cio__http_eq_lower(name, nlen, "host", 4)) {
            if (++p->host_count > 1)
                return bad(p, "duplicate Host");
            if (!valid_authority(v, vlen, 0))
                return bad(p, "invalid Host");
            p->host = (int32_t)idx;
        }
        break;
    case 6:
        /* HTTP/1.0 recipients ignore expectations (RFC 9110 §10.1.1). */
        if (req && p->version_minor && cio__http_eq_lower(name, nlen, "expect", 6)) {
            if (!cio__http_eq_lower((const char *)v, vlen, "100-continue", 12))
                return cio__http_fail(p, -ENOTSUP, 417, "unsupported expectation");
            p->flags |= CIO__HTTP_F_CONTINUE;
        }
        break;
    case 7:
        if (p->upgrade < 0 && cio__http_eq_lower(name, nlen, "upgrade", 7))
            p->upgrade = (int32_t)idx;
        break;
    case 10:
        if (cio__http_eq_lower(name, nlen, "connection", 10))
            return on_connection(p, v, vlen);
        break;
    case 14:
        if (cio__http_eq_lower(name, nlen, "content-length", 14))
            return on_content_length(p, v, vlen);
        break;
    case 17:
        if (cio__http_eq_lower(name, nlen, "transfer-encoding", 17))
            return on_transfer_encoding(p, v, vlen);
        break;
    }
    return 0;
}

/* Persistence (RFC 9112 §9.3): HTTP/1.1 unless "close", HTTP/1.0 only
 * with "keep-alive" (and no "close"). */
static int keep_alive(const cio__http_parser *p)
{
    if (p->flags & CIO__HTTP_F_CONN_CLOSE)
        return 0;
    return p->version_minor ? 1 : !!(p->flags & CIO__HTTP_F_CONN_KEEP);
}

/* The request head is complete: the rules that need all of it, and the
 * body's framing (RFC 9112 §6.3 items 3-6 for requests). */
static int finish_request(cio__http_parser *p, size_t n)
{
    if (p->version_minor && p->host_count == 0)
        return bad(p, "missing Host");
    if (keep_alive(p))
        p->flags |= CIO__HTTP_F_KEEP_ALIVE;
    if (p->version_minor && p->upgrade >= 0 && (p->flags & CIO__HTTP_F_CONN_UPGRADE))
        p->flags |= CIO__HTTP_F_UPGRADE;
    if (p->flags & CIO__HTTP_F_HAS_TE) {
        p->body = CIO__HTTP_BODY_CHUNKED;
    } else if ((p->flags & CIO__HTTP_F_HAS_LENGTH) && p->content_length) {
        if (p->content_length > p->lim.max_body)
            return cio__http_fail(p, CIO_ELIMIT, 413, "body too large");
        p->body = CIO__HTTP_BODY_LENGTH;
    } else {
        p->body = CIO__HTTP_BODY_NONE;
    }
    p->phase = p->body == CIO__HTTP_BODY_NONE ? CIO__HTTP_PH_DONE : CIO__HTTP_PH_BODY;
    p->chunk_left = p->body == CIO__HTTP_BODY_LENGTH ? p->content_length : 0;
    p->sub = 0;
    return (int)n;
}

/* The response head is complete: RFC 9112 §6.3 items 1-7 for responses. */
static int finish_response(cio__http_parser *p, size_t n)
{
    unsigned st = p->status;
    int ka = keep_alive(p);
    p->sub = 0;
    if (st == 101 || (p->req_method == CIO__HTTP_CONNECT && st / 100 == 2)) {
        if (st == 101)
            p->flags |= CIO__HTTP_F_UPGRADE;
        p->body = CIO__HTTP_BODY_TUNNEL;
        p->phase = CIO__HTTP_PH_DONE;
        return (int)n;
    }
    if (st < 200 || st == 204 || st == 304 || p->req_method == CIO__HTTP_HEAD) {
        p->body = CIO__HTTP_BODY_NONE;
    } else if (p->flags & CIO__HTTP_F_HAS_TE) {
        p->body = CIO__HTTP_BODY_CHUNKED;
    } else if (p->flags & CIO__HTTP_F_HAS_LENGTH) {
        if (p->content_length > p->lim.max_body)
            return cio__http_fail(p, CIO_ELIMIT, 413, "body too large");
        p->body = p->content_length ? CIO__HTTP_BODY_LENGTH : CIO__HTTP_BODY_NONE;
    } else {
        p->body = CIO__HTTP_BODY_CLOSE;
        ka = 0;
    }
    if (ka)
        p->flags |= CIO__HTTP_F_KEEP_ALIVE;
    p->phase = p->body == CIO__HTTP_BODY_NONE ? CIO__HTTP_PH_DONE : CIO__HTTP_PH_BODY;
    p->chunk_left = p->body == CIO__HTTP_BODY_LENGTH ? p->content_length : 0;
    return (int)n;
}

/* ---- the scanner -------------------------------------------------------- */

#define NEED(st)                                                                       \
    do {                                                                               \
        p->sub = (st);                                                                 \
        goto more;                                                                     \
    } while (0)

static int scan(cio__http_parser *p, const unsigned char *b, size_t len, int trailer)
{
    size_t end = len < p->lim.max_head ? len : p->lim.max_head;
    size_t i = p->pos, m = p->mark;
    int r;

    switch (p->sub) {
    case H_START: goto st_start;
    case H_START_LF: goto st_start_lf;
    case H_METHOD: goto st_method;
    case H_TARGET: goto st_target;
    case H_VERSION: goto st_version;
    case H_RL_CR: goto st_rl_cr;
    case H_RL_LF: goto st_rl_lf;
    case H_STATUS_SP: goto st_status_sp;
    case H_STATUS: goto st_status;
    case H_STATUS_END: goto st_status_end;
    case H_REASON: goto st_reason;
    case H_SL_LF: goto st_sl_lf;
    case H_FIELD: goto st_field;
    case H_NAME: goto st_name;
    case H_OWS: goto st_ows;
    case H_VALUE: goto st_value;
    case H_VALUE_LF: goto st_value_lf;
    case H_END_LF: goto st_end_lf;
    }
    return bad(p, "parser state corrupt");

st_start:
    if (p->kind == CIO__HTTP_RESPONSE)
        goto st_version;
    if (i == end)
        NEED(H_START);
    if (b[i] == '\r') {
        i++;
        goto st_start_lf;
    }
    if (b[i] == '\n')
        return bad(p, "bare LF");
    m = i;
    goto st_method;
st_start_lf:
    if (i == end)
        NEED(H_START_LF);
    if (b[i] != '\n')
        return bad(p, "bare CR");
    i++;
    goto st_start;

st_method:
    i = span(b, i, end, CIO__HTTP_TCHAR);
    if (i == end)
        NEED(H_METHOD);
    if (b[i] != ' ' || i == m)
        return bad(p, "invalid method");
    p->method_s.off = (uint32_t)m;
    p->method_s.len = (uint32_t)(i - m);
    p->method = method_id(b + m, i - m);
    m = ++i;
st_target: {
    size_t stop = m + (size_t)p->lim.max_target + 1;
    if (stop > end)
        stop = end;
    i = span(b, i, stop, CIO__HTTP_TARGET);
    if (i - m > p->lim.max_target)
        return cio__http_fail(p, CIO_ELIMIT, 414, "URI too long");
    if (i == end)
        NEED(H_TARGET);
    if (b[i] != ' ' || i == m)
        return bad(p, b[i] == '\r' || b[i] == '\n' ? "no HTTP version" : "invalid request target");
    p->target.off = (uint32_t)m;
    p->target.len = (uint32_t)(i - m);
    if ((r = check_target(p, b + m, i - m)) < 0)
        return r;
    i++;
}
st_version:
    /* "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3); the
     * common "HTTP/1.x" in one compare when all of it is here */
    if (p->vi == 0 && end - i >= 8 && memcmp(b + i, "HTTP/1.", 7) == 0 && is_digit(b[i + 7])) {
        p->version_minor = b[i + 7] > '0';
        p->vi = 8;
        i += 8;
    }
    while (p->vi < 8) {
        if (i == end)
            NEED(H_VERSION);
        unsigned c = b[i];
        if (p->vi < 5) {
            if (c != (unsigned char)"HTTP/"[p->vi])
                return bad(p, "invalid HTTP version");
        } else if (p->vi == 6) {
            if (c != '.')
                return bad(p, "invalid HTTP version");
        } else if (!is_digit(c)) {
            return bad(p, "invalid HTTP version");
        } else if (p->vi == 5 && c != '1') {
            return cio__http_fail(p, -ENOTSUP, 505, "HTTP version not supported");
        } else if (p->vi == 7) {
            p->version_minor = c > '0';
        }
        p->vi++;
        i++;
    }
    if (p->kind == CIO__HTTP_RESPONSE)
        goto st_status_sp;
st_rl_cr:
    if (i == end)
        NEED(H_RL_CR);
    if (b[i] != '\r')
        return bad(p, b[i] == '\n' ? "bare LF" : "invalid request line");
    i++;
st_rl_lf:
    if (i == end)
        NEED(H_RL_LF);
    if (b[i] != '\n')
        return bad(p, "bare CR");
    i++;
    goto st_field;

st_status_sp:
    if (i == end)
        NEED(H_STATUS_SP);
    if (b[i] != ' ')
        return bad(p, "invalid status line");
    i++;
    p->vi = 0;
st_status:
    while (p->vi < 3) {
        if (i == end)
            NEED(H_STATUS);
        if (!is_digit(b[i]))
            return bad(p, "invalid status code");
        p->status = (uint16_t)(p->status * 10 + (b[i] - '0'));
        p->vi++;
        i++;
    }
    if (p->status < 100 || p->status > 599)
        return bad(p, "invalid status code");
st_status_end:
    if (i == end)
        NEED(H_STATUS_END);
    if (b[i] == '\r') {
        p->reason.off = (uint32_t)i;
        i++;
        goto st_sl_lf;
    }
    if (b[i] != ' ')
        return bad(p, b[i] == '\n' ? "bare LF" : "invalid status line");
    m = ++i;
st_reason:
    i = span(b, i, end, CIO__HTTP_VALUE);
    if (i == end)
        NEED(H_REASON);
    if (b[i] != '\r')
        return bad(p, b[i] == '\n' ? "bare LF" : "invalid reason phrase");
    p->reason.off = (uint32_t)m;
    p->reason.len = (uint32_t)(i - m);
    i++;
st_sl_lf:
    if (i == end)
        NEED(H_SL_LF);
    if (b[i] != '\n')
        return bad(p, "bare CR");
    i++;

st_field:
    if (i == end)
        NEED(H_FIELD);
    if (b[i] == '\r') {
        i++;
        goto st_end_lf;
    }
    if (!cio__http_is(b[i], CIO__HTTP_TCHAR)) {
        if (cio__http_is(b[i], CIO__HTTP_WS))
            return bad(p, "obs-fold or whitespace before a field");
        return bad(p, b[i] == '\n' ? "bare LF" : "invalid field name");
    }
    m = i++;
st_name:
    i = span(b, i, end, CIO__HTTP_TCHAR);
    if (i == end)
        NEED(H_NAME);
    if (b[i] != ':') {
        if (cio__http_is(b[i], CIO__HTTP_WS))
            return bad(p, "whitespace before colon");
        return bad(p, "invalid field name");
    }
    p->name_off = (uint32_t)m;
    p->name_len = (uint32_t)(i - m);
    i++;
st_ows:
    while (i < end && cio__http_is(b[i], CIO__HTTP_WS))
        i++;
    if (i == end)
        NEED(H_OWS);
    m = i;
st_value:
    i = span(b, i, end, CIO__HTTP_VALUE);
    if (i == end)
        NEED(H_VALUE);
    if (b[i] != '\r')
        return bad(p, b[i] == '\n' ? "bare LF" : "invalid field value");
    i++;
st_value_lf:
    if (i == end)
        NEED(H_VALUE_LF);
    if (b[i] != '\n')
        return bad(p, "bare CR");
    {
        size_t ve = i - 1; /* the CR */
        while (ve > m && cio__http_is(b[ve - 1], CIO__HTTP_WS))
            ve--;
        if ((r = on_field(p, b, m, ve - m, trailer)) < 0)
            return r;
    }
    i++;
    goto st_field;

st_end_lf:
    if (i == end)
        NEED(H_END_LF);
    if (b[i] != '\n')
        return bad(p, "bare CR");
    i++;
    p->pos = (uint32_t)i;
    if (trailer) {
        p->phase = CIO__HTTP_PH_DONE;
        return (int)i;
    }
    return p->kind == CIO__HTTP_REQUEST ? finish_request(p, i) : finish_response(p, i);

more:
    if (end < len)
        return cio__http_fail(p, CIO_ELIMIT, 431, "header section too large");
    p->pos = (uint32_t)i;
    p->mark = (uint32_t)m;
    return 0;
}

int cio__http_parse_head(cio__http_parser *p, const char *buf, size_t len)
{
    if (!p || (!buf && len))
        return -EINVAL;
    if (p->phase != CIO__HTTP_PH_HEAD)
        return p->phase == CIO__HTTP_PH_ERROR ? p->err : -EINVAL;
    if (len < p->pos)
        return -EINVAL;
    return scan(p, (const unsigned char *)buf, len, 0);
}

int cio__http_scan_trailer(cio__http_parser *p, const unsigned char *buf, size_t len)
{
    if (len < p->pos)
        return -EINVAL;
    return scan(p, buf, len, 1);
}
