/*
 * url.c - parsing absolute http(s) URLs and resolving references against
 * them (the rules are listed in url.h).
 *
 * Divided as: a small string builder; the checks of each part (scheme,
 * host, port, path and query with percent-encoding); dot-segment removal;
 * parse; resolve.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "../util/internal.h"
#include "url.h"

/* ---- a growable string ------------------------------------------------ */

typedef struct sbuf {
    char *p;    /* the bytes (NUL-terminated while ok) */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int err;    /* -ENOMEM once an allocation failed */
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = cio__realloc(b->p, cap);
        if (!np) {
            b->err = -ENOMEM;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* ---- character rules ---------------------------------------------------- */

static int is_alpha(unsigned c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }
static int is_hex(unsigned c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

/* reg-name characters: unreserved and sub-delims (no '%': percent-encoded
 * host names are refused, as curl does). */
static int is_regname(unsigned c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("-._~!$&'()*+,;=", (int)c));
}

/* Path and query bytes that are encoded rather than refused. */
static int must_encode(unsigned c) { return c >= 0x80 || (c && strchr("\"<>\\^`{|}", (int)c)); }

/* Appends s[0, n) (a path or a query) with the encoding rules; -EINVAL for
 * a control byte, space or a bad escape. */
static int add_encoded(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return -EINVAL;
        if (c == '%' && (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                         !is_hex((unsigned char)s[i + 2])))
            return -EINVAL;
        if (must_encode(c)) {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_add(b, e, 3);
        } else {
            sb_add(b, s + i, 1);
        }
    }
    return 0;
}

/*
 * RFC 3986 §5.2.4 remove_dot_segments over the path p[0, *n), in place
 * (the output is never longer than the input).  The path starts with '/'.
 */
static void remove_dots(char *p, size_t *n)
{
    size_t in = 0, out = 0, len = *n;
    while (in < len) {
        /* the segment starting at p[in] (a '/'), up to the next '/' */
        size_t end = in + 1;
        while (end < len && p[end] != '/')
            end++;
        size_t sl = end - in - 1;
        const char *seg = p + in + 1;
        if (sl == 1 && seg[0] == '.') {
            if (end == len)
                p[out++] = '/'; /* "/a/." is "/a/" */
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > 0 && p[--out] != '/')
                ;
            if (end == len)
                p[out++] = '/';
        } else {
            memmove(p + out, p + in, end - in);
            out += end - in;
        }
        in = end;
    }
    if (out == 0)
        p[out++] = '/';
    *n = out;
}

/* ---- parse ------------------------------------------------------------------- */

int cio__url_parse(cio__url *u, const char *s)
{
    if (!u || !s)
        return -EINVAL;
    memset(u, 0, sizeof *u);
    /* scheme */
    size_t i = 0;
    if (!is_alpha((unsigned char)s[0]))
        return -EINVAL;
    while (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '+' ||
           s[i] == '-' || s[i] == '.')
        i++;
    if (s[i] != ':')
        return -EINVAL;
    int tls;
    if (i == 4 && strncasecmp(s, "http", 4) == 0)
        tls = 0;
    else if (i == 5 && strncasecmp(s, "https", 5) == 0)
        tls = 1;
    else
        return strncmp(s + i, "://", 3) == 0 ? -ENOTSUP : -EINVAL;
    if (strncmp(s + i, "://", 3) != 0)
        return -EINVAL;
    const char *a = s + i + 3;
    size_t alen = strcspn(a, "/?#");
    const char *rest = a + alen;

    /* host and port */
    char host[256];
    size_t hlen = 0;
    int ipv6 = 0;
    const char *pp = NULL; /* the port's digits, if a ':' follows the host */
    if (alen > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close || (size_t)(close - a - 1) >= sizeof host)
            return -EINVAL;
        hlen = (size_t)(close - a - 1);
        memcpy(host, a + 1, hlen);
        host[hlen] = 0;
        unsigned char bin[16];
        if (hlen == 0 || inet_pton(AF_INET6, host, bin) != 1)
            return -EINVAL;
        ipv6 = 1;
        const char *after = close + 1;
        if (after < a + alen) {
            if (*after != ':')
                return -EINVAL;
            pp = after + 1;
        }
    } else {
        while (hlen < alen && a[hlen] != ':') {
            unsigned c = (unsigned char)a[hlen];
            if (c == '@' || !is_regname(c))
                return -EINVAL;
            hlen++;
        }
        if (hlen == 0 || hlen >= sizeof host)
            return -EINVAL;
        for (size_t k = 0; k < hlen; k++)
            host[k] = (char)(a[k] >= 'A' && a[k] <= 'Z' ? a[k] | 0x20 : a[k]);
        host[hlen] = 0;
        if (hlen < alen)
            pp = a + hlen + 1;
    }
    int port = tls ? 443 : 80;
    if (pp) {
        size_t plen = (size_t)(a + alen - pp);
        if (plen > 0) {
            long v = 0;
            for (size_t k = 0; k < plen; k++) {
                if (!is_digit((unsigned char)pp[k]) || k >= 5)
                    return -EINVAL;
                v = v * 10 + (pp[k] - '0');
            }
            if (v < 1 || v > 65535)
                return -EINVAL;
            port = (int)v;
        }
    }
    int defport = port == (tls ? 443 : 80);

    /* path and query, encoded; then dot segments removed from the path */
    sbuf path = {0};
    size_t plen = strcspn(rest, "?#");
    int rc = 0;
    if (plen == 0 || rest[0] != '/')
        sb_add(&path, "/", 1);
    rc = add_encoded(&path, rest, plen);
    if (!rc && !path.err) {
        size_t n = path.len;
        remove_dots(path.p, &n);
        path.len = n;
        path.p[n] = 0;
    }
    if (!rc && rest[plen] == '?') {
        const char *q = rest + plen;
        size_t qlen = strcspn(q, "#");
        rc = add_encoded(&path, q, qlen);
    }
    if (rc || path.err) {
        cio__free(path.p);
        return rc ? rc : path.err;
    }

    /* one allocation: href, authority, origin, host, target */
    char auth[300];
    if (defport)
        snprintf(auth, sizeof auth, ipv6 ? "[%s]" : "%s", host);
    else
        snprintf(auth, sizeof auth, ipv6 ? "[%s]:%d" : "%s:%d", host, port);
    const char *sch = tls ? "https" : "http";
    sbuf b = {0};
    sb_str(&b, sch);
    sb_str(&b, "://");
    sb_str(&b, auth);
    size_t target_off = b.len;
    sb_add(&b, path.p, path.len);
    size_t auth_off = b.len + 1;
    sb_add(&b, "", 1);
    sb_str(&b, auth);
    size_t origin_off = b.len + 1;
    sb_add(&b, "", 1);
    char org[320];
    snprintf(org, sizeof org, ipv6 ? "%s://[%s]:%d" : "%s://%s:%d", sch, host, port);
    sb_str(&b, org);
    size_t host_off = b.len + 1;
    sb_add(&b, "", 1);
    sb_str(&b, host);
    size_t target2_off = b.len + 1;
    sb_add(&b, "", 1);
    sb_add(&b, b.err ? "" : b.p + target_off, b.err ? 0 : path.len);
    cio__free(path.p);
    if (b.err) {
        cio__free(b.p);
        return -ENOMEM;
    }
    u->buf = b.p;
    u->href = b.p;
    u->scheme = tls ? "https" : "http";
    u->authority = b.p + auth_off;
    u->origin = b.p + origin_off;
    u->host = b.p + host_off;
    u->target = b.p + target2_off;
    u->port = port;
    u->tls = tls;
    return 0;
}

/* ---- resolve ------------------------------------------------------------ */

int cio__url_resolve(cio__url *u, const cio__url *base, const char *ref, size_t n)
{
    if (!u || !base || !ref)
        return -EINVAL;
    /* trim surrounding whitespace, as browsers do for Location */
    while (n && (ref[0] == ' ' || ref[0] == '\t'))
        ref++, n--;
    while (n && (ref[n - 1] == ' ' || ref[n - 1] == '\t'))
        n--;
    if (memchr(ref, 0, n))
        return -EINVAL;
    size_t k = 0;
    while (k < n && (is_alpha((unsigned char)ref[k]) || (k && (is_digit((unsigned char)ref[k]) ||
                                                              ref[k] == '+' || ref[k] == '-' ||
                                                              ref[k] == '.'))))
        k++;
    sbuf b = {0};
    if (k > 0 && k < n && ref[k] == ':') {
        sb_add(&b, ref, n); /* absolute */
    } else if (n >= 2 && ref[0] == '/' && ref[1] == '/') {
        sb_str(&b, base->scheme);
        sb_add(&b, ":", 1);
        sb_add(&b, ref, n);
    } else {
        sb_str(&b, base->scheme);
        sb_add(&b, "://", 3);
        sb_str(&b, base->authority);
        const char *bq = strchr(base->target, '?');
        size_t bpath = bq ? (size_t)(bq - base->target) : strlen(base->target);
        if (n == 0 || ref[0] == '#') {
            sb_str(&b, base->target);
        } else if (ref[0] == '/') {
            sb_add(&b, ref, n);
        } else if (ref[0] == '?') {
            sb_add(&b, base->target, bpath);
            sb_add(&b, ref, n);
        } else {
            /* merge: the base path up to its last '/', then ref */
            size_t dir = bpath;
            while (dir > 0 && base->target[dir - 1] != '/')
                dir--;
            sb_add(&b, base->target, dir);
            sb_add(&b, ref, n);
        }
    }
    if (b.err) {
        cio__free(b.p);
        return -ENOMEM;
    }
    int rc = cio__url_parse(u, b.p);
    cio__free(b.p);
    return rc;
}

void cio__url_free(cio__url *u)
{
    if (!u)
        return;
    cio__free(u->buf);
    memset(u, 0, sizeof *u);
}

int cio__url_same_origin(const cio__url *a, const cio__url *b)
{
    return strcmp(a->origin, b->origin) == 0;
}
