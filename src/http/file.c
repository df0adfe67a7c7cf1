/*
 * file.c - static files: Content-Type from the extension, Last-Modified
 * and a weak-free ETag from (size, mtime), conditional requests
 * (If-None-Match before If-Modified-Since, RFC 9110 §13.2.2), a single
 * byte range (206, 416), HEAD, and the body.
 *
 * The body goes by sendfile(2) from the file to the socket when it can:
 * a plain TCP transport (TLS needs the bytes in user space), and the
 * transport's own queue empty once the head is sent (by send_head, on the
 * socket, with MSG_MORE) - the
 * transport owns the socket's writes, so writing beside it is safe only
 * while it has nothing queued, and one request is answered at a time, so
 * nothing else queues while the file goes out.  The socket is
 * non-blocking on both backends: a full socket is waited on with
 * cio_wait_writable (in a task, under the write timeout); an inline
 * handler, which cannot wait, hands the rest to the copying path.
 * Otherwise the body is read in pieces (pread, at the Range's offsets)
 * and written through the transport, waiting for it to drain between
 * pieces so a large file never sits whole in memory.
 * cio__http_sendfile_calls / _bytes / _waits count what went by sendfile
 * and how often a full socket was waited on (tests).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define PIECE (64u * 1024u)
/* Bytes asked of one sendfile call: bounded so a single call stays short
 * (the socket's buffer, full long before this on most links, is what
 * sends the task to wait and lets the loop serve others). */
#define SENDFILE_MAX (1u << 20)

unsigned long cio__http_sendfile_calls;
unsigned long cio__http_sendfile_waits;
uint64_t cio__http_sendfile_bytes;

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

/* sendfile(2) without SIGPIPE for a peer that is gone: the signal is
 * blocked around the call (unless ignored anyway) and a SIGPIPE it raised
 * is consumed, so the error comes back as -EPIPE as the transport's own
 * sends report it (they use MSG_NOSIGNAL, which sendfile lacks). */
static ssize_t sendfile_nosigpipe(int sock, int fd, off_t *off, size_t n)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        return sendfile(sock, fd, off, n);
    sigset_t pipeset, old, pending;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    ssize_t r = sendfile(sock, fd, off, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

/* Waits (in a task) until the socket takes more, for at most the
 * server's write timeout. */
static int wait_socket(cio__http_conn *c, int sock)
{
    double tmo = c->srv->opts.write_timeout;
    cio_timeout *tm = NULL;
    int rc = tmo > 0 ? cio_timeout_begin(tmo, &tm) : 0;
    if (rc < 0)
        return rc;
    rc = cio_wait_writable(sock);
    if (tm) {
        int t = cio_timeout_end(tm);
        if (rc >= 0 && t < 0)
            rc = t;
    }
    return rc;
}

/* Sends what c->out holds (the head, after any earlier responses of the
 * batch) to the socket itself when the transport has nothing queued, with
 * MSG_MORE so it shares a segment with the file's first bytes; what the
 * socket does not take goes through the transport.  Itself, because a
 * transport on a completion backend (io_uring) queues a small write for
 * the loop's next submission, and the file must not overtake it. */
static int send_head(cio__http_conn *c, int sock)
{
    size_t len = c->out.len, sent = 0;
    if (!len || cio_transport_get_write_buffer_size(c->t) != 0)
        return cio__http_flush(c);
    ssize_t n;
    do
        n = send(sock, c->out.data, len, MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        int rc = -errno;
        c->out.len = 0;
        cio_transport_abort(c->t);
        return rc;
    }
    cio__http_server_writes++;
    sent = n > 0 ? (size_t)n : 0;
    if (sent == len) {
        c->out.len = 0;
        return 0;
    }
    c->out.len = 0;
    return cio__http_write_now(c, c->out.data + sent, len - sent);
}

/* The sendfile path (see the file comment): writes the head, then sends
 * [*off, *off + *left) of fd from the file to the socket, advancing *off
 * and *left.  Leaves *left nonzero (and returns 0) where the rest must be
 * copied instead: TLS, a transport with bytes still queued, an inline
 * handler facing a full socket, a file system without sendfile. */
static int send_by_sendfile(cio__http_conn *c, cio_http_request *req, int fd, uint64_t *off,
                            uint64_t *left)
{
    if (cio_transport_is_tls(c->t))
        return 0;
    int sock = cio_transport_fd(c->t);
    if (sock < 0)
        return 0;
    if (cio_transport_is_closing(c->t) || c->lost)
        return CIO_ECLOSED;
    int rc = send_head(c, sock);
    if (rc < 0 || cio_transport_get_write_buffer_size(c->t) != 0)
        return rc;
    int waiting_ok = req->in_task && cio_current_task();
    while (*left) {
        size_t want = *left < SENDFILE_MAX ? (size_t)*left : SENDFILE_MAX;
        off_t o = (off_t)*off;
        ssize_t n = sendfile_nosigpipe(sock, fd, &o, want);
        if (n > 0) {
            cio__http_sendfile_calls++;
            cio__http_sendfile_bytes += (uint64_t)n;
            *off += (uint64_t)n;
            *left -= (uint64_t)n;
            req->bytes_out += (uint64_t)n;
            continue;
        }
        if (n == 0) {
            /* the file shrank: the promised length cannot be kept */
            cio_transport_abort(c->t);
            return -EIO;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (!waiting_ok)
                return 0; /* the copying path queues the rest */
            cio__http_sendfile_waits++;
            if ((rc = wait_socket(c, sock)) < 0) {
                cio_transport_abort(c->t);
                return rc;
            }
            if (c->lost || cio_transport_is_closing(c->t))
                return CIO_ECLOSED;
            continue;
        }
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
            return 0; /* this file cannot be sent so: copy it */
        rc = -errno;
        cio_transport_abort(c->t);
        return rc;
    }
    return 0;
}

/* The copying path: [off, off + left) of fd read in pieces and written
 * through the transport (after whatever c->out holds), waiting for it to
 * drain between pieces. */
static int send_by_copy(cio__http_conn *c, cio_http_request *req, int fd, uint64_t off,
                        uint64_t left)
{
    char *piece = cio__malloc(PIECE);
    if (!piece)
        return -ENOMEM;
    int rc = 0;
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
    return rc;
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
    uint64_t off = from, left = len;
    rc = send_by_sendfile(c, req, fd, &off, &left);
    if (rc >= 0 && left)
        rc = send_by_copy(c, req, fd, off, left);
    close(fd);
    if (rc < 0)
        req->close_after = 1;
    return rc < 0 ? rc : 0;
}
