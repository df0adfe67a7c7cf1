/*
 * test_ws_interop.c - cio's WebSocket code against real peers: Python's
 * `websockets` (Debian python3-websockets) and node's `ws` (npm, installed
 * by tests/ws/node_setup.sh into the build directory), each as a client of
 * cio's server and as a server for cio's client: text and binary, empty
 * and large, fragmented both ways, with permessage-deflate and without,
 * subprotocol, ping, close codes.  A peer that is not installed skips its
 * cases (77 when all are skipped).
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "ws/deflate.h" /* cio__ws_deflate_available: zlib in this build */

static char srcdir[PATH_MAX]; /* tests/ws/ */
static char nodedir[PATH_MAX]; /* <build>/node */
static int port;

/* Starts argv; if want_port, reads the port it prints first.  Returns the
 * pid, or -1. */
static pid_t spawn(char *const argv[], int want_port, int *port_out)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (want_port)
            dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        char np[PATH_MAX + 32];
        snprintf(np, sizeof np, "%s/node_modules", nodedir);
        setenv("NODE_PATH", np, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    if (want_port) {
        char line[32] = {0};
        size_t n = 0;
        while (n < sizeof line - 1 && read(pfd[0], line + n, 1) == 1 && line[n] != '\n')
            n++;
        *port_out = atoi(line);
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

static int have_node_ws(void)
{
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof cmd, "sh %s/node_setup.sh %s ws@8 >&2", srcdir, nodedir);
    return system(cmd) == 0;
}

/* ---- cio's server, the peer as client ------------------------------------------ */

static int echo(cio_ws *ws, void *ud)
{
    (void)ud;
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

static const char *const subs[] = {"chat", NULL};

static int handlers; /* WebSocket handlers running */

/* Waits (up to 5 s) until the server's handlers have ended, so the
 * connections are freed before the loop ends. */
static void handlers_drain(void)
{
    for (int i = 0; i < 500 && handlers > 0; i++)
        cio_sleep(0.01);
    CHECK_EQ(handlers, 0);
}

static int r_echo_inner(cio_http_request *req, void *ud);

static int r_echo(cio_http_request *req, void *ud)
{
    handlers++;
    int rc = r_echo_inner(req, ud);
    handlers--;
    return rc;
}

static int r_echo_inner(cio_http_request *req, void *ud)
{
    cio_ws_options o;
    cio_ws_options_init(&o);
    o.subprotocols = subs;
    o.max_message = 4u << 20;
    o.fragment_size = (size_t)(uintptr_t)ud;
    return cio_ws_serve(req, &o, echo, NULL);
}

static void run_client_peer(char *const argv[])
{
    pid_t pid = spawn(argv, 0, NULL);
    CHECK(pid > 0);
    int st = cio_to_thread(wait_pid, (void *)(intptr_t)pid, NULL);
    CHECK_EQ(st, 0);
}

/* ---- cio's client, the peer as server ------------------------------------------ */

static void client_cases(int peer_port)
{
    for (int comp = 1; comp >= 0; comp--) {
        cio_ws_options o;
        cio_ws_options_init(&o);
        o.no_compression = !comp;
        o.max_message = 4u << 20;
        char url[64];
        snprintf(url, sizeof url, "ws://127.0.0.1:%d/", peer_port);
        cio_ws *ws;
        CHECK_RC(cio_ws_connect(url, &o, &ws), 0);
        if (!ws)
            return;
        CHECK_EQ(cio_ws_compressed(ws), comp && cio__ws_deflate_available());
        static uint8_t big[200000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)(i * 13);
        struct {
            int type;
            const void *p;
            size_t n;
        } m[] = {{CIO_WS_TEXT, "hello", 5},
                 {CIO_WS_TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11},
                 {CIO_WS_BINARY, big, sizeof big},
                 {CIO_WS_TEXT, "", 0},
                 {CIO_WS_BINARY, "", 0}};
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            int rc = m[i].type == CIO_WS_TEXT ? cio_ws_send_text(ws, m[i].p, m[i].n)
                                              : cio_ws_send_binary(ws, m[i].p, m[i].n);
            CHECK_RC(rc, 0);
            int type;
            const void *d;
            size_t n;
            CHECK_RC(cio_ws_recv(ws, &type, &d, &n), 0);
            CHECK(type == m[i].type && n == m[i].n && !memcmp(d, m[i].p, n));
        }
        CHECK_RC(cio_ws_ping(ws, "p", 1, 5), 0);
        cio_ws_close(ws, 1000, NULL);
        cio_ws_free(ws);
        /* fragmented sends */
        o.fragment_size = 1000;
        CHECK_RC(cio_ws_connect(url, &o, &ws), 0);
        CHECK_RC(cio_ws_send_binary(ws, big, 5500), 0);
        int type;
        const void *d;
        size_t n;
        CHECK_RC(cio_ws_recv(ws, &type, &d, &n), 0);
        CHECK(n == 5500 && !memcmp(d, big, n));
        CHECK_RC(cio_ws_close(ws, 4001, "bye"), 0);
        cio_ws_free(ws);
    }
}

static void run_server_peer(char *const argv[])
{
    int pport = 0;
    pid_t pid = spawn(argv, 1, &pport);
    CHECK(pid > 0 && pport > 0);
    if (pport > 0)
        client_cases(pport);
    kill(pid, SIGTERM);
    cio_to_thread(wait_pid, (void *)(intptr_t)pid, NULL);
}

/* ---- the cases ---------------------------------------------------------------------- */

static char pyscript[PATH_MAX + 16], jsscript[PATH_MAX + 16], portstr[16];

static void python_client(void)
{
    if (!have_python_websockets()) {
        test_skip_case("python3-websockets not installed");
        return;
    }
    char *argv[] = {test_python(), pyscript, "client", portstr, NULL};
    run_client_peer(argv);
}

static void python_server(void)
{
    if (!have_python_websockets()) {
        test_skip_case("python3-websockets not installed");
        return;
    }
    char *argv[] = {test_python(), pyscript, "server", NULL};
    run_server_peer(argv);
}

static void node_client(void)
{
    if (!have_node_ws()) {
        test_skip_case("node's ws not available (node, npm or the registry)");
        return;
    }
    char *argv[] = {"node", jsscript, "client", portstr, NULL};
    run_client_peer(argv);
}

static void node_server(void)
{
    if (!have_node_ws()) {
        test_skip_case("node's ws not available (node, npm or the registry)");
        return;
    }
    char *argv[] = {"node", jsscript, "server", NULL};
    run_server_peer(argv);
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_http_server *srv;
    CHECK_RC(cio_http_server_new(NULL, &srv), 0);
    cio_http_server_route(srv, "GET", "/echo", r_echo, NULL, 0);
    cio_http_server_route(srv, "GET", "/frag", r_echo, (void *)(uintptr_t)1000, 0);
    CHECK_RC(cio_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = cio_http_server_port(srv);
    snprintf(portstr, sizeof portstr, "%d", port);
    RUN(python_client);
    RUN(python_server);
    RUN(node_client);
    RUN(node_server);
    handlers_drain();
    cio_http_server_shutdown(srv, 2);
    cio_http_server_free(srv);
    return 0;
}

int main(void)
{
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s", __FILE__);
    snprintf(srcdir, sizeof srcdir, "%s/ws", dirname(file));
    char exe[PATH_MAX] = {0};
    if (readlink("/proc/self/exe", exe, sizeof exe - 1) > 0)
        snprintf(nodedir, sizeof nodedir, "%s/../node", dirname(exe));
    snprintf(pyscript, sizeof pyscript, "%s/interop.py", srcdir);
    snprintf(jsscript, sizeof jsscript, "%s/interop.js", srcdir);
    signal(SIGPIPE, SIG_IGN);
    /* The peers expect compression only where cio can negotiate it. */
    setenv("CIO_WS_DEFLATE", cio__ws_deflate_available() ? "1" : "0", 1);
    CHECK_RC(cio_run(main_task, NULL, NULL), 0);
    return test_finish();
}
