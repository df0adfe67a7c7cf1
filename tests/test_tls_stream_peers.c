/*
 * test_tls_stream_peers.c - TLS streams against real peers: a cio client
 * against `openssl s_server`, a cio server against `openssl s_client`,
 * Python's asyncio with ssl= as a client, and Python's start_tls against
 * cio_stream_start_tls.
 *
 * A self-signed certificate for localhost / 127.0.0.1 is made with the
 * openssl command in a temporary directory (tls_util.h); the test skips
 * without it or without OpenSSL in cio.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "tls_util.h"

static int python_starttls_main(void *arg, void **result)
{
    (void)result;
    int port = *(int *)arg;
    cio_tls_context *cctx = client_ctx(1);
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", port, NULL, &s), 0);
    if (s) {
        char buf[64];
        CHECK_RC(cio_stream_write(s, "STARTTLS\n", 9), 0);
        CHECK_EQ(cio_stream_readline(s, buf, sizeof buf), 3);
        CHECK(!cio_stream_is_tls(s));
        CHECK(cio_stream_tls_version(s) == NULL);
        CHECK_RC(cio_stream_start_tls(s, cctx, "localhost"), 0);
        CHECK(cio_stream_is_tls(s));
        CHECK_RC(cio_stream_start_tls(s, cctx, "localhost"), -EALREADY);
        CHECK_RC(cio_stream_write(s, "secret\n", 7), 0);
        int n = cio_stream_readline(s, buf, sizeof buf);
        CHECK_EQ(n, 7 + 8);
        CHECK(n > 0 && !memcmp(buf, "SECRET|TLSv1.", 13));
        cio_stream_close(s);
        cio_stream_wait_closed(s);
        cio_stream_unref(s);
    }
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_start_tls_python(void)
{
    char script[2048];
    snprintf(script, sizeof script,
             "import asyncio, ssl, sys\n"
             "ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
             "ctx.load_cert_chain('%s', '%s')\n"
             "async def handle(r, w):\n"
             "    assert await r.readline() == b'STARTTLS\\n'\n"
             "    w.write(b'OK\\n')\n"
             "    await w.drain()\n"
             "    await w.start_tls(ctx)\n"
             "    line = await r.readline()\n"
             "    v = w.get_extra_info('ssl_object').version()\n"
             "    w.write(line.strip().upper() + b'|' + v.encode() + b'\\n')\n"
             "    await w.drain()\n"
             "    w.close()\n"
             "    ev.set()\n"
             "async def main():\n"
             "    global ev\n"
             "    ev = asyncio.Event()\n"
             "    srv = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
             "    print(srv.sockets[0].getsockname()[1], flush=True)\n"
             "    await asyncio.wait_for(ev.wait(), 20)\n"
             "    await asyncio.sleep(0.1)\n"
             "asyncio.run(main())\n",
             cert, key);
    peer p;
    if (peer_start_case(&p, script) < 0)
        return;
    CHECK_RC(cio_run(python_starttls_main, &p.port, NULL), 0);
    CHECK_EQ(peer_wait(&p), 0);
}

/* ---- real peers: openssl s_server, s_client, Python asyncio client ------------------ */

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
    (void)result;
    (void)arg;
    int port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
                    "-rev", "-quiet", "-naccept", "1", NULL};
    cio_subprocess_options po = {.stdout_mode = CIO_SUBPROCESS_DEVNULL,
                              .stderr_mode = CIO_SUBPROCESS_DEVNULL};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_exec("openssl", argv, &po, &p), 0);
    cio_tls_context *cctx = client_ctx(1);
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    cio_stream *s = NULL;
    int rc = -ECONNREFUSED;
    for (int i = 0; i < 200 && rc == -ECONNREFUSED; i++) {
        rc = cio_open_connection("127.0.0.1", port, &o, &s);
        if (rc == -ECONNREFUSED)
            cio_sleep(0.025);
    }
    CHECK_RC(rc, 0);
    if (s) {
        char buf[64];
        CHECK_RC(cio_stream_write(s, "hello\n", 6), 0);
        int n = cio_stream_readline(s, buf, sizeof buf);
        CHECK(n >= 5 && !memcmp(buf, "olleh", 5)); /* -rev reverses each line */
        cio_stream_close(s);
        cio_stream_wait_closed(s);
        cio_stream_unref(s);
    }
    cio_subprocess_terminate(p);
    cio_subprocess_wait(p, NULL);
    cio_subprocess_free(p);
    cio_tls_context_free(cctx);
    return 0;
}

static void tls_stream_vs_openssl_s_server(void) { CHECK_RC(cio_run(s_server_main, NULL, NULL), 0); }

static int s_client_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx();
    cio_server *srv = start_echo(sctx, NULL);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", cio_server_port(srv));
    char *argv[] = {"openssl", "s_client", "-connect", connect, "-CAfile", cert,
                    "-verify_return_error", "-verify_hostname", "localhost", "-quiet",
                    "-no_ign_eof", NULL};
    cio_subprocess_options po = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                              .stdout_mode = CIO_SUBPROCESS_PIPE,
                              .stderr_mode = CIO_SUBPROCESS_DEVNULL};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_exec("openssl", argv, &po, &p), 0);
    cio_stream *in = NULL, *out = NULL;
    CHECK_RC(cio_subprocess_stdin_stream(p, &in), 0);
    CHECK_RC(cio_subprocess_stdout_stream(p, &out), 0);
    if (in && out) {
        char buf[64];
        CHECK_RC(cio_stream_write(in, "ping over s_client\n", 19), 0);
        CHECK_RC(cio_stream_drain(in), 0);
        int n = cio_stream_readline(out, buf, sizeof buf);
        CHECK_EQ(n, 19);
        CHECK(n == 19 && !memcmp(buf, "ping over s_client\n", 19));
        CHECK_RC(cio_stream_write_eof(in), 0); /* s_client quits at EOF */
        int code = -1;
        CHECK_RC(cio_subprocess_wait(p, &code), 0);
        CHECK_EQ(code, 0);
    }
    cio_subprocess_free(p);
    CHECK_EQ(handled, 1);
    stop_server(srv);
    cio_tls_context_free(sctx);
    return 0;
}

static void tls_stream_vs_openssl_s_client(void) { CHECK_RC(cio_run(s_client_main, NULL, NULL), 0); }

static int python_client_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx();
    cio_server *srv = start_echo(sctx, NULL);
    char script[1024];
    snprintf(script, sizeof script,
             "import asyncio, ssl\n"
             "async def main():\n"
             "    c = ssl.create_default_context(cafile='%s')\n"
             "    r, w = await asyncio.open_connection('127.0.0.1', %d, ssl=c,\n"
             "                                         server_hostname='localhost')\n"
             "    for i in range(3):\n"
             "        w.write(b'line %%d from asyncio\\n' %% i)\n"
             "        print((await r.readline()).decode().strip(), flush=True)\n"
             "    print(w.get_extra_info('ssl_object').version(), flush=True)\n"
             "    w.close()\n"
             "    await w.wait_closed()\n"
             "asyncio.run(main())\n",
             cert, cio_server_port(srv));
    char *argv[] = {PYTHON, "-c", script, NULL};
    cio_subprocess_options po = {.stdout_mode = CIO_SUBPROCESS_PIPE};
    cio_subprocess *p = NULL;
    CHECK_RC(cio_create_subprocess_exec(PYTHON, argv, &po, &p), 0);
    cio_stream *out = NULL;
    CHECK_RC(cio_subprocess_stdout_stream(p, &out), 0);
    char buf[128];
    for (int i = 0; out && i < 3; i++) {
        char want[64];
        int wl = snprintf(want, sizeof want, "line %d from asyncio\n", i);
        int n = cio_stream_readline(out, buf, sizeof buf);
        CHECK_EQ(n, wl);
        CHECK(n == wl && !memcmp(buf, want, (size_t)wl));
    }
    if (out) {
        int n = cio_stream_readline(out, buf, sizeof buf);
        CHECK(n > 6 && !memcmp(buf, "TLSv1.", 6));
    }
    int code = -1;
    CHECK_RC(cio_subprocess_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    cio_subprocess_free(p);
    stop_server(srv);
    cio_tls_context_free(sctx);
    return 0;
}

static void tls_stream_python_asyncio_client(void)
{
    if (need_python() < 0)
        return;
    CHECK_RC(cio_run(python_client_main, NULL, NULL), 0);
}

/* ---- every allocation failing in turn -------------------------------------------- */


int main(void)
{
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    if (system("openssl version >/dev/null 2>&1") != 0)
        TEST_SKIP("no openssl command");
    make_cert();
    RUN(tls_start_tls_python);
    RUN(tls_stream_vs_openssl_s_server);
    RUN(tls_stream_vs_openssl_s_client);
    RUN(tls_stream_python_asyncio_client);
    remove_cert();
    return test_finish();
}
