/*
 * test_tls_transport.c - TLS transports (cio/transport.h "TLS"): echo
 * between cio client and server transports (real peers are in
 * test_tls_transport_peers.c), hostname mismatch and a
 * missing name failing closed, an untrusted certificate, ALPN, a big
 * transfer with pause/resume both ways, close_notify in both directions,
 * abort (the peer sees a truncation), start_tls on a live plain
 * transport, handshake timeouts (virtual clock, and a silent client on a
 * server), a server closed during a handshake, the shutdown timeout, and
 * an allocation-failure sweep.
 *
 * A self-signed certificate for localhost / 127.0.0.1 is made with the
 * openssl command (tls_util.h); without it, or without OpenSSL in cio,
 * the test is skipped.
 */
#include "tls_transport_util.h"

/* ---- echo between cio transports ---------------------------------------------------- */

static int echo_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    p.tmpl.echo = 1;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    cio_server *srv = tls_server(&p, sctx, 0);
    struct rec c = {0};
    cio_transport *t = NULL;
    cio_transport_options o = {.tls = cctx};
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", cio_server_port(srv), &o, &t), 0);
    if (t) {
        CHECK_EQ(c.made, 1); /* after the handshake, before returning */
        CHECK(cio_transport_is_tls(t));
        CHECK(cio_transport_tls_version(t) && !strcmp(cio_transport_tls_version(t), "TLSv1.3"));
        CHECK(cio_transport_tls_cipher(t) != NULL);
        const char *subj = cio_transport_tls_peer_subject(t);
        CHECK(subj && !strcmp(subj, "CN=localhost"));
        CHECK(cio_transport_tls_alpn(t) == NULL);
        CHECK(cio_transport_fd(t) >= 0);
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        CHECK_RC(cio_transport_peername(t, (struct sockaddr *)&sa, &sl), 0);
        CHECK_EQ(ntohs(sa.sin_port), cio_server_port(srv));
        CHECK_EQ(cio_transport_can_write_eof(t), 1);
        CHECK_RC(cio_transport_write(t, "hello ", 6), 0);
        struct iovec iov[2] = {{"over ", 5}, {"tls", 3}};
        CHECK_RC(cio_transport_writelines(t, iov, 2), 0);
        CHECK(wait_size(&c.got, 14));
        CHECK(c.got == 14 && !memcmp(c.data, "hello over tls", 14));
        CHECK_EQ((int)cio_server_num_clients(srv), 1);
        CHECK(p.n == 1 && cio_transport_is_tls(p.recs[0].t));
        CHECK_EQ(p.recs[0].made, 1);
        /* close: close_notify, the server's eof_received, its close_notify */
        cio_transport_close(t);
        CHECK_EQ(c.lost, 0); /* never inside close */
        CHECK_RC(cio_transport_write(t, "x", 1), CIO_ECLOSED);
        CHECK(wait_int(&c.lost, 1));
        CHECK_EQ(c.lost_err, 0);
        CHECK_EQ(c.eofs, 0);
        CHECK(wait_int(&p.recs[0].lost, 1));
        CHECK_EQ(p.recs[0].eofs, 1);
        CHECK_EQ(p.recs[0].lost_err, 0);
        CHECK_EQ(p.recs[0].bad_order, 0);
        CHECK_EQ(c.bad_order, 0);
        CHECK_EQ(cio_transport_fd(t), CIO_ECLOSED);
        cio_transport_unref(t);
    }
    server_done(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_echo(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(echo_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- verification fails closed --------------------------------------------------------- */

static int verify_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1), *untrusting = client_ctx(0);
    cio_server *srv = tls_server(&p, sctx, 0);
    int port = cio_server_port(srv);
    struct rec c = {0};
    cio_transport *t = NULL;
    /* another host's name */
    cio_transport_options o = {.tls = cctx, .server_hostname = "example.org"};
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t), CIO_ETLS);
    CHECK(t == NULL);
    CHECK(strstr(cio_tls_context_error_message(cctx), "hostname mismatch") != NULL);
    /* no name at all: refused before connecting */
    o.server_hostname = "";
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t), -EINVAL);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    o.server_hostname = NULL;
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, &c, sv[0], &o, &t), -EINVAL);
    CHECK(fcntl(sv[0], F_GETFD) >= 0); /* still the caller's */
    close(sv[0]);
    close(sv[1]);
    /* a certificate nobody vouches for */
    o = (cio_transport_options){.tls = untrusting};
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t), CIO_ETLS);
    CHECK(strstr(cio_tls_context_error_message(untrusting), "verify failed") != NULL);
    /* the wrong kind of context */
    o = (cio_transport_options){.tls = sctx};
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t), -EINVAL);
    cio_server *bad = NULL;
    o = (cio_transport_options){.tls = cctx};
    CHECK_RC(cio_create_server(factory, &p, "127.0.0.1", 0, &o, &bad), -EINVAL);
    CHECK_EQ(c.made, 0);
    CHECK_EQ(c.lost, 0);
    /* the server's side never reached its protocol */
    for (int i = 0; i < 2000 && cio_server_num_clients(srv); i++)
        cio_sleep(0.001);
    CHECK_EQ((int)cio_server_num_clients(srv), 0);
    for (int i = 0; i < p.n; i++)
        CHECK_EQ(p.recs[i].made, 0);
    server_done(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    cio_tls_context_free(untrusting);
    return 0;
}

static void test_verify(void) { CHECK_RC(cio_run(verify_main, NULL, NULL), 0); }

/* ---- ALPN -------------------------------------------------------------------------------- */

static int alpn_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    const char *sp[] = {"h2", "http/1.1"}, *cp[] = {"http/1.1"};
    CHECK_RC(cio_tls_context_set_alpn(sctx, sp, 2), 0);
    CHECK_RC(cio_tls_context_set_alpn(cctx, cp, 1), 0);
    cio_server *srv = tls_server(&p, sctx, 0);
    struct rec c = {0};
    cio_transport *t = NULL;
    cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", cio_server_port(srv), &o, &t), 0);
    if (t) {
        CHECK(cio_transport_tls_alpn(t) && !strcmp(cio_transport_tls_alpn(t), "http/1.1"));
        CHECK(wait_int(&p.n, 1) && wait_int(&p.recs[0].made, 1));
        const char *a = cio_transport_tls_alpn(p.recs[0].t);
        CHECK(a && !strcmp(a, "http/1.1"));
        CHECK(cio_transport_tls_peer_subject(p.recs[0].t) == NULL); /* no client cert */
        cio_transport_abort(t);
        CHECK(wait_int(&c.lost, 1));
        cio_transport_unref(t);
    }
    server_done(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_alpn(void) { CHECK_RC(cio_run(alpn_main, NULL, NULL), 0); }

/* ---- a big transfer with flow control both ways ------------------------------------------- */

#define BIG (6u << 20)

static int big_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    p.tmpl.echo = 1;
    p.tmpl.flow = 1; /* echo server: stop reading while its writes wait */
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    cio_server *srv = tls_server(&p, sctx, 0);
    static struct rec c;
    memset(&c, 0, sizeof c);
    cio_transport *t = NULL;
    cio_transport_options o = {.tls = cctx, .high_water = 128 * 1024};
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", cio_server_port(srv), &o, &t), 0);
    if (!t)
        return 0;
    int sz = 32768;
    setsockopt(cio_transport_fd(t), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(cio_transport_fd(t), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    /* The client does not read at first: the echo backs up into the
     * server, which pauses writing, then reading; then the client's own
     * writes back up and it is paused too. */
    cio_transport_pause_reading(t);
    CHECK_EQ(cio_transport_is_reading(t), 0);
    static unsigned char chunk[65536];
    unsigned long want = 0;
    size_t sent = 0;
    while (sent < BIG / 2 && p.recs[0].pauses == 0) {
        for (size_t i = 0; i < sizeof chunk; i++) {
            chunk[i] = (unsigned char)((sent + i) * 7 + 3);
            want += (unsigned long)chunk[i] * ((sent + i) % 251 + 1);
        }
        CHECK_RC(cio_transport_write(t, chunk, sizeof chunk), 0); /* never refused */
        sent += sizeof chunk;
        while (cio_transport_get_write_buffer_size(t) > (512u << 10) && p.recs[0].pauses == 0)
            if (cio_sleep(0.001) < 0)
                break; /* let the loop move bytes */
    }
    CHECK(c.pauses >= 1); /* the client's writes were paused */
    CHECK(p.recs[0].pauses == 1); /* and the server's */
    CHECK(sent < BIG / 2);
    /* The server stopped reading: what the client writes now stays. */
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < sizeof chunk; i++) {
            chunk[i] = (unsigned char)((sent + i) * 7 + 3);
            want += (unsigned long)chunk[i] * ((sent + i) % 251 + 1);
        }
        CHECK_RC(cio_transport_write(t, chunk, sizeof chunk), 0);
        sent += sizeof chunk;
    }
    cio_sleep(0.05);
    CHECK(cio_transport_get_write_buffer_size(t) >= 4 * sizeof chunk);
    CHECK(c.pauses > c.resumes);
    CHECK_EQ(c.got, 0);
    cio_transport_resume_reading(t);
    /* the rest, respecting pause_writing */
    while (sent < BIG) {
        if (c.pauses > c.resumes) {
            cio_sleep(0.001);
            continue;
        }
        for (size_t i = 0; i < sizeof chunk; i++) {
            chunk[i] = (unsigned char)((sent + i) * 7 + 3);
            want += (unsigned long)chunk[i] * ((sent + i) % 251 + 1);
        }
        CHECK_RC(cio_transport_write(t, chunk, sizeof chunk), 0);
        sent += sizeof chunk;
    }
    CHECK(wait_size(&c.got, sent));
    CHECK_EQ(c.got, sent);
    CHECK(c.sum == want);
    CHECK_EQ(c.pauses, c.resumes);
    CHECK_EQ(c.bad_order, 0);
    CHECK_EQ(p.recs[0].bad_order, 0);
    fprintf(stderr, "  %zu bytes echoed; client paused %d times, server %d\n", sent, c.pauses,
            p.recs[0].pauses);
    cio_transport_close(t);
    CHECK(wait_int(&c.lost, 1));
    CHECK_EQ(c.lost_err, 0);
    cio_transport_unref(t);
    server_done(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_big_transfer(void) { CHECK_RC(cio_run(big_main, NULL, NULL), 0); }

/* ---- close_notify both ways, abort ------------------------------------------------------------ */

static int close_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    p.tmpl.reply_on_eof = 1;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    cio_server *srv = tls_server(&p, sctx, 0);
    int port = cio_server_port(srv);
    cio_transport_options o = {.tls = cctx};

    /* 1. The client half-closes (close_notify); the server answers and
     * closes: the client sees "bye", eof_received, connection_lost(0). */
    struct rec c = {0};
    cio_transport *t = NULL;
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t), 0);
    if (t) {
        CHECK_RC(cio_transport_write(t, "last words", 10), 0);
        CHECK_RC(cio_transport_write_eof(t), 0);
        CHECK_RC(cio_transport_write(t, "x", 1), -EPIPE);
        CHECK(wait_int(&c.lost, 1));
        CHECK(c.got == 3 && !memcmp(c.data, "bye", 3));
        CHECK_EQ(c.eofs, 1);
        CHECK_EQ(c.lost_err, 0);
        CHECK(wait_int(&p.recs[0].lost, 1));
        CHECK_EQ(p.recs[0].got, 10);
        CHECK_EQ(p.recs[0].eofs, 1);
        CHECK_EQ(p.recs[0].lost_err, 0);
        cio_transport_unref(t);
    }

    /* 2. The server closes first: the client's eof_received (it keeps
     * nothing open), then both end cleanly. */
    struct rec c2 = {0};
    CHECK_RC(cio_create_connection(&rec_proto, &c2, "127.0.0.1", port, &o, &t), 0);
    if (t) {
        CHECK(wait_int(&p.n, 2) && wait_int(&p.recs[1].made, 1));
        cio_server_close_clients(srv);
        CHECK(wait_int(&c2.lost, 1));
        CHECK_EQ(c2.eofs, 1);
        CHECK_EQ(c2.lost_err, 0);
        CHECK(wait_int(&p.recs[1].lost, 1));
        CHECK_EQ(p.recs[1].lost_err, 0);
        cio_transport_unref(t);
    }

    /* 3. abort: no close_notify, so the server sees a truncation. */
    struct rec c3 = {0};
    CHECK_RC(cio_create_connection(&rec_proto, &c3, "127.0.0.1", port, &o, &t), 0);
    if (t) {
        CHECK(wait_int(&p.n, 3) && wait_int(&p.recs[2].made, 1));
        cio_transport_abort(t);
        CHECK_EQ(c3.lost, 0);
        CHECK(cio_transport_is_closing(t));
        CHECK(wait_int(&c3.lost, 1));
        CHECK_EQ(c3.lost_err, 0);
        CHECK(wait_int(&p.recs[2].lost, 1));
        CHECK_EQ(p.recs[2].lost_err, -ECONNRESET);
        /* a reset (TLS 1.3 tickets unread at the close) or an EOF without
         * close_notify: both -ECONNRESET, with a reason */
        CHECK(p.recs[2].lost_msg[0] != 0);
        fprintf(stderr, "  the server saw: %s\n", p.recs[2].lost_msg);
        cio_transport_unref(t);
    }
    for (int i = 0; i < p.n; i++)
        CHECK_EQ(p.recs[i].bad_order, 0);
    CHECK(!c.bad_order && !c2.bad_order && !c3.bad_order);
    server_done(srv);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_close(void) { CHECK_RC(cio_run(close_main, NULL, NULL), 0); }

/* ---- start_tls on live plain transports --------------------------------------------------------- */

struct upgrade {
    cio_transport *t;          /* the plain transport */
    cio_tls_context *ctx;
    cio_transport *nt;         /* what start_tls gave */
    int rc;
};

static int server_upgrade(void *arg, void **result)
{
    (void)result;
    struct upgrade *u = arg;
    u->rc = cio_start_tls(u->t, u->ctx, 1, NULL, &u->nt);
    return 0;
}

static int starttls_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct rec a = {0}, b = {0};
    b.echo = 1;
    cio_transport *ta = NULL, *tb = NULL;
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, &a, sv[0], NULL, &ta), 0);
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, &b, sv[1], NULL, &tb), 0);
    /* plain first */
    CHECK_RC(cio_transport_write(ta, "STARTTLS\n", 9), 0);
    CHECK(wait_size(&a.got, 9)); /* echoed in plain */
    CHECK(!cio_transport_is_tls(ta));
    /* refused without effect: a missing name, the wrong role */
    cio_transport *nt = NULL;
    CHECK_RC(cio_start_tls(ta, cctx, 0, NULL, &nt), -EINVAL);
    CHECK_RC(cio_start_tls(ta, cctx, 1, "localhost", &nt), -EINVAL);
    CHECK(!cio_transport_is_closing(ta));
    /* both sides upgrade at once */
    struct upgrade su = {.t = tb, .ctx = sctx};
    cio_task *st = NULL;
    CHECK_RC(cio_create_task(server_upgrade, &su, "upgrade", &st), 0);
    CHECK_RC(cio_start_tls(ta, cctx, 0, "localhost", &nt), 0);
    CHECK_RC(cio_task_await(st, NULL), 0);
    cio_task_unref(st);
    CHECK_RC(su.rc, 0);
    if (nt && su.nt) {
        CHECK(cio_transport_is_tls(nt) && cio_transport_is_tls(su.nt));
        CHECK_EQ(a.made, 1); /* no second connection_made */
        CHECK_RC(cio_transport_write(nt, "secret", 6), 0);
        CHECK(wait_size(&a.got, 15));
        CHECK(a.got == 15 && !memcmp(a.data + 9, "secret", 6));
        CHECK(a.t == nt);    /* callbacks now name the TLS transport */
        CHECK(b.t == su.nt);
        CHECK_EQ(cio_transport_fd(nt), sv[0]);
        cio_transport_close(nt);
        CHECK(wait_int(&a.lost, 1));
        CHECK_EQ(a.lost_err, 0);
        CHECK(wait_int(&b.lost, 1));
        CHECK_EQ(b.lost_err, 0);
        CHECK_EQ(b.eofs, 1);
    }
    CHECK(!a.bad_order && !b.bad_order);
    cio_transport_unref(nt);
    cio_transport_unref(su.nt);
    cio_transport_unref(ta);
    cio_transport_unref(tb);

    /* A failed upgrade: the peer is not TLS.  The protocol hears of it
     * from the transport it knew. */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct rec c = {0};
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, &c, sv[0], NULL, &ta), 0);
    CHECK_EQ(write(sv[1], "junk that is not a server hello............\n", 45), 45);
    nt = NULL;
    CHECK_RC(cio_start_tls(ta, cctx, 0, "localhost", &nt), CIO_ETLS);
    CHECK(nt == NULL);
    CHECK(wait_int(&c.lost, 1));
    CHECK(c.t == ta);
    CHECK_EQ(c.lost_err, CIO_ETLS);
    CHECK(cio_transport_is_closing(ta));
    cio_transport_unref(ta);
    close(sv[1]);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_start_tls(void) { CHECK_RC(cio_run(starttls_main, NULL, NULL), 0); }

/* ---- handshake timeouts ---------------------------------------------------------------------------- */

static int hs_timeout_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_tls_context *cctx = client_ctx(1);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct rec c = {0};
    cio_transport *t = NULL;
    cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
    cio_loop *loop = cio_get_running_loop();
    double t0 = cio_loop_time(loop);
    /* the peer (sv[1]) never answers: the default 60 s pass (virtually) */
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, &c, sv[0], &o, &t), -ETIMEDOUT);
    double waited = cio_loop_time(loop) - t0;
    CHECK(waited >= 59.9 && waited < 61);
    CHECK(strstr(cio_tls_context_error_message(cctx), "timed out") != NULL);
    CHECK_EQ(c.made, 0);
    close(sv[1]);
    cio_tls_context_free(cctx);
    return 0;
}

/* A plain TCP client of srv that never starts its handshake: its
 * descriptor, once the server counts it. */
static int connect_silent(cio_server *srv)
{
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cio_server_port(srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_RC(cio_sock_connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    for (int i = 0; i < 100 && !cio_server_num_clients(srv); i++)
        cio_sleep(0.005);
    CHECK_EQ((int)cio_server_num_clients(srv), 1);
    return fd;
}

static int silent_client_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    cio_tls_context *sctx = server_ctx();
    cio_server *srv = tls_server(&p, sctx, 0.2);
    int fd = connect_silent(srv);
    cio_sleep(0.5);
    CHECK_EQ((int)cio_server_num_clients(srv), 0); /* dropped at 0.2 s */
    char buf[16];
    CHECK_EQ(cio_sock_recv_into(fd, buf, sizeof buf), 0); /* closed on us */
    CHECK_EQ(p.recs[0].made, 0);
    cio_fd_close(fd);
    server_done(srv);
    cio_tls_context_free(sctx);
    return 0;
}

/* A connection still in its handshake when the server closes has no
 * protocol yet: it is aborted, and the factory is never asked for one. */
static int close_in_handshake_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    cio_tls_context *sctx = server_ctx();
    cio_server *srv = tls_server(&p, sctx, 0);
    int fd = connect_silent(srv);
    CHECK_RC(cio_server_close(srv), 0);
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(5, &tm), 0);
    CHECK_RC(cio_server_wait_closed(srv), 0); /* none left, at once */
    cio_timeout_end(tm);
    CHECK_EQ((int)cio_server_num_clients(srv), 0);
    char buf[16];
    int n = cio_sock_recv_into(fd, buf, sizeof buf);
    CHECK(n == 0 || n == -ECONNRESET); /* aborted on us */
    CHECK_EQ(p.n, 0);                   /* no protocol was made */
    cio_fd_close(fd);
    cio_server_free(srv);
    cio_tls_context_free(sctx);
    return 0;
}

/* The shutdown timeout: the peer keeps its side open after our
 * close_notify (its eof_received returns 1) and never sends its own; 30 s
 * (virtual) later the close gives up with -ETIMEDOUT. */
struct accept_side {
    int fd;
    cio_tls_context *ctx;
    struct rec *r;
    cio_transport *t;
};

static int accept_task(void *arg, void **result)
{
    (void)result;
    struct accept_side *a = arg;
    cio_transport_options o = {.tls = a->ctx};
    return cio_connect_accepted_socket(&rec_proto, a->r, a->fd, &o, &a->t);
}

static int sd_timeout_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct rec sr = {0}, c = {0};
    sr.keep_open = 1;
    struct accept_side a = {.fd = sv[1], .ctx = sctx, .r = &sr};
    cio_task *task;
    CHECK_RC(cio_create_task(accept_task, &a, "accept", &task), 0);
    cio_transport *t = NULL;
    cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, &c, sv[0], &o, &t), 0);
    CHECK_RC(cio_task_await(task, NULL), 0);
    cio_task_unref(task);
    if (t && a.t) {
        cio_loop *loop = cio_get_running_loop();
        double t0 = cio_loop_time(loop);
        cio_transport_close(t);
        CHECK(wait_int(&sr.eofs, 1)); /* our close_notify arrived */
        while (!c.lost && cio_loop_time(loop) - t0 < 100)
            cio_sleep(1);
        double waited = cio_loop_time(loop) - t0;
        CHECK(waited >= 29.9 && waited < 32);
        CHECK_EQ(c.lost_err, -ETIMEDOUT);
        CHECK(strstr(c.lost_msg, "shutdown timed out") != NULL);
        cio_transport_abort(a.t);
        CHECK(wait_int(&sr.lost, 1));
    }
    cio_transport_unref(t);
    cio_transport_unref(a.t);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_handshake_timeout(void)
{
    cio_loop *loop;
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    CHECK_RC(cio_run_loop(loop, hs_timeout_main, NULL, NULL), 0);
    cio_loop_free(loop);
    CHECK_RC(cio_run(silent_client_main, NULL, NULL), 0);
    CHECK_RC(cio_run(close_in_handshake_main, NULL, NULL), 0);
    CHECK_RC(cio_loop_new(&loop), 0);
    CHECK_RC(cio_loop_set_virtual_clock(loop, 1), 0);
    CHECK_RC(cio_run_loop(loop, sd_timeout_main, NULL, NULL), 0);
    cio_loop_free(loop);
}

/* ---- allocation failures ------------------------------------------------------------------------------------- */

static cio_tls_context *sweep_sctx, *sweep_cctx;

static int sweep_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    p.tmpl.echo = 1;
    cio_transport_options so = {.tls = sweep_sctx};
    cio_server *srv;
    int rc = cio_create_server(factory, &p, "127.0.0.1", 0, &so, &srv);
    if (rc < 0)
        return rc;
    struct rec r = {0};
    cio_transport *t;
    cio_transport_options o = {.tls = sweep_cctx};
    rc = cio_create_connection(&rec_proto, &r, "127.0.0.1", cio_server_port(srv), &o, &t);
    if (rc == 0) {
        rc = cio_transport_write(t, "hello", 5);
        for (int i = 0; i < 500 && r.got < 5 && !r.lost; i++)
            cio_sleep(0.001);
        if (rc == 0 && r.got != 5)
            rc = r.lost_err ? r.lost_err : -ENOMEM;
        cio_transport_close(t);
        for (int i = 0; i < 500 && !r.lost; i++)
            cio_sleep(0.001);
        cio_transport_unref(t);
    }
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    return rc;
}

static int sweep_run(long n, void *arg)
{
    (void)n;
    return cio_run(sweep_main, arg, NULL);
}

static void test_alloc_failures(void)
{
    sweep_sctx = server_ctx();
    sweep_cctx = client_ctx(1);
    long points = test_alloc_sweep(sweep_run, NULL, 400, 0);
    fprintf(stderr, "  %ld allocation points\n", points);
    cio_tls_context_free(sweep_sctx);
    cio_tls_context_free(sweep_cctx);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    make_cert();
    RUN(test_echo);
    RUN(test_verify);
    RUN(test_alpn);
    RUN(test_big_transfer);
    RUN(test_close);
    RUN(test_start_tls);
    RUN(test_handshake_timeout);
    RUN(test_alloc_failures);
    remove_cert();
    return test_finish();
}
