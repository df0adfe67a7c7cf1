/*
 * test_transport.c - transports and protocols (cio/transport.h) on real
 * loopback sockets: an echo server with many connections, a Python
 * asyncio server and client as peers, write flow control (pause/resume
 * writing), pause_reading against a fast sender, the buffered protocol,
 * a protocol replaced while a read is in flight, coalesced writes,
 * callback ordering, a server closed with live transports,
 * connect_accepted_socket, and an allocation-failure sweep.
 * How connections end (half-close, abort, close, reset) is in
 * test_transport_close.c.
 */
#include "transport_util.h"

/* ---- echo server, many connections ---------------------------------------------- */

#define NCLIENTS 60

static int echo_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pool *p = pool_new(NCLIENTS);
    p->tmpl.echo = 1;
    cio_server *srv;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    int port = cio_server_port(srv);
    struct rec *c[NCLIENTS];
    cio_transport *t[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        c[i] = rec_new();
        CHECK_RC(cio_create_connection(&rec_proto, c[i], "127.0.0.1", port, NULL, &t[i]), 0);
        CHECK_EQ(c[i]->made, 1); /* before create_connection returned */
        char msg[32];
        int n = snprintf(msg, sizeof msg, "hello %d", i);
        CHECK_RC(cio_transport_write(t[i], msg, (size_t)n), 0);
    }
    for (int i = 0; i < NCLIENTS; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "hello %d", i);
        CHECK(wait_size(&c[i]->got, (size_t)n));
        CHECK(c[i]->got == (size_t)n && !memcmp(c[i]->data, msg, (size_t)n));
    }
    CHECK_EQ((int)cio_server_num_clients(srv), NCLIENTS);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    CHECK_RC(cio_transport_peername(t[0], (struct sockaddr *)&sa, &sl), 0);
    CHECK_EQ(ntohs(sa.sin_port), port);
    CHECK(cio_transport_fd(t[0]) >= 0);
    for (int i = 0; i < NCLIENTS; i++) {
        c[i]->in_call = 1;
        cio_transport_close(t[i]);
        c[i]->in_call = 0;
        CHECK_EQ(c[i]->lost, 0); /* never from inside close */
        CHECK(cio_transport_is_closing(t[i]));
        CHECK_RC(cio_transport_write(t[i], "x", 1), CIO_ECLOSED);
    }
    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0); /* every server transport ended */
    CHECK_EQ((int)cio_server_num_clients(srv), 0);
    for (int i = 0; i < NCLIENTS; i++) {
        CHECK(wait_int(&c[i]->lost, 1));
        CHECK_EQ(c[i]->lost, 1);
        CHECK_EQ(c[i]->lost_err, 0);
        CHECK_EQ(c[i]->bad_order, 0);
        CHECK_EQ(cio_transport_fd(t[i]), CIO_ECLOSED);
        cio_transport_unref(t[i]);
        free(c[i]);
        struct rec *s = &p->recs[i];
        CHECK_EQ(s->made, 1);
        CHECK_EQ(s->lost, 1);
        CHECK_EQ(s->eofs, 1);
        CHECK_EQ(s->bad_order, 0);
    }
    cio_server_free(srv);
    pool_free(p);
    return 0;
}

static void test_echo(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(echo_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- Python asyncio peers ----------------------------------------------------------- */

static const char *py_server =
    "import asyncio\n"
    "class Echo(asyncio.Protocol):\n"
    "    def connection_made(self, t): self.t = t\n"
    "    def data_received(self, d): self.t.write(d)\n"
    "    def eof_received(self): self.t.close()\n"
    "async def main():\n"
    "    loop = asyncio.get_running_loop()\n"
    "    done = loop.create_future()\n"
    "    class P(Echo):\n"
    "        def connection_lost(self, e): done.set_result(None)\n"
    "    srv = await loop.create_server(P, '127.0.0.1', 0)\n"
    "    print(srv.sockets[0].getsockname()[1], flush=True)\n"
    "    await asyncio.wait_for(done, 20)\n"
    "asyncio.run(main())\n";

#define PY_BYTES (1 << 20)

static int py_client_main(void *arg, void **result)
{
    (void)result;
    peer *pp = arg;
    struct rec *r = rec_new();
    cio_transport *t;
    CHECK_RC(cio_create_connection(&rec_proto, r, "127.0.0.1", pp->port, NULL, &t), 0);
    char *buf = malloc(PY_BYTES);
    for (int i = 0; i < PY_BYTES; i++)
        buf[i] = (char)(i * 7);
    for (int off = 0; off < PY_BYTES; off += 4096)
        CHECK_RC(cio_transport_write(t, buf + off, 4096), 0);
    CHECK_RC(cio_transport_write_eof(t), 0);
    CHECK_RC(cio_transport_write(t, "x", 1), -EPIPE);
    CHECK(wait_int(&r->lost, 1));
    CHECK_EQ(r->got, (size_t)PY_BYTES);
    CHECK(!memcmp(r->data, buf, sizeof r->data));
    CHECK_EQ(r->eofs, 1);
    CHECK_EQ(r->lost_err, 0);
    CHECK_EQ(r->bad_order, 0);
    CHECK_EQ(r->pauses, r->resumes); /* paused or not (loopback buffers are big) */
    cio_transport_unref(t);
    free(buf);
    free(r);
    return 0;
}

static void test_python_server(void) { run_with_peer(py_server, py_client_main); }

/* Python's asyncio client against our server, started after the server
 * so it gets the port on its command line. */
static const char *py_client =
    "import asyncio, sys\n"
    "async def main():\n"
    "    r, w = await asyncio.open_connection('127.0.0.1', int(sys.argv[1]))\n"
    "    data = bytes(i % 251 for i in range(300000))\n"
    "    w.write(data)\n"
    "    w.write_eof()\n"
    "    got = await r.read()\n"
    "    w.close()\n"
    "    sys.exit(0 if got == data + b'bye' else 1)\n"
    "asyncio.run(main())\n";

static int py_server_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pool *p = pool_new(1);
    p->tmpl.echo = 1;
    p->tmpl.reply_on_eof = 1;
    cio_server *srv;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    pid_t pid = fork();
    if (pid == 0) {
        execl(PYTHON, PYTHON, "-c", py_client, port, (char *)NULL);
        _exit(127);
    }
    int st = -1;
    for (int i = 0; i < 20000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        cio_sleep(0.001);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_RC(cio_server_close(srv), 0);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    CHECK_EQ(p->recs[0].got, (size_t)300000);
    CHECK_EQ(p->recs[0].lost, 1);
    CHECK_EQ(p->recs[0].bad_order, 0);
    cio_server_free(srv);
    pool_free(p);
    return 0;
}

static void test_python_client(void)
{
    if (need_python() < 0)
        return; /* skipped, said so; the binary exits 77 */
    CHECK_RC(cio_run(py_server_main, NULL, NULL), 0);
}

/* ---- flow control: pause_reading vs a fast sender, pause/resume_writing -------- */

#define BIG (4 << 20)

static int flow_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pair pr;
    struct rec tmpl = {.pause_at_made = 1};
    pair_open(&pr, &tmpl, NULL, NULL);
    CHECK_EQ(cio_transport_is_reading(pr.s->t), 0);
    char *chunk = calloc(1, 65536);
    for (int off = 0; off < BIG; off += 65536)
        CHECK_RC(cio_transport_write(pr.t, chunk, 65536), 0);
    CHECK_EQ(pr.c->pauses, 1); /* far above the 64 KiB high-water mark */
    CHECK(cio_transport_get_write_buffer_size(pr.t) > 65536);
    cio_sleep(0.05);
    CHECK_EQ(pr.s->got, (size_t)0); /* paused: nothing read */
    CHECK_EQ(pr.c->resumes, 0);
    cio_transport_resume_reading(pr.s->t);
    CHECK_EQ(cio_transport_is_reading(pr.s->t), 1);
    CHECK(wait_size(&pr.s->got, BIG));
    CHECK_EQ(pr.s->got, (size_t)BIG);
    CHECK(wait_int(&pr.c->resumes, 1));
    CHECK_EQ(pr.c->pauses, 1);
    CHECK_EQ(cio_transport_get_write_buffer_size(pr.t), (size_t)0);
    /* Pausing mid-stream stops data: the receiver count stays put. */
    cio_transport_pause_reading(pr.s->t);
    cio_sleep(0.01);
    size_t before = pr.s->got;
    for (int i = 0; i < 8; i++)
        CHECK_RC(cio_transport_write(pr.t, chunk, 65536), 0);
    cio_sleep(0.05);
    CHECK(pr.s->got <= before + 65536); /* at most a read already done */
    cio_transport_resume_reading(pr.s->t);
    CHECK(wait_size(&pr.s->got, before + 8 * 65536));
    /* Limits: low > high is refused; high 0 pauses on anything queued. */
    CHECK_RC(cio_transport_set_write_buffer_limits(pr.t, 10, 20), -EINVAL);
    CHECK_RC(cio_transport_set_write_buffer_limits(pr.t, CIO_TRANSPORT_LIMIT_DEFAULT,
                                                   CIO_TRANSPORT_LIMIT_DEFAULT), 0);
    free(chunk);
    pair_close(&pr);
    return 0;
}

static void test_flow_control(void) { CHECK_RC(cio_run(flow_main, NULL, NULL), 0); }

/* ---- coalescing: many small writes while the socket is full go out in few
 * writevs ----------------------------------------------------------------------------- */

static int coalesce_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pair pr;
    struct rec tmpl = {.pause_at_made = 1};
    pair_open(&pr, &tmpl, NULL, NULL);
    char *chunk = calloc(1, 65536);
    size_t total = 0;
    while (!cio_transport_get_write_buffer_size(pr.t)) { /* fill the socket */
        CHECK_RC(cio_transport_write(pr.t, chunk, 65536), 0);
        total += 65536;
    }
    unsigned long before = cio__transport_writev_count;
    for (int i = 0; i < 2000; i++)
        CHECK_RC(cio_transport_write(pr.t, "0123456789", 10), 0);
    total += 20000;
    cio_transport_resume_reading(pr.s->t);
    CHECK(wait_size(&pr.s->got, total));
    CHECK_EQ(cio_transport_get_write_buffer_size(pr.t), (size_t)0);
    unsigned long ops = cio__transport_writev_count - before;
    fprintf(stderr, "  2000 small writes on a full socket: %lu writev ops\n", ops);
    CHECK(ops < 100);
    free(chunk);
    pair_close(&pr);
    return 0;
}

static void test_coalesce(void) { CHECK_RC(cio_run(coalesce_main, NULL, NULL), 0); }

/* ---- buffered protocol ------------------------------------------------------------ */

static int buffered_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pair pr;
    struct rec tmpl = {.echo = 1};
    pair_open(&pr, &tmpl, &buffered_proto, NULL);
    char msg[1000];
    for (int i = 0; i < (int)sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    CHECK_RC(cio_transport_write(pr.t, msg, sizeof msg), 0);
    CHECK(wait_size(&pr.c->got, sizeof msg));
    CHECK_EQ(pr.c->got, sizeof msg);
    CHECK(!memcmp(pr.c->data, msg, sizeof msg));
    pair_close(&pr);
    return 0;
}

static void test_buffered(void) { CHECK_RC(cio_run(buffered_main, NULL, NULL), 0); }

/* ---- set_protocol while a read is in flight --------------------------------------
 * On io_uring pause_reading only asks the kernel to cancel the pending recv,
 * so a protocol swapped in right after (start_tls does this) may meet a recv
 * that completes anyway, with the bytes in the old protocol's buffer: the new
 * protocol must get them.  Made deterministic: A's buffer_updated for the
 * first bytes queues swap(), which runs in the same loop iteration after the
 * transport has queued its next recv into A's buffer but before the ring
 * submits it; swap pauses reading (its cancel is queued behind the recv),
 * the peer writes, B replaces A, reading resumes.  The next io_uring_enter
 * completes the recv with the peer's bytes, into A's buffer, then the cancel
 * finds nothing.  That is the plain recv (read_size under the ring's buffer
 * size); with a multishot receive the bytes are the ring's and are held or
 * delivered to whoever is the protocol then.  On epoll the cancel is
 * immediate and B reads the bytes itself. */

struct swapper {
    cio_transport *t;          /* set at A's connection_made */
    int peer;                  /* the socket pair's other end */
    const cio_protocol *to;    /* B: rec_proto or buffered_proto */
    struct rec *b;             /* B's record */
    char abuf[64];             /* A's receive buffer */
    size_t a_got;              /* bytes A received */
    char a_data[64];           /* the first of them */
    int swapped;               /* swap() ran */
};

static const char swap_second[] = "bytes for protocol B!"; /* > B's buffer of 7 */

static void swap(void *arg)
{
    struct swapper *w = arg;
    cio_transport_pause_reading(w->t);
    CHECK_EQ(write(w->peer, swap_second, sizeof swap_second - 1),
             (ssize_t)(sizeof swap_second - 1));
    w->b->made = 1; /* B takes over a made connection */
    w->b->t = w->t;
    cio_transport_set_protocol(w->t, w->to, w->b);
    cio_transport_resume_reading(w->t);
    w->swapped = 1;
}

static void sw_made(cio_transport *t, void *ud) { ((struct swapper *)ud)->t = t; }

static void *sw_get_buffer(cio_transport *t, size_t hint, size_t *len, void *ud)
{
    (void)t;
    (void)hint;
    struct swapper *w = ud;
    *len = sizeof w->abuf;
    return w->abuf;
}

static void sw_updated(cio_transport *t, size_t n, void *ud)
{
    (void)t;
    struct swapper *w = ud;
    if (w->a_got + n <= sizeof w->a_data)
        memcpy(w->a_data + w->a_got, w->abuf, n);
    if (!w->a_got)
        CHECK_RC(cio_call_soon(NULL, swap, w, NULL), 0);
    w->a_got += n;
}

static const cio_protocol swap_proto = {
    .connection_made = sw_made, .get_buffer = sw_get_buffer, .buffer_updated = sw_updated,
};

/* How swap_main runs: B's protocol and the transport's read_size. */
struct swap_case {
    const cio_protocol *to;
    size_t read_size;          /* 64: plain recvs; 0: multishot on io_uring */
};

static int swap_main(void *arg, void **result)
{
    (void)result;
    const struct swap_case *sc = arg;
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct swapper *w = calloc(1, sizeof *w);
    w->peer = sv[1];
    w->to = sc->to;
    w->b = rec_new();
    cio_transport_options o = {.read_size = sc->read_size};
    cio_transport *t;
    CHECK_RC(cio_connect_accepted_socket(&swap_proto, w, sv[0], &o, &t), 0);
    CHECK_EQ(write(sv[1], "first", 5), 5);
    size_t want = sizeof swap_second - 1;
    CHECK(wait_size(&w->b->got, want));
    CHECK_EQ(w->swapped, 1);
    CHECK_EQ(w->a_got, (size_t)5); /* A had only its own bytes */
    CHECK(!memcmp(w->a_data, "first", 5));
    CHECK_EQ(w->b->got, want);
    CHECK(w->b->got == want && !memcmp(w->b->data, swap_second, want));
    CHECK_EQ(write(sv[1], "more", 4), 4); /* and B goes on reading */
    CHECK(wait_size(&w->b->got, want + 4));
    CHECK(!memcmp(w->b->data + want, "more", 4));
    cio_transport_close(t);
    CHECK(wait_int(&w->b->lost, 1));
    CHECK_EQ(w->b->bad_order, 0);
    cio_transport_unref(t);
    close(sv[1]);
    free(w->b);
    free(w);
    return 0;
}

static void test_swap_in_flight(void)
{
    /* B takes data_received, or B is itself buffered (its buffer of 7
     * bytes takes them in pieces); plain recvs, then the multishot. */
    static const struct swap_case cases[] = {
        {&rec_proto, 64}, {&buffered_proto, 64}, {&rec_proto, 0}, {&buffered_proto, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_RC(cio_run(swap_main, (void *)&cases[i], NULL), 0);
}

/* ---- a server closed with live transports; refused connections ----------------- */

static int server_close_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pool *p = pool_new(3);
    p->tmpl.echo = 1;
    cio_server *srv;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    int port = cio_server_port(srv);
    struct rec *c[3];
    cio_transport *t[3];
    for (int i = 0; i < 3; i++) {
        c[i] = rec_new();
        CHECK_RC(cio_create_connection(&rec_proto, c[i], "127.0.0.1", port, NULL, &t[i]), 0);
    }
    CHECK(wait_int(&p->n, 3));
    CHECK_RC(cio_server_close(srv), 0);
    CHECK_EQ(cio_server_is_serving(srv), 0);
    CHECK_EQ((int)cio_server_num_clients(srv), 3); /* connections go on */
    CHECK_RC(cio_transport_write(t[1], "ping", 4), 0);
    CHECK(wait_size(&c[1]->got, 4));
    cio_server_abort_clients(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    CHECK_EQ((int)cio_server_num_clients(srv), 0);
    for (int i = 0; i < 3; i++) {
        CHECK(wait_int(&c[i]->lost, 1));
        CHECK_EQ(p->recs[i].lost, 1);
        cio_transport_unref(t[i]);
        free(c[i]);
    }
    cio_server_free(srv);
    /* A factory that refuses: the client sees the connection end. */
    p->refuse = 1;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    struct rec *r = rec_new();
    cio_transport *tr;
    CHECK_RC(cio_create_connection(&rec_proto, r, "127.0.0.1", cio_server_port(srv), NULL,
                                   &tr), 0);
    CHECK(wait_int(&r->lost, 1));
    CHECK_EQ((int)cio_server_num_clients(srv), 0);
    cio_transport_unref(tr);
    free(r);
    cio_server_free(srv);
    /* Unix sockets. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/cio-transport-%d.sock", (int)getpid());
    p->refuse = 0;
    p->n = 0;
    CHECK_RC(cio_create_unix_server(factory, p, path, NULL, &srv), 0);
    r = rec_new();
    CHECK_RC(cio_create_unix_connection(&rec_proto, r, path, NULL, &tr), 0);
    CHECK_RC(cio_transport_write(tr, "unix", 4), 0);
    CHECK(wait_size(&r->got, 4));
    cio_transport_close(tr);
    CHECK(wait_int(&r->lost, 1));
    cio_server_free(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_transport_unref(tr);
    free(r);
    pool_free(p);
    /* Bad arguments. */
    CHECK_RC(cio_create_server(NULL, NULL, "127.0.0.1", 0, NULL, &srv), -EINVAL);
    CHECK_RC(cio_create_connection(NULL, NULL, "127.0.0.1", 1, NULL, &tr), -EINVAL);
    CHECK_RC(cio_create_connection(&rec_proto, NULL, "127.0.0.1", 70000, NULL, &tr), -EINVAL);
    CHECK_RC(cio_transport_write(NULL, "x", 1), -EINVAL);
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, NULL, -1, NULL, &tr), -EINVAL);
    return 0;
}

static void test_server_close(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(server_close_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- connect_accepted_socket on a socketpair ------------------------------------ */

static int accepted_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct rec *a = rec_new(), *b = rec_new();
    b->echo = 1;
    cio_transport *ta, *tb;
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, a, sv[0], NULL, &ta), 0);
    CHECK_RC(cio_connect_accepted_socket(&rec_proto, b, sv[1], NULL, &tb), 0);
    CHECK(a->made && b->made);
    struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
    CHECK_RC(cio_transport_writelines(ta, iov, 3), 0);
    CHECK(wait_size(&a->got, 13));
    CHECK(!memcmp(a->data, "one two three", 13));
    cio_transport_close(ta);
    CHECK(wait_int(&b->lost, 1));
    CHECK(wait_int(&a->lost, 1));
    CHECK_EQ(a->bad_order + b->bad_order, 0);
    cio_transport_unref(ta);
    cio_transport_unref(tb);
    free(a);
    free(b);
    return 0;
}

static void test_accepted_socket(void) { CHECK_RC(cio_run(accepted_main, NULL, NULL), 0); }

/* ---- allocation failures ------------------------------------------------------------- */

static int sweep_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pool *p = pool_new(1);
    p->tmpl.echo = 1;
    cio_server *srv;
    int rc = cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv);
    if (rc < 0) {
        pool_free(p);
        return rc;
    }
    struct rec *r = rec_new();
    cio_transport *t;
    rc = cio_create_connection(&rec_proto, r, "127.0.0.1", cio_server_port(srv), NULL, &t);
    if (rc == 0) {
        rc = cio_transport_write(t, "hello", 5);
        for (int i = 0; i < 500 && r->got < 5 && !r->lost; i++)
            cio_sleep(0.001);
        if (rc == 0 && r->got != 5)
            rc = r->lost_err ? r->lost_err : -ENOMEM;
        cio_transport_close(t);
        for (int i = 0; i < 500 && !r->lost; i++)
            cio_sleep(0.001);
        cio_transport_unref(t);
    }
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    free(r);
    pool_free(p);
    return rc;
}

static int sweep_run(long n, void *arg)
{
    (void)n;
    return cio_run(sweep_main, arg, NULL);
}

static void test_alloc_failures(void)
{
    long points = test_alloc_sweep(sweep_run, NULL, 400, 0);
    fprintf(stderr, "  %ld allocation points\n", points);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_echo);
    RUN(test_python_server);
    RUN(test_python_client);
    RUN(test_flow_control);
    RUN(test_coalesce);
    RUN(test_buffered);
    RUN(test_swap_in_flight);
    RUN(test_server_close);
    RUN(test_accepted_socket);
    RUN(test_alloc_failures);
    return test_finish();
}
