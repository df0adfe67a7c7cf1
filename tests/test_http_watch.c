/*
 * test_http_watch.c - CIO_HTTP_WATCH_CLOSE: a task handler that is still
 * working (a long poll) after the request's body was read learns at once
 * that its client went away - it is cancelled within a few milliseconds
 * of the client's close, half-close included - while a pipelining
 * client, keep-alive and routes without the flag behave as before (the
 * handler runs to its end).  Raw blocking sockets in a thread are the
 * clients; the server runs on the test's loop.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_server_util.h"
#include "test.h"

/* What the waiting handler saw, read by the client thread once done. */
static struct {
    _Atomic int done;   /* the handler returned */
    int sleep_rc;       /* cio_sleep's result: 0, or -ECANCELED */
    int disconnected;   /* cio_http_request_disconnected after it */
    long body;          /* body bytes read */
    double slept;       /* seconds the sleep lasted */
} seen;

/* Reads the whole body, then sleeps (ud: seconds; ?t= overrides) and
 * answers "waited" unless cancelled. */
static int h_wait(cio_http_request *req, void *ud)
{
    char buf[4096];
    int n;
    long total = 0;
    while ((n = cio_http_request_read(req, buf, sizeof buf)) > 0)
        total += n;
    seen.body = total;
    if (n < 0) {
        seen.sleep_rc = n;
        seen.done = 1;
        return n;
    }
    const char *t = cio_http_request_query(req, "t");
    double secs = t ? atof(t) : *(double *)ud;
    double t0 = cio_loop_time(cio_get_running_loop());
    int rc = cio_sleep(secs);
    seen.slept = cio_loop_time(cio_get_running_loop()) - t0;
    seen.sleep_rc = rc;
    seen.disconnected = cio_http_request_disconnected(req);
    seen.done = 1;
    if (rc < 0)
        return rc;
    return cio_http_respond_text(req, 200, "waited");
}

static double long_wait = 5.0, short_wait = 0.4;

static int watch_main(void *arg, void **result)
{
    (void)result;
    srv_ctx *x = arg;
    int rc = cio_http_server_new(&x->opts, &x->srv);
    if (rc < 0)
        return rc;
    add_routes(x->srv); /* the shared ones (unused here, but valid) */
    int w = CIO_HTTP_STREAM_BODY | CIO_HTTP_WATCH_CLOSE;
    CHECK_RC(cio_http_server_route(x->srv, "*", "/wait", h_wait, &long_wait, w), 0);
    CHECK_RC(cio_http_server_route(x->srv, "*", "/nowatch", h_wait, &short_wait,
                                   CIO_HTTP_STREAM_BODY), 0);
    /* without CIO_HTTP_STREAM_BODY the flag is accepted and ignored */
    CHECK_RC(cio_http_server_route(x->srv, "*", "/buffered", h_wait, &short_wait,
                                   CIO_HTTP_WATCH_CLOSE), 0);
    CHECK_RC(cio_http_server_route(x->srv, "GET", "/bad", h_wait, &short_wait, 0x100), -EINVAL);
    rc = cio_http_server_listen(x->srv, "127.0.0.1", 0);
    if (rc == 0) {
        x->port = cio_http_server_port(x->srv);
        rc = cio_to_thread(client_thread, x, NULL);
        x->shutdown_rc = cio_http_server_shutdown(x->srv, 5);
    }
    cio_http_server_free(x->srv);
    return rc;
}

static int watch_main_run(srv_ctx *x)
{
    return cio_run(watch_main, x, NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits (client thread) up to 3 s for the handler to return. */
static int wait_done(void)
{
    double end = now() + 3;
    while (!seen.done && now() < end)
        usleep(2000);
    return seen.done;
}

static void reset_seen(void)
{
    seen.done = 0;
    seen.sleep_rc = 1;
    seen.disconnected = -1;
    seen.body = -1;
    seen.slept = -1;
}

/* ---- the cases ------------------------------------------------------------ */

/* The requests a leaving client sent: no body, Content-Length, chunked. */
static const char *const leave_reqs[] = {
    "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /wait HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
    "POST /wait HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "1388\r\n",
};

static int c_leave(srv_ctx *x)
{
    static char body[5000];
    memset(body, 'b', sizeof body);
    for (int half = 0; half < 2; half++) {
        for (size_t k = 0; k < sizeof leave_reqs / sizeof *leave_reqs; k++) {
            reset_seen();
            int fd = tcp_connect(x->port);
            CHECK(fd >= 0);
            send_all(fd, leave_reqs[k], strlen(leave_reqs[k]));
            if (k > 0)
                send_all(fd, body, sizeof body);
            if (k == 2)
                send_all(fd, "\r\n0\r\n\r\n", 7);
            usleep(100000); /* the handler is asleep in its long poll */
            CHECK(!seen.done);
            double t0 = now();
            if (half)
                shutdown(fd, SHUT_WR); /* half-close counts as leaving */
            else
                close(fd);
            CHECK(wait_done());
            double took = now() - t0;
            CHECK_EQ(seen.sleep_rc, -ECANCELED);
            CHECK_EQ(seen.disconnected, 1);
            CHECK_EQ(seen.body, k > 0 ? 5000 : 0);
            CHECK(took < 1.0);
            CHECK(seen.slept < 1.5);
            if (half) { /* no response: the server closed */
                char out[256];
                int eof;
                read_until_eof(fd, out, sizeof out, 2, &eof);
                CHECK(eof);
                CHECK(strstr(out, "waited") == NULL);
                close(fd);
            }
        }
    }
    return 0;
}

static void test_leave(void)
{
    srv_ctx x = {.client = c_leave};
    CHECK_RC(watch_main_run(&x), 0);
    CHECK_RC(x.shutdown_rc, 0);
}

/* A client that stays gets its answers: keep-alive, then pipelined
 * requests (the next request's bytes stop the watch; nothing cancelled). */
static int c_stay(srv_ctx *x)
{
    char out[4096];
    int fd = tcp_connect(x->port);
    for (int i = 0; i < 3; i++) {
        reset_seen();
        const char *r = "GET /wait?t=0.05 HTTP/1.1\r\nHost: a\r\n\r\n";
        send_all(fd, r, strlen(r));
        read_until_count(fd, out, sizeof out, "waited", 1, 3);
        CHECK(strstr(out, "HTTP/1.1 200") && strstr(out, "waited"));
        CHECK_EQ(seen.sleep_rc, 0);
        CHECK_EQ(seen.disconnected, 0);
    }
    const char *pipe = "GET /wait?t=0.2 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "POST /wait?t=0.01 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                       "GET /wait?t=0.01 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    reset_seen();
    send_all(fd, pipe, strlen(pipe));
    int eof;
    read_until_eof(fd, out, sizeof out, 3, &eof);
    int n = 0;
    for (const char *p = out; (p = strstr(p, "waited")) != NULL; p++)
        n++;
    CHECK_EQ(n, 3);
    CHECK(eof);
    CHECK_EQ(seen.sleep_rc, 0);
    close(fd);
    /* a client that half-closes after pipelining a second request is not
     * watched any more: both are answered */
    fd = tcp_connect(x->port);
    const char *two = "GET /wait?t=0.1 HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /wait?t=0.01 HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, two, strlen(two));
    usleep(30000);
    shutdown(fd, SHUT_WR);
    read_until_eof(fd, out, sizeof out, 3, &eof);
    n = 0;
    for (const char *p = out; (p = strstr(p, "waited")) != NULL; p++)
        n++;
    CHECK_EQ(n, 2);
    close(fd);
    return 0;
}

static void test_stay(void)
{
    srv_ctx x = {.client = c_stay};
    CHECK_RC(watch_main_run(&x), 0);
    CHECK_RC(x.shutdown_rc, 0);
}

/* Without the flag (or with it on a buffered route) the handler is not
 * told: its sleep runs to its end. */
static int c_unwatched(srv_ctx *x)
{
    const char *paths[] = {"/nowatch", "/buffered"};
    for (int i = 0; i < 2; i++) {
        reset_seen();
        char r[128];
        snprintf(r, sizeof r, "POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
                 paths[i]);
        int fd = tcp_connect(x->port);
        send_all(fd, r, strlen(r));
        usleep(100000);
        close(fd);
        CHECK(wait_done());
        CHECK_EQ(seen.sleep_rc, 0);
        CHECK(seen.slept >= short_wait - 0.05);
    }
    return 0;
}

static void test_unwatched(void)
{
    srv_ctx x = {.client = c_unwatched};
    CHECK_RC(watch_main_run(&x), 0);
}

int main(void)
{
    RUN(test_leave);
    RUN(test_stay);
    RUN(test_unwatched);
    return test_finish();
}
