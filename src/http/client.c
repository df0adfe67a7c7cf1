/*
 * client.c - the HTTP/1.1 client (cio/http_client.h): the client object
 * and its options, one request (head written with the body in one
 * writelines, the answer's head read in place), the redirect loop, and
 * the one-call forms.
 *
 * A request: take a slot and a connection from the origin's pool (or
 * open one), write the head and body, read the answer's head, make the
 * reply and hand it the connection for the body.  Every failure after
 * the connection was taken closes it (cio__hc_pool_release(k, 0)), which
 * does not suspend: a cancelled or timed-out request cleans up at once,
 * without a shield, and never leaves a connection in the pool that is in
 * the middle of a message.
 */
#include <math.h>
#include <stdio.h>

#include "chars.h"
#include "client.h"

/* Redirect bodies smaller than this are read so the connection is kept. */
#define REDIRECT_DRAIN 65536u

/* ---- small helpers ----------------------------------------------------------- */

static int valid_token(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!cio__http_is((unsigned char)*s, CIO__HTTP_TCHAR))
            return 0;
    return 1;
}

static int valid_value(const char *s)
{
    if (!s)
        return 0;
    for (; *s; s++)
        if (*s != '\t' && !cio__http_is((unsigned char)*s, CIO__HTTP_VALUE))
            return 0;
    return 1;
}

/* Checks a name, value, ..., NULL list; -EINVAL if a pair is not valid
 * HTTP or names a field the client frames itself. */
static int check_headers(const char *const *h)
{
    for (; h && h[0]; h += 2) {
        if (!valid_token(h[0]) || !valid_value(h[1]))
            return -EINVAL;
        if (strcasecmp(h[0], "content-length") == 0 ||
            strcasecmp(h[0], "transfer-encoding") == 0)
            return -EINVAL;
    }
    return 0;
}

static int has_header(const char *const *h, const char *name)
{
    for (; h && h[0]; h += 2)
        if (strcasecmp(h[0], name) == 0)
            return 1;
    return 0;
}

/* A growable byte string for request heads. */
typedef struct hbuf {
    char *p;    /* bytes */
    size_t len; /* used */
    size_t cap; /* allocated */
    int err;    /* -ENOMEM once an allocation failed */
} hbuf;

static void put(hbuf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n)
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
}

static void puts3(hbuf *b, const char *name, const char *value)
{
    put(b, name, strlen(name));
    put(b, ": ", 2);
    put(b, value, strlen(value));
    put(b, "\r\n", 2);
}

/* ---- the client ---------------------------------------------------------------- */

void cio_http_client_options_init(cio_http_client_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->connect_timeout = 30;
    o->read_timeout = 300;
    o->total_timeout = -1;
    o->idle_timeout = 15;
    o->max_per_host = 100;
    o->max_redirects = 10;
    o->max_body = 64u << 20;
}

static void free_client(cio_http_client *c)
{
    if (c->headers)
        for (char **h = c->headers; *h; h++)
            cio__free(*h);
    cio__free(c->headers);
    cio__free(c->user_agent);
    cio_event_free(c->drained);
    if (c->tls_owned)
        cio_tls_context_free(c->tls);
    cio__free(c);
}

int cio_http_client_new(const cio_http_client_options *opts, cio_http_client **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    cio_http_client_options o;
    cio_http_client_options_init(&o);
    if (opts) {
        if (isnan(opts->connect_timeout) || isnan(opts->read_timeout) ||
            isnan(opts->total_timeout) || isnan(opts->idle_timeout) ||
            opts->max_per_host < 0 || check_headers(opts->headers) < 0 ||
            (opts->user_agent && !valid_value(opts->user_agent)))
            return -EINVAL;
#define TAKE(f)                                                                            \
    if (opts->f)                                                                           \
        o.f = opts->f;
        TAKE(connect_timeout)
        TAKE(read_timeout)
        TAKE(total_timeout)
        TAKE(idle_timeout)
        TAKE(max_per_host)
        TAKE(max_redirects)
        TAKE(max_body)
#undef TAKE
        o.user_agent = opts->user_agent;
        o.headers = opts->headers;
        o.no_decompress = opts->no_decompress;
        o.tls = opts->tls;
    }
    cio_loop *loop = cio_get_running_loop();
    if (!loop)
        return CIO_ENOLOOP;
    cio_http_client *c = cio__calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->connect_timeout = o.connect_timeout;
    c->read_timeout = o.read_timeout;
    c->total_timeout = o.total_timeout;
    c->idle_timeout = o.idle_timeout;
    c->max_per_host = o.max_per_host;
    c->max_redirects = o.max_redirects;
    c->max_body = o.max_body;
    c->decompress = !o.no_decompress && cio__hc_inflate_available();
    c->tls = o.tls;
    int rc = 0;
    if (!o.user_agent) {
        char ua[64];
        snprintf(ua, sizeof ua, "cio/%s", cio_version());
        c->user_agent = cio__strdup(ua);
        rc = c->user_agent ? 0 : -ENOMEM;
    } else if (*o.user_agent) {
        c->user_agent = cio__strdup(o.user_agent);
        rc = c->user_agent ? 0 : -ENOMEM;
    }
    size_t n = 0;
    while (o.headers && o.headers[n])
        n += 2;
    if (rc == 0 && n) {
        c->headers = cio__calloc(n + 1, sizeof(char *));
        rc = c->headers ? 0 : -ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (!(c->headers[i] = cio__strdup(o.headers[i])))
                rc = -ENOMEM;
    }
    if (rc == 0)
        rc = cio_event_new(loop, &c->drained);
    if (rc < 0) {
        free_client(c);
        return rc;
    }
    *out = c;
    return 0;
}

int cio_http_client_close(cio_http_client *c)
{
    if (!c)
        return -EINVAL;
    if (c->inflight)
        return CIO_EINVALSTATE;
    c->closing = 1;
    cio__hc_pool_close_all(c);
    cio_shield_begin();
    while (c->live > 0) {
        cio_event_clear(c->drained);
        if (cio_event_wait(c->drained) < 0)
            break; /* not in a task, or the loop is closing: nothing to wait for */
    }
    cio_shield_end();
    return 0;
}

void cio_http_client_free(cio_http_client *c)
{
    if (!c)
        return;
    if (c->inflight) {
        /* Its requests' tasks would come back into freed memory. */
        cio_log(CIO_LOG_ERROR, "cio_http_client_free: requests in progress; client leaked");
        return;
    }
    if (!c->closing) {
        c->closing = 1;
        cio__hc_pool_close_all(c);
    }
    /* The connections still closing free themselves later, without the
     * client. */
    while (c->conns)
        cio__hc_conn_detach(c->conns);
    cio__hc_pool_free(c);
    free_client(c);
}

size_t cio_http_client_idle_count(const cio_http_client *c) { return c ? c->nidle : 0; }

/* ---- one request ------------------------------------------------------------ */

/* What one attempt sends. */
typedef struct sendspec {
    const cio_http_client_request *req; /* the caller's request */
    const char *method;                 /* after redirects */
    int has_body;                       /* a body is sent */
    int drop_auth;                      /* a redirect left the origin */
} sendspec;

/* Writes the head of s for url into b. */
static void build_head(cio_http_client *c, const sendspec *s, const cio__url *url, hbuf *b)
{
    const cio_http_client_request *req = s->req;
    const char *const *rh = req->headers;
    put(b, s->method, strlen(s->method));
    put(b, " ", 1);
    put(b, url->target, strlen(url->target));
    put(b, " HTTP/1.1\r\n", 11);
    if (!has_header(rh, "host"))
        puts3(b, "Host", url->authority);
    if (c->user_agent && !has_header(rh, "user-agent") &&
        !has_header((const char *const *)c->headers, "user-agent"))
        puts3(b, "User-Agent", c->user_agent);
    if (!has_header(rh, "accept") && !has_header((const char *const *)c->headers, "accept"))
        puts3(b, "Accept", "*/*");
    if (c->decompress && !has_header(rh, "accept-encoding") &&
        !has_header((const char *const *)c->headers, "accept-encoding"))
        puts3(b, "Accept-Encoding", "gzip, deflate");
    for (char **h = c->headers; h && h[0]; h += 2) {
        if (has_header(rh, h[0]))
            continue;
        if (s->drop_auth && strcasecmp(h[0], "authorization") == 0)
            continue;
        puts3(b, h[0], h[1]);
    }
    for (; rh && rh[0]; rh += 2) {
        if (s->drop_auth && strcasecmp(rh[0], "authorization") == 0)
            continue;
        if (!s->has_body && strcasecmp(rh[0], "content-type") == 0)
            continue; /* a redirect turned it into a GET */
        puts3(b, rh[0], rh[1]);
    }
    if (s->has_body && req->content_type && !has_header(req->headers, "content-type"))
        puts3(b, "Content-Type", req->content_type);
    char num[48];
    if (s->has_body && req->body_fn && req->body_fn_len <= 0) {
        puts3(b, "Transfer-Encoding", "chunked");
    } else if (s->has_body) {
        size_t n = req->body_fn ? (size_t)req->body_fn_len : req->body_len;
        snprintf(num, sizeof num, "%zu", n);
        puts3(b, "Content-Length", num);
    } else if (strcmp(s->method, "POST") == 0 || strcmp(s->method, "PUT") == 0 ||
               strcmp(s->method, "PATCH") == 0) {
        puts3(b, "Content-Length", "0"); /* RFC 9110 §8.6: a body is expected */
    }
    put(b, "\r\n", 2);
}

/* Writes the head and body; waits while the transport's buffer is full. */
static int send_request(cio_http_client *c, cio__hc_conn *k, const sendspec *s, const hbuf *head,
                        double deadline)
{
    const cio_http_client_request *req = s->req;
    struct iovec iov[2] = {{head->p, head->len}, {0, 0}};
    int n = 1;
    if (s->has_body && !req->body_fn && req->body_len) {
        iov[1].iov_base = (void *)(uintptr_t)req->body;
        iov[1].iov_len = req->body_len;
        n = 2;
    }
    int rc = cio_transport_writelines(k->t, iov, n);
    if (rc < 0)
        return rc;
    if (!s->has_body || !req->body_fn)
        return cio__hc_conn_drain(k, c->read_timeout, deadline);
    /* A streamed body: pieces through a scratch buffer, chunked when its
     * length is unknown. */
    int chunked = req->body_fn_len <= 0;
    uint64_t sent = 0;
    char *tmp = cio__malloc(16384);
    if (!tmp)
        return -ENOMEM;
    for (;;) {
        rc = cio__hc_conn_drain(k, c->read_timeout, deadline);
        if (rc < 0)
            break;
        rc = req->body_fn(req->body_arg, tmp, 16384);
        if (rc < 0)
            break;
        if (rc > 16384) {
            rc = -EINVAL;
            break;
        }
        sent += (uint64_t)rc;
        if (!chunked && sent > (uint64_t)req->body_fn_len) {
            rc = -EINVAL; /* more than body_fn_len promised */
            break;
        }
        if (k->lost) {
            rc = cio__hc_conn_end_code(k);
            break;
        }
        if (rc == 0) {
            if (chunked)
                rc = cio_transport_write(k->t, "0\r\n\r\n", 5);
            else if (sent != (uint64_t)req->body_fn_len)
                rc = -EINVAL; /* fewer than promised */
            break;
        }
        char size[24];
        int sl = snprintf(size, sizeof size, "%x\r\n", (unsigned)rc);
        struct iovec v[3] = {{size, (size_t)sl}, {tmp, (size_t)rc}, {"\r\n", 2}};
        rc = chunked ? cio_transport_writelines(k->t, v, 3)
                     : cio_transport_write(k->t, tmp, (size_t)rc);
        if (rc < 0)
            break;
    }
    cio__free(tmp);
    return rc;
}

/* Reads the answer's final head; *hlen is its length at k->buf[start]. */
static int read_head(cio_http_client *c, cio__hc_conn *k, double deadline, size_t *hlen)
{
    for (;;) {
        size_t avail = k->len - k->start;
        if (avail) {
            int rc = cio__http_parse_head(&k->p, k->buf + k->start, avail);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                if (k->p.status < 200 && k->p.status != 101) {
                    cio__hc_conn_consume(k, (size_t)rc); /* 100 Continue, 103 ... */
                    cio__http_parser_reset(&k->p);
                    continue;
                }
                if (k->p.body == CIO__HTTP_BODY_TUNNEL)
                    return -EPROTO; /* 101 or a tunnel nobody asked for */
                *hlen = (size_t)rc;
                return 0;
            }
        }
        if (k->lost && k->err < 0)
            return k->err;
        if (k->eof || k->lost)
            return CIO_EINCOMPLETE;
        int rc = cio__hc_conn_wait(k, c->read_timeout, deadline);
        if (rc < 0)
            return rc;
    }
}

static int idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") ||
           !strcmp(m, "TRACE") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

/* One exchange with url's origin: *out is a reply holding the connection
 * with the body unread. */
static int one_request(cio_http_client *c, const cio__url *url, const sendspec *s,
                       double deadline, cio_http_reply **out)
{
    if (url->tls && !c->tls) {
        /* The default: the system's CAs, host names checked. */
        if (!cio_tls_available())
            return -ENOTSUP;
        int trc = cio_tls_context_new(CIO_TLS_CLIENT, &c->tls);
        if (trc < 0)
            return trc;
        c->tls_owned = 1;
    }
    cio__hc_origin *o;
    int rc = cio__hc_origin_get(c, url, &o);
    if (rc < 0)
        return rc;
    hbuf head = {0};
    build_head(c, s, url, &head);
    if (head.err)
        return head.err;
    int method = !strcmp(s->method, "HEAD")      ? CIO__HTTP_HEAD
                 : !strcmp(s->method, "CONNECT") ? CIO__HTTP_CONNECT
                                                 : CIO__HTTP_GET;
    /* A body we can send again, and a method safe to repeat. */
    int replayable = !(s->has_body && s->req->body_fn) && idempotent(s->method);
    for (int attempt = 0;; attempt++) {
        cio__hc_conn *k;
        rc = cio__hc_pool_acquire(o, deadline, &k);
        if (rc < 0)
            break;
        int reused = k != NULL;
        if (!k && (rc = cio__hc_conn_open(o, deadline, &k)) < 0) {
            cio__hc_pool_give_slot(o);
            break;
        }
        cio__http_parser_reset(&k->p);
        cio__http_parser_set_request_method(&k->p, method);
        k->rx = 0;
        size_t hlen = 0;
        rc = send_request(c, k, s, &head, deadline);
        if (rc == 0)
            rc = read_head(c, k, deadline, &hlen);
        if (rc < 0) {
            /* A keep-alive connection the server closed as we took it:
             * nothing of an answer came; try once more on a new one. */
            int stale = reused && k->rx == 0 && attempt == 0 && replayable &&
                        (rc == CIO_EINCOMPLETE || rc == -ECONNRESET || rc == -EPIPE ||
                         rc == CIO_ECLOSED);
            cio__hc_pool_release(k, 0);
            if (stale)
                continue;
            break;
        }
        cio_http_reply *r;
        rc = cio__hc_reply_new(c, k, k->buf + k->start, hlen, url->href, &r);
        if (rc < 0) {
            cio__hc_pool_release(k, 0);
            break;
        }
        cio__hc_conn_consume(k, hlen);
        cio__hc_reply_attach(r, k, c->read_timeout, deadline, c->decompress);
        *out = r;
        break;
    }
    cio__free(head.p);
    return rc;
}

/* ---- the request with its redirects ------------------------------------------ */

static int is_redirect(int st)
{
    return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

int cio_http_client_send(cio_http_client *c, const cio_http_client_request *req,
                         cio_http_reply **out)
{
    if (out)
        *out = NULL;
    if (!c || !req || !req->url || !out || c->closing)
        return -EINVAL;
    int has_body = req->body_fn || req->body_len > 0;
    if ((req->body_len && !req->body) || check_headers(req->headers) < 0 ||
        (req->method && !valid_token(req->method)) ||
        (req->content_type && !valid_value(req->content_type)))
        return -EINVAL;
    cio__url url;
    int rc = cio__url_parse(&url, req->url);
    if (rc < 0)
        return rc;
    sendspec s = {.req = req,
                  .method = req->method ? req->method : has_body ? "POST" : "GET",
                  .has_body = has_body};
    double deadline =
        c->total_timeout >= 0 ? cio_loop_time(c->loop) + c->total_timeout : INFINITY;
    c->inflight++;
    cio_http_reply *r = NULL;
    for (int redirects = 0;; redirects++) {
        rc = one_request(c, &url, &s, deadline, &r);
        if (rc < 0)
            break;
        int st = cio_http_reply_status(r);
        const char *loc = cio_http_reply_header(r, "location");
        if (!is_redirect(st) || !loc || c->max_redirects < 0)
            break;
        int keep = st == 307 || st == 308;
        if (keep && s.has_body && req->body_fn)
            break; /* a streamed body cannot be sent again: the 3xx is the answer */
        cio__url next;
        if (cio__url_resolve(&next, &url, loc, strlen(loc)) < 0)
            break; /* a Location we cannot follow: the 3xx is the answer */
        if (redirects >= c->max_redirects) {
            cio__url_free(&next);
            rc = -ELOOP;
            break;
        }
        if (!keep && strcmp(s.method, "HEAD") != 0) {
            s.method = "GET";
            s.has_body = 0;
        }
        if (!cio__url_same_origin(&url, &next))
            s.drop_auth = 1;
        cio__hc_reply_discard_body(r, REDIRECT_DRAIN);
        cio_http_reply_free(r);
        r = NULL;
        cio__url_free(&url);
        url = next;
    }
    if (rc < 0 && r) {
        cio_http_reply_free(r);
        r = NULL;
    }
    if (rc == 0 && !(req->flags & CIO_HTTP_STREAM)) {
        rc = cio__hc_reply_buffer(r, c->max_body);
        if (rc < 0) {
            cio_http_reply_free(r);
            r = NULL;
        }
    }
    cio__url_free(&url);
    c->inflight--;
    *out = r;
    return rc;
}

int cio_http_get(cio_http_client *c, const char *url, cio_http_reply **out)
{
    cio_http_client_request req = {.url = url};
    return cio_http_client_send(c, &req, out);
}

int cio_http_post_json(cio_http_client *c, const char *url, const char *json,
                       cio_http_reply **out)
{
    if (!json) {
        if (out)
            *out = NULL;
        return -EINVAL;
    }
    static const char *const hdrs[] = {"Accept", "application/json", NULL};
    cio_http_client_request req = {.method = "POST",
                                   .url = url,
                                   .headers = hdrs,
                                   .body = json,
                                   .body_len = strlen(json),
                                   .content_type = "application/json"};
    return cio_http_client_send(c, &req, out);
}
