/*
 * router.c - routes: a method and a path pattern per handler, matched in
 * the order they were added.  Patterns are literal segments, "{name}" for
 * one non-empty segment and a last "{name...}" for the rest of the path.
 * Matching walks the raw (still percent-encoded) path, so an encoded "/"
 * inside a parameter stays inside it; the captured values are decoded
 * afterwards into the request's own storage.
 */
#include <string.h>
#include <strings.h>

#include "server.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t cio__http_pct_decode(char *s, size_t n, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
            (l = hexval((unsigned char)s[i + 2])) >= 0) {
            s[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (plus && s[i] == '+') {
            s[o++] = ' ';
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

/* Checks a pattern: starts with '/', braces well formed, "..." only last. */
static int pattern_ok(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (const char *s = p; *s; s++) {
        if (*s == '}')
            return 0;
        if (*s != '{')
            continue;
        if (s[-1] != '/')
            return 0;
        const char *e = strchr(s, '}');
        if (!e || e == s + 1 || memchr(s + 1, '{', (size_t)(e - s - 1)) ||
            memchr(s + 1, '/', (size_t)(e - s - 1)))
            return 0;
        int rest = e - s > 4 && memcmp(e - 3, "...", 3) == 0;
        if (rest ? e[1] != 0 : (e[1] != 0 && e[1] != '/'))
            return 0;
        s = e;
    }
    return 1;
}

int cio_http_server_route(cio_http_server *srv, const char *method, const char *pattern,
                          cio_http_handler_fn *handler, void *ud, int flags)
{
    if (!srv || !method || !*method || !pattern || !handler || !pattern_ok(pattern) ||
        (flags & ~(CIO_HTTP_INLINE | CIO_HTTP_STREAM_BODY | CIO_HTTP_WATCH_CLOSE)))
        return cio__bad_arg_debug(-1, "cio_http_server_route", "bad method, pattern or flags");
    if (srv->nroutes == srv->route_cap) {
        size_t ncap = srv->route_cap ? srv->route_cap * 2 : 8;
        cio__http_route *r = cio__realloc(srv->routes, ncap * sizeof *r);
        if (!r)
            return -ENOMEM;
        srv->routes = r;
        srv->route_cap = ncap;
    }
    char *m = cio__strdup(method), *p = cio__strdup(pattern);
    if (!m || !p) {
        cio__free(m);
        cio__free(p);
        return -ENOMEM;
    }
    srv->routes[srv->nroutes++] =
        (cio__http_route){.method = m, .pattern = p, .handler = handler, .ud = ud, .flags = flags};
    return 0;
}

/*
 * Matches path against pattern; on success records the parameters (raw
 * slices of path) in req and returns 1.
 */
static int match(const char *pat, const char *path, cio_http_request *req,
                 const char **vals, size_t *vlens)
{
    int np = 0;
    while (*pat) {
        if (*pat == '{') {
            const char *e = strchr(pat, '}');
            int rest = memcmp(e - 3, "...", 3) == 0;
            size_t n = rest ? strlen(path) : strcspn(path, "/");
            if (!rest && n == 0)
                return 0;
            if (np < CIO__HTTP_MAX_PARAMS) {
                req->pnames[np] = pat + 1;
                req->pname_len[np] = (size_t)(e - pat - 1) - (rest ? 3 : 0);
                vals[np] = path;
                vlens[np] = n;
                np++;
            }
            path += n;
            pat = e + 1;
            continue;
        }
        if (*pat != *path)
            return 0;
        pat++;
        path++;
    }
    if (*path)
        return 0;
    req->nparams = np;
    return 1;
}

static int method_matches(const cio__http_route *r, const cio_http_request *req)
{
    if (r->method[0] == '*' && !r->method[1])
        return 1;
    if (strcmp(r->method, req->method) == 0)
        return 1;
    return req->is_head && strcmp(r->method, "GET") == 0;
}

int cio__http_route_match(cio_http_server *srv, cio_http_request *req, cio__http_buf *allow)
{
    const char *vals[CIO__HTTP_MAX_PARAMS];
    size_t vlens[CIO__HTTP_MAX_PARAMS];
    int path_seen = 0;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const cio__http_route *r = &srv->routes[i];
        if (!match(r->pattern, req->path, req, vals, vlens))
            continue;
        if (!method_matches(r, req)) {
            /* 405 lists the methods that would have matched */
            if (!strstr(allow->data ? allow->data : "", r->method) ||
                !allow->len) {
                if (allow->len)
                    cio__http_buf_add(allow, ", ", 2);
                cio__http_buf_adds(allow, r->method);
                if (strcmp(r->method, "GET") == 0)
                    cio__http_buf_add(allow, ", HEAD", 6);
                cio__http_buf_reserve(allow, 1);
                allow->data[allow->len] = 0;
            }
            path_seen = 1;
            continue;
        }
        req->route = r;
        /* decode the values into pbuf after the path (they fit: decoding
         * never grows, and pbuf holds twice the path) */
        char *dst = req->pbuf + strlen(req->pbuf) + 1;
        for (int k = 0; k < req->nparams; k++) {
            memcpy(dst, vals[k], vlens[k]);
            size_t n = cio__http_pct_decode(dst, vlens[k], 0);
            dst[n] = 0;
            req->pvals[k] = dst;
            dst += n + 1;
        }
        return 0;
    }
    req->nparams = 0;
    return path_seen ? 405 : 404;
}

const char *cio_http_request_param(const cio_http_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    size_t n = strlen(name);
    for (int k = 0; k < req->nparams; k++)
        if (req->pname_len[k] == n && memcmp(req->pnames[k], name, n) == 0)
            return req->pvals[k];
    return NULL;
}
