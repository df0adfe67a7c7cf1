/*
 * test_ws_shutdown.c - the HTTP server's graceful shutdown reaches its
 * upgraded WebSocket connections: cio_http_server_shutdown sends each
 * open one close 1001 (going away), lets the closing handshake finish
 * within the deadline, and aborts the ones whose peer does not answer.
 *
 * Peers: cio's own client (sees 1001 and the reason), a raw client that
 * reads the close frame but never answers it (aborted at the deadline),
 * and Python's `websockets` over ws:// and wss:// (tests/ws/wss.py
 * goaway), which must see 1001 too.
 */
#include <libgen.h>
#include <limits.h>
#include <sys/wait.h>

#include "test.h"
#include "ws_peer.h" /* before tls_util.h: its globals (key) would shadow */
#include "tls_util.h"

static char pyscript[PATH_MAX + 16]; /* tests/ws/wss.py */
static int handlers;                 /* WebSocket handlers running */
static int tls_handlers;             /* of them, over TLS */

static int echo(cio_ws *ws, void *ud)
{
    (void)ud;
    if (cio_transport_is_tls(cio_ws_transport(ws)))
        tls_handlers++;
    int type;
    const void *d;
    size_t n;
    while (cio_ws_recv(ws, &type, &d, &n) == 0)
        if ((type == CIO_WS_TEXT ? cio_ws_send_text(ws, d, n) : cio_ws_send_binary(ws, d, n)) < 0)
            break;
    return 0;
}

static int r_echo(cio_http_request *req, void *ud)
{
    (void)ud;
    handlers++;
    int rc = cio_ws_serve(req, NULL, echo, NULL);
    handlers--;
    return rc;
}

static cio_http_server *start(cio_tls_context *tls, int *port)
{
    cio_http_server_options so;
    cio_http_server_options_init(&so);
    so.transport.tls = tls;
    cio_http_server *srv = NULL;
    CHECK_RC(cio_http_server_new(&so, &srv), 0);
    CHECK_RC(cio_http_server_route(srv, "GET", "/echo", r_echo, NULL, 0), 0);
    CHECK_RC(cio_http_server_route(srv, "GET", "/ws", r_echo, NULL, 0), 0);
    CHECK_RC(cio_http_server_listen(srv, "127.0.0.1", 0), 0);
    *port = cio_http_server_port(srv);
    return srv;
}

/* Waits (up to 5 s) until `handlers` is want. */
static void handlers_wait(int want)
{
    for (int i = 0; i < 500 && handlers != want; i++)
        cio_sleep(0.01);
    CHECK_EQ(handlers, want);
}

/* ---- cio's client ----------------------------------------------------------------- */

struct client {
    int port;          /* the server's */
    int recv_rc;       /* what the waiting cio_ws_recv returned */
    unsigned code;     /* the close code it saw */
    char reason[64];   /* and the reason */
};

static int client_task(void *arg, void **result)
{
    (void)result;
    struct client *c = arg;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/echo", c->port);
    cio_ws *ws = NULL;
    CHECK_RC(cio_ws_connect(url, NULL, &ws), 0);
    if (!ws)
        return -1;
    int type;
    const void *d;
    size_t n;
    CHECK_RC(cio_ws_send_text(ws, "hi", 2), 0);
    CHECK_RC(cio_ws_recv(ws, &type, &d, &n), 0);
    c->recv_rc = cio_ws_recv(ws, &type, &d, &n); /* until the server goes away */
    CHECK_RC(cio_ws_wait_closed(ws), 0);
    c->code = cio_ws_close_code(ws);
    snprintf(c->reason, sizeof c->reason, "%s", cio_ws_close_reason(ws));
    cio_ws_free(ws);
    return 0;
}

/* Three cio clients wait in cio_ws_recv; the shutdown ends them all with
 * 1001 and returns 0 (nothing had to be aborted), well before its
 * deadline. */
static void cio_clients_see_1001(void)
{
    int port = 0;
    cio_http_server *srv = start(NULL, &port);
    struct client c[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].port = port;
        CHECK_RC(cio_create_task(client_task, &c[i], "client", &t[i]), 0);
    }
    handlers_wait(3);
    cio_sleep(0.05); /* the clients are in their second cio_ws_recv */
    double t0 = test_now();
    CHECK_RC(cio_http_server_shutdown(srv, 5), 0);
    double took = test_now() - t0;
    CHECK(took < 3 * test_timeout_multiplier());
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_await(cio_task_future(t[i]), NULL), 0);
        cio_task_unref(t[i]);
        CHECK_RC(c[i].recv_rc, CIO_ECLOSED);
        CHECK_EQ(c[i].code, 1001);
        CHECK(strcmp(c[i].reason, "server shutdown") == 0);
    }
    handlers_wait(0);
    /* no new connection is taken */
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/echo", port);
    cio_ws *ws = NULL;
    CHECK(cio_ws_connect(url, NULL, &ws) < 0);
    cio_http_server_free(srv);
}

/* cio_http_server_free without a shutdown aborts the WebSockets too (no
 * close frame: 1006); the server's memory lives until the last one has
 * gone (ASan checks that). */
static void free_aborts(void)
{
    int port = 0;
    cio_http_server *srv = start(NULL, &port);
    struct client c = {.port = port};
    cio_task *t;
    CHECK_RC(cio_create_task(client_task, &c, "client", &t), 0);
    handlers_wait(1);
    cio_sleep(0.05);
    cio_http_server_free(srv);
    CHECK_RC(cio_await(cio_task_future(t), NULL), 0);
    cio_task_unref(t);
    CHECK_RC(c.recv_rc, CIO_ECLOSED);
    CHECK_EQ(c.code, 1006);
    handlers_wait(0);
}

/* ---- a peer that never answers the close ---------------------------------------- */

struct mute {
    int port;   /* the server's */
    int fd;     /* its socket, once upgraded */
    int code;   /* the close code read */
    int eof;    /* then the server dropped TCP */
};

static int mute_open(void *arg, void **result)
{
    (void)result;
    struct mute *m = arg;
    char head[1024];
    m->fd = raw_open(m->port, "", head, sizeof head);
    return m->fd < 0 ? -1 : 0;
}

static int mute_read(void *arg, void **result)
{
    (void)result;
    struct mute *m = arg;
    m->code = raw_expect_close(m->fd, &m->eof); /* and no close frame back */
    return 0;
}

/* mute_read in a thread, from a task, so the shutdown runs meanwhile. */
static int mute_reader(void *arg, void **result)
{
    (void)result;
    return cio_to_thread(mute_read, arg, NULL);
}

static void unanswered_close_aborted(void)
{
    int port = 0;
    cio_http_server *srv = start(NULL, &port);
    struct mute m = {.port = port, .fd = -1};
    CHECK_RC(cio_to_thread(mute_open, &m, NULL), 0);
    handlers_wait(1);
    cio_task *reader;
    CHECK_RC(cio_create_task(mute_reader, &m, "mute", &reader), 0);
    double t0 = test_now();
    CHECK_RC(cio_http_server_shutdown(srv, 0.5), -ETIMEDOUT);
    double took = test_now() - t0;
    CHECK(took >= 0.45 && took < 3 * test_timeout_multiplier());
    CHECK_RC(cio_await(cio_task_future(reader), NULL), 0);
    cio_task_unref(reader);
    CHECK_EQ(m.code, 1001);
    CHECK(m.eof);
    handlers_wait(0);
    if (m.fd >= 0)
        close(m.fd);
    cio_http_server_free(srv);
}

/* ---- Python's websockets, over ws:// and wss:// ------------------------------------ */

struct py {
    pid_t pid;    /* wss.py goaway */
    int out;      /* its stdout */
    char line[64]; /* the line read */
};

static int py_read_line(void *arg, void **result)
{
    (void)result;
    struct py *p = arg;
    size_t n = 0;
    while (n < sizeof p->line - 1 && read(p->out, p->line + n, 1) == 1 && p->line[n] != '\n')
        n++;
    p->line[n] = 0;
    return 0;
}

static int py_wait(void *arg, void **result)
{
    (void)result;
    int st = 0;
    waitpid(((struct py *)arg)->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void python_goaway(cio_tls_context *tls)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "%s -c 'import websockets' 2>/dev/null", test_python());
    if (system(cmd) != 0) {
        test_skip_case("python3-websockets not installed");
        return;
    }
    int port = 0;
    cio_http_server *srv = start(tls, &port);
    int before = tls_handlers;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct py p = {0};
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    p.pid = fork();
    if (p.pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(test_python(), test_python(), pyscript, "goaway", ps, tls ? cert : (char *)NULL,
              (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    p.out = pfd[0];
    CHECK_RC(cio_to_thread(py_read_line, &p, NULL), 0); /* the loop serves it meanwhile */
    CHECK(strcmp(p.line, "ready") == 0);
    CHECK_RC(cio_http_server_shutdown(srv, 5), 0);
    CHECK_RC(cio_to_thread(py_read_line, &p, NULL), 0);
    CHECK(strcmp(p.line, "python websockets saw 1001") == 0);
    CHECK_EQ(cio_to_thread(py_wait, &p, NULL), 0);
    close(p.out);
    CHECK_EQ(tls_handlers - before, tls ? 1 : 0);
    handlers_wait(0);
    cio_http_server_free(srv);
}

static void python_ws(void)
{
    python_goaway(NULL);
}

static cio_tls_context *sctx;

static void python_wss(void)
{
    if (!sctx) {
        test_skip_case("cio was built without OpenSSL, or no certificate");
        return;
    }
    python_goaway(sctx);
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    if (cio_tls_available())
        sctx = server_ctx();
    RUN(cio_clients_see_1001);
    RUN(unanswered_close_aborted);
    RUN(free_aborts);
    RUN(python_ws);
    RUN(python_wss);
    cio_tls_context_free(sctx);
    return 0;
}

int main(void)
{
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s", __FILE__);
    snprintf(pyscript, sizeof pyscript, "%s/ws/wss.py", dirname(file));
    signal(SIGPIPE, SIG_IGN);
    if (cio_tls_available())
        make_cert();
    CHECK_RC(cio_run(main_task, NULL, NULL), 0);
    if (cio_tls_available())
        remove_cert();
    return test_finish();
}
