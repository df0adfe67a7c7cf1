/*
 * test_wss.c - WebSocket over TLS (wss://): a WebSocket route on an HTTPS
 * cio HTTP server, and cio_ws_connect to wss:// URLs, each against the
 * other and against Python's `websockets` with an ssl context (Debian
 * python3-websockets, tests/ws/wss.py).
 *
 * The certificate (tests/tls_util.h) names localhost and 127.0.0.1.  The
 * client must verify it and check the URL's host against it: a client
 * that does not trust it, or a server whose certificate names another
 * host, fails with CIO_ETLS before any WebSocket byte is exchanged.
 */
#include <libgen.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tls_util.h"
#include "ws/deflate.h" /* cio__ws_deflate_available: zlib in this build */

static char pyscript[PATH_MAX + 16]; /* tests/ws/wss.py */
static int port;                     /* the HTTPS server's */
static int handlers;                 /* WebSocket handlers running */
static int accepted;                 /* handlers that got a connection */

/* ---- a Python peer ------------------------------------------------------------- */

/* Runs wss.py with args; if first_line, reads its first output line into
 * it (blocking: only for a peer that prints at once; the others write to
 * our stdout).  Returns the pid or -1. */
static pid_t py_spawn(char *const args[], char *first_line, size_t cap)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (first_line)
            dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        char *argv[8] = {test_python(), pyscript};
        for (int i = 0; args[i] && i < 5; i++)
            argv[2 + i] = args[i];
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    if (first_line) {
        while (n < cap - 1 && read(pfd[0], first_line + n, 1) == 1 && first_line[n] != '\n')
            n++;
        first_line[n] = 0;
    }
    close(pfd[0]);
    return pid;
}

static int wait_pid(void *arg, void **result)
{
    (void)result;
    int st = 0;
    waitpid((pid_t)(intptr_t)arg, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int have_python_websockets(void)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "%s -c 'import websockets' 2>/dev/null", test_python());
    return system(cmd) == 0;
}

/* ---- cio's wss server ---------------------------------------------------------- */

static int echo(cio_ws *ws, void *ud)
{
    (void)ud;
    accepted++;
    CHECK(cio_transport_is_tls(cio_ws_transport(ws)));
    int type;
    const void *d;
    size_t n;
    while (cio_ws_recv(ws, &type, &d, &n) == 0) {
        int rc = type == CIO_WS_TEXT ? cio_ws_send_text(ws, d, n) : cio_ws_send_binary(ws, d, n);
        if (rc < 0)
            break;
    }
    return 0;
}

static int r_echo(cio_http_request *req, void *ud)
{
    (void)ud;
    handlers++;
    cio_ws_options o;
    cio_ws_options_init(&o);
    o.max_message = 4u << 20;
    int rc = cio_ws_serve(req, &o, echo, NULL);
    handlers--;
    return rc;
}

static cio_http_server *start_server(cio_tls_context *sctx, int *port_out)
{
    cio_http_server_options so;
    cio_http_server_options_init(&so);
    so.transport.tls = sctx;
    cio_http_server *srv = NULL;
    CHECK_RC(cio_http_server_new(&so, &srv), 0);
    CHECK_RC(cio_http_server_route(srv, "GET", "/echo", r_echo, NULL, 0), 0);
    CHECK_RC(cio_http_server_listen(srv, "127.0.0.1", 0), 0);
    *port_out = cio_http_server_port(srv);
    return srv;
}

/* Waits (up to 5 s) until the server's handlers have ended. */
static void handlers_drain(void)
{
    for (int i = 0; i < 500 && handlers > 0; i++)
        cio_sleep(0.01);
    CHECK_EQ(handlers, 0);
}

/* ---- cio's client: the conversation ---------------------------------------------- */

static uint8_t big[3u << 20]; /* 3 MiB: many TLS records, the write buffer fills */

/* Echo round trips through ws: text, binary (small and big), empty,
 * fragmented sends, a ping, then close 1000. */
static void conversation(cio_ws *ws)
{
    struct {
        int type;
        const void *p;
        size_t n;
    } m[] = {{CIO_WS_TEXT, "hello over tls", 14},
             {CIO_WS_TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11},
             {CIO_WS_BINARY, big, 200000},
             {CIO_WS_BINARY, big, sizeof big},
             {CIO_WS_TEXT, "", 0},
             {CIO_WS_BINARY, "", 0}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        int rc = m[i].type == CIO_WS_TEXT ? cio_ws_send_text(ws, m[i].p, m[i].n)
                                          : cio_ws_send_binary(ws, m[i].p, m[i].n);
        CHECK_RC(rc, 0);
        int type = 0;
        const void *d = NULL;
        size_t n = 0;
        if (rc == 0)
            rc = cio_ws_recv(ws, &type, &d, &n);
        CHECK_RC(rc, 0);
        CHECK(type == m[i].type && n == m[i].n && (!n || !memcmp(d, m[i].p, n)));
        if (rc < 0) {
            fprintf(stderr, "  message %zu: closed with %u \"%s\"\n", i, cio_ws_close_code(ws),
                    cio_ws_close_reason(ws));
            return;
        }
    }
    /* many messages in flight before the first answer is read */
    int rc = 0;
    for (int i = 0; i < 50 && rc == 0; i++)
        rc = cio_ws_send_binary(ws, big + i, 1000);
    CHECK_RC(rc, 0);
    for (int i = 0; i < 50 && rc == 0; i++) {
        int type;
        const void *d;
        size_t n;
        rc = cio_ws_recv(ws, &type, &d, &n);
        CHECK_RC(rc, 0);
        CHECK(rc < 0 || (n == 1000 && !memcmp(d, big + i, n)));
    }
    CHECK_RC(cio_ws_ping(ws, "p", 1, 5), 0);
    CHECK_RC(cio_ws_close(ws, 1000, "bye"), 0);
}

static cio_tls_context *trusting; /* a client context that trusts the cert */

static void cio_client_cio_server(void)
{
    const char *hosts[] = {"localhost", "127.0.0.1"};
    for (int comp = 1; comp >= 0; comp--) {
        for (size_t h = 0; h < 2; h++) {
            cio_ws_options o;
            cio_ws_options_init(&o);
            o.tls = trusting;
            o.no_compression = !comp;
            o.max_message = 4u << 20;
            o.fragment_size = comp ? 0 : 16384; /* fragmented both ways over TLS */
            char url[96];
            snprintf(url, sizeof url, "wss://%s:%d/echo", hosts[h], port);
            cio_ws *ws = NULL;
            CHECK_RC(cio_ws_connect(url, &o, &ws), 0);
            if (!ws)
                continue;
            CHECK(cio_transport_is_tls(cio_ws_transport(ws)));
            CHECK_EQ(cio_ws_compressed(ws), comp && cio__ws_deflate_available());
            conversation(ws);
            CHECK_EQ(cio_ws_close_code(ws), 1000);
            cio_ws_free(ws);
        }
    }
    handlers_drain();
}

/* The client fails closed: no trust, another name, or plain ws:// to a
 * TLS port.  No WebSocket handler runs for any of them. */
static void verification(void)
{
    int before = accepted;
    char url[96];
    cio_ws *ws = NULL;
    cio_ws_options o;
    cio_ws_options_init(&o);
    o.open_timeout = 5;

    /* the default context: the system's CAs, which do not know our cert */
    snprintf(url, sizeof url, "wss://localhost:%d/echo", port);
    CHECK_RC(cio_ws_connect(url, &o, &ws), CIO_ETLS);
    CHECK(ws == NULL);

    /* a context of its own that trusts nothing extra */
    cio_tls_context *plain = client_ctx(0);
    o.tls = plain;
    CHECK_RC(cio_ws_connect(url, &o, &ws), CIO_ETLS);

    /* a trusted certificate that names another host */
    char wdir[] = "/tmp/cio-wss-XXXXXX";
    CHECK(mkdtemp(wdir) != NULL);
    char wcert[64], wkey[64];
    snprintf(wcert, sizeof wcert, "%s/cert.pem", wdir);
    snprintf(wkey, sizeof wkey, "%s/key.pem", wdir);
    CHECK_RC(make_cert_for("wrong.example", "DNS:wrong.example", wcert, wkey), 0);
    cio_tls_context *wsctx = NULL, *wcctx = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_SERVER, &wsctx), 0);
    CHECK_RC(cio_tls_context_load_cert(wsctx, wcert, wkey), 0);
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &wcctx), 0);
    CHECK_RC(cio_tls_context_load_ca(wcctx, wcert, NULL), 0);
    int wport = 0;
    cio_http_server *wsrv = start_server(wsctx, &wport);
    o.tls = wcctx;
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/echo", wport);
    CHECK_RC(cio_ws_connect(url, &o, &ws), CIO_ETLS);
    snprintf(url, sizeof url, "wss://localhost:%d/echo", wport);
    CHECK_RC(cio_ws_connect(url, &o, &ws), CIO_ETLS);

    /* plain ws:// to the TLS port: no 101 comes back */
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/echo", port);
    o.tls = NULL;
    CHECK(cio_ws_connect(url, &o, &ws) < 0);
    CHECK(ws == NULL);

    CHECK_EQ(accepted, before);
    CHECK_RC(cio_http_server_shutdown(wsrv, 2), 0);
    cio_http_server_free(wsrv);
    cio_tls_context_free(wsctx);
    cio_tls_context_free(wcctx);
    cio_tls_context_free(plain);
    unlink(wcert);
    unlink(wkey);
    rmdir(wdir);
}

/* ---- Python's websockets ---------------------------------------------------------- */

static void python_client(void)
{
    if (!have_python_websockets()) {
        test_skip_case("python3-websockets not installed");
        return;
    }
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    char *args[] = {"client", ps, cert, NULL};
    int before = accepted;
    pid_t pid = py_spawn(args, NULL, 0);
    CHECK(pid > 0);
    CHECK_EQ(cio_to_thread(wait_pid, (void *)(intptr_t)pid, NULL), 0);
    CHECK_EQ(accepted - before, 2); /* the refused client never got a handler */
    handlers_drain();
}

static void python_server(void)
{
    if (!have_python_websockets()) {
        test_skip_case("python3-websockets not installed");
        return;
    }
    char line[32] = "";
    char *args[] = {"server", cert, key, NULL};
    pid_t pid = py_spawn(args, line, sizeof line);
    int pport = atoi(line);
    CHECK(pid > 0 && pport > 0);
    if (pport <= 0)
        return;
    for (int comp = 1; comp >= 0; comp--) {
        cio_ws_options o;
        cio_ws_options_init(&o);
        o.tls = trusting;
        o.no_compression = !comp;
        o.max_message = 4u << 20;
        char url[96];
        snprintf(url, sizeof url, "wss://localhost:%d/", pport);
        cio_ws *ws = NULL;
        CHECK_RC(cio_ws_connect(url, &o, &ws), 0);
        if (!ws)
            break;
        CHECK_EQ(cio_ws_compressed(ws), comp && cio__ws_deflate_available());
        conversation(ws);
        cio_ws_free(ws);
    }
    /* the Python server's certificate is checked like any other */
    cio_ws_options o;
    cio_ws_options_init(&o);
    char url[96];
    snprintf(url, sizeof url, "wss://localhost:%d/", pport);
    cio_ws *ws = NULL;
    CHECK_RC(cio_ws_connect(url, &o, &ws), CIO_ETLS);
    kill(pid, SIGTERM);
    cio_to_thread(wait_pid, (void *)(intptr_t)pid, NULL);
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx = server_ctx();
    trusting = client_ctx(1);
    cio_http_server *srv = start_server(sctx, &port);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 9));
    RUN(cio_client_cio_server);
    RUN(verification);
    RUN(python_client);
    RUN(python_server);
    handlers_drain();
    CHECK_RC(cio_http_server_shutdown(srv, 2), 0);
    cio_http_server_free(srv);
    cio_tls_context_free(trusting);
    cio_tls_context_free(sctx);
    return 0;
}

int main(void)
{
    if (!cio_tls_available())
        TEST_SKIP("cio was built without OpenSSL");
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s", __FILE__);
    snprintf(pyscript, sizeof pyscript, "%s/ws/wss.py", dirname(file));
    signal(SIGPIPE, SIG_IGN);
    setenv("CIO_WS_DEFLATE", cio__ws_deflate_available() ? "1" : "0", 1);
    make_cert();
    CHECK_RC(cio_run(main_task, NULL, NULL), 0);
    remove_cert();
    return test_finish();
}
