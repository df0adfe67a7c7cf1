/*
 * test_tls_stream.c - TLS inside streams: cio_open_connection and
 * cio_start_server with TLS contexts and cio_stream_start_tls, cio against
 * cio: verification failures, cancellation in the handshake and in a read,
 * a slow reader with bounded writer memory, servers that survive failing
 * handshakes, bad arguments, allocation failures.  The same against real
 * peers is test_tls_stream_peers.c.
 *
 * A self-signed certificate for localhost / 127.0.0.1 is made with the
 * openssl command in a temporary directory; the test skips without it or
 * without OpenSSL in cio.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>

#include "tls_util.h"

static int echo_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    const char *sp[] = {"h2", "http/1.1"}, *cp[] = {"http/1.1"};
    CHECK_RC(cio_tls_context_set_alpn(sctx, sp, 2), 0);
    CHECK_RC(cio_tls_context_set_alpn(cctx, cp, 1), 0);
    cio_server *srv = start_echo(sctx, NULL);
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), &o, &s), 0);
    if (s) {
        CHECK(cio_stream_is_tls(s));
        CHECK(cio_stream_tls_version(s) && !strncmp(cio_stream_tls_version(s), "TLSv1.", 6));
        CHECK(cio_stream_tls_alpn_selected(s) && !strcmp(cio_stream_tls_alpn_selected(s), "http/1.1"));
        static char out[1001], in[1001];
        size_t total = 0;
        for (int i = 0; i < 200; i++) {
            memset(out, 'a' + i % 26, 1000);
            out[999] = '\n';
            CHECK_RC(cio_stream_write(s, out, 1000), 0);
            CHECK_RC(cio_stream_drain(s), 0);
            int n = cio_stream_readline(s, in, sizeof in);
            CHECK_EQ(n, 1000);
            if (n != 1000 || memcmp(in, out, 1000)) {
                CHECK(0);
                break;
            }
            total += (size_t)n;
        }
        CHECK_EQ(total, 200000);
        /* write_eof on TLS: close_notify; the server sees the end, returns,
         * closes with its own close_notify: a clean end here. */
        CHECK_RC(cio_stream_write(s, "last\n", 5), 0);
        CHECK_RC(cio_stream_write_eof(s), 0);
        CHECK_EQ(cio_stream_readline(s, in, sizeof in), 5);
        CHECK_EQ(cio_stream_read(s, in, sizeof in), 0);
        CHECK(cio_stream_at_eof(s));
        CHECK_RC(cio_stream_close(s), 0);
        CHECK_RC(cio_stream_wait_closed(s), 0);
        cio_stream_unref(s);
    }
    CHECK_EQ(handled, 1);
    stop_server(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_stream_echo(void) { CHECK_RC(cio_run(echo_main, NULL, NULL), 0); }

/* ---- verification failures; the server survives them ------------------------------- */

static int verify_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx(), *trusting = client_ctx(1), *stranger = client_ctx(0);
    int fds = count_fds();
    cio_server *srv = start_echo(sctx, NULL);
    int port = cio_server_port(srv);
    cio_stream *s = NULL;

    /* Hostname mismatch. */
    cio_stream_options o = {.tls = trusting, .server_hostname = "example.com"};
    CHECK_RC(cio_open_connection("127.0.0.1", port, &o, &s), CIO_ETLS);
    CHECK(s == NULL);
    CHECK(strstr(cio_tls_context_error_message(trusting), "hostname mismatch") != NULL);

    /* Unknown CA (a self-signed certificate the client does not trust). */
    o = (cio_stream_options){.tls = stranger};
    CHECK_RC(cio_open_connection("localhost", port, &o, &s), CIO_ETLS);
    CHECK(strstr(cio_tls_context_error_message(stranger), "self-signed") != NULL ||
          strstr(cio_tls_context_error_message(stranger), "self signed") != NULL);

    /* A client that speaks no TLS at all. */
    o = (cio_stream_options){0};
    CHECK_RC(cio_open_connection("127.0.0.1", port, &o, &s), 0);
    if (s) {
        CHECK_RC(cio_stream_write(s, "GET / HTTP/1.0\r\n\r\n", 18), 0);
        char buf[256];
        int n;
        while ((n = cio_stream_read(s, buf, sizeof buf)) > 0)
            ; /* the server's alert, then its close */
        CHECK(n == 0 || n == -ECONNRESET);
        cio_stream_unref(s);
        s = NULL;
    }

    /* The server still serves; the host name defaults to the host. */
    o = (cio_stream_options){.tls = trusting};
    CHECK_RC(cio_open_connection("localhost", port, &o, &s), 0);
    if (s) {
        char buf[16];
        CHECK_RC(cio_stream_write(s, "still here\n", 11), 0);
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 11);
        cio_stream_close(s);
        CHECK_RC(cio_stream_wait_closed(s), 0);
        cio_stream_unref(s);
    }
    CHECK(cio_server_is_serving(srv));
    CHECK_EQ(handled, 1); /* the failed handshakes never reached it */
    stop_server(srv);
    CHECK_EQ(count_fds_settled(fds), fds);
    cio_tls_context_free(sctx);
    cio_tls_context_free(trusting);
    cio_tls_context_free(stranger);
    return 0;
}

static void tls_stream_verify_failures(void) { CHECK_RC(cio_run(verify_main, NULL, NULL), 0); }

/* ---- cancellation and timeouts --------------------------------------------------- */

/* A server that accepts and never says anything. */
static int mute_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    while (cio_stream_read(s, buf, sizeof buf) > 0)
        ;
    return 0;
}

struct opener {
    int port;
    cio_tls_context *ctx;
    double hs_timeout;
    int rc;
};

static int opener_task(void *arg, void **result)
{
    (void)result;
    struct opener *op = arg;
    cio_stream_options o = {.tls = op->ctx, .tls_handshake_timeout = op->hs_timeout};
    cio_stream *s = NULL;
    op->rc = cio_open_connection("127.0.0.1", op->port, &o, &s);
    cio_stream_unref(s);
    return 0;
}

/* Slow replier: after a line, waits, then answers. */
static int late_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[64];
    int n = cio_stream_readline(s, buf, sizeof buf);
    if (n <= 0)
        return n;
    cio_sleep(0.3);
    cio_stream_write(s, "late\n", 5);
    return cio_stream_drain(s);
}

struct reader {
    cio_stream *s;
    int rc;
};

static int reader_task(void *arg, void **result)
{
    (void)result;
    struct reader *r = arg;
    char buf[64];
    r->rc = cio_stream_read(r->s, buf, sizeof buf);
    return 0;
}

static int cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    int fds = count_fds();

    /* Cancelled in the handshake of cio_open_connection. */
    cio_server *mute = start_echo(NULL, mute_handler);
    struct opener op = {.port = cio_server_port(mute), .ctx = cctx, .rc = 1};
    cio_task *t;
    CHECK_RC(cio_create_task(opener_task, &op, "opener", &t), 0);
    CHECK_RC(cio_sleep(0.1), 0);
    CHECK_EQ(op.rc, 1); /* still in the handshake */
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(op.rc, -ECANCELED);

    /* The handshake timeout. */
    op = (struct opener){.port = cio_server_port(mute), .ctx = cctx, .hs_timeout = 0.1};
    double t0 = test_now();
    opener_task(&op, NULL);
    CHECK_RC(op.rc, -ETIMEDOUT);
    CHECK(test_now() - t0 < 5);
    CHECK(strstr(cio_tls_context_error_message(cctx), "timed out") != NULL);
    cio_server_close_clients(mute);
    stop_server(mute);

    /* Cancelled in a TLS read: the stream stays usable. */
    cio_server *late = start_echo(sctx, late_handler);
    cio_stream_options o = {.tls = cctx};
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(late), &o, &s), 0);
    if (s) {
        CHECK_RC(cio_stream_write(s, "x\n", 2), 0);
        struct reader r = {.s = s, .rc = 1};
        CHECK_RC(cio_create_task(reader_task, &r, "reader", &t), 0);
        CHECK_RC(cio_sleep(0.05), 0);
        CHECK_EQ(r.rc, 1);
        cio_task_cancel(t, NULL);
        cio_task_await(t, NULL);
        cio_task_unref(t);
        CHECK_RC(r.rc, -ECANCELED);
        char buf[16];
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 5);
        CHECK(!memcmp(buf, "late\n", 5));
        cio_stream_unref(s);
    }
    stop_server(late);
    CHECK_EQ(count_fds_settled(fds), fds);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_stream_cancellation(void) { CHECK_RC(cio_run(cancel_main, NULL, NULL), 0); }

/* ---- a slow reader: the writer's memory stays bounded ------------------------------ */

#define FLOOD (4u << 20)
#define CHUNK 16384

static size_t max_buffered;

static int flood_handler(cio_stream *s, void *arg)
{
    (void)arg;
    static char chunk[CHUNK];
    memset(chunk, 'z', sizeof chunk);
    for (size_t sent = 0; sent < FLOOD; sent += CHUNK) {
        int rc = cio_stream_drain(s);
        if (rc == 0)
            rc = cio_stream_write(s, chunk, CHUNK);
        if (rc < 0)
            return rc;
        size_t b = cio_stream_write_buffer_size(s);
        if (b > max_buffered)
            max_buffered = b;
    }
    return cio_stream_drain(s);
}

static int slow_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    cio_server *srv = start_echo(sctx, flood_handler);
    cio_stream_options o = {.tls = cctx};
    cio_stream *s = NULL;
    max_buffered = 0;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), &o, &s), 0);
    size_t got = 0;
    if (s) {
        static char buf[CHUNK];
        int n, i = 0;
        while ((n = cio_stream_read(s, buf, sizeof buf)) > 0) {
            got += (size_t)n;
            if (++i % 8 == 0)
                cio_sleep(0.002); /* slower than the writer */
        }
        CHECK_EQ(n, 0);
        cio_stream_unref(s);
    }
    CHECK_EQ(got, FLOOD);
    /* The writer was held back (its queue filled) but never went past the
     * high watermark plus one write. */
    CHECK(max_buffered > 16384);
    CHECK(max_buffered <= 64 * 1024 + CHUNK);
    stop_server(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_stream_slow_reader(void) { CHECK_RC(cio_run(slow_main, NULL, NULL), 0); }

/* ---- start_tls ---------------------------------------------------------------------- */

/* STARTTLS server: a plaintext line, "OK", then TLS and echo. */
static int starttls_handler(cio_stream *s, void *arg)
{
    cio_tls_context *ctx = arg;
    char buf[64];
    int n = cio_stream_readline(s, buf, sizeof buf);
    if (n <= 0)
        return n;
    /* The client pipelined bytes after its request: refused. */
    CHECK_RC(cio_stream_start_tls(s, ctx, NULL), -EBUSY);
    CHECK(!cio_stream_is_tls(s));
    return cio_stream_write(s, "NO\n", 3);
}

static int busy_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx();
    cio_server_options so = {0};
    cio_server *srv = NULL;
    CHECK_RC(cio_start_server(starttls_handler, sctx, "127.0.0.1", 0, &so, &srv), 0);
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), NULL, &s), 0);
    if (s) {
        /* One segment: the server's readline buffers the rest. */
        CHECK_RC(cio_stream_write(s, "STARTTLS\nINJECTED\n", 18), 0);
        char buf[16];
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 3);
        CHECK(!memcmp(buf, "NO\n", 3));
        CHECK_RC(cio_stream_start_tls(s, NULL, NULL), -EINVAL);
        cio_stream_unref(s);
    }
    stop_server(srv);
    cio_tls_context_free(sctx);
    return 0;
}

static int starttls_failed; /* server-side upgrades that failed */

/* Both sides cio: the server upgrades after "OK", then echoes. */
static int starttls_echo_handler(cio_stream *s, void *arg)
{
    char buf[64];
    int n = cio_stream_readline(s, buf, sizeof buf);
    if (n <= 0)
        return n;
    /* "OK" is queued, then start_tls sends it before the handshake. */
    CHECK_RC(cio_stream_write(s, "OK\n", 3), 0);
    int rc = cio_stream_start_tls(s, arg, NULL);
    if (rc < 0) { /* the second client refuses our certificate */
        CHECK(!memcmp(buf, "STARTTLS\n", 9) && cio_stream_is_closing(s));
        starttls_failed++;
        return 0;
    }
    CHECK(cio_stream_is_tls(s));
    return echo_handler(s, NULL);
}

static int starttls_cio_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    cio_server_options so = {0};
    cio_server *srv = NULL;
    starttls_failed = 0;
    CHECK_RC(cio_start_server(starttls_echo_handler, sctx, "127.0.0.1", 0, &so, &srv), 0);
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), NULL, &s), 0);
    if (s) {
        char buf[64];
        CHECK_RC(cio_stream_write(s, "STARTTLS\n", 9), 0);
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 3);
        CHECK_RC(cio_stream_start_tls(s, cctx, "localhost"), 0);
        CHECK(cio_stream_tls_version(s) != NULL);
        CHECK_RC(cio_stream_write(s, "over tls\n", 9), 0);
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 9);
        CHECK(!memcmp(buf, "over tls\n", 9));
        CHECK_RC(cio_stream_write_eof(s), 0);
        CHECK_EQ(cio_stream_read(s, buf, sizeof buf), 0);
        cio_stream_unref(s);
    }
    /* A handshake that fails (the client does not trust the server)
     * aborts the stream and says why. */
    cio_tls_context *stranger = client_ctx(0);
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(srv), NULL, &s), 0);
    if (s) {
        char buf[64];
        CHECK_RC(cio_stream_write(s, "STARTTLS\n", 9), 0);
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 3);
        CHECK_RC(cio_stream_start_tls(s, stranger, "localhost"), CIO_ETLS);
        CHECK(strstr(cio_stream_tls_error_message(s), "certificate verify failed") != NULL);
        CHECK(cio_stream_is_closing(s));
        CHECK_RC(cio_stream_write(s, "x", 1), CIO_ECLOSED);
        cio_stream_unref(s);
    }
    stop_server(srv);
    CHECK_EQ(starttls_failed, 1);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    cio_tls_context_free(stranger);
    return 0;
}

static void tls_start_tls_cio(void) { CHECK_RC(cio_run(starttls_cio_main, NULL, NULL), 0); }

static void tls_start_tls_refuses_buffered(void) { CHECK_RC(cio_run(busy_main, NULL, NULL), 0); }

static cio_tls_context *alloc_sctx, *alloc_cctx;

static int alloc_scenario(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server_options so = {.stream.tls = alloc_sctx};
    cio_server *srv;
    int rc = cio_start_server(echo_handler, NULL, "127.0.0.1", 0, &so, &srv);
    if (rc < 0)
        return rc;
    cio_stream_options o = {.tls = alloc_cctx};
    cio_stream *s;
    rc = cio_open_connection("127.0.0.1", cio_server_port(srv), &o, &s);
    if (rc == 0) {
        static char big[60000];
        memset(big, 'b', sizeof big);
        big[sizeof big - 1] = '\n';
        rc = cio_stream_write(s, "hello\n", 6);
        for (int i = 0; i < 5 && rc == 0; i++)
            rc = cio_stream_write(s, big, sizeof big); /* queues: the TLS flusher runs */
        static char line[sizeof big];
        for (int i = 0; i < 6 && rc >= 0; i++)
            rc = cio_stream_readline(s, line, sizeof line);
        cio_stream_close(s);
        cio_stream_unref(s);
    }
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    return rc < 0 ? rc : 0;
}

static int alloc_guarded(void *arg, void **result)
{
    (void)result;
    return test_guarded(alloc_scenario, arg, 5.0);
}

static int alloc_run(long n, void *arg)
{
    int rc = cio_run(alloc_guarded, NULL, NULL);
    CHECK(rc <= 0);
    return rc;
}

static void tls_stream_every_allocation(void)
{
    alloc_sctx = server_ctx();
    alloc_cctx = client_ctx(1);
    int fds = count_fds();
    long n = test_alloc_sweep(alloc_run, NULL, 5000, 0) + 1;
    fprintf(stderr, "  %ld runs, one per allocation\n", n);
    CHECK(n > 10 && n < 5000);
    CHECK_EQ(count_fds(), fds);
    cio_tls_context_free(alloc_sctx);
    cio_tls_context_free(alloc_cctx);
}

/* ---- bad arguments ------------------------------------------------------------------ */

static int args_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *cctx = client_ctx(1);
    CHECK_RC(cio_stream_start_tls(NULL, cctx, NULL), -EINVAL);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    cio_stream *s = NULL;
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &s), 0);
    CHECK_RC(cio_stream_start_tls(s, cctx, NULL), -EINVAL); /* a pipe */
    CHECK(!cio_stream_is_tls(s));
    CHECK(cio_stream_tls_alpn_selected(s) == NULL);
    CHECK(!strcmp(cio_stream_tls_error_message(s), ""));
    cio_stream_unref(s);
    close(pfd[1]);
    CHECK(!cio_stream_is_tls(NULL));
    CHECK(cio_stream_tls_version(NULL) == NULL);
    CHECK(!strcmp(cio_stream_tls_error_message(NULL), ""));
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_stream_bad_arguments(void) { CHECK_RC(cio_run(args_main, NULL, NULL), 0); }

/* cio_stream_from_fd with TLS: when the handshake fails the caller keeps
 * fd, open and unknown to the loop (it can be wrapped again). */
static int giveback_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *cctx = client_ctx(1);
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    CHECK_EQ(write(sv[1], "this is no TLS server\n", 22), 22);
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    cio_stream *s = (cio_stream *)1;
    int rc = cio_stream_from_fd(sv[0], &o, &s);
    CHECK(rc == CIO_ETLS || rc == -ECONNRESET);
    CHECK(s == NULL);
    CHECK(fcntl(sv[0], F_GETFD) >= 0); /* the caller's again */
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
    if (s) {
        CHECK_RC(cio_stream_write(s, "z", 1), 0);
        CHECK_RC(cio_stream_drain(s), 0);
        char buf[4096];
        ssize_t n, last = 0;
        char tail = 0;
        for (int i = 0; i < 100 && tail != 'z'; i++) {
            while ((n = read(sv[1], buf, sizeof buf)) > 0) {
                last = n;
                tail = buf[n - 1];
            }
            cio_sleep(0.001);
        }
        CHECK(last > 0 && tail == 'z'); /* the ClientHello came first */
        cio_stream_unref(s);
    }
    close(sv[1]);
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_stream_from_fd_gives_back(void) { CHECK_RC(cio_run(giveback_main, NULL, NULL), 0); }

/* ---- a reset the writer meets first (test_stream_reset.c, over TLS) ---------- */

/* The peer: a tls.h session on a socket of the test's own, so the test
 * resets the connection itself (SO_LINGER 0, close) with no loop
 * iteration in between, as test_stream_reset.c does in plain. */
struct tls_peer {
    int lfd;                   /* listening socket */
    int fd;                    /* the accepted one, -1 before */
    cio_tls_context *ctx;      /* a server context */
    cio_tls *tls;              /* the session over fd */
};

static int tls_peer_task(void *arg, void **result)
{
    (void)result;
    struct tls_peer *p = arg;
    p->fd = cio_sock_accept(p->lfd, NULL, NULL);
    CHECK(p->fd >= 0);
    if (p->fd < 0)
        return 0;
    CHECK_RC(cio_tls_new(p->ctx, p->fd, NULL, &p->tls), 0);
    CHECK_RC(cio_tls_handshake(p->tls), 0);
    CHECK_RC(cio_tls_write(p->tls, "partial", 7), 0); /* no newline */
    return 0;
}

struct line_reader {
    cio_stream *s;
    int rc;                    /* readline's result, 1 while it waits */
};

static int line_reader_task(void *arg, void **result)
{
    (void)result;
    struct line_reader *r = arg;
    char buf[64];
    r->rc = cio_stream_readline(r->s, buf, sizeof buf);
    return 0;
}

static int tls_reset_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct tls_peer p = {.fd = -1, .ctx = server_ctx()};
    p.lfd = cio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK_EQ(bind(p.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(p.lfd, 1), 0);
    CHECK_EQ(getsockname(p.lfd, (struct sockaddr *)&sa, &sl), 0);
    cio_task *pt = test_spawn(tls_peer_task, &p);
    cio_tls_context *cctx = client_ctx(1);
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", ntohs(sa.sin_port), &o, &s), 0);
    CHECK_RC(test_join(pt), 0);
    cio_fd_close(p.lfd);
    if (!s || p.fd < 0)
        return -1;

    /* The reader has "partial" and waits for the rest of the line. */
    struct line_reader r = {s, 1};
    cio_task *rt = test_spawn(line_reader_task, &r);
    size_t len = 0;
    for (int i = 0; i < 2000 && len < 7; i++) {
        cio_sleep(0.001);
        cio_stream_peek(s, &len);
    }
    CHECK_EQ(len, 7);
    CHECK_EQ(r.rc, 1);

    /* The peer resets (no close_notify), and the writer comes first. */
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    cio_tls_free(p.tls);
    cio_fd_close(p.fd);
    struct pollfd pf = {.fd = cio_stream_fd(s), .events = POLLIN};
    for (int i = 0; i < 2000 && !(pf.revents & (POLLERR | POLLHUP)); i++)
        poll(&pf, 1, 1); /* blocks the loop: nobody reads meanwhile */
    CHECK(pf.revents & (POLLERR | POLLHUP));
    /* Encrypted and queued: its send, at the loop's next wait, takes the
     * kernel's one report, and the next write reports it. */
    CHECK_RC(cio_stream_write(s, "x", 1), 0);
    for (int i = 0; i < 100 && !cio_stream_is_closing(s); i++)
        cio_sleep(0);
    CHECK_RC(cio_stream_write(s, "x", 1), -ECONNRESET);

    /* The reader gets the reset, never "partial" as a complete line. */
    CHECK_RC(test_join(rt), 0);
    CHECK_RC(r.rc, -ECONNRESET);
    char buf[64];
    size_t partial = 0;
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), -ECONNRESET);
    CHECK_RC(cio_stream_readexactly(s, buf, 10, &partial), -ECONNRESET);
    CHECK_EQ(partial, 7);
    CHECK(!cio_stream_at_eof(s));
    cio_stream_unref(s);
    cio_tls_context_free(cctx);
    cio_tls_context_free(p.ctx);
    return 0;
}

static void tls_stream_reset_seen_by_writer(void)
{
    CHECK_RC(cio_run(tls_reset_main, NULL, NULL), 0);
}

int main(void)
{
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    if (system("openssl version >/dev/null 2>&1") != 0)
        TEST_SKIP("no openssl command");
    make_cert();
    RUN(tls_stream_echo);
    RUN(tls_stream_verify_failures);
    RUN(tls_stream_cancellation);
    RUN(tls_stream_slow_reader);
    RUN(tls_start_tls_refuses_buffered);
    RUN(tls_start_tls_cio);
    RUN(tls_stream_bad_arguments);
    RUN(tls_stream_from_fd_gives_back);
    RUN(tls_stream_reset_seen_by_writer);
    RUN(tls_stream_every_allocation);
    remove_cert();
    return test_finish();
}
