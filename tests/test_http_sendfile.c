/*
 * test_http_sendfile.c - cio_http_respond_file's sendfile(2) path, on the
 * epoll and the io_uring backend: a large file to a slow reader (the
 * socket fills, the handler waits for it), byte ranges at offsets, an
 * inline handler's files pipelined behind other responses, a reader that
 * disconnects mid-file (no SIGPIPE, the server goes on).  Every body is
 * compared byte for byte with the file; the server's counters
 * (cio__http_sendfile_calls / _bytes / _waits) show the bytes went by
 * sendfile and that a full socket was waited on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "http_server_util.h"

#define BIG (4u << 20) /* bytes of the test file */

static unsigned char *data; /* the file's contents */
static const char *backend; /* the backend the last server ran on */

/* Byte i of the file: depends on the offset, so a misplaced byte shows. */
static unsigned char byte_at(size_t i)
{
    return (unsigned char)((i * 7u + i / 251u) & 0xff);
}

/* Reads one response to a GET on fd: its head into head (NUL-terminated)
 * and Content-Length bytes of body into body; returns the body length, or
 * -1.  pause_ms: sleep after the head before reading the body (the
 * server's socket fills meanwhile). */
static long read_response(int fd, char *head, size_t cap, unsigned char *body, size_t bcap,
                          int pause_ms)
{
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= cap)
            return -1;
        ssize_t r = recv(fd, head + n, 1, 0); /* byte-wise: stop at the head's end */
        if (r <= 0)
            return -1;
        n++;
        head[n] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    const char *cl = strstr(head, "Content-Length: ");
    if (!cl)
        return -1;
    size_t len = (size_t)atol(cl + 16);
    if (len > bcap)
        return -1;
    if (pause_ms)
        usleep((useconds_t)pause_ms * 1000);
    size_t got = 0;
    while (got < len) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0)
            return -1;
        ssize_t r = recv(fd, body + got, len - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return (long)len;
}

static int same_as_file(const unsigned char *body, size_t off, size_t len)
{
    return memcmp(body, data + off, len) == 0;
}

/* ---- client functions (run in a thread against a fresh server) ---------- */

/* Runs on the server's loop: notes its backend. */
static int note_backend(srv_ctx *x)
{
    (void)x;
    backend = cio_loop_backend_name(cio_get_running_loop());
    return 0;
}

static int c_large_slow(srv_ctx *x)
{
    int fd = tcp_connect(x->port);
    int small = 65536;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    const char *r = "GET /file HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, r, strlen(r));
    char head[2048];
    unsigned char *body = malloc(BIG);
    long n = read_response(fd, head, sizeof head, body, BIG, 300);
    CHECK(strncmp(head, "HTTP/1.1 200 ", 13) == 0);
    CHECK_EQ(n, BIG);
    CHECK(n == (long)BIG && same_as_file(body, 0, BIG));
    /* the connection goes on: a second request on it */
    r = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, r, strlen(r));
    n = read_response(fd, head, sizeof head, body, BIG, 0);
    CHECK(n == 11 && memcmp(body, "hello world", 11) == 0);
    free(body);
    close(fd);
    return 0;
}

static int c_ranges(srv_ctx *x)
{
    int fd = tcp_connect(x->port);
    char head[2048];
    unsigned char body[70000];
    const char *r = "GET /file HTTP/1.1\r\nHost: a\r\nRange: bytes=1000003-1065538\r\n\r\n";
    send_all(fd, r, strlen(r));
    long n = read_response(fd, head, sizeof head, body, sizeof body, 0);
    CHECK(strncmp(head, "HTTP/1.1 206 ", 13) == 0);
    CHECK(strstr(head, "Content-Range: bytes 1000003-1065538/4194304\r\n") != NULL);
    CHECK_EQ(n, 65536);
    CHECK(n == 65536 && same_as_file(body, 1000003, 65536));
    r = "GET /file HTTP/1.1\r\nHost: a\r\nRange: bytes=-10\r\n\r\n";
    send_all(fd, r, strlen(r));
    n = read_response(fd, head, sizeof head, body, sizeof body, 0);
    CHECK_EQ(n, 10);
    CHECK(n == 10 && same_as_file(body, BIG - 10, 10));
    close(fd);
    return 0;
}

/* Three requests in one write: an inline text response, the file from an
 * inline handler, another text: the file's bytes must land between the
 * two, in order. */
static int c_inline_pipelined(srv_ctx *x)
{
    int fd = tcp_connect(x->port);
    const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /file_inline HTTP/1.1\r\nHost: a\r\nRange: bytes=5-20004\r\n\r\n"
                    "GET /seq?i=3 HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, r, strlen(r));
    char head[2048];
    unsigned char body[20000];
    long n = read_response(fd, head, sizeof head, body, sizeof body, 0);
    CHECK(n == 11 && memcmp(body, "hello world", 11) == 0);
    n = read_response(fd, head, sizeof head, body, sizeof body, 0);
    CHECK(strncmp(head, "HTTP/1.1 206 ", 13) == 0);
    CHECK(n == 20000 && same_as_file(body, 5, 20000));
    n = read_response(fd, head, sizeof head, body, sizeof body, 0);
    CHECK(n == 5 && memcmp(body, "seq 3", 5) == 0);
    close(fd);
    return 0;
}

/* A reader that resets the connection mid-file: the server must neither
 * die of SIGPIPE nor stop serving. */
static int c_disconnect(srv_ctx *x)
{
    for (int i = 0; i < 3; i++) {
        int fd = tcp_connect(x->port);
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        const char *r = "GET /file HTTP/1.1\r\nHost: a\r\n\r\n";
        send_all(fd, r, strlen(r));
        char buf[1000];
        CHECK(recv(fd, buf, sizeof buf, 0) > 0);
        usleep(50 * 1000);
        struct linger lg = {1, 0}; /* close with RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    usleep(100 * 1000);
    char out[4096];
    int eof;
    const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "\r\n\r\nhello world") != NULL);
    return 0;
}

/* ---- the cases, once per backend ------------------------------------------ */

/* Runs client against a fresh server on backend be; returns the bytes
 * sendfile sent meanwhile and sets *calls to its calls. */
static unsigned long waits; /* full-socket waits in the last case */

static uint64_t run_case(const char *be, int (*client)(srv_ctx *), unsigned long *calls)
{
    setenv("CIO_BACKEND", be, 1);
    srv_ctx x = {.client = client, .during = note_backend};
    cio_http_server_options_init(&x.opts);
    unsigned long c0 = cio__http_sendfile_calls, w0 = cio__http_sendfile_waits;
    uint64_t b0 = cio__http_sendfile_bytes;
    CHECK_RC(serve(&x), 0);
    *calls = cio__http_sendfile_calls - c0;
    waits = cio__http_sendfile_waits - w0;
    return cio__http_sendfile_bytes - b0;
}

static void test_backend(const char *be)
{
    unsigned long calls;
    uint64_t bytes = run_case(be, c_large_slow, &calls);
    fprintf(stderr, "  %s (ran on %s): 4 MiB to a slow reader in %lu sendfile calls, %lu waits\n",
            be, backend ? backend : "?", calls, waits);
    CHECK_EQ(bytes, BIG);
    CHECK(waits > 0); /* the socket filled: the handler waited and went on */
    bytes = run_case(be, c_ranges, &calls);
    CHECK_EQ(bytes, 65536 + 10);
    bytes = run_case(be, c_inline_pipelined, &calls);
    CHECK_EQ(bytes, 20000);
    bytes = run_case(be, c_disconnect, &calls);
    CHECK(bytes < 3ull * BIG); /* cut short: not all of the three files went */
}

static void test_epoll(void)
{
    test_backend("epoll");
}

static void test_io_uring(void)
{
    test_backend("io_uring");
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE from the server must kill the test */
    char tmpl[] = "/tmp/cio_http_sendfile_XXXXXX";
    int fd = mkstemp(tmpl);
    data = malloc(BIG);
    if (fd < 0 || !data)
        TEST_SKIP("no temporary file");
    for (size_t i = 0; i < BIG; i++)
        data[i] = byte_at(i);
    CHECK_EQ(write(fd, data, BIG), (long)BIG);
    close(fd);
    file_path = tmpl;
    RUN(test_epoll);
    RUN(test_io_uring);
    unlink(tmpl);
    free(data);
    return test_finish();
}
