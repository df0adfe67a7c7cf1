/*
 * client_reply.c - a client's reply: the head copied out of the
 * connection's buffer (names and values NUL-terminated, in one
 * allocation with the reply), its accessors, and the body, framed by the
 * parser in place and then copied to the caller's buffer (streamed) or to
 * the reply's (buffered), decoded on the way when it is gzip or deflate.
 *
 * A reply holds its connection (and the origin's slot) until the body's
 * end; then the connection goes back to the pool if it is clean.  Any
 * error, and a release before the end, closes the connection instead.
 */
#include <strings.h>

#include "client.h"

/* One header field of a reply. */
typedef struct field {
    const char *name;  /* as sent */
    const char *value; /* trimmed */
} field;

struct cio_http_reply {
    cio__hc_conn *k;        /* the busy connection while the body is read */
    int status;             /* status code */
    int streamed;           /* CIO_HTTP_STREAM: the caller reads the body */
    int done;               /* the body was read to its end */
    int err;                /* the error that ended the body, or 0 */
    const char *reason;     /* reason phrase (in the same allocation) */
    const char *url;        /* the URL that gave this reply */
    field *fields;          /* header fields (in the same allocation) */
    size_t nfields;         /* their count */
    char *body;             /* buffered body (NUL-terminated), or NULL */
    size_t body_len;        /* its length */
    double read_timeout;    /* for the body's reads */
    double deadline;        /* total deadline (loop time) */
    cio__hc_inflate *z;     /* decoder, or NULL */
    char *zbuf;             /* compressed bytes waiting for the decoder */
    size_t zoff;            /* unread part: zbuf[zoff, zoff + zlen) */
    size_t zlen;
    int zfinished;          /* the compressed stream ended */
};

#define ZBUF_SIZE 16384u

int cio__hc_reply_new(cio_http_client *c, cio__hc_conn *k, const char *head, size_t head_len,
                      const char *url, cio_http_reply **out)
{
    (void)c;
    (void)head_len;
    const cio__http_parser *p = &k->p;
    size_t strings = p->reason.len + 1 + strlen(url) + 1;
    for (uint32_t i = 0; i < p->nheaders; i++)
        strings += p->headers[i].name.len + p->headers[i].value.len + 2;
    size_t size = sizeof(cio_http_reply) + p->nheaders * sizeof(field) + strings;
    cio_http_reply *r = cio__calloc(1, size);
    if (!r)
        return -ENOMEM;
    r->status = p->status;
    r->fields = (field *)(r + 1);
    r->nfields = p->nheaders;
    char *s = (char *)(r->fields + p->nheaders);
#define PUT(dst, src, n)                                                                   \
    do {                                                                                   \
        memcpy(s, (src), (n));                                                             \
        s[n] = 0;                                                                          \
        (dst) = s;                                                                         \
        s += (n) + 1;                                                                      \
    } while (0)
    PUT(r->reason, head + p->reason.off, p->reason.len);
    PUT(r->url, url, strlen(url));
    for (uint32_t i = 0; i < p->nheaders; i++) {
        const cio__http_header *h = &p->headers[i];
        PUT(r->fields[i].name, head + h->name.off, h->name.len);
        PUT(r->fields[i].value, head + h->value.off, h->value.len);
    }
#undef PUT
    *out = r;
    return 0;
}

/* ---- the body --------------------------------------------------------------- */

/* The body ended (err 0) or failed: the connection goes back to the pool
 * (clean only after a complete keep-alive message) or is closed. */
static void finish(cio_http_reply *r, int err)
{
    cio__hc_conn *k = r->k;
    r->k = NULL;
    if (err < 0)
        r->err = err;
    else
        r->done = 1;
    if (k) {
        int clean = err == 0 && k->p.phase == CIO__HTTP_PH_DONE &&
                    (k->p.flags & CIO__HTTP_F_KEEP_ALIVE);
        cio__hc_pool_release(k, clean);
    }
}

void cio__hc_reply_attach(cio_http_reply *r, cio__hc_conn *k, double read_timeout,
                          double deadline, int decode)
{
    r->k = k;
    r->read_timeout = read_timeout;
    r->deadline = deadline;
    if (decode && k->p.body != CIO__HTTP_BODY_NONE) {
        const char *ce = cio_http_reply_header(r, "content-encoding");
        if (ce && cio__hc_inflate_new(ce, strlen(ce), &r->z) < 0)
            r->z = NULL; /* no memory for a decoder: the body comes as sent */
    }
    if (k->p.phase == CIO__HTTP_PH_DONE)
        finish(r, 0);
}

/* Body data as sent (framing removed, not decoded) into out[0, cap):
 * count > 0, 0 at the end of the body, or a negative code. */
static int fill(cio_http_reply *r, char *out, size_t cap)
{
    cio__hc_conn *k = r->k;
    for (;;) {
        if (k->p.phase == CIO__HTTP_PH_DONE)
            return 0;
        size_t avail = k->len - k->start;
        if (avail) {
            size_t n = k->p.phase == CIO__HTTP_PH_TRAILER || avail < cap ? avail : cap;
            cio__http_data d;
            int c = cio__http_parse_body(&k->p, k->buf + k->start, n, &d);
            if (c < 0)
                return c;
            if (d.len)
                memcpy(out, k->buf + k->start + d.off, d.len);
            cio__hc_conn_consume(k, (size_t)c);
            if (d.len)
                return (int)d.len;
            if (c > 0)
                continue;
        }
        if (k->lost && k->err < 0)
            return k->err; /* a reset is never a clean end, even for a
                              close-delimited body */
        if (k->eof || k->lost) {
            int e = cio__http_parse_eof(&k->p);
            return e < 0 ? e : 0;
        }
        int rc = cio__hc_conn_wait(k, r->read_timeout, r->deadline);
        if (rc < 0)
            return rc;
    }
}

/* Decoded body data into out[0, cap); as fill. */
static int read_decoded(cio_http_reply *r, char *out, size_t cap)
{
    if (!r->zbuf && !(r->zbuf = cio__malloc(ZBUF_SIZE)))
        return -ENOMEM;
    for (;;) {
        if (r->zlen == 0) {
            int n = fill(r, r->zbuf, ZBUF_SIZE);
            if (n <= 0)
                return n < 0 ? n : r->zfinished ? 0 : -EPROTO; /* cut short */
            r->zoff = 0;
            r->zlen = (size_t)n;
        }
        if (r->zfinished) {
            r->zlen = 0; /* data after the compressed stream: dropped */
            continue;
        }
        const char *in = r->zbuf + r->zoff;
        size_t inlen = r->zlen;
        int n = cio__hc_inflate_run(r->z, &in, &inlen, out, cap, &r->zfinished);
        if (n < 0)
            return n;
        size_t used = r->zlen - inlen;
        r->zoff += used;
        r->zlen = inlen;
        if (n > 0)
            return n;
        if (used == 0 && !r->zfinished)
            return -EPROTO; /* no progress: corrupt */
    }
}

/* One read of decoded data; ends or fails the body as it goes. */
static int read_some(cio_http_reply *r, char *out, size_t cap)
{
    if (r->err)
        return r->err;
    if (r->done || !r->k)
        return 0;
    int n = r->z ? read_decoded(r, out, cap) : fill(r, out, cap);
    if (n <= 0)
        finish(r, n);
    return n;
}

int cio__hc_reply_buffer(cio_http_reply *r, size_t max_body)
{
    size_t cap = 16384;
    cio__hc_conn *k = r->k;
    if (k && !r->z && k->p.body == CIO__HTTP_BODY_LENGTH) {
        if (k->p.content_length > max_body) {
            finish(r, CIO_ELIMIT);
            return CIO_ELIMIT;
        }
        cap = (size_t)k->p.content_length + 1;
    }
    r->body = cio__malloc(cap);
    if (!r->body) {
        finish(r, -ENOMEM);
        return -ENOMEM;
    }
    size_t len = 0;
    for (;;) {
        if (cap - len < 2) {
            char *nb = cap * 2 > max_body + 2 ? NULL : cio__realloc(r->body, cap * 2);
            if (!nb && cap < max_body + 2)
                nb = cio__realloc(r->body, max_body + 2);
            if (!nb) {
                int e = cap >= max_body + 2 ? CIO_ELIMIT : -ENOMEM;
                finish(r, e);
                return e;
            }
            r->body = nb;
            cap = cap * 2 > max_body + 2 ? max_body + 2 : cap * 2;
        }
        int n = read_some(r, r->body + len, cap - len - 1);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max_body) {
            finish(r, CIO_ELIMIT);
            return CIO_ELIMIT;
        }
    }
    r->body[len] = 0;
    r->body_len = len;
    return 0;
}

void cio__hc_reply_discard_body(cio_http_reply *r, size_t limit)
{
    char tmp[4096];
    size_t got = 0;
    while (r->k && got <= limit) {
        int n = read_some(r, tmp, sizeof tmp);
        if (n <= 0)
            return;
        got += (size_t)n;
    }
    if (r->k)
        finish(r, CIO_ELIMIT); /* too much to drain: close instead */
}

/* ---- the public accessors --------------------------------------------------- */

int cio_http_reply_read(cio_http_reply *r, void *buf, size_t cap)
{
    if (!r || !buf || cap == 0)
        return -EINVAL;
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    return read_some(r, buf, cap);
}

int cio_http_reply_status(const cio_http_reply *r) { return r ? r->status : -EINVAL; }

const char *cio_http_reply_reason(const cio_http_reply *r) { return r ? r->reason : NULL; }

const char *cio_http_reply_url(const cio_http_reply *r) { return r ? r->url : NULL; }

const char *cio_http_reply_header(const cio_http_reply *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nfields; i++)
        if (strcasecmp(r->fields[i].name, name) == 0)
            return r->fields[i].value;
    return NULL;
}

size_t cio_http_reply_header_count(const cio_http_reply *r) { return r ? r->nfields : 0; }

int cio_http_reply_header_at(const cio_http_reply *r, size_t i, const char **name,
                             const char **value)
{
    if (!r || !name || !value || i >= r->nfields)
        return -EINVAL;
    *name = r->fields[i].name;
    *value = r->fields[i].value;
    return 0;
}

const char *cio_http_reply_body(const cio_http_reply *r, size_t *len)
{
    if (!r)
        return NULL;
    if (len)
        *len = r->body ? r->body_len : 0;
    return r->body ? r->body : "";
}

int cio_http_reply_is_json(const cio_http_reply *r)
{
    const char *ct = cio_http_reply_header(r, "content-type");
    if (!ct)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (cio__hc_name_eq(ct, n, "application/json"))
        return 1;
    const char *slash = memchr(ct, '/', n);
    return slash && n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

void cio_http_reply_free(cio_http_reply *r)
{
    if (!r)
        return;
    if (r->k) {
        /* Read to its end already (the caller skipped the final 0)? */
        cio__hc_conn *k = r->k;
        finish(r, k->p.phase == CIO__HTTP_PH_DONE ? 0 : -ECANCELED);
    }
    cio__hc_inflate_free(r->z);
    cio__free(r->zbuf);
    cio__free(r->body);
    cio__free(r);
}
