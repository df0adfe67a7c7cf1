/*
 * test_tls_transport_peers.c - TLS transports against real peers: a cio
 * client against `openssl s_server`, a cio server against `openssl
 * s_client`, a TLS 1.3 key update and a TLS 1.2 renegotiation that
 * s_server starts under a live cio client, and a cio client against
 * Python's asyncio server with ssl= (its sslproto against ours).
 *
 * A self-signed certificate is made with the openssl command
 * (tls_util.h); without it, or without OpenSSL in cio, or without
 * python3 for its case, the test (or case) is skipped.
 */
#include "tls_transport_util.h"

/* ---- real peers ----------------------------------------------------------------------------------------- */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static int s_server_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
                    "-rev", "-quiet", "-naccept", "1", NULL};
    cio_subprocess_options po = {.stdout_mode = CIO_SUBPROCESS_DEVNULL,
                              .stderr_mode = CIO_SUBPROCESS_DEVNULL};
    cio_subprocess *sp = NULL;
    CHECK_RC(cio_create_subprocess_exec("openssl", argv, &po, &sp), 0);
    cio_tls_context *cctx = client_ctx(1);
    cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
    struct rec c = {0};
    cio_transport *t = NULL;
    int rc = -ECONNREFUSED;
    for (int i = 0; i < 200 && rc == -ECONNREFUSED; i++) {
        rc = cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t);
        if (rc == -ECONNREFUSED)
            cio_sleep(0.025);
    }
    CHECK_RC(rc, 0);
    if (t) {
        CHECK_RC(cio_transport_write(t, "hello\n", 6), 0);
        CHECK(wait_size(&c.got, 5));
        CHECK(c.got >= 5 && !memcmp(c.data, "olleh", 5)); /* -rev reverses lines */
        cio_transport_close(t);
        CHECK(wait_int(&c.lost, 1));
        cio_transport_unref(t);
    }
    cio_subprocess_terminate(sp);
    cio_subprocess_wait(sp, NULL);
    cio_subprocess_free(sp);
    cio_tls_context_free(cctx);
    return 0;
}

static int s_client_main(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct pool p;
    memset(&p, 0, sizeof p);
    p.tmpl.echo = 1;
    cio_tls_context *sctx = server_ctx();
    cio_server *srv = tls_server(&p, sctx, 0);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", cio_server_port(srv));
    char *argv[] = {"openssl", "s_client", "-connect", connect, "-CAfile", cert,
                    "-verify_return_error", "-verify_hostname", "localhost", "-quiet",
                    "-no_ign_eof", NULL};
    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                              .stdout_mode = CIO_SUBPROCESS_PIPE,
                              .stderr_mode = CIO_SUBPROCESS_DEVNULL};
    cio_subprocess *sp = NULL;
    CHECK_RC(cio_create_subprocess_exec("openssl", argv, &po, &sp), 0);
    cio_stream *in = NULL, *out = NULL;
    CHECK_RC(cio_subprocess_stdin_stream(sp, &in), 0);
    CHECK_RC(cio_subprocess_stdout_stream(sp, &out), 0);
    if (in && out) {
        char buf[64];
        CHECK_RC(cio_stream_write(in, "ping over s_client\n", 19), 0);
        CHECK_RC(cio_stream_drain(in), 0);
        int n = cio_stream_readline(out, buf, sizeof buf);
        CHECK(n == 19 && !memcmp(buf, "ping over s_client\n", 19));
        CHECK_RC(cio_stream_write_eof(in), 0); /* s_client quits at EOF */
        int code = -1;
        CHECK_RC(cio_subprocess_wait(sp, &code), 0);
        CHECK_EQ(code, 0);
    }
    cio_subprocess_free(sp);
    CHECK(wait_int(&p.recs[0].lost, 1));
    CHECK_EQ(p.recs[0].made, 1);
    server_done(srv);
    cio_tls_context_free(sctx);
    return 0;
}


/* Post-handshake messages from s_server's stdin commands: "K" a TLS 1.3
 * key update that asks for ours back, "r" a TLS 1.2 renegotiation.  The
 * application sees only the data around them, both ways. */
static int rekey_run(const char *version, const char *cmd)
{
    int port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
                    (char *)version, "-naccept", "1", NULL};
    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                              .stdout_mode = CIO_SUBPROCESS_PIPE,
                              .stderr_mode = CIO_SUBPROCESS_DEVNULL};
    cio_subprocess *sp = NULL;
    CHECK_RC(cio_create_subprocess_exec("openssl", argv, &po, &sp), 0);
    cio_stream *in = NULL, *out = NULL;
    CHECK_RC(cio_subprocess_stdin_stream(sp, &in), 0);
    CHECK_RC(cio_subprocess_stdout_stream(sp, &out), 0);
    cio_tls_context *cctx = client_ctx(1);
    cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
    struct rec c = {0};
    cio_transport *t = NULL;
    int rc = -ECONNREFUSED;
    for (int i = 0; i < 200 && rc == -ECONNREFUSED; i++) {
        rc = cio_create_connection(&rec_proto, &c, "127.0.0.1", port, &o, &t);
        if (rc == -ECONNREFUSED)
            cio_sleep(0.025);
    }
    CHECK_RC(rc, 0);
    if (t && in && out) {
        static char line[16384]; /* s_server's "Shared ciphers" line is long */
        cio_sleep(0.2);
        /* s_server takes a command only as a read of its own */
        CHECK_RC(cio_stream_write(in, cmd, strlen(cmd)), 0);
        CHECK_RC(cio_stream_drain(in), 0);
        cio_sleep(0.3);
        CHECK_RC(cio_stream_write(in, "from server\n", 12), 0);
        CHECK_RC(cio_stream_drain(in), 0);
        CHECK(wait_size(&c.got, 12));
        CHECK(c.got == 12 && !memcmp(c.data, "from server\n", 12));
        CHECK_RC(cio_transport_write(t, "from client\n", 12), 0);
        int found = 0, cmd_ran = 0;
        for (int i = 0; i < 100 && !found; i++) {
            int n = cio_stream_readline(out, line, sizeof line);
            if (n <= 0)
                break;
            /* what s_server prints after running the command */
            if (n >= 21 && !memcmp(line, "SSL_do_handshake -> 1", 21))
                cmd_ran = 1;
            found = n == 12 && !memcmp(line, "from client\n", 12);
        }
        CHECK(found);
        CHECK(cmd_ran);
        CHECK_EQ(c.lost, 0);
        cio_transport_abort(t);
        CHECK(wait_int(&c.lost, 1));
        CHECK_EQ(c.lost_err, 0);
    }
    cio_transport_unref(t);
    cio_subprocess_terminate(sp);
    cio_subprocess_wait(sp, NULL);
    cio_subprocess_free(sp);
    cio_tls_context_free(cctx);
    return 0;
}

static int rekey_main(void *arg, void **result)
{
    (void)arg, (void)result;
    rekey_run("-tls1_3", "K\n");
    rekey_run("-tls1_2", "r\n");
    return 0;
}

static void test_openssl_peers(void)
{
    CHECK_RC(cio_run(s_server_main, NULL, NULL), 0);
    CHECK_RC(cio_run(s_client_main, NULL, NULL), 0);
    CHECK_RC(cio_run(rekey_main, NULL, NULL), 0);
}

/* Python's asyncio: a TLS echo server (its sslproto against ours), then
 * asyncio's client against a cio TLS server, through start_tls. */
static char py_server[2048];

static int py_client_main(void *arg, void **result)
{
    (void)result;
    peer *pp = arg;
    cio_tls_context *cctx = client_ctx(1);
    cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
    struct rec c = {0};
    cio_transport *t = NULL;
    CHECK_RC(cio_create_connection(&rec_proto, &c, "127.0.0.1", pp->port, &o, &t), 0);
    if (t) {
        static char big[200000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (char)('a' + i % 26);
        CHECK_RC(cio_transport_write(t, big, sizeof big), 0);
        CHECK(wait_size(&c.got, sizeof big));
        CHECK_EQ(c.got, sizeof big);
        cio_transport_close(t);
        CHECK(wait_int(&c.lost, 1));
        CHECK_EQ(c.lost_err, 0);
        cio_transport_unref(t);
    }
    cio_tls_context_free(cctx);
    return 0;
}

static void test_python_peers(void)
{
    snprintf(py_server, sizeof py_server,
             "import asyncio, ssl\n"
             "class Echo(asyncio.Protocol):\n"
             "    def connection_made(self, t): self.t = t\n"
             "    def data_received(self, d): self.t.write(d)\n"
             "    def connection_lost(self, e): done.set_result(e)\n"
             "async def main():\n"
             "    global done\n"
             "    done = asyncio.get_running_loop().create_future()\n"
             "    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
             "    ctx.load_cert_chain('%s', '%s')\n"
             "    srv = await asyncio.get_running_loop().create_server(Echo, '127.0.0.1', 0,"
             " ssl=ctx)\n"
             "    print(srv.sockets[0].getsockname()[1], flush=True)\n"
             "    e = await asyncio.wait_for(done, 20)\n"
             "    raise SystemExit(0 if e is None else 3)\n"
             "asyncio.run(main())\n",
             cert, key);
    run_with_peer(py_server, py_client_main);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    make_cert();
    RUN(test_openssl_peers);
    RUN(test_python_peers);
    remove_cert();
    return test_finish();
}
