/*
 * test_http_server_load.c - the HTTP server's timeouts and its behaviour
 * under many connections: slowloris (hundreds of connections sending a
 * byte at a time must not starve a normal client, and are cut off by the
 * header timeout), the idle keep-alive timeout, graceful shutdown with a
 * slow handler in flight (finishes) and past its deadline (aborted), and
 * thousands of idle keep-alive connections (10,000 when the descriptor
 * limit allows).  Timeouts are short here so the test stays quick.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- slowloris ----------------------------------------------------------- */

#define SLOW_CONNS 200

static int c_slowloris(srv_ctx *x)
{
    static int fds[SLOW_CONNS];
    const char *head = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: ";
    int open_ok = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        fds[i] = tcp_connect(x->port);
        open_ok += fds[i] >= 0;
    }
    CHECK_EQ(open_ok, SLOW_CONNS);
    /* a byte every 0.1 s on each slow connection, for 1.2 s (the header
     * timeout is 0.6 s); a normal client meanwhile */
    double t0 = now_s(), worst = 0;
    int normal_ok = 0, rounds = 0;
    size_t k = 0;
    while (now_s() - t0 < 1.2) {
        for (int i = 0; i < SLOW_CONNS; i++)
            if (fds[i] >= 0)
                send(fds[i], head + (k % strlen(head)), 1, MSG_NOSIGNAL);
        k++;
        double a = now_s();
        char out[1024];
        int eof;
        const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        exchange(x->port, r, strlen(r), out, sizeof out, &eof);
        double d = now_s() - a;
        if (d > worst)
            worst = d;
        normal_ok += strstr(out, "hello world") != NULL;
        rounds++;
        usleep(100000);
    }
    CHECK_EQ(normal_ok, rounds);
    CHECK(worst < 0.5);
    /* every slow connection was closed by the header timeout */
    int closed = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        char b[256];
        int eof;
        read_until_eof(fds[i], b, sizeof b, 1.0, &eof);
        closed += eof;
        close(fds[i]);
    }
    CHECK_EQ(closed, SLOW_CONNS);
    return 0;
}

static void test_slowloris(void)
{
    raise_nofile(4096);
    srv_ctx x = {.client = c_slowloris};
    cio_http_server_options_init(&x.opts);
    x.opts.header_timeout = 0.6;
    CHECK_RC(serve(&x), 0);
}

/* ---- idle keep-alive ------------------------------------------------------ */

static int c_idle(srv_ctx *x)
{
    int fd = tcp_connect(x->port);
    const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    char out[1024];
    send_all(fd, r, strlen(r));
    read_until_count(fd, out, sizeof out, "hello world", 1, 2);
    CHECK(strstr(out, "hello world") != NULL);
    CHECK(strstr(out, "Connection: close") == NULL);
    double t0 = now_s();
    int eof;
    read_until_eof(fd, out, sizeof out, 3, &eof);
    double waited = now_s() - t0;
    CHECK(eof);
    CHECK(waited > 0.3 && waited < 1.5);
    close(fd);
    return 0;
}

static void test_idle_timeout(void)
{
    srv_ctx x = {.client = c_idle};
    cio_http_server_options_init(&x.opts);
    x.opts.idle_timeout = 0.5;
    CHECK_RC(serve(&x), 0);
}

/* ---- graceful shutdown ----------------------------------------------------- */

struct shut {
    int slow_fd;   /* a connection with /slow in flight */
    int idle_fd;   /* an idle keep-alive connection */
    int started;   /* the client has sent its requests */
};

static int c_shutdown(srv_ctx *x)
{
    struct shut *s = x->arg;
    char out[4096];
    s->idle_fd = tcp_connect(x->port);
    const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(s->idle_fd, r, strlen(r));
    read_until_count(s->idle_fd, out, sizeof out, "hello world", 1, 2);
    s->slow_fd = tcp_connect(x->port);
    r = "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(s->slow_fd, r, strlen(r));
    __atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
    int eof;
    read_until_eof(s->idle_fd, out, sizeof out, 3, &eof);
    CHECK(eof); /* closed at once by the shutdown */
    read_until_eof(s->slow_fd, out, sizeof out, 10, &eof);
    if (slow_seconds < 1) {
        /* the in-flight request finished, then the connection closed */
        CHECK(strstr(out, "slow done") != NULL);
        CHECK(strstr(out, "Connection: close\r\n") != NULL);
    } else {
        CHECK(strstr(out, "slow done") == NULL); /* aborted at the deadline */
    }
    CHECK(eof);
    close(s->idle_fd);
    close(s->slow_fd);
    return 0;
}

/* On the loop: once the slow request is in, shut down. */
static int during_shutdown(srv_ctx *x)
{
    struct shut *s = x->arg;
    while (!__atomic_load_n(&s->started, __ATOMIC_ACQUIRE))
        cio_sleep(0.01);
    cio_sleep(0.05);
    double t0 = now_s();
    x->shutdown_rc = cio_http_server_shutdown(x->srv, x->shutdown_deadline);
    double took = now_s() - t0;
    if (slow_seconds < 1) {
        CHECK_RC(x->shutdown_rc, 0);
        CHECK(took < 1.0);
    } else {
        CHECK_RC(x->shutdown_rc, -ETIMEDOUT);
        CHECK(took < x->shutdown_deadline + 0.5);
    }
    CHECK_EQ(cio_http_server_connections(x->srv), 0);
    return 0;
}

static void test_graceful_shutdown(void)
{
    struct shut s = {0};
    srv_ctx x = {.client = c_shutdown, .during = during_shutdown, .arg = &s};
    x.shutdown_deadline = 2;
    slow_seconds = 0.3;
    CHECK_RC(serve(&x), 0);
}

static void test_shutdown_deadline(void)
{
    struct shut s = {0};
    srv_ctx x = {.client = c_shutdown, .during = during_shutdown, .arg = &s};
    x.shutdown_deadline = 0.3;
    slow_seconds = 30;
    CHECK_RC(serve(&x), 0);
    slow_seconds = 0.2;
}

/* A negative deadline is no limit (as cio_server_shutdown's): the slow
 * request finishes; it used to be cut at once. */
static void test_shutdown_no_limit(void)
{
    struct shut s = {0};
    srv_ctx x = {.client = c_shutdown, .during = during_shutdown, .arg = &s};
    x.shutdown_deadline = -1;
    slow_seconds = 0.3;
    CHECK_RC(serve(&x), 0);
    slow_seconds = 0.2;
}

/* ---- many idle keep-alive connections ------------------------------------------ */

static int many_conns;

static int c_many(srv_ctx *x)
{
    int n = many_conns;
    int *fds = malloc((size_t)n * sizeof *fds);
    const char *r = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t rl = strlen(r);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = tcp_connect(x->port);
        if (fds[i] >= 0)
            send_all(fds[i], r, rl);
        /* read the answers in batches, so the backlog never overflows */
        if (i % 200 == 199 || i == n - 1) {
            for (int j = i - (i % 200); j <= i; j++) {
                char out[512];
                if (fds[j] < 0)
                    continue;
                read_until_count(fds[j], out, sizeof out, "hello world", 1, 5);
                ok += strstr(out, "hello world") != NULL;
            }
        }
    }
    CHECK_EQ(ok, n);
    /* all of them are open and idle on the server; a new client is served */
    usleep(100000);
    CHECK_EQ(cio_http_server_connections(x->srv), (size_t)n);
    char out[1024];
    int eof;
    const char *r2 = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(x->port, r2, strlen(r2), out, sizeof out, &eof);
    CHECK(strstr(out, "hello world") != NULL);
    /* and every idle one still answers */
    int again = 0;
    for (int i = 0; i < n; i += 97) {
        send_all(fds[i], r, rl);
        read_until_count(fds[i], out, sizeof out, "hello world", 1, 5);
        again += strstr(out, "hello world") != NULL;
    }
    CHECK_EQ(again, (n + 96) / 97);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return 0;
}

static void test_many_idle(void)
{
    long lim = raise_nofile(25000);
    many_conns = lim >= 21000 ? 10000 : (int)((lim - 100) / 2);
    if (many_conns < 1000) {
        test_skip_case("RLIMIT_NOFILE too low for 1,000 connections");
        return;
    }
    printf("idle keep-alive connections: %d\n", many_conns);
    srv_ctx x = {.client = c_many};
    CHECK_RC(serve(&x), 0);
    CHECK_RC(x.shutdown_rc, 0);
}

int main(void)
{
    RUN(test_idle_timeout);
    RUN(test_graceful_shutdown);
    RUN(test_shutdown_deadline);
    RUN(test_shutdown_no_limit);
    RUN(test_slowloris);
    RUN(test_many_idle);
    return test_finish();
}
