/*
 * response.c - writing responses: the status line and the server's own
 * headers, complete responses with Content-Length (gzipped when allowed),
 * streamed chunked responses, Server-Sent Events, and the output path
 * (responses of one read batch collect in the connection's buffer and go
 * out in one transport write).
 */
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#ifdef CIO_HAVE_ZLIB
#include <zlib.h>
#endif

#include "server.h"

/* Bodies at least this large are written separately instead of copied
 * into the batch buffer. */
#define BIG_BODY (64u * 1024u)

/* ---- byte buffers ------------------------------------------------------------- */

int cio__http_buf_reserve(cio__http_buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return 0;
    size_t ncap = b->cap ? b->cap : 512;
    while (ncap - b->len <= n)
        ncap *= 2;
    char *d = cio__realloc(b->data, ncap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->cap = ncap;
    return 0;
}

int cio__http_buf_add(cio__http_buf *b, const void *p, size_t n)
{
    if (cio__http_buf_reserve(b, n) < 0)
        return -ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int cio__http_buf_adds(cio__http_buf *b, const char *s)
{
    return cio__http_buf_add(b, s, strlen(s));
}

int cio__http_buf_addu(cio__http_buf *b, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return cio__http_buf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

void cio__http_buf_free(cio__http_buf *b)
{
    cio__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- output ------------------------------------------------------------------------ */

int cio__http_flush(cio__http_conn *c)
{
    if (!c->out.len)
        return 0;
    size_t n = c->out.len;
    c->out.len = 0;
    if (c->lost)
        return CIO_ECLOSED;
    cio__http_server_writes++;
    return cio_transport_write(c->t, c->out.data, n);
}

int cio__http_write_now(cio__http_conn *c, const void *p, size_t n)
{
    if (c->lost)
        return CIO_ECLOSED;
    if (!c->out.len) {
        cio__http_server_writes++;
        return cio_transport_write(c->t, p, n);
    }
    struct iovec iov[2] = {{c->out.data, c->out.len}, {(void *)p, n}};
    c->out.len = 0;
    cio__http_server_writes++;
    return cio_transport_writelines(c->t, iov, 2);
}

int cio__http_wait_drain(cio__http_conn *c)
{
    while (c->write_paused && !c->lost) {
        if (!c->req.in_task || !cio_current_task())
            return 0; /* an inline handler cannot wait: the transport queues */
        cio_future *f;
        int rc = cio_future_new(c->srv->loop, &f);
        if (rc < 0)
            return rc;
        cio_future_ref(f);
        c->wake = f;
        double tmo = c->srv->opts.write_timeout;
        rc = cio_wait_for(f, tmo > 0 ? tmo : INFINITY, NULL);
        if (c->wake == f) {
            c->wake = NULL;
            cio_future_unref(f);
        }
        cio_future_unref(f);
        if (rc < 0)
            return rc;
    }
    return c->lost ? CIO_ECLOSED : 0;
}

/* ---- heads ----------------------------------------------------------------------- */

const char *cio_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* Appends n bytes at o's end; the caller reserved the room. */
#define PUT(o, p, n)                                                                   \
    do {                                                                               \
        memcpy((o)->data + (o)->len, (p), (n));                                        \
        (o)->len += (n);                                                               \
    } while (0)

int cio__http_head_start(cio__http_conn *c, cio_http_request *req, int status)
{
    cio_http_server *srv = c->srv;
    cio__http_buf *o = &c->out;
    const char *reason = status == 200 ? "OK" : cio_http_reason(status);
    size_t rlen = status == 200 ? 2 : strlen(reason);
    const char *name = srv->opts.server_name;
    size_t nlen = srv->name_len;
    /* one reservation for the whole head: the rest copies unchecked */
    if (cio__http_buf_reserve(o, 13 + rlen + 8 + 29 + 2 + 8 + nlen + 2 + req->rh.len + 24) < 0)
        return -ENOMEM;
    /* status line: "HTTP/1.1 200 OK" */
    char *d = o->data + o->len;
    memcpy(d, "HTTP/1.1 ", 9);
    d[9] = (char)('0' + status / 100);
    d[10] = (char)('0' + status / 10 % 10);
    d[11] = (char)('0' + status % 10);
    d[12] = ' ';
    o->len += 13;
    PUT(o, reason, rlen);
    PUT(o, "\r\nDate: ", 8);
    PUT(o, cio__http_date(), 29);
    PUT(o, "\r\n", 2);
    if (nlen) {
        PUT(o, "Server: ", 8);
        PUT(o, name, nlen);
        PUT(o, "\r\n", 2);
    }
    if (req->rh.len)
        PUT(o, req->rh.data, req->rh.len);
    if (req->streaming_body && c->parser.phase != CIO__HTTP_PH_DONE)
        req->close_after = 1; /* the rest of the body is not read */
    if (!req->keep_alive || req->close_after || srv->shutting_down)
        PUT(o, "Connection: close\r\n", 19);
    else if (req->version == 0)
        PUT(o, "Connection: keep-alive\r\n", 24);
    req->status = status;
    return 0;
}

/* ---- complete responses --------------------------------------------------------- */

int cio__http_compressible(const char *ctype)
{
    if (!ctype)
        return 0;
    return strncmp(ctype, "text/", 5) == 0 || strstr(ctype, "json") || strstr(ctype, "xml") ||
           strstr(ctype, "javascript");
}

#ifdef CIO_HAVE_ZLIB
/* gzips body into *out (cio__malloc'd).  0 or a negative code. */
static int gzip_body(const void *body, size_t len, char **out, size_t *olen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t cap = deflateBound(&z, (uLong)len);
    char *buf = cio__malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)body;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    *olen = cap - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        cio__free(buf);
        return -EIO;
    }
    *out = buf;
    return 0;
}
#endif

int cio__http_send_simple(cio__http_conn *c, cio_http_request *req, int status,
                          const char *ctype, const void *body, size_t len)
{
    if (c->lost)
        return CIO_ECLOSED;
    char *gz = NULL;
#ifdef CIO_HAVE_ZLIB
    size_t gzlen = 0;
    if (req->gzip_ok && len >= c->srv->opts.gzip_min && cio__http_compressible(ctype) &&
        gzip_body(body, len, &gz, &gzlen) == 0) {
        if (gzlen < len) {
            body = gz;
            len = gzlen;
        } else {
            cio__free(gz);
            gz = NULL;
        }
    }
#endif
    cio__http_buf *o = &c->out;
    size_t mark = o->len; /* a failure takes the head back out */
    int rc = cio__http_head_start(c, req, status);
    if (rc < 0) {
        cio__free(gz);
        return rc;
    }
    int no_body = status == 204 || status == 304 || status < 200;
    int copy_body = !no_body && !req->is_head && len && len < BIG_BODY;
    size_t clen = ctype ? strlen(ctype) : 0;
    /* the rest of the head (and a small body) in one reservation */
    if (cio__http_buf_reserve(o, 14 + clen + 2 + 47 + 16 + 20 + 2 + 2 + (copy_body ? len : 0)) <
        0) {
        o->len = mark;
        cio__free(gz);
        return -ENOMEM;
    }
    if (ctype) {
        PUT(o, "Content-Type: ", 14);
        PUT(o, ctype, clen);
        PUT(o, "\r\n", 2);
    }
    if (gz)
        PUT(o, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n", 47);
    if (!no_body) {
        PUT(o, "Content-Length: ", 16);
        char tmp[24];
        size_t i = sizeof tmp;
        size_t v = len;
        do {
            tmp[--i] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        PUT(o, tmp + i, sizeof tmp - i);
        PUT(o, "\r\n", 2);
    }
    PUT(o, "\r\n", 2);
    rc = 0;
    req->resp = CIO__RESP_DONE;
    if (!no_body && !req->is_head && len) {
        req->bytes_out = len;
        if (copy_body)
            PUT(o, body, len);
        else
            rc = cio__http_write_now(c, body, len);
    }
    cio__free(gz);
    if (rc >= 0 && req->in_task)
        rc = cio__http_flush(c);
    return rc < 0 ? rc : 0;
}

static int check_start(cio_http_request *req)
{
    if (!req || !req->conn)
        return -EINVAL;
    if (req->resp != CIO__RESP_NONE)
        return CIO_EINVALSTATE;
    if (req->conn->lost)
        return CIO_ECLOSED;
    return 0;
}

int cio_http_respond(cio_http_request *req, int status, const char *content_type,
                     const void *body, size_t len)
{
    int rc = check_start(req);
    if (rc < 0)
        return rc;
    if (status < 200 || status > 599 || (!body && len))
        return -EINVAL;
    return cio__http_send_simple(req->conn, req, status, content_type, body, len);
}

int cio_http_respond_text(cio_http_request *req, int status, const char *text)
{
    if (!text)
        return -EINVAL;
    return cio_http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

int cio_http_respond_json(cio_http_request *req, int status, const char *json)
{
    if (!json)
        return -EINVAL;
    return cio_http_respond(req, status, "application/json", json, strlen(json));
}

int cio_http_response_status(const cio_http_request *req)
{
    return req ? req->status : 0;
}

int cio_http_response_header(cio_http_request *req, const char *name, const char *value)
{
    int rc = check_start(req);
    if (rc == CIO_ECLOSED)
        rc = 0; /* headers of a response that will not go: harmless */
    if (rc < 0)
        return rc;
    if (!name || !value || !*name)
        return -EINVAL;
    const char *p = name;
    for (; *p; p++)
        if (*p <= ' ' || *p == ':' || (unsigned char)*p >= 0x7f)
            return -EINVAL;
    if (strpbrk(value, "\r\n"))
        return -EINVAL;
    /* The headers the server writes itself; compared only at their
     * length (this runs for every header of every response). */
    static const struct {
        size_t len;
        const char *name;
    } own[] = {{4, "date"}, {10, "connection"}, {14, "content-length"}, {17, "transfer-encoding"}};
    for (size_t i = 0; i < CIO_ARRAY_LEN(own); i++)
        if ((size_t)(p - name) == own[i].len && strcasecmp(name, own[i].name) == 0)
            return -EINVAL;
    cio__http_buf *b = &req->rh;
    size_t before = b->len;
    if (cio__http_buf_adds(b, name) < 0 || cio__http_buf_add(b, ": ", 2) < 0 ||
        cio__http_buf_adds(b, value) < 0 || cio__http_buf_add(b, "\r\n", 2) < 0) {
        b->len = before;
        return -ENOMEM;
    }
    return 0;
}

/* ---- streamed responses --------------------------------------------------------- */

int cio_http_response_start(cio_http_request *req, int status, const char *content_type)
{
    int rc = check_start(req);
    if (rc < 0)
        return rc;
    if (status < 200 || status > 599)
        return -EINVAL;
    cio__http_conn *c = req->conn;
    if (req->version == 0)
        req->close_after = 1; /* close-delimited */
    if ((rc = cio__http_head_start(c, req, status)) < 0)
        return rc;
    cio__http_buf *o = &c->out;
    if (content_type) {
        cio__http_buf_add(o, "Content-Type: ", 14);
        cio__http_buf_adds(o, content_type);
        cio__http_buf_add(o, "\r\n", 2);
    }
    int no_body = status == 204 || status == 304;
    req->chunked = req->version >= 1 && !no_body;
    if (req->chunked)
        cio__http_buf_add(o, "Transfer-Encoding: chunked\r\n", 28);
    rc = cio__http_buf_add(o, "\r\n", 2);
    req->resp = CIO__RESP_STREAM;
    if (no_body)
        req->resp = CIO__RESP_DONE;
    int f = cio__http_flush(c);
    return rc < 0 ? rc : f < 0 ? f : 0;
}

int cio_http_response_write(cio_http_request *req, const void *data, size_t len)
{
    if (!req || !req->conn || (!data && len))
        return -EINVAL;
    cio__http_conn *c = req->conn;
    if (req->resp != CIO__RESP_STREAM)
        return CIO_EINVALSTATE;
    if (c->lost)
        return CIO_ECLOSED;
    if (!len || req->is_head)
        return 0;
    int rc = cio__http_wait_drain(c);
    if (rc < 0)
        return rc;
    req->bytes_out += len;
    if (!req->chunked)
        return cio__http_write_now(c, data, len);
    char hex[20];
    int n = snprintf(hex, sizeof hex, "%zx\r\n", len);
    struct iovec iov[4];
    int k = 0;
    if (c->out.len)
        iov[k++] = (struct iovec){c->out.data, c->out.len};
    iov[k++] = (struct iovec){hex, (size_t)n};
    iov[k++] = (struct iovec){(void *)data, len};
    iov[k++] = (struct iovec){"\r\n", 2};
    c->out.len = 0;
    cio__http_server_writes++;
    return cio_transport_writelines(c->t, iov, k);
}

int cio_http_response_end(cio_http_request *req)
{
    if (!req || !req->conn)
        return -EINVAL;
    cio__http_conn *c = req->conn;
    if (req->resp != CIO__RESP_STREAM)
        return CIO_EINVALSTATE;
    req->resp = CIO__RESP_DONE;
    if (c->lost)
        return CIO_ECLOSED;
    if (req->chunked && !req->is_head) {
        int rc = cio__http_buf_add(&c->out, "0\r\n\r\n", 5);
        if (rc < 0)
            return rc;
    }
    return req->in_task ? cio__http_flush(c) : 0;
}

/* ---- Server-Sent Events ------------------------------------------------------------ */

int cio_http_sse_start(cio_http_request *req)
{
    int rc = check_start(req);
    if (rc < 0)
        return rc;
    cio_http_response_header(req, "Cache-Control", "no-cache");
    cio_http_response_header(req, "X-Accel-Buffering", "no");
    return cio_http_response_start(req, 200, "text/event-stream");
}

int cio_http_sse_send(cio_http_request *req, const char *event, const char *id,
                      const char *data)
{
    if (!req || (event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")))
        return -EINVAL;
    cio__http_buf b = {0};
    int rc = 0;
    if (event) {
        rc |= cio__http_buf_add(&b, "event: ", 7);
        rc |= cio__http_buf_adds(&b, event);
        rc |= cio__http_buf_add(&b, "\n", 1);
    }
    if (id) {
        rc |= cio__http_buf_add(&b, "id: ", 4);
        rc |= cio__http_buf_adds(&b, id);
        rc |= cio__http_buf_add(&b, "\n", 1);
    }
    const char *p = data ? data : "";
    do {
        size_t n = strcspn(p, "\r\n");
        rc |= cio__http_buf_add(&b, "data: ", 6);
        rc |= cio__http_buf_add(&b, p, n);
        rc |= cio__http_buf_add(&b, "\n", 1);
        p += n;
        if (*p == '\r' && p[1] == '\n')
            p++;
        if (*p)
            p++;
        else
            break;
    } while (1);
    rc |= cio__http_buf_add(&b, "\n", 1);
    if (rc == 0)
        rc = cio_http_response_write(req, b.data, b.len);
    cio__http_buf_free(&b);
    return rc < 0 ? rc : 0;
}
