/*
 * request.c - what a handler reads of its request: method, target, path,
 * headers (case-insensitive lookup over the parser's field slices), the
 * query (decoded in place at first use), the buffered body, and the
 * streamed body (cio_http_request_read, which waits for bytes in a task);
 * and, for the server's connection (server_conn.c), binding a parsed head
 * to the request.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "server.h"

const char *cio_http_request_method(const cio_http_request *req)
{
    return req ? req->method : NULL;
}

const char *cio_http_request_target(const cio_http_request *req)
{
    return req ? req->target : NULL;
}

const char *cio_http_request_path(const cio_http_request *req)
{
    return req ? req->path : NULL;
}

int cio_http_request_version(const cio_http_request *req)
{
    return req ? req->version : -EINVAL;
}

const char *cio_http_request_header(const cio_http_request *req, const char *name)
{
    if (!req || !name || !req->conn)
        return NULL;
    const cio__http_conn *c = req->conn;
    const cio__http_parser *p = &c->parser;
    size_t n = strlen(name);
    for (uint32_t i = 0; i < p->nheaders; i++) {
        const cio__http_header *h = &c->hdrs[i];
        if (h->name.len == n && strncasecmp(req->head + h->name.off, name, n) == 0)
            return req->head + h->value.off;
    }
    return NULL;
}

size_t cio_http_request_header_count(const cio_http_request *req)
{
    return req && req->conn ? req->conn->parser.nheaders : 0;
}

int cio_http_request_header_at(const cio_http_request *req, size_t i, const char **name,
                               const char **value)
{
    if (!req || !req->conn || !name || !value)
        return -EINVAL;
    const cio__http_conn *c = req->conn;
    if (i >= c->parser.nheaders)
        return -ENOENT;
    *name = req->head + c->hdrs[i].name.off;
    *value = req->head + c->hdrs[i].value.off;
    return 0;
}

/* Decodes the query in place into "name\0value\0" pairs. */
static void decode_query(cio_http_request *req)
{
    req->query_decoded = 1;
    if (!req->query)
        return;
    char *s = req->query;
    size_t n = strlen(s), o = 0, i = 0;
    while (i <= n) {
        size_t end = i + strcspn(s + i, "&");
        size_t eq = i + strcspn(s + i, "=&");
        if (end > i) { /* skip empty pieces ("a&&b") */
            size_t nl, vl = 0;
            char *name = s + i, *val = eq < end ? s + eq + 1 : s + end;
            nl = cio__http_pct_decode(name, (eq < end ? eq : end) - i, 1);
            if (eq < end)
                vl = cio__http_pct_decode(val, end - eq - 1, 1);
            memmove(s + o, name, nl);
            o += nl;
            s[o++] = 0;
            memmove(s + o, val, vl);
            o += vl;
            s[o++] = 0;
        }
        i = end + 1;
    }
    req->query_len = o;
}

const char *cio_http_request_query(cio_http_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    if (!req->query_decoded)
        decode_query(req);
    if (!req->query)
        return NULL;
    const char *s = req->query, *end = req->query + req->query_len;
    while (s < end) {
        const char *v = s + strlen(s) + 1;
        if (strcmp(s, name) == 0)
            return v;
        s = v + strlen(v) + 1;
    }
    return NULL;
}

const char *cio_http_request_body(const cio_http_request *req, size_t *len)
{
    if (len)
        *len = req ? req->body_len : 0;
    return req && req->body_len ? req->body : NULL;
}

int cio_http_request_read(cio_http_request *req, void *buf, size_t len)
{
    if (!req || !req->conn || (!buf && len))
        return -EINVAL;
    cio__http_conn *c = req->conn;
    if (!req->streaming_body) {
        size_t n = req->body_len - req->body_read;
        if (n > len)
            n = len;
        if (n) /* a request without a body has no body pointer */
            memcpy(buf, req->body + req->body_read, n);
        req->body_read += n;
        return (int)n;
    }
    if (len > INT32_MAX)
        len = INT32_MAX;
    if (req->want_continue && !c->lost) {
        req->want_continue = 0;
        cio__http_write_now(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    for (;;) {
        size_t n = cio__http_body_take(c, buf, len);
        if (n) {
            req->body_read += n;
            return (int)n;
        }
        if (c->body_err)
            return c->body_err;
        if (c->parser.phase == CIO__HTTP_PH_DONE)
            return 0;
        if (c->lost)
            return CIO_EINCOMPLETE;
        cio_future *f;
        int rc = cio_future_new(c->srv->loop, &f);
        if (rc < 0)
            return rc;
        cio_future_ref(f);
        c->wake = f;
        double tmo = c->srv->opts.body_timeout;
        rc = cio_wait_for(f, tmo > 0 ? tmo : INFINITY, NULL);
        if (c->wake == f) {
            c->wake = NULL;
            cio_future_unref(f);
        }
        cio_future_unref(f);
        if (rc == CIO_ECLOSED)
            return CIO_EINCOMPLETE;
        if (rc < 0 && rc != CIO_ELIMIT && rc != -EPROTO && rc != CIO_EINCOMPLETE)
            return rc;
    }
}

int cio_http_request_peer(const cio_http_request *req, struct sockaddr *addr, socklen_t *len)
{
    if (!req || !req->conn || !addr || !len)
        return -EINVAL;
    cio__http_conn *c = req->conn;
    if (c->lost)
        return CIO_ECLOSED;
    /* asked per request (an ASGI scope's client): the address is the
     * connection's, kept after the first getpeername */
    if (!c->peer_len) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int rc = cio_transport_peername(c->t, (struct sockaddr *)&ss, &sl);
        if (rc < 0 || sl > sizeof c->peer) {
            if (rc == 0)
                memcpy(addr, &ss, sl < *len ? sl : *len);
            *len = sl;
            return rc;
        }
        memcpy(&c->peer, &ss, sl);
        c->peer_len = sl;
    }
    memcpy(addr, &c->peer, c->peer_len < *len ? c->peer_len : *len);
    *len = c->peer_len;
    return 0;
}

int cio_http_request_disconnected(const cio_http_request *req)
{
    return req && req->conn ? req->conn->lost : 1;
}

int cio_http_request_abort(cio_http_request *req)
{
    if (!req || !req->conn)
        return -EINVAL;
    /* aborted: its loss may already be on its way (the peer's EOF), when
     * the transport does not say it is closing yet */
    if (req->conn->lost || req->conn->aborted || cio_transport_is_closing(req->conn->t))
        return CIO_ECLOSED;
    req->conn->aborted = 1;
    /* connection_lost follows (it cancels the handler and takes the
     * connection out of the server) */
    cio_transport_abort(req->conn->t);
    return 0;
}

/* ---- binding a parsed head (server_conn.c) ------------------------------------ */

/* (server.h) */
void cio__http_request_bind(cio__http_conn *c, char *base)
{
    cio__http_parser *p = &c->parser;
    cio_http_request *req = &c->req;
    req->head = base;
    base[p->method_s.off + p->method_s.len] = 0;
    base[p->target.off + p->target.len] = 0;
    req->method = base + p->method_s.off;
    req->target = base + p->target.off;
    for (uint32_t i = 0; i < p->nheaders; i++) {
        base[c->hdrs[i].name.off + c->hdrs[i].name.len] = 0;
        base[c->hdrs[i].value.off + c->hdrs[i].value.len] = 0;
    }
    char *q = memchr(base + p->target.off, '?', p->target.len);
    req->query = q ? q + 1 : NULL;
    req->query_decoded = 0;
}

int cio__http_request_split(cio_http_request *req, size_t tlen)
{
    const char *t = req->target;
    if (t[0] != '/') {
        /* absolute-form (RFC 9112 §3.2.2): keep the path of it */
        if (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0) {
            const char *s = strchr(t + (t[4] == 's' ? 8 : 7), '/');
            t = s ? s : "/";
            tlen = strlen(t);
        } else if (!(t[0] == '*' && t[1] == 0 && req->method_id == CIO__HTTP_OPTIONS)) {
            return 400;
        }
    }
    const char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    /* the path, then as much room again for decoded parameters */
    size_t need = 2 * plen + 2;
    if (req->pbuf_cap < need) {
        size_t cap = need < 256 ? 256 : need;
        char *nb = cio__malloc(cap);
        if (!nb)
            return 503;
        cio__free(req->pbuf);
        req->pbuf = nb;
        req->pbuf_cap = cap;
    }
    memcpy(req->pbuf, t, plen);
    req->pbuf[plen] = 0;
    req->path = req->pbuf;
    return 0;
}

int cio__http_accepts_gzip(cio__http_conn *c)
{
    int i = cio__http_find_header(&c->parser, c->req.head, "accept-encoding", 0);
    if (i < 0)
        return 0;
    const char *v = c->req.head + c->hdrs[i].value.off;
    const char *g = strstr(v, "gzip");
    if (!g)
        return 0;
    /* "gzip;q=0" refuses it */
    const char *semi = g + 4;
    while (*semi == ' ')
        semi++;
    if (*semi == ';') {
        const char *qv = strstr(semi, "q=");
        if (qv && (qv[2] == '0') && (qv[3] != '.' || strspn(qv + 4, "0") == strcspn(qv + 4, ", ")))
            return 0;
    }
    return 1;
}
