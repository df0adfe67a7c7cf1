/*
 * test_http_server.c - the HTTP/1.1 server against real clients on
 * loopback: curl, Python's http.client, aiohttp and h11, and raw sockets
 * for what clients do not normally send (pipelining in one write,
 * request smuggling forms, oversized parts, 100-continue by hand).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "http_server_util.h"

/* ---- raw sockets --------------------------------------------------------- */

static int c_basics(srv_ctx *x)
{
    char out[8192];
    int eof;
    const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(out, "\r\nContent-Length: 11\r\n") != NULL);
    CHECK(strstr(out, "\r\nDate: ") != NULL);
    CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
    CHECK(strstr(out, "\r\n\r\nhello world") != NULL);
    CHECK(eof);

    /* response headers: the server's own refused, others kept */
    r = "GET /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(out, "\r\nDatum: yes\r\n") && strstr(out, "\r\nDate-Seen: yes\r\n"));
    CHECK(strstr(out, "\r\nX-Content-Length: yes\r\n") &&
          strstr(out, "\r\nContent-Lengths: yes\r\n"));
    CHECK(strstr(out, "Content-Length: 1\r\n") == NULL && strstr(out, "X-Evil") == NULL);

    /* HEAD: the GET route's headers, no body */
    r = "HEAD /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "Content-Length: 11\r\n") != NULL);
    CHECK(strstr(out, "hello world") == NULL);

    /* 404, 405 with Allow */
    r = "GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0);
    r = "PUT /items/7 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 405 ", 13) == 0);
    CHECK(strstr(out, "Allow: GET, HEAD, DELETE\r\n") != NULL);

    /* path parameters are decoded; query and case-insensitive headers */
    r = "GET /items/a%20b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "{\"id\":\"a b\"}") != NULL);
    r = "GET /query?a=1+2%21&b=&c HTTP/1.1\r\nHost: a\r\nx-test: yes\r\nConnection: "
        "close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "a=[1 2!] b=[] x=[yes]") != NULL);

    /* HTTP/1.0: closes by default, keep-alive when asked */
    r = "GET /hello HTTP/1.0\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 && eof);
    int fd = tcp_connect(x->port);
    r = "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    send_all(fd, r, strlen(r));
    read_until_count(fd, out, sizeof out, "hello world", 1, 2);
    CHECK(strstr(out, "Connection: keep-alive\r\n") != NULL);
    send_all(fd, r, strlen(r));
    read_until_count(fd, out, sizeof out, "hello world", 1, 2);
    CHECK(strstr(out, "hello world") != NULL);
    close(fd);

    /* bodies: Content-Length and chunked, buffered and streamed */
    r = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "Content-Length: 5\r\n") && strstr(out, "\r\n\r\nabcde"));
    r = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: "
        "close\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "Content-Length: 7\r\n") && strstr(out, "\r\n\r\nabcdefg"));
    r = "POST /count HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: "
        "close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "\r\n\r\n7") != NULL);

    /* chunked response */
    r = "GET /chunked HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "Transfer-Encoding: chunked\r\n") != NULL);
    CHECK(strstr(out, "8\r\npiece 0\n\r\n8\r\npiece 1\n\r\n8\r\npiece 2\n\r\n0\r\n\r\n") != NULL);

    /* cio_http_request_abort: the head and a chunk, never the last chunk */
    r = "GET /abort HTTP/1.1\r\nHost: a\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "Transfer-Encoding: chunked\r\n") != NULL);
    CHECK(strstr(out, "0\r\n\r\n") == NULL);
    CHECK(eof);
    for (int i = 0; i < 500 && !abort_done; i++)
        usleep(10000); /* the client may see EOF before the second call */
    CHECK(abort_done);
    CHECK_RC(abort_rc[0], 0);
    CHECK_RC(abort_rc[1], CIO_ECLOSED);

    /* SSE */
    r = "GET /sse HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    CHECK(strstr(out, "Content-Type: text/event-stream\r\n") != NULL);
    CHECK(strstr(out, "event: tick\ndata: tick 2\ndata: line2\n\n") != NULL);

    /* JSON in */
    r = "POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\nConnection: "
        "close\r\n\r\n{\"a\":{\"b\":\"xy\"}}";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    if (cio_http_json_available())
        CHECK(strstr(out, "{\"got\":\"xy\"}") != NULL);
    r = "POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{x:";
    exchange(x->port, r, strlen(r), out, sizeof out, &eof);
    if (cio_http_json_available())
        CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    return 0;
}

static void test_basics(void)
{
    srv_ctx x = {.client = c_basics};
    CHECK_RC(serve(&x), 0);
    CHECK_RC(x.shutdown_rc, 0);
}

/* 16 requests in one write: 16 responses in order, from one write. */
static int c_pipeline(srv_ctx *x)
{
    char req[4096] = "", out[16384];
    for (int i = 0; i < 16; i++)
        snprintf(req + strlen(req), sizeof req - strlen(req),
                 "GET /seq?i=%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
    int fd = tcp_connect(x->port);
    unsigned long before = cio__http_server_writes;
    send_all(fd, req, strlen(req));
    read_until_count(fd, out, sizeof out, "seq ", 16, 2);
    unsigned long writes = cio__http_server_writes - before;
    const char *p = out;
    for (int i = 0; i < 16; i++) {
        char want[16];
        snprintf(want, sizeof want, "seq %d", i);
        const char *q = strstr(p, want);
        CHECK(q != NULL);
        if (q)
            p = q;
    }
    CHECK_EQ(writes, 1);
    /* mixed with a task handler: still in order */
    const char *mix = "GET /seq?i=a HTTP/1.1\r\nHost: a\r\n\r\nGET /items/b HTTP/1.1\r\nHost: "
                      "a\r\n\r\nGET /seq?i=c HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, mix, strlen(mix));
    read_until_count(fd, out, sizeof out, "HTTP/1.1 200", 3, 2);
    const char *a = strstr(out, "seq a"), *b = strstr(out, "\"b\""), *c = strstr(out, "seq c");
    CHECK(a && b && c && a < b && b < c);
    /* the path buffer is the connection's, kept between requests: a long
     * path grows it, the shorter ones after reuse it, each with its own
     * parameter */
    char id[201]; /* a 207-byte path: more than the buffer's first 256 with its room */
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = 0;
    char seq[1024];
    snprintf(seq, sizeof seq,
             "GET /items/%s HTTP/1.1\r\nHost: a\r\n\r\nGET /items/q%%20r HTTP/1.1\r\nHost: "
             "a\r\n\r\nGET /items/z HTTP/1.1\r\nHost: a\r\n\r\n",
             id);
    send_all(fd, seq, strlen(seq));
    read_until_count(fd, out, sizeof out, "HTTP/1.1 200", 3, 2);
    char want[440];
    snprintf(want, sizeof want, "{\"id\":\"%s\"}", id);
    const char *l = strstr(out, want), *m = strstr(out, "{\"id\":\"q r\"}"),
               *z = strstr(out, "{\"id\":\"z\"}");
    CHECK(l && m && z && l < m && m < z);
    close(fd);
    return 0;
}

static void test_pipeline(void)
{
    srv_ctx x = {.client = c_pipeline};
    CHECK_RC(serve(&x), 0);
}

/* Requests pipelined behind a task handler (read ahead while it runs),
 * then the client's end of stream: every request is answered, in order,
 * before the server closes; past READ_AHEAD the rest waits in the socket
 * and is served too. */
static int c_pipeline_eof(srv_ctx *x)
{
    static char out[1 << 18];
    static char req[32 * 1024];
    for (int round = 0; round < 2; round++) {
        int fd = tcp_connect(x->port);
        size_t len = (size_t)snprintf(req, sizeof req,
                                      "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
                                      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                                      "GET /items/7 HTTP/1.1\r\nHost: a\r\n\r\n");
        int n = 3;
        /* the second round: more than READ_AHEAD (16 KiB) behind the first */
        while (round == 1 && len + 64 < sizeof req) {
            len += (size_t)snprintf(req + len, sizeof req - len,
                                    "GET /seq?i=%d HTTP/1.1\r\nHost: a\r\n\r\n", n);
            n++;
        }
        send_all(fd, req, len);
        shutdown(fd, SHUT_WR);
        int eof;
        read_until_eof(fd, out, sizeof out, 5.0, &eof);
        close(fd);
        CHECK(eof);
        const char *a = strstr(out, "slow done"), *b = strstr(out, "hello world"),
                   *d = strstr(out, "{\"id\":\"7\"}");
        CHECK(a && b && d && a < b && b < d);
        int count = 0;
        for (const char *p = out; (p = strstr(p, "HTTP/1.1 200 OK")); p++)
            count++;
        CHECK_EQ(count, n);
        if (round == 1) {
            char last[32];
            snprintf(last, sizeof last, "seq %d", n - 1);
            CHECK(strstr(out, last) != NULL);
        }
    }
    return 0;
}

/* A keep-alive client whose next request comes while the handler that
 * answered the last one still runs: read ahead, no pause (on io_uring a
 * pause cancels the receive and a resume arms it again). */
static int c_read_ahead(srv_ctx *x)
{
    char out[4096];
    int fd = tcp_connect(x->port);
    unsigned long before = __atomic_load_n(&cio__http_read_pauses, __ATOMIC_RELAXED);
    const char *r = "GET /linger HTTP/1.1\r\nHost: a\r\n\r\n";
    for (int i = 0; i < 20; i++) {
        send_all(fd, r, strlen(r));
        read_until_count(fd, out, sizeof out, "lingered", 1, 2);
        CHECK(strstr(out, "lingered") != NULL);
    }
    CHECK_EQ(__atomic_load_n(&cio__http_read_pauses, __ATOMIC_RELAXED), before);
    close(fd);
    return 0;
}

static void test_read_ahead(void)
{
    srv_ctx x = {.client = c_read_ahead};
    CHECK_RC(serve(&x), 0);
}

static void test_pipeline_eof(void)
{
    slow_seconds = 0.05;
    srv_ctx x = {.client = c_pipeline_eof};
    CHECK_RC(serve(&x), 0);
    slow_seconds = 0.2;
}

/* Smuggling and malformed framing: 400 (or 501) and the connection closed. */
static const struct {
    const char *req;
    const char *status;
} bad_cases[] = {
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
     "chunked\r\n\r\n0\r\n\r\n",
     "400"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
     "400"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", "400"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", "400"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "50"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", "50"},
    {"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
    {"GET /hello HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "400"},
    {"GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", "400"},
    {"GET /hello HTTP/1.1\nHost: a\n\n", "400"},
    {"GET /hello HTTP/1.1\r\n\r\n", "400"},
    {"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "400"},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
     "400"},
    {"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", "505"},
    {"GET hello HTTP/1.1\r\nHost: a\r\n\r\n", "400"},
};

static int c_smuggling(srv_ctx *x)
{
    char out[4096];
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad_cases); i++) {
        int eof;
        /* a valid request follows: it must never be answered */
        char req[1024];
        snprintf(req, sizeof req, "%sGET /hello HTTP/1.1\r\nHost: a\r\n\r\n", bad_cases[i].req);
        exchange(x->port, req, strlen(req), out, sizeof out, &eof);
        char want[32];
        snprintf(want, sizeof want, "HTTP/1.1 %s", bad_cases[i].status);
        if (strncmp(out, want, strlen(want)) != 0 || !eof || strstr(out, "hello world")) {
            fprintf(stderr, "smuggling case %zu: got [%.60s] eof %d\n", i, out, eof);
            CHECK(0);
        }
    }
    return 0;
}

static void test_smuggling(void)
{
    srv_ctx x = {.client = c_smuggling};
    CHECK_RC(serve(&x), 0);
}

/* Limits: 414, 431 (size and count), 413 (length and chunked). */
static int c_limits(srv_ctx *x)
{
    static char req[64 * 1024], out[8192];
    int eof;
    memset(req, 0, sizeof req);
    strcpy(req, "GET /");
    memset(req + 5, 'a', 300);
    req[305] = 0;
    strcat(req, " HTTP/1.1\r\nHost: a\r\n\r\n");
    exchange(x->port, req, strlen(req), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 414 ", 13) == 0);
    strcpy(req, "GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: ");
    size_t l = strlen(req);
    memset(req + l, 'b', 3000);
    strcpy(req + l + 3000, "\r\n\r\n");
    exchange(x->port, req, strlen(req), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
    strcpy(req, "GET /hello HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 30; i++)
        strcat(req, "X-A: 1\r\n");
    strcat(req, "\r\n");
    exchange(x->port, req, strlen(req), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
    strcpy(req, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
    exchange(x->port, req, strlen(req), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    strcpy(req, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 6; i++) {
        strcat(req, "3e8\r\n");
        size_t k = strlen(req);
        memset(req + k, 'c', 1000);
        strcpy(req + k + 1000, "\r\n");
    }
    exchange(x->port, req, strlen(req), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    if (strncmp(out, "HTTP/1.1 413 ", 13))
        fprintf(stderr, "got %.200s\n", out);
    /* a streamed body over the limit: 413 too */
    strcpy(req, "POST /count HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 6; i++) {
        strcat(req, "3e8\r\n");
        size_t k = strlen(req);
        memset(req + k, 'c', 1000);
        strcpy(req + k + 1000, "\r\n");
    }
    strcat(req, "0\r\n\r\n");
    exchange(x->port, req, strlen(req), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    return 0;
}

static void test_limits(void)
{
    srv_ctx x = {.client = c_limits};
    cio_http_server_options_init(&x.opts);
    x.opts.max_target = 256;
    x.opts.max_head = 2048;
    x.opts.max_headers = 20;
    x.opts.max_body = 4096;
    CHECK_RC(serve(&x), 0);
}

/* Expect: 100-continue: the interim answer comes before the body is sent;
 * a refused request gets its final answer instead. */
static int c_continue(srv_ctx *x)
{
    char out[4096];
    int fd = tcp_connect(x->port);
    const char *h = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: "
                    "100-continue\r\n\r\n";
    send_all(fd, h, strlen(h));
    read_until_count(fd, out, sizeof out, "\r\n\r\n", 1, 2);
    CHECK(strcmp(out, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
    send_all(fd, "wxyz", 4);
    read_until_count(fd, out, sizeof out, "wxyz", 1, 2);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 && strstr(out, "wxyz"));
    close(fd);
    /* streamed: 100 when the handler reads */
    fd = tcp_connect(x->port);
    h = "POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
    send_all(fd, h, strlen(h));
    read_until_count(fd, out, sizeof out, "\r\n\r\n", 1, 2);
    CHECK(strcmp(out, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
    send_all(fd, "wxyz", 4);
    read_until_count(fd, out, sizeof out, "\r\n\r\n4", 1, 2);
    CHECK(strstr(out, "\r\n\r\n4") != NULL);
    close(fd);
    int eof;
    h = "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: "
        "100-continue\r\n\r\n";
    exchange(x->port, h, strlen(h), out, sizeof out, &eof);
    CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0 && eof);
    return 0;
}

static void test_continue(void)
{
    srv_ctx x = {.client = c_continue};
    CHECK_RC(serve(&x), 0);
}

/* ---- real clients ----------------------------------------------------------- */

static int c_curl(srv_ctx *x)
{
    char cmd[1024], out[300 * 1024];
    snprintf(cmd, sizeof cmd, "curl -s -i http://127.0.0.1:%d/hello", x->port);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "HTTP/1.1 200 OK") && strstr(out, "hello world"));
    /* keep-alive across several URLs of one curl */
    snprintf(cmd, sizeof cmd,
             "curl -s -v http://127.0.0.1:%d/hello http://127.0.0.1:%d/items/9 2>&1",
             x->port, x->port);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "Re-using existing connection") != NULL);
    CHECK(strstr(out, "{\"id\":\"9\"}") != NULL);
    /* gzip, decoded by curl */
    snprintf(cmd, sizeof cmd, "curl -s --compressed -D - -o /dev/null http://127.0.0.1:%d/big",
             x->port);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
#ifdef CIO_HAVE_ZLIB
    CHECK(strstr(out, "Content-Encoding: gzip") != NULL);
#endif
    snprintf(cmd, sizeof cmd, "curl -s --compressed http://127.0.0.1:%d/big | wc -c", x->port);
    run_cmd(cmd, out, sizeof out);
    CHECK_EQ(atol(out), 200 * 1024);
    /* chunked upload with 100-continue, and a streamed response */
    snprintf(cmd, sizeof cmd,
             "head -c 300000 /dev/zero | curl -s -H 'Transfer-Encoding: chunked' -H 'Expect: "
             "100-continue' --data-binary @- http://127.0.0.1:%d/count",
             x->port);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    CHECK(strcmp(out, "300000") == 0);
    snprintf(cmd, sizeof cmd, "curl -s -N http://127.0.0.1:%d/sse", x->port);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "event: tick\ndata: tick 0\ndata: line2\n\n") != NULL);
    /* files: full, conditional, range */
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/file | cmp - %s && echo same",
             x->port, file_path);
    run_cmd(cmd, out, sizeof out);
    CHECK(strcmp(out, "same\n") == 0);
    snprintf(cmd, sizeof cmd, "curl -s -r 10-19 -i http://127.0.0.1:%d/file", x->port);
    run_cmd(cmd, out, sizeof out);
    CHECK(strstr(out, "HTTP/1.1 206") && strstr(out, "Content-Range: bytes 10-19/100000"));
    CHECK(strstr(out, "\r\n\r\n0123456789") != NULL);
    snprintf(cmd, sizeof cmd,
             "E=$(curl -s -D - -o /dev/null http://127.0.0.1:%d/file | tr -d '\\r' | sed -n "
             "'s/^ETag: //p'); curl -s -o /dev/null -w '%%{http_code}' -H \"If-None-Match: $E\" "
             "http://127.0.0.1:%d/file",
             x->port, x->port);
    run_cmd(cmd, out, sizeof out);
    CHECK(strcmp(out, "304") == 0);
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -r 200000-300000 http://127.0.0.1:%d/file",
             x->port);
    run_cmd(cmd, out, sizeof out);
    CHECK(strcmp(out, "416") == 0);
    return 0;
}

static void test_curl(void)
{
    if (!have_cmd("curl")) {
        test_skip_case("no curl");
        return;
    }
    srv_ctx x = {.client = c_curl};
    x.opts.gzip = 1; /* c_curl's /big: gzip, decoded by curl */
    CHECK_RC(serve(&x), 0);
}

static const char *py_script;

static int c_python(srv_ctx *x)
{
    char cmd[8192], out[8192];
    snprintf(cmd, sizeof cmd, "%s -c '%s' %d 2>&1", PYTHON, py_script, x->port);
    int rc = run_cmd(cmd, out, sizeof out);
    if (rc == 77) {
        printf("python client skipped: %s", out);
        return 77;
    }
    if (rc != 0 || !strstr(out, "ok"))
        fprintf(stderr, "python client: %s\n", out);
    CHECK_EQ(rc, 0);
    return 0;
}

static void run_python(const char *script)
{
    if (need_python() < 0)
        return;
    py_script = script;
    srv_ctx x = {.client = c_python};
    int rc = serve(&x);
    if (rc == 77)
        test_skip_case("python module missing");
    else
        CHECK_RC(rc, 0);
}

static void test_http_client(void)
{
    run_python("import http.client, sys, json\n"
               "c = http.client.HTTPConnection(\"127.0.0.1\", int(sys.argv[1]))\n"
               "for i in range(20):\n"
               "    c.request(\"GET\", \"/items/%d\" % i)\n"
               "    r = c.getresponse()\n"
               "    assert r.status == 200 and json.loads(r.read()) == {\"id\": str(i)}\n"
               "c.request(\"POST\", \"/echo\", body=b\"x\" * 5000)\n"
               "r = c.getresponse(); assert r.read() == b\"x\" * 5000\n"
               "c.request(\"POST\", \"/count\", body=iter([b\"ab\", b\"cde\"]), "
               "encode_chunked=True)\n"
               "r = c.getresponse(); assert r.read() == b\"5\"\n"
               "c.request(\"GET\", \"/chunked\")\n"
               "r = c.getresponse(); assert r.read() == b\"piece 0\\npiece 1\\npiece 2\\n\"\n"
               "c.request(\"HEAD\", \"/hello\")\n"
               "r = c.getresponse(); assert r.read() == b\"\" and "
               "r.getheader(\"Content-Length\") == \"11\"\n"
               "print(\"ok\")\n");
}

static void test_aiohttp(void)
{
    run_python("import sys\n"
               "try:\n"
               "    import aiohttp, asyncio\n"
               "except ImportError:\n"
               "    print(\"no aiohttp\"); sys.exit(77)\n"
               "async def main():\n"
               "    url = \"http://127.0.0.1:%s\" % sys.argv[1]\n"
               "    async with aiohttp.ClientSession() as s:\n"
               "        async def one(i):\n"
               "            async with s.get(url + \"/items/%d\" % i) as r:\n"
               "                assert r.status == 200\n"
               "                assert (await r.json()) == {\"id\": str(i)}\n"
               "        await asyncio.gather(*(one(i) for i in range(100)))\n"
               "        async with s.get(url + \"/big\") as r:\n"
               "            assert len(await r.read()) == 200 * 1024\n"
               "        async with s.post(url + \"/json\", json={\"a\": {\"b\": 5}}) as r:\n"
               "            t = await r.text()\n"
               "            assert r.status in (200, 404), t\n"
               "        async with s.get(url + \"/sse\") as r:\n"
               "            body = await r.text()\n"
               "            assert body.count(\"event: tick\") == 3, body\n"
               "asyncio.run(main())\n"
               "print(\"ok\")\n");
}

static void test_h11(void)
{
    run_python("import sys, socket\n"
               "try:\n"
               "    import h11\n"
               "except ImportError:\n"
               "    print(\"no h11\"); sys.exit(77)\n"
               "s = socket.create_connection((\"127.0.0.1\", int(sys.argv[1])))\n"
               "c = h11.Connection(h11.CLIENT)\n"
               "def get(target, method=\"GET\"):\n"
               "    s.sendall(c.send(h11.Request(method=method, target=target, "
               "headers=[(\"Host\", \"a\")])))\n"
               "    s.sendall(c.send(h11.EndOfMessage()))\n"
               "    body = b\"\"; resp = None\n"
               "    while True:\n"
               "        e = c.next_event()\n"
               "        if e is h11.NEED_DATA:\n"
               "            c.receive_data(s.recv(65536)); continue\n"
               "        if isinstance(e, h11.Response): resp = e\n"
               "        elif isinstance(e, h11.Data): body += e.data\n"
               "        elif isinstance(e, h11.EndOfMessage): break\n"
               "    c.start_next_cycle()\n"
               "    return resp, body\n"
               "for t in [\"/hello\", \"/chunked\", \"/items/x\", \"/sse\", \"/nope\"]:\n"
               "    r, b = get(t)\n"
               "    assert r.status_code == (404 if t == \"/nope\" else 200), (t, r)\n"
               "r, b = get(\"/hello\", \"HEAD\"); assert b == b\"\"\n"
               "print(\"ok\")\n");
}

int main(void)
{
    char tmpl[] = "/tmp/cio_http_file_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
        static char data[100000];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (char)('0' + i % 10);
        CHECK_EQ(write(fd, data, sizeof data), (long)sizeof data);
        close(fd);
    }
    file_path = tmpl;
    RUN(test_basics);
    RUN(test_pipeline);
    RUN(test_pipeline_eof);
    RUN(test_read_ahead);
    RUN(test_smuggling);
    RUN(test_limits);
    RUN(test_continue);
    RUN(test_curl);
    RUN(test_http_client);
    RUN(test_aiohttp);
    RUN(test_h11);
    unlink(tmpl);
    return test_finish();
}
