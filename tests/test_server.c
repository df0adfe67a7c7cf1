/*
 * test_server.c - stream servers (cio_start_server and the server object):
 * thousands of concurrent connections, surviving EMFILE under a lowered
 * RLIMIT_NOFILE (clients are a Python process), close / wait_closed /
 * close_clients / abort_clients / serve_forever, SO_REUSEPORT, a handler
 * that fails, and bad arguments.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include "net_peer.h"
#include "io/io.h"

static int echo_handler(cio_stream *s, void *arg)
{
    int *served = arg;
    char line[256];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0) {
        if (cio_stream_write(s, line, (size_t)n) < 0 || cio_stream_drain(s) < 0)
            break;
    }
    if (served)
        (*served)++;
    return 0;
}

/* ---- thousands of concurrent connections ------------------------------------ */

struct many {
    int port;
    int ok;                    /* clients that got their echo */
    int started, connected;
    cio_future *all_connected; /* set when every client is connected */
    int nclients;
};

static int client(void *arg, void **result)
{
    struct many *m = arg;
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", m->port, NULL, &s);
    CHECK_RC(rc, 0);
    if (rc < 0)
        return 0;
    /* Hold every connection open at once before talking. */
    if (++m->connected == m->nclients)
        cio_future_set_result(m->all_connected, NULL);
    else
        cio_await(m->all_connected, NULL);
    char msg[32], line[32];
    int n = snprintf(msg, sizeof msg, "hello %p\n", (void *)s);
    CHECK_RC(cio_stream_write(s, msg, (size_t)n), 0);
    if (cio_stream_readline(s, line, sizeof line) == n && memcmp(line, msg, (size_t)n) == 0)
        m->ok++;
    cio_stream_unref(s);
    return 0;
}

static int many_main(void *arg, void **result)
{
    int nclients = *(int *)arg;
    int served = 0;
    cio_server *srv;
    cio_server_options so = {.backlog = 4096};
    CHECK_RC(cio_start_server(echo_handler, &served, "127.0.0.1", 0, &so, &srv), 0);
    struct many m = {.port = cio_server_port(srv), .nclients = nclients};
    CHECK_RC(cio_future_new(NULL, &m.all_connected), 0);
    cio_task **ts = calloc((size_t)nclients, sizeof *ts);
    for (int i = 0; i < nclients; i++)
        CHECK_RC(cio_create_task(client, &m, NULL, &ts[i]), 0);
    for (int i = 0; i < nclients; i++) {
        cio_task_await(ts[i], NULL);
        cio_task_unref(ts[i]);
    }
    free(ts);
    CHECK_EQ(m.ok, nclients);
    CHECK(cio_server_num_clients(srv) <= (size_t)nclients);
    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    CHECK_EQ(served, nclients);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    cio_server_free(srv);
    cio_future_unref(m.all_connected);
    return 0;
}

static void test_many_connections(void)
{
    long lim = raise_nofile(20000);
    int n = 2000;
    if (lim < 2 * n + 64) {
        n = (int)(lim - 64) / 2;
        fprintf(stderr, "  (RLIMIT_NOFILE %ld: %d connections)\n", lim, n);
    }
    int before = count_fds();
    CHECK_RC(cio_run(many_main, &n, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- EMFILE on accept: the server survives ------------------------------------- */

static const char *emfile_clients =
    "import socket, sys, time\n"
    "port = int(sys.argv[1]) if len(sys.argv) > 1 else 0\n"
    "print(1, flush=True)\n"
    "port = int(sys.stdin.readline())\n"
    "socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(30)]\n"
    "for i, s in enumerate(socks): s.sendall(b'hi %d\\n' % i)\n"
    "ok = 0\n"
    "for i, s in enumerate(socks):\n"
    "    s.settimeout(20)\n"
    "    if s.makefile('rb').readline() == b'hi %d\\n' % i: ok += 1\n"
    "    s.close()\n"
    "sys.exit(0 if ok == 30 else 1)\n";

static int emfile_logs;

static void count_sink(void *ud, cio_log_level level, const char *line)
{
    if (strstr(line, "backing off"))
        emfile_logs++;
    else
        fprintf(stderr, "%s\n", line);
}

struct emfile {
    int to_peer;               /* pipe to the python process's stdin */
    int served;
};

static int emfile_main(void *arg, void **result)
{
    struct emfile *e = arg;
    cio_server *srv;
    CHECK_RC(cio_start_server(echo_handler, &e->served, "127.0.0.1", 0, NULL, &srv), 0);
    /* Leave exactly two free descriptor numbers below the limit: the
     * server can hold two connections, then accept meets EMFILE. */
    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    rl = old;
    int nfree = 0, fd = 0;
    for (; nfree < 2; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            nfree++;
    rl.rlim_cur = (rlim_t)fd;
    CHECK_RC(setrlimit(RLIMIT_NOFILE, &rl), 0);
    char line[16];
    int n = snprintf(line, sizeof line, "%d\n", cio_server_port(srv));
    CHECK_EQ(write(e->to_peer, line, (size_t)n), n);
    /* Serve until all 30 connections were echoed. */
    for (int i = 0; i < 1000 && e->served < 30; i++)
        cio_sleep(0.02);
    CHECK_EQ(e->served, 30);
    CHECK_EQ(emfile_logs, 1); /* EMFILE was met, and logged once */
    CHECK(cio_server_is_serving(srv));
    const char *be = cio_loop_backend_name(cio_get_running_loop());
    if (be && !strcmp(be, "io_uring")) {
        /* Through multishot accept: EMFILE ended it, the next accept
         * after the back-off armed it again. */
        const struct cio__io_stats *st = &cio__io_of(cio_get_running_loop())->stats;
        CHECK(st->accept_multi_armed >= 2);
        CHECK_EQ(st->accept_multi_fds, 30);
    }
    setrlimit(RLIMIT_NOFILE, &old);
    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
    return 0;
}

static void test_emfile(void)
{
    if (need_python() < 0)
        return;
    int in[2], out[2];
    CHECK_RC(pipe(in), 0);
    CHECK_RC(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(PYTHON, PYTHON, "-u", "-c", emfile_clients, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char c;
    CHECK_EQ(read(out[0], &c, 1), 1); /* python is up */
    struct emfile e = {.to_peer = in[1]};
    cio_log_set_sink(count_sink, NULL);
    CHECK_RC(cio_run(emfile_main, &e, NULL), 0);
    cio_log_set_sink(NULL, NULL);
    close(in[1]);
    close(out[0]);
    peer p = {.pid = pid};
    CHECK_EQ(peer_wait(&p), 0);
}

/* ---- close, close_clients, abort_clients, serve_forever ---------------------------- */

static int idle_handler(cio_stream *s, void *arg)
{
    char b[16];
    int *seen = arg;
    int n = cio_stream_read(s, b, sizeof b); /* waits until the client talks or goes */
    (*seen)++;
    if (n > 0) {
        cio_stream_write(s, "bye\n", 4);
        cio_stream_drain(s);
    }
    return n < 0 ? n : 0;
}

static int server_forever(void *arg, void **result)
{
    return cio_server_serve_forever(arg);
}

static int lifecycle_main(void *arg, void **result)
{
    int seen = 0;
    cio_server *srv;
    CHECK_RC(cio_start_server(idle_handler, &seen, "127.0.0.1", 0, NULL, &srv), 0);
    CHECK(cio_server_is_serving(srv));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    CHECK_RC(cio_server_sockname(srv, 0, (struct sockaddr *)&ss, &sl), 0);
    CHECK_RC(cio_server_sockname(srv, 5, (struct sockaddr *)&ss, &sl), -ENOENT);
    int port = cio_server_port(srv);
    cio_task *sf;
    CHECK_RC(cio_create_task(server_forever, srv, "forever", &sf), 0);
    cio_stream *c[4];
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_open_connection("127.0.0.1", port, NULL, &c[i]), 0);
    cio_sleep(0.02);
    CHECK_EQ(cio_server_num_clients(srv), 4);
    /* close: stops listening, connections go on. */
    cio_server_close(srv);
    CHECK(!cio_server_is_serving(srv));
    CHECK_RC(cio_task_await(sf, NULL), 0); /* serve_forever returned */
    cio_task_unref(sf);
    cio_stream *late;
    CHECK_RC(cio_open_connection("127.0.0.1", port, NULL, &late), -ECONNREFUSED);
    CHECK_EQ(cio_server_num_clients(srv), 4);
    CHECK_RC(cio_stream_write(c[0], "x", 1), 0);
    char b[8];
    CHECK_RC(cio_stream_readline(c[0], b, sizeof b), 4);
    cio_sleep(0.01);
    CHECK_EQ(cio_server_num_clients(srv), 3);
    /* close_clients: the handlers' reads end, they finish. */
    cio_server_close_clients(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    CHECK_EQ(seen, 4);
    for (int i = 0; i < 4; i++) {
        int n = cio_stream_read(c[i], b, sizeof b);
        CHECK(n == 0 || n == -ECONNRESET || (i == 0 && n >= 0));
        cio_stream_unref(c[i]);
    }
    cio_server_free(srv);

    /* abort_clients: handlers are cancelled, sockets reset. */
    seen = 0;
    CHECK_RC(cio_start_server(idle_handler, &seen, "127.0.0.1", 0, NULL, &srv), 0);
    port = cio_server_port(srv);
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_open_connection("127.0.0.1", port, NULL, &c[i]), 0);
    cio_sleep(0.02);
    CHECK_EQ(cio_server_num_clients(srv), 3);
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    CHECK_EQ(cio_server_num_clients(srv), 0);
    for (int i = 0; i < 3; i++) {
        CHECK(cio_stream_read(c[i], b, sizeof b) <= 0);
        cio_stream_unref(c[i]);
    }
    cio_server_free(srv);

    /* serve_forever cancelled: the server closes. */
    CHECK_RC(cio_start_server(idle_handler, &seen, "127.0.0.1", 0, NULL, &srv), 0);
    CHECK_RC(cio_create_task(server_forever, srv, "forever", &sf), 0);
    cio_sleep(0.01);
    cio_task_cancel(sf, NULL);
    CHECK_RC(cio_task_await(sf, NULL), -ECANCELED);
    cio_task_unref(sf);
    CHECK(!cio_server_is_serving(srv));
    cio_server_free(srv);
    return 0;
}

static void test_lifecycle(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(lifecycle_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- main returns while a handler has not run yet: whether the loop still
 * runs it or cancels it unstarted, nothing leaks (every block is freed) -- */

static int handler_ran;

static int flag_handler(cio_stream *s, void *arg)
{
    handler_ran = 1;
    return echo_handler(s, arg);
}

static int abandon_main(void *arg, void **result)
{
    cio_server *srv;
    CHECK_RC(cio_start_server(flag_handler, NULL, "127.0.0.1", 0, NULL, &srv), 0);
    /* A plain blocking connect: the kernel completes it from the backlog
     * without the loop running. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cio_server_port(srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_RC(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    /* Let the acceptor take the connection and create its handler task,
     * but return before that task first runs. */
    /* (On io_uring the accept is a submission, handed to the kernel when
     * the loop next polls: after up to CIO__TICKS_PER_POLL batches.) */
    for (int i = 0; i < 200 && cio_server_num_clients(srv) == 0; i++)
        cio_sleep(0);
    CHECK_EQ(cio_server_num_clients(srv), 1);
    CHECK_EQ(handler_ran, 0); /* the case under test */
    cio_server_free(srv); /* closes; cio_run cancels the rest */
    cio_fd_close(fd);
    return 0;
}

static long live_blocks;

/* Counts the blocks cio holds: every one must be freed by the end. */
static void *live_alloc(void *ud, void *ptr, size_t size)
{
    if (size == 0) {
        if (ptr)
            live_blocks--;
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr)
        live_blocks++;
    return p;
}

static void test_abandoned_handler(void)
{
    int before = count_fds();
    CHECK_RC(cio_set_allocator(live_alloc, NULL), 0);
    live_blocks = 0;
    CHECK_RC(cio_run(abandon_main, NULL, NULL), 0);
    CHECK_EQ(live_blocks, 0);
    cio_set_allocator(NULL, NULL);
    CHECK_EQ(count_fds(), before);
}

/* ---- SO_REUSEPORT, bind errors, bad arguments ------------------------------------ */

static int reuse_main(void *arg, void **result)
{
    cio_server *a, *b;
    cio_server_options o = {.reuse_port = 1, .family = AF_INET};
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", 0, &o, &a), 0);
    int port = cio_server_port(a);
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", port, &o, &b), 0);
    cio_server_free(b);
    cio_server_free(a);
    o.reuse_port = 0;
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", 0, &o, &a), 0);
    port = cio_server_port(a);
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", port, &o, &b), -EADDRINUSE);
    cio_server_free(a);
    CHECK_RC(cio_start_server(NULL, NULL, "127.0.0.1", 0, NULL, &a), -EINVAL);
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", -1, NULL, &a), -EINVAL);
    CHECK_RC(cio_start_unix_server(echo_handler, NULL, "", NULL, &a), -EINVAL);
    /* host NULL: every address (IPv4 and, if present, IPv6). */
    CHECK_RC(cio_start_server(echo_handler, NULL, NULL, 0, NULL, &a), 0);
    cio_stream *s;
    CHECK_RC(cio_open_connection("127.0.0.1", cio_server_port(a), NULL, &s), 0);
    cio_stream_unref(s);
    cio_server_free(a);
    return 0;
}

static void test_reuse_port(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(reuse_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
    cio_server *a;
    CHECK_RC(cio_start_server(echo_handler, NULL, "127.0.0.1", 0, NULL, &a), CIO_ENOTASK);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_many_connections);
    RUN(test_emfile);
    RUN(test_lifecycle);
    RUN(test_reuse_port);
    RUN(test_abandoned_handler);
    return test_finish();
}
