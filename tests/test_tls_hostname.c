/*
 * test_tls_hostname.c - TLS clients fail closed without a host name.
 *
 * A server presents a certificate for evil.example that the client trusts
 * (its CA is loaded).  A client given no name to check used to accept it
 * on all four ways to start a client session: cio_open_connection with
 * server_hostname = "", cio_stream_from_fd and cio_open_unix_connection
 * with TLS, cio_stream_start_tls(s, ctx, NULL); and so on the transport
 * level's four (cio_create_connection, cio_connect_accepted_socket,
 * cio_create_unix_connection, cio_start_tls).  asyncio refuses all four
 * (check_hostname requires server_hostname); so must cio, with -EINVAL, a
 * message naming server_hostname, and nothing sent.  The opt-out,
 * cio_tls_context_set_check_hostname(ctx, 0) (asyncio's
 * ctx.check_hostname = False), lets all four connect, while the chain is
 * still verified.  The certificates come from the openssl command
 * (tls_util.h); the test skips without it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tls_util.h"

static char evil_cert[300], evil_key[300], unix_path[300];

static cio_tls_context *evil_server_ctx(void)
{
    cio_tls_context *ctx = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_SERVER, &ctx), 0);
    CHECK_RC(cio_tls_context_load_cert(ctx, evil_cert, evil_key), 0);
    return ctx;
}

/* A client that trusts the evil.example certificate (a CA it knows). */
static cio_tls_context *trusting_client(int check_hostname)
{
    cio_tls_context *ctx = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &ctx), 0);
    CHECK_RC(cio_tls_context_load_ca(ctx, evil_cert, NULL), 0);
    if (!check_hostname)
        CHECK_RC(cio_tls_context_set_check_hostname(ctx, 0), 0);
    return ctx;
}

/* The evil servers: TCP on 127.0.0.1 and a Unix socket, echoing lines. */
struct evil {
    cio_tls_context *sctx;
    cio_server *tcp, *unx;
    int port;
};

static void evil_start(struct evil *e)
{
    e->sctx = evil_server_ctx();
    e->tcp = start_echo(e->sctx, NULL);
    e->port = cio_server_port(e->tcp);
    cio_server_options so = {0};
    so.stream.tls = e->sctx;
    CHECK_RC(cio_start_unix_server(echo_handler, NULL, unix_path, &so, &e->unx), 0);
}

static void evil_stop(struct evil *e)
{
    stop_server(e->tcp);
    stop_server(e->unx);
    cio_tls_context_free(e->sctx);
}

/* One line there and back over s. */
static void roundtrip(cio_stream *s)
{
    char line[16];
    CHECK_RC(cio_stream_write(s, "hi\n", 3), 0);
    CHECK_RC(cio_stream_readline(s, line, sizeof line), 3);
    CHECK(memcmp(line, "hi\n", 3) == 0);
}

/* Closes s gracefully (close_notify: the echo handler sees a clean end)
 * and releases it; NULL is fine. */
static void finish(cio_stream *s)
{
    if (s) {
        CHECK_RC(cio_stream_close(s), 0);
        CHECK_RC(cio_stream_wait_closed(s), 0);
    }
    cio_stream_unref(s);
}

/* A connected (blocking) TCP socket to 127.0.0.1:port. */
static int tcp_socket(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void check_refused_message(const char *msg)
{
    if (!strstr(msg, "server_hostname"))
        fprintf(stderr, "  message: \"%s\"\n", msg);
    CHECK(strstr(msg, "server_hostname") != NULL);
}

/*
 * The four ways to start a client session without a name, against the
 * evil servers with cctx: each must return want (-EINVAL: refused before
 * any byte of TLS; 0: connected and echoing).
 */
static void four_ways(struct evil *e, cio_tls_context *cctx, int want)
{
    cio_stream *s = NULL;
    /* 1. cio_open_connection with server_hostname = "". */
    cio_stream_options o = {.tls = cctx, .server_hostname = ""};
    CHECK_RC(cio_open_connection("127.0.0.1", e->port, &o, &s), want);
    if (want < 0) {
        CHECK(s == NULL);
        check_refused_message(cio_tls_context_error_message(cctx));
    } else if (s) {
        roundtrip(s);
    }
    finish(s);
    s = NULL;

    /* 2. cio_stream_from_fd with TLS (no host to default to). */
    int fd = tcp_socket(e->port);
    cio_stream_options of = {.tls = cctx};
    CHECK_RC(cio_stream_from_fd(fd, &of, &s), want);
    if (want < 0) {
        CHECK(s == NULL);
        CHECK(fcntl(fd, F_GETFD) >= 0); /* the caller keeps fd */
        close(fd);
    } else if (s) {
        roundtrip(s);
    }
    finish(s);
    s = NULL;

    /* 3. cio_open_unix_connection with TLS. */
    cio_stream_options ou = {.tls = cctx};
    CHECK_RC(cio_open_unix_connection(unix_path, &ou, &s), want);
    if (want < 0)
        CHECK(s == NULL);
    else if (s)
        roundtrip(s);
    finish(s);
    s = NULL;

    /* 4. cio_stream_start_tls(s, ctx, NULL) on a plain connection. */
    CHECK_RC(cio_open_connection("127.0.0.1", e->port, NULL, &s), 0);
    if (!s)
        return;
    CHECK_RC(cio_stream_start_tls(s, cctx, NULL), want);
    if (want < 0) {
        /* Nothing was done: the stream is plain and open. */
        CHECK(!cio_stream_is_tls(s));
        CHECK(!cio_stream_is_closing(s));
        check_refused_message(cio_stream_tls_error_message(s));
    } else {
        CHECK(cio_stream_is_tls(s));
        roundtrip(s);
    }
    finish(s);
}

/* ---- the same at the transport level (cio/transport.h) -------------------------- */

/* A protocol that keeps what the evil echo server sends back. */
struct tp {
    int made, lost;
    char got[16];
    size_t len;
};

static void tp_made(cio_transport *t, void *ud)
{
    (void)t;
    ((struct tp *)ud)->made++;
}

static void tp_data(cio_transport *t, const void *data, size_t n, void *ud)
{
    (void)t;
    struct tp *p = ud;
    size_t k = n < sizeof p->got - p->len ? n : sizeof p->got - p->len;
    memcpy(p->got + p->len, data, k);
    p->len += k;
}

static void tp_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    (void)err;
    ((struct tp *)ud)->lost++;
}

static const cio_protocol tp_proto = {
    .connection_made = tp_made, .data_received = tp_data, .connection_lost = tp_lost};

/* After a call that returned want with t (and p its protocol's record):
 * refused, nothing was made; connected, a TLS transport that echoes. */
static void tp_check(int want, cio_transport *t, struct tp *p)
{
    if (want < 0) {
        CHECK(t == NULL);
        CHECK_EQ(p->made, 0);
        return;
    }
    CHECK(t && cio_transport_is_tls(t) && p->made == 1);
    if (!t)
        return;
    CHECK_RC(cio_transport_write(t, "hi\n", 3), 0);
    for (int i = 0; i < 2000 && p->len < 3; i++)
        cio_sleep(0.001);
    CHECK(p->len == 3 && memcmp(p->got, "hi\n", 3) == 0);
    cio_transport_close(t); /* close_notify: the echo handler ends */
    for (int i = 0; i < 2000 && !p->lost; i++)
        cio_sleep(0.001);
    cio_transport_unref(t);
}

/* The four client entry points of transport.h without a name: each must
 * return want. */
static void four_ways_transport(struct evil *e, cio_tls_context *cctx, int want)
{
    cio_transport *t = NULL;
    /* 1. cio_create_connection with server_hostname = "". */
    struct tp p1 = {0};
    cio_transport_options o = {.tls = cctx, .server_hostname = ""};
    CHECK_RC(cio_create_connection(&tp_proto, &p1, "127.0.0.1", e->port, &o, &t), want);
    if (want < 0)
        check_refused_message(cio_tls_context_error_message(cctx));
    tp_check(want, t, &p1);
    t = NULL;

    /* 2. cio_connect_accepted_socket with a client context, no name. */
    struct tp p2 = {0};
    int fd = tcp_socket(e->port);
    cio_transport_options of = {.tls = cctx};
    CHECK_RC(cio_connect_accepted_socket(&tp_proto, &p2, fd, &of, &t), want);
    if (want < 0 && !t) {
        CHECK(fcntl(fd, F_GETFD) >= 0); /* the caller keeps fd */
        close(fd);
    }
    tp_check(want, t, &p2);
    t = NULL;

    /* 3. cio_create_unix_connection with TLS. */
    struct tp p3 = {0};
    CHECK_RC(cio_create_unix_connection(&tp_proto, &p3, unix_path, &of, &t), want);
    tp_check(want, t, &p3);
    t = NULL;

    /* 4. cio_start_tls(t, ctx, 0, NULL) on a plain connection. */
    struct tp p4 = {0};
    cio_transport *plain = NULL, *nt = NULL;
    CHECK_RC(cio_create_connection(&tp_proto, &p4, "127.0.0.1", e->port, NULL, &plain), 0);
    if (!plain)
        return;
    CHECK_RC(cio_start_tls(plain, cctx, 0, NULL, &nt), want);
    if (want < 0) {
        /* Nothing was done: the transport is plain and open. */
        CHECK(nt == NULL);
        CHECK(!cio_transport_is_tls(plain));
        CHECK(!cio_transport_is_closing(plain));
        cio_transport_abort(plain);
        cio_transport_unref(plain);
        return;
    }
    p4.made = 1; /* (no second connection_made after start_tls) */
    tp_check(want, nt, &p4);
    cio_transport_unref(plain);
}

/* ---- no name: refused on every entry point ------------------------------------ */

static int refused_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct evil e;
    evil_start(&e);
    cio_tls_context *cctx = trusting_client(1);
    four_ways(&e, cctx, -EINVAL);
    four_ways_transport(&e, cctx, -EINVAL);
    /* The evil server never got a session. */
    test_step(5);
    CHECK_EQ(handled, 0);

    /* With a name the certificate is checked against it. */
    cio_stream *s = NULL;
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), CIO_ETLS);
    CHECK(strstr(cio_tls_context_error_message(cctx), "mismatch") != NULL);
    o.server_hostname = NULL; /* the host, "127.0.0.1", is checked */
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), CIO_ETLS);
    o.server_hostname = "evil.example"; /* the right name passes */
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), 0);
    if (s)
        roundtrip(s);
    finish(s);

    cio_tls_context_free(cctx);
    evil_stop(&e);
    return 0;
}

static void tls_no_hostname_refused(void) { CHECK_RC(cio_run(refused_main, NULL, NULL), 0); }

/* ---- the opt-out: check_hostname off -------------------------------------------- */

static int optout_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct evil e;
    evil_start(&e);
    cio_tls_context *cctx = trusting_client(0);
    four_ways(&e, cctx, 0);
    four_ways_transport(&e, cctx, 0);
    /* A name given is not checked either (asyncio's check_hostname =
     * False): it is only sent as SNI. */
    cio_stream *s = NULL;
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), 0);
    finish(s);
    s = NULL;
    /* The chain is still verified: a client that does not trust the CA
     * is refused even without name checks. */
    cio_tls_context *stranger = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &stranger), 0);
    CHECK_RC(cio_tls_context_set_check_hostname(stranger, 0), 0);
    o.tls = stranger;
    o.server_hostname = "";
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), CIO_ETLS);
    CHECK(s == NULL);
    cio_tls_context_free(stranger);
    /* Turned back on, the name is required again. */
    CHECK_RC(cio_tls_context_set_check_hostname(cctx, 1), 0);
    o.tls = cctx;
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), -EINVAL);

    /* Verification off altogether (set_verify 0): nothing to check a name
     * against, so none is required. */
    cio_tls_context *noverify = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &noverify), 0);
    CHECK_RC(cio_tls_context_set_verify(noverify, 0), 0);
    o.tls = noverify;
    CHECK_RC(cio_open_connection("127.0.0.1", e.port, &o, &s), 0);
    finish(s);
    cio_tls_context_free(noverify);

    cio_tls_context_free(cctx);
    evil_stop(&e);
    return 0;
}

static void tls_check_hostname_optout(void) { CHECK_RC(cio_run(optout_main, NULL, NULL), 0); }

/* ---- cio_tls_new itself, and the debug-mode message ------------------------------ */

static int debug_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    CHECK_RC(cio_loop_set_debug(cio_get_running_loop(), 1), 0);
    cio_tls_context *cctx = trusting_client(1);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    test_log_start(CIO_LOG_DEBUG);
    cio_tls *tls = (cio_tls *)1;
    CHECK_RC(cio_tls_new(cctx, sv[0], NULL, &tls), -EINVAL);
    CHECK(tls == NULL);
    CHECK(test_log_find("cio_tls_new", "server_hostname") >= 0);
    test_log_reset();
    CHECK_RC(cio_tls_new(cctx, sv[0], "", &tls), -EINVAL);
    CHECK(test_log_find("cio_tls_new", "server_hostname") >= 0);
    test_log_stop();
    check_refused_message(cio_tls_context_error_message(cctx));
    /* A name, or the opt-out, and the session is made. */
    CHECK_RC(cio_tls_new(cctx, sv[0], "evil.example", &tls), 0);
    cio_tls_free(tls);
    CHECK_RC(cio_tls_context_set_check_hostname(cctx, 0), 0);
    CHECK_RC(cio_tls_new(cctx, sv[0], NULL, &tls), 0);
    cio_tls_free(tls);
    CHECK_RC(cio_tls_context_set_check_hostname(NULL, 0), -EINVAL);
    /* Servers need no name (the setter does not change that). */
    cio_tls_context *sctx = evil_server_ctx();
    CHECK_RC(cio_tls_context_set_check_hostname(sctx, 1), 0);
    CHECK_RC(cio_tls_new(sctx, sv[0], NULL, &tls), 0);
    cio_tls_free(tls);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void tls_new_needs_hostname(void) { CHECK_RC(cio_run(debug_main, NULL, NULL), 0); }

int main(void)
{
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    signal(SIGPIPE, SIG_IGN);
    make_cert();
    snprintf(evil_cert, sizeof evil_cert, "%s/evil.pem", dir);
    snprintf(evil_key, sizeof evil_key, "%s/evil-key.pem", dir);
    snprintf(unix_path, sizeof unix_path, "%s/evil.sock", dir);
    if (make_cert_for("evil.example", "DNS:evil.example", evil_cert, evil_key) != 0) {
        remove_cert();
        TEST_SKIP("the openssl command could not make a certificate");
    }
    RUN(tls_no_hostname_refused);
    RUN(tls_check_hostname_optout);
    RUN(tls_new_needs_hostname);
    unlink(evil_cert);
    unlink(evil_key);
    unlink(unix_path);
    remove_cert();
    return test_finish();
}
