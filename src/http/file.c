/*
 * file.c - static files: Content-Type from the extension, Last-Modified
 * and a weak-free ETag from (size, mtime), conditional requests
 * (If-None-Match before If-Modified-Since, RFC 9110 §13.2.2), a single
 * byte range (206, 416), HEAD, and the body read in pieces and written
 * through the transport, waiting for it to drain between pieces so a
 * large file never sits whole in memory.
 *
 * The body goes through the transport rather than sendfile(2): the
 * transport owns the socket's writes (its queue, TLS when it comes), and
 * writing beside it would reorder bytes.  A sendfile path belongs in the
 * transport layer (a "write this file range" member) - not done yet.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

#define PIECE (64u * 1024u)

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},   {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},         {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},             {"png", "image/png"},
    {"jpg", "image/jpeg"},                {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},                 {"webp", "image/webp"},
    {"ico", "image/x-icon"},              {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},           {"xml", "application/xml"},
    {"md", "text/markdown; charset=utf-8"},
};

static const char *guess_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < CIO_ARRAY_LEN(types); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* Does the If-None-Match list hold etag (or "*")? */
static int etag_listed(const char *list, const char *etag)
{
    if (strcmp(list, "*") == 0)
        return 1;
    size_t n = strlen(etag);
    for (const char *p = list; (p = strstr(p, etag)) != NULL; p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == 0 || p[n] == ',' || p[n] == ' '))
            return 1;
    return 0;
}

/* Parses "bytes=a-b", "bytes=a-", "bytes=-n" against size.  1: a range
 * [*from, *to]; 0: ignore the header (multiple or malformed ranges);
 * -1: unsatisfiable. */
static int parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    v += 6;
    char *end;
    if (*v == '-') {
        unsigned long long n = strtoull(v + 1, &end, 10);
        if (end == v + 1 || *end)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    if (*v < '0' || *v > '9')
        return 0;
    unsigned long long a = strtoull(v, &end, 10), b;
    if (*end != '-')
        return 0;
    const char *bs = end + 1;
    if (!*bs) {
        b = size ? size - 1 : 0;
    } else {
        if (*bs < '0' || *bs > '9')
            return 0;
        b = strtoull(bs, &end, 10);
        if (*end || b < a)
            return 0;
        if (b >= size)
            b = size - 1;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = b;
    return 1;
}

int cio_http_respond_file(cio_http_request *req, const char *path, const char *content_type)
{
    if (!req || !req->conn || !path)
        return -EINVAL;
    if (req->resp != CIO__RESP_NONE)
        return CIO_EINVALSTATE;
    cio__http_conn *c = req->conn;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        if (e == EACCES)
            return cio_http_respond_text(req, 403, "403 Forbidden\n");
        return cio_http_respond_text(req, 404, "404 Not Found\n");
    }
    char etag[48], lm[30];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    cio__http_format_date(st.st_mtime, lm);
    int rc = 0;
    rc |= cio_http_response_header(req, "ETag", etag);
    rc |= cio_http_response_header(req, "Last-Modified", lm);
    rc |= cio_http_response_header(req, "Accept-Ranges", "bytes");
    if (rc < 0) {
        close(fd);
        return rc;
    }
    const char *inm = cio_http_request_header(req, "If-None-Match");
    const char *ims = cio_http_request_header(req, "If-Modified-Since");
    int not_modified = 0;
    if (inm)
        not_modified = etag_listed(inm, etag);
    else if (ims) {
        time_t t = cio__http_parse_date(ims);
        not_modified = t >= 0 && st.st_mtime <= t;
    }
    if (not_modified && (req->method_id == CIO__HTTP_GET || req->is_head)) {
        close(fd);
        return cio__http_send_simple(c, req, 304, NULL, NULL, 0);
    }
    uint64_t size = (uint64_t)st.st_size, from = 0, to = size ? size - 1 : 0;
    int status = 200;
    const char *range = cio_http_request_header(req, "Range");
    const char *if_range = cio_http_request_header(req, "If-Range");
    if (range && (!if_range || strcmp(if_range, etag) == 0)) {
        int r = parse_range(range, size, &from, &to);
        if (r < 0) {
            close(fd);
            char cr[40];
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
            cio_http_response_header(req, "Content-Range", cr);
            return cio__http_send_simple(c, req, 416, "text/plain", "416 Range Not Satisfiable\n",
                                         26);
        }
        if (r > 0) {
            status = 206;
            char cr[80];
            snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from,
                     (unsigned long long)to, (unsigned long long)size);
            cio_http_response_header(req, "Content-Range", cr);
        }
    }
    uint64_t len = size ? to - from + 1 : 0;
    /* the head: as cio__http_send_simple, but the body follows in pieces */
    if ((rc = cio__http_head_start(c, req, status)) < 0) {
        close(fd);
        return rc;
    }
    cio__http_buf *o = &c->out;
    cio__http_buf_add(o, "Content-Type: ", 14);
    cio__http_buf_adds(o, content_type ? content_type : guess_type(path));
    cio__http_buf_add(o, "\r\nContent-Length: ", 18);
    cio__http_buf_addu(o, len);
    rc = cio__http_buf_add(o, "\r\n\r\n", 4);
    req->resp = CIO__RESP_DONE;
    if (rc < 0 || req->is_head || !len) {
        close(fd);
        return rc < 0 ? rc : req->in_task ? cio__http_flush(c) : 0;
    }
    char *piece = cio__malloc(PIECE);
    if (!piece) {
        close(fd);
        req->close_after = 1;
        return -ENOMEM;
    }
    uint64_t off = from, left = len;
    while (left && rc >= 0) {
        size_t want = left < PIECE ? (size_t)left : PIECE;
        ssize_t n = pread(fd, piece, want, (off_t)off);
        if (n <= 0) {
            /* the file shrank: the promised length cannot be kept */
            rc = n < 0 ? -errno : -EIO;
            cio_transport_abort(c->t);
            break;
        }
        rc = cio__http_write_now(c, piece, (size_t)n);
        off += (uint64_t)n;
        left -= (uint64_t)n;
        req->bytes_out += (uint64_t)n;
        if (rc >= 0 && left)
            rc = cio__http_wait_drain(c);
    }
    cio__free(piece);
    close(fd);
    if (rc < 0)
        req->close_after = 1;
    return rc < 0 ? rc : 0;
}
