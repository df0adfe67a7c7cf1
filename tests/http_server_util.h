/*
 * http_server_util.h - what the HTTP server tests share: a server on
 * 127.0.0.1 with the test routes, running on the main loop while a
 * client function runs in a thread (blocking sockets, or curl and Python
 * started as processes), and small blocking-socket helpers.
 */
#ifndef CIO_TEST_HTTP_SERVER_UTIL_H
#define CIO_TEST_HTTP_SERVER_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cio.h"
#include "cio/http.h"
#include "net_peer.h"

/* ---- routes --------------------------------------------------------------- */

static int h_hello(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond(req, 200, "text/plain", "hello world", 11);
}

static int h_item(cio_http_request *req, void *ud)
{
    (void)ud;
    char out[256];
    snprintf(out, sizeof out, "{\"id\":\"%s\"}", cio_http_request_param(req, "id"));
    return cio_http_respond_json(req, 200, out);
}

static int h_echo(cio_http_request *req, void *ud)
{
    (void)ud;
    size_t len;
    const char *b = cio_http_request_body(req, &len);
    return cio_http_respond(req, 200, "application/octet-stream", b, len);
}

static int h_count(cio_http_request *req, void *ud)
{
    (void)ud;
    char buf[1000];
    long total = 0;
    int n;
    while ((n = cio_http_request_read(req, buf, sizeof buf)) > 0)
        total += n;
    if (n < 0)
        return n;
    char out[64];
    snprintf(out, sizeof out, "%ld", total);
    return cio_http_respond_text(req, 200, out);
}

static int h_chunked(cio_http_request *req, void *ud)
{
    (void)ud;
    int rc = cio_http_response_start(req, 200, "text/plain");
    for (int i = 0; rc == 0 && i < 3; i++) {
        char piece[32];
        int n = snprintf(piece, sizeof piece, "piece %d\n", i);
        rc = cio_http_response_write(req, piece, (size_t)n);
        if (rc == 0)
            rc = cio_sleep(0.01);
    }
    return rc < 0 ? rc : cio_http_response_end(req);
}

/* A streamed response that fails after its head: cut short.  The
 * results are read by the client thread once abort_done is set. */
static int abort_rc[2];
static _Atomic int abort_done;
static int h_abort(cio_http_request *req, void *ud)
{
    (void)ud;
    int rc = cio_http_response_start(req, 200, "text/plain");
    if (rc == 0)
        rc = cio_http_response_write(req, "partial", 7);
    abort_rc[0] = cio_http_request_abort(req);
    abort_rc[1] = cio_http_request_abort(req); /* already going: CIO_ECLOSED */
    abort_done = 1;
    return rc;
}

static int h_sse(cio_http_request *req, void *ud)
{
    (void)ud;
    int rc = cio_http_sse_start(req);
    for (int i = 0; rc == 0 && i < 3; i++) {
        char data[32];
        snprintf(data, sizeof data, "tick %d\nline2", i);
        rc = cio_http_sse_send(req, "tick", NULL, data);
        if (rc == 0)
            rc = cio_sleep(0.01);
    }
    return rc < 0 ? rc : cio_http_response_end(req);
}

static double slow_seconds = 0.2;

static int h_slow(cio_http_request *req, void *ud)
{
    (void)ud;
    int rc = cio_sleep(slow_seconds);
    if (rc < 0)
        return rc;
    return cio_http_respond_text(req, 200, "slow done");
}

static int h_query(cio_http_request *req, void *ud)
{
    (void)ud;
    char out[256];
    const char *a = cio_http_request_query(req, "a"), *b = cio_http_request_query(req, "b");
    snprintf(out, sizeof out, "a=[%s] b=[%s] x=[%s]", a ? a : "(null)", b ? b : "(null)",
             cio_http_request_header(req, "x-TEST") ? cio_http_request_header(req, "X-Test")
                                                    : "(null)");
    return cio_http_respond_text(req, 200, out);
}

static int h_json_in(cio_http_request *req, void *ud)
{
    (void)ud;
    char v[64];
    int rc = cio_http_request_json_get(req, "a.b", v, sizeof v);
    if (rc == -EPROTO)
        return cio_http_respond_json(req, 400, "{\"error\":\"bad json\"}");
    if (rc < 0)
        return cio_http_respond_json(req, 404, "{\"error\":\"no a.b\"}");
    char out[128];
    snprintf(out, sizeof out, "{\"got\":\"%s\"}", v);
    return cio_http_respond_json(req, 200, out);
}

static char big_text[200 * 1024];

static int h_big(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond(req, 200, "text/plain", big_text, sizeof big_text);
}

static const char *file_path;

static int h_file(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond_file(req, file_path, NULL);
}

static int h_seq(cio_http_request *req, void *ud)
{
    (void)ud;
    const char *i = cio_http_request_query(req, "i");
    char out[32];
    snprintf(out, sizeof out, "seq %s", i ? i : "?");
    return cio_http_respond_text(req, 200, out);
}

/* Response headers: the application's go out as given; the server's own
 * (any case) and malformed ones are refused with -EINVAL. */
static int h_headers(cio_http_request *req, void *ud)
{
    (void)ud;
    static const char *const refused[] = {"Content-Length", "content-length", "DATE",
                                          "Connection", "Transfer-Encoding", "X:Y",
                                          "Bad Name", ""};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (cio_http_response_header(req, refused[i], "1") != -EINVAL)
            return cio_http_respond_text(req, 500, refused[i]);
    if (cio_http_response_header(req, "X-Crlf", "a\r\nX-Evil: 1") != -EINVAL)
        return cio_http_respond_text(req, 500, "CRLF in a value");
    /* the lengths of the server's own, other names */
    static const char *const kept[] = {"Dat", "Datum", "Date-Seen", "Connectio", "X-Content-Length",
                                       "Transfer-Encodin", "Content-Lengths"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (cio_http_response_header(req, kept[i], "yes") < 0)
            return cio_http_respond_text(req, 500, kept[i]);
    return cio_http_respond_text(req, 200, "headers");
}

/* Answers, then works on for a while: a keep-alive client's next request
 * comes while the handler still runs. */
static int h_linger(cio_http_request *req, void *ud)
{
    (void)ud;
    int rc = cio_http_respond_text(req, 200, "lingered");
    return rc < 0 ? rc : cio_sleep(0.005);
}

static void add_routes(cio_http_server *srv)
{
    for (size_t i = 0; i < sizeof big_text; i++)
        big_text[i] = "abcdefgh\n"[i % 9];
    cio_http_server_route(srv, "GET", "/hello", h_hello, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "GET", "/items/{id}", h_item, NULL, 0);
    cio_http_server_route(srv, "DELETE", "/items/{id}", h_item, NULL, 0);
    cio_http_server_route(srv, "POST", "/echo", h_echo, NULL, 0);
    cio_http_server_route(srv, "POST", "/count", h_count, NULL, CIO_HTTP_STREAM_BODY);
    cio_http_server_route(srv, "GET", "/chunked", h_chunked, NULL, 0);
    cio_http_server_route(srv, "GET", "/abort", h_abort, NULL, 0);
    cio_http_server_route(srv, "GET", "/sse", h_sse, NULL, 0);
    cio_http_server_route(srv, "GET", "/slow", h_slow, NULL, 0);
    cio_http_server_route(srv, "GET", "/query", h_query, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "POST", "/json", h_json_in, NULL, 0);
    cio_http_server_route(srv, "GET", "/big", h_big, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "GET", "/file", h_file, NULL, 0);
    cio_http_server_route(srv, "GET", "/file_inline", h_file, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "GET", "/seq", h_seq, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "GET", "/headers", h_headers, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "GET", "/linger", h_linger, NULL, 0);
}

/* ---- running a server with a client thread --------------------------------- */

typedef struct srv_ctx {
    cio_http_server_options opts; /* the server's options */
    int (*client)(struct srv_ctx *); /* runs in a thread */
    int port;                     /* the server's port */
    cio_http_server *srv;         /* the server */
    void *arg;                    /* the case's own */
    int (*during)(struct srv_ctx *); /* optional: runs on the loop meanwhile */
    int shutdown_rc;              /* cio_http_server_shutdown's result */
    double shutdown_deadline;     /* its deadline (default 5) */
} srv_ctx;

static int client_thread(void *arg, void **result)
{
    (void)result;
    srv_ctx *x = arg;
    return x->client(x);
}

static int during_task(void *arg, void **result)
{
    (void)result;
    srv_ctx *x = arg;
    return x->during(x);
}

static int serve_main(void *arg, void **result)
{
    (void)result;
    srv_ctx *x = arg;
    int rc = cio_http_server_new(&x->opts, &x->srv);
    if (rc < 0)
        return rc;
    add_routes(x->srv);
    rc = cio_http_server_listen(x->srv, "127.0.0.1", 0);
    if (rc < 0) {
        cio_http_server_free(x->srv);
        return rc;
    }
    x->port = cio_http_server_port(x->srv);
    cio_task *during = NULL;
    if (x->during)
        cio_create_task(during_task, x, "during", &during);
    rc = cio_to_thread(client_thread, x, NULL);
    if (during) {
        cio_task_await(during, NULL);
        cio_task_unref(during);
    }
    x->shutdown_rc = cio_http_server_shutdown(x->srv, x->shutdown_deadline > 0
                                                          ? x->shutdown_deadline
                                                          : 5);
    cio_http_server_free(x->srv);
    return rc;
}

/* Runs client(x) in a thread against a fresh server; returns its result. */
static inline int serve(srv_ctx *x)
{
    return cio_run(serve_main, x, NULL);
}

/* ---- blocking socket helpers ------------------------------------------------ */

static inline int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline void send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads until EOF or timeout seconds of silence; returns the bytes (NUL
 * terminated) and sets *eof when the server closed. */
static inline size_t read_until_eof(int fd, char *out, size_t cap, double timeout, int *eof)
{
    size_t n = 0;
    *eof = 0;
    while (n < cap - 1) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(timeout * 1000)) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0) {
            *eof = 1;
            break;
        }
        n += (size_t)r;
    }
    out[n] = 0;
    return n;
}

/* Reads until the text holds `count` occurrences of needle, or timeout. */
static inline size_t read_until_count(int fd, char *out, size_t cap, const char *needle, int count,
                               double timeout)
{
    size_t n = 0;
    out[0] = 0;
    for (;;) {
        int seen = 0;
        for (const char *p = out; (p = strstr(p, needle)) != NULL; p++)
            seen++;
        if (seen >= count || n >= cap - 1)
            break;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(timeout * 1000)) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        out[n] = 0;
    }
    return n;
}

/* One request on a fresh connection: sends req, reads until EOF. */
static inline size_t exchange(int port, const char *req, size_t len, char *out, size_t cap,
                       int *eof)
{
    int fd = tcp_connect(port);
    if (fd < 0) {
        out[0] = 0;
        *eof = 0;
        return 0;
    }
    send_all(fd, req, len);
    size_t n = read_until_eof(fd, out, cap, 2.0, eof);
    close(fd);
    return n;
}

/* Runs a shell command, capturing its stdout into out; returns its exit
 * status (-1 if it could not run). */
static inline int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int have_cmd(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

#endif
