/*
 * http_driver.h - feeds bytes to the HTTP parser the way a transport
 * would, and writes down what came out as a text trace, so tests and fuzz
 * targets can compare one feeding pattern with another (whole buffer, one
 * byte at a time, random splits: the traces must be equal).
 *
 * The unconsumed bytes always sit at the end of a mapping followed by a
 * PROT_NONE page, and they move with every feed (the parser's buffer
 * contract allows it), so any read past the end or any stale offset
 * crashes or shows in the trace.  Header-only, shared by
 * tests/test_http_parser.c and the fuzz targets; HD_CHECK(cond) reports a
 * broken invariant (a test failure, or abort() in a fuzz target).
 *
 * Trace lines: "REQ method target 1.m flags body cl {name: value}..." or
 * "RES status reason ..." for a head, "B:" then the body's data (escaped,
 * so pieces concatenate the same whatever the splits), "T {trailers}",
 * "D" at the end of a message, "E<status> <reason>" on failure, "EOF".
 */
#ifndef CIO_TEST_HTTP_DRIVER_H
#define CIO_TEST_HTTP_DRIVER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/parser.h"

#ifndef HD_CHECK
#define HD_CHECK(cond)                                                                 \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)
#endif

#define HD_HEADERS 128

/* A growable text trace. */
struct hd_trace {
    char *s;    /* NUL-terminated text */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
};

static inline void hd_put(struct hd_trace *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *ns = realloc(t->s, cap);
        if (!ns)
            abort();
        t->s = ns;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

static inline void hd_puts(struct hd_trace *t, const char *s)
{
    hd_put(t, s, strlen(s));
}

/* Bytes, printable ASCII as is, the rest as \xNN. */
static inline void hd_put_esc(struct hd_trace *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            hd_put(t, (const char *)&c, 1);
        } else {
            snprintf(e, sizeof(e), "\\x%02x", c);
            hd_puts(t, e);
        }
    }
}

/* The mapping that ends at a guard page, reused across drivers. */
struct hd_region {
    unsigned char *base; /* start of the readable part */
    size_t size;         /* readable bytes; the guard page follows */
};

static inline unsigned char *hd_guard(size_t need)
{
    static struct hd_region r;
    if (r.size < need) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        if (r.base)
            munmap(r.base, r.size + page);
        size_t size = (need + page - 1) / page * page;
        void *m = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED)
            abort();
        if (mprotect((char *)m + size, page, PROT_NONE) != 0)
            abort();
        r.base = m;
        r.size = size;
    }
    return r.base + r.size;
}

/* A driver: one parser over one simulated connection. */
struct hd {
    cio__http_parser p;                 /* the parser under test */
    cio__http_header hdrs[HD_HEADERS];  /* its field array */
    unsigned char *guard;               /* first byte of the PROT_NONE page */
    size_t cap;                         /* bytes that fit before the guard */
    size_t pend;                        /* unconsumed bytes, at guard - pend */
    int stopped;                        /* error, tunnel or close: no more */
    int in_body;                        /* a "B:" line is open */
    const char *methods;                /* response parser: request methods,
                                           one letter each (G, H, C) */
    size_t nmsg;                        /* messages finished */
    struct hd_trace t;                  /* what came out */
};

static inline void hd_set_method(struct hd *d)
{
    int m = CIO__HTTP_GET;
    if (d->methods && d->methods[0]) {
        char c = d->methods[d->nmsg % strlen(d->methods)];
        m = c == 'H' ? CIO__HTTP_HEAD : c == 'C' ? CIO__HTTP_CONNECT : CIO__HTTP_GET;
    }
    cio__http_parser_set_request_method(&d->p, m);
}

/* Sets up d for kind, limits (NULL: defaults) and inputs of up to cap
 * bytes pending at once. */
static inline void hd_init(struct hd *d, int kind, const cio__http_limits *lim, size_t cap,
                           const char *methods)
{
    memset(d, 0, sizeof(*d));
    HD_CHECK(cio__http_parser_init(&d->p, kind, lim, d->hdrs, HD_HEADERS) == 0);
    d->cap = cap;
    d->guard = hd_guard(cap);
    d->methods = methods;
    hd_set_method(d);
}

static inline void hd_free(struct hd *d)
{
    free(d->t.s);
    d->t.s = NULL;
}

static inline void hd_close_body(struct hd *d)
{
    if (d->in_body) {
        hd_puts(&d->t, "\n");
        d->in_body = 0;
    }
}

static inline void hd_put_fields(struct hd *d, const char *buf, uint32_t from, uint32_t n,
                                 size_t limit)
{
    for (uint32_t k = from; k < from + n; k++) {
        const cio__http_header *h = &d->p.headers[k];
        HD_CHECK(h->name.len > 0 && (size_t)h->name.off + h->name.len <= limit);
        HD_CHECK((size_t)h->value.off + h->value.len <= limit);
        for (uint32_t j = 0; j < h->name.len; j++)
            HD_CHECK(buf[h->name.off + j] != ':' && (unsigned char)buf[h->name.off + j] > ' ');
        for (uint32_t j = 0; j < h->value.len; j++) {
            unsigned char c = (unsigned char)buf[h->value.off + j];
            HD_CHECK(c != '\r' && c != '\n' && c != 0);
        }
        if (h->value.len) {
            HD_CHECK(buf[h->value.off] != ' ' && buf[h->value.off] != '\t');
            char last = buf[h->value.off + h->value.len - 1];
            HD_CHECK(last != ' ' && last != '\t');
        }
        hd_puts(&d->t, " {");
        hd_put_esc(&d->t, buf + h->name.off, h->name.len);
        hd_puts(&d->t, ": ");
        hd_put_esc(&d->t, buf + h->value.off, h->value.len);
        hd_puts(&d->t, "}");
    }
}

static inline void hd_put_head(struct hd *d, const char *buf, size_t n)
{
    const cio__http_parser *p = &d->p;
    char tmp[160];
    if (p->kind == CIO__HTTP_REQUEST) {
        HD_CHECK((size_t)p->target.off + p->target.len <= n && p->target.len > 0);
        HD_CHECK(p->method_s.len > 0 && (size_t)p->method_s.off + p->method_s.len <= n);
        hd_puts(&d->t, "REQ ");
        hd_put_esc(&d->t, buf + p->method_s.off, p->method_s.len);
        hd_puts(&d->t, " ");
        hd_put_esc(&d->t, buf + p->target.off, p->target.len);
    } else {
        HD_CHECK((size_t)p->reason.off + p->reason.len <= n);
        HD_CHECK(p->status >= 100 && p->status <= 599);
        snprintf(tmp, sizeof(tmp), "RES %u ", p->status);
        hd_puts(&d->t, tmp);
        hd_put_esc(&d->t, buf + p->reason.off, p->reason.len);
    }
    snprintf(tmp, sizeof(tmp), " 1.%u m%u f%x b%u cl%llu h%d u%d", p->version_minor, p->method,
             p->flags, p->body, (unsigned long long)p->content_length, p->host, p->upgrade);
    hd_puts(&d->t, tmp);
    HD_CHECK(p->nheaders <= p->cap);
    hd_put_fields(d, buf, 0, p->nheaders, n);
    hd_puts(&d->t, "\n");
}

static inline void hd_fail(struct hd *d, int r)
{
    const cio__http_parser *p = &d->p;
    char tmp[160];
    HD_CHECK(r == p->err && p->phase == CIO__HTTP_PH_ERROR && p->err_reason);
    HD_CHECK(r == -EPROTO || r == CIO_ELIMIT || r == -ENOTSUP || r == CIO_EINCOMPLETE);
    int st = p->err_status;
    if (p->kind == CIO__HTTP_RESPONSE)
        HD_CHECK(st == 502);
    else
        HD_CHECK(st == 400 || st == 413 || st == 414 || st == 417 || st == 431 || st == 501 ||
                 st == 505);
    hd_close_body(d);
    snprintf(tmp, sizeof(tmp), "E%d %s\n", st, p->err_reason);
    hd_puts(&d->t, tmp);
    d->stopped = 1;
}

static inline void hd_consume(struct hd *d, size_t n)
{
    HD_CHECK(n <= d->pend);
    d->pend -= n;
}

/* A message ended: trace it, then get ready for the next one. */
static inline void hd_message_done(struct hd *d)
{
    hd_close_body(d);
    hd_puts(&d->t, "D\n");
    d->nmsg++;
    int tunnel = d->p.body == CIO__HTTP_BODY_TUNNEL;
    int interim = d->p.kind == CIO__HTTP_RESPONSE && d->p.status < 200 && !tunnel;
    if (tunnel || (!interim && !(d->p.flags & CIO__HTTP_F_KEEP_ALIVE))) {
        d->stopped = 1;
        return;
    }
    cio__http_parser_reset(&d->p);
    if (!interim)
        hd_set_method(d);
}

/* Parses what is pending, as far as it goes. */
static inline void hd_process(struct hd *d)
{
    while (!d->stopped) {
        const char *buf = (const char *)d->guard - d->pend;
        if (d->p.phase == CIO__HTTP_PH_HEAD) {
            int r = cio__http_parse_head(&d->p, buf, d->pend);
            if (r < 0)
                return hd_fail(d, r);
            if (r == 0)
                return;
            HD_CHECK((size_t)r <= d->pend);
            hd_put_head(d, buf, (size_t)r);
            hd_consume(d, (size_t)r);
            if (d->p.phase == CIO__HTTP_PH_DONE)
                hd_message_done(d);
            continue;
        }
        cio__http_data data;
        int r = cio__http_parse_body(&d->p, buf, d->pend, &data);
        if (r < 0)
            return hd_fail(d, r);
        HD_CHECK((size_t)r <= d->pend && data.off + data.len <= (size_t)r);
        if (data.len) {
            if (!d->in_body)
                hd_puts(&d->t, "B:");
            d->in_body = 1;
            hd_put_esc(&d->t, buf + data.off, data.len);
        }
        if (d->p.phase == CIO__HTTP_PH_DONE) {
            if (d->p.ntrailers) {
                hd_close_body(d);
                hd_puts(&d->t, "T");
                hd_put_fields(d, buf, d->p.nheaders, d->p.ntrailers, (size_t)r);
                hd_puts(&d->t, "\n");
            }
            hd_consume(d, (size_t)r);
            hd_message_done(d);
            continue;
        }
        hd_consume(d, (size_t)r);
        if (r == 0)
            return;
    }
}

/* Appends n bytes to the pending ones - moving those, so the parser sees
 * its buffer at a new address - and parses. */
static inline void hd_feed(struct hd *d, const char *s, size_t n)
{
    if (d->stopped)
        return;
    HD_CHECK(d->pend + n <= d->cap);
    unsigned char *start = d->guard - d->pend - n;
    memmove(start, d->guard - d->pend, d->pend);
    memcpy(start + d->pend, s, n);
    d->pend += n;
    hd_process(d);
}

/* The peer closed: how the parser takes it. */
static inline void hd_eof(struct hd *d)
{
    if (d->stopped)
        return;
    int was_close = d->p.phase == CIO__HTTP_PH_BODY && d->p.body == CIO__HTTP_BODY_CLOSE;
    int r = cio__http_parse_eof(&d->p);
    if (r < 0)
        return hd_fail(d, r);
    if (was_close) {
        HD_CHECK(d->p.phase == CIO__HTTP_PH_DONE);
        hd_message_done(d);
    }
    hd_puts(&d->t, "EOF\n");
}

/* A small deterministic PRNG (xorshift64*) for the random splits. */
static inline uint64_t hd_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/*
 * Runs the input through a fresh driver in pieces: step 0 feeds it whole,
 * step 1 one byte at a time, other steps random pieces of 1..step bytes
 * (seeded).  Returns the trace (the caller frees it), eof: end with EOF.
 */
static inline char *hd_run(int kind, const cio__http_limits *lim, const char *methods,
                           const char *in, size_t n, size_t step, uint64_t seed, int eof)
{
    static struct hd d; /* big: keep it off the stack */
    hd_init(&d, kind, lim, n ? n : 1, methods);
    uint64_t s = seed | 1;
    size_t i = 0;
    while (i < n && !d.stopped) {
        size_t k = step == 0 ? n - i : step == 1 ? 1 : 1 + (size_t)(hd_rand(&s) % step);
        if (k > n - i)
            k = n - i;
        hd_feed(&d, in + i, k);
        i += k;
    }
    if (eof)
        hd_eof(&d);
    char *t = d.t.s ? d.t.s : strdup("");
    d.t.s = NULL;
    return t;
}

#endif
