/*
 * test_transport.c - transports and protocols (cio/transport.h) on real
 * loopback sockets: an echo server with many connections, a Python
 * asyncio server and client as peers, write flow control (pause/resume
 * writing), pause_reading against a fast sender, half-close, abort, close
 * flushing its buffer, a reset peer, the buffered protocol, coalesced
 * writes, callback ordering, a server closed with live transports,
 * connect_accepted_socket, and an allocation-failure sweep.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/wait.h>

#include "net_peer.h"
#include "../src/net/transport.h"

/* ---- a recording protocol ---------------------------------------------------- */

struct rec {
    cio_transport *t;          /* set at connection_made */
    int made, lost, eofs;      /* callback counts */
    int lost_err;              /* connection_lost's error */
    int pauses, resumes;       /* pause_writing / resume_writing calls */
    int echo;                  /* echo what arrives */
    int keep_open;             /* eof_received's answer */
    int reply_on_eof;          /* on EOF write "bye" and close */
    int pause_at_made;         /* pause_reading in connection_made */
    int bad_order;             /* a callback came out of order */
    int in_call;               /* the test is inside a transport method */
    size_t got;                /* bytes received */
    char data[1 << 16];        /* the first of them */
    char gbuf[7];              /* buffered protocol's tiny buffer */
};

static void r_made(cio_transport *t, void *ud)
{
    struct rec *r = ud;
    if (r->made || r->lost)
        r->bad_order = 1;
    r->made++;
    r->t = t;
    if (r->pause_at_made)
        cio_transport_pause_reading(t);
}

static void r_bytes(struct rec *r, const void *data, size_t len)
{
    if (!r->made || r->lost || r->eofs)
        r->bad_order = 1;
    if (r->got < sizeof r->data) {
        size_t k = len < sizeof r->data - r->got ? len : sizeof r->data - r->got;
        memcpy(r->data + r->got, data, k);
    }
    r->got += len;
    if (r->echo) {
        /* The echo may need memory (on io_uring every write is queued):
         * a failure injected there ends the connection, as it would a
         * server's. */
        int wrc = cio_transport_write(r->t, data, len);
        if (wrc == -ENOMEM && test_alloc_injected())
            cio_transport_abort(r->t);
        else
            CHECK_RC(wrc, 0);
    }
}

static void r_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)t;
    r_bytes(ud, data, len);
}

static int r_eof(cio_transport *t, void *ud)
{
    struct rec *r = ud;
    if (!r->made || r->lost || r->eofs)
        r->bad_order = 1;
    r->eofs++;
    if (r->reply_on_eof) {
        CHECK_RC(cio_transport_write(t, "bye", 3), 0);
        cio_transport_close(t);
        return 1;
    }
    return r->keep_open;
}

static void r_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (!r->made || r->lost || r->in_call)
        r->bad_order = 1;
    r->lost++;
    r->lost_err = err;
}

static void r_pause(cio_transport *t, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (r->pauses != r->resumes)
        r->bad_order = 1;
    r->pauses++;
}

static void r_resume(cio_transport *t, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (r->pauses != r->resumes + 1)
        r->bad_order = 1;
    r->resumes++;
}

static void *r_get_buffer(cio_transport *t, size_t hint, size_t *len, void *ud)
{
    (void)t;
    (void)hint;
    struct rec *r = ud;
    *len = sizeof r->gbuf;
    return r->gbuf;
}

static void r_updated(cio_transport *t, size_t n, void *ud)
{
    (void)t;
    struct rec *r = ud;
    r_bytes(r, r->gbuf, n);
}

static const cio_protocol rec_proto = {
    .connection_made = r_made, .data_received = r_data, .eof_received = r_eof,
    .connection_lost = r_lost, .pause_writing = r_pause, .resume_writing = r_resume,
};

static const cio_protocol buffered_proto = {
    .connection_made = r_made, .eof_received = r_eof, .connection_lost = r_lost,
    .get_buffer = r_get_buffer, .buffer_updated = r_updated,
};

/* The server side: a pool of recs handed out by the factory. */
struct pool {
    struct rec *recs;
    int n, cap;
    struct rec tmpl;           /* copied into each new rec */
    int refuse;                /* factory refuses connections */
};

static int factory(void *arg, const cio_protocol **proto, void **ud)
{
    struct pool *p = arg;
    if (p->refuse || p->n == p->cap)
        return -1;
    struct rec *r = &p->recs[p->n++];
    *r = p->tmpl;
    *proto = &rec_proto;
    *ud = r;
    return 0;
}

static struct pool *pool_new(int cap)
{
    struct pool *p = calloc(1, sizeof *p);
    p->recs = calloc((size_t)cap, sizeof *p->recs);
    p->cap = cap;
    return p;
}

static void pool_free(struct pool *p)
{
    free(p->recs);
    free(p);
}

/* Polls *flag (an int) until it reaches want or about 5 s pass. */
static int wait_int(const int *flag, int want)
{
    for (int i = 0; i < 5000 && *flag < want; i++)
        if (cio_sleep(0.001) < 0)
            break;
    return *flag >= want;
}

static int wait_size(const size_t *v, size_t want)
{
    for (int i = 0; i < 5000 && *v < want; i++)
        if (cio_sleep(0.001) < 0)
            break;
    return *v >= want;
}

static struct rec *rec_new(void) { return calloc(1, sizeof(struct rec)); }

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
        cio_transport_release(t[i]);
        free(c[i]);
        struct rec *s = &p->recs[i];
        CHECK_EQ(s->made, 1);
        CHECK_EQ(s->lost, 1);
        CHECK_EQ(s->eofs, 1);
        CHECK_EQ(s->bad_order, 0);
    }
    cio_server_release(srv);
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
    cio_transport_release(t);
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
    cio_server_release(srv);
    pool_free(p);
    return 0;
}

static void test_python_client(void)
{
    if (access(PYTHON, X_OK) != 0) {
        fprintf(stderr, "  (no python: skipped)\n");
        return;
    }
    CHECK_RC(cio_run(py_server_main, NULL, NULL), 0);
}

/* ---- a connected pair: our server's transport and a client transport -------- */

struct pair {
    struct pool *p;            /* server side: p->recs[0] once accepted */
    cio_server *srv;
    struct rec *c;             /* client side */
    cio_transport *t;          /* client transport (our reference) */
    struct rec *s;             /* server side rec */
};

static void pair_open(struct pair *pr, const struct rec *srv_tmpl, const cio_protocol *cproto,
                      const cio_transport_options *copts)
{
    memset(pr, 0, sizeof *pr);
    pr->p = pool_new(1);
    if (srv_tmpl)
        pr->p->tmpl = *srv_tmpl;
    CHECK_RC(cio_create_server(factory, pr->p, "127.0.0.1", 0, NULL, &pr->srv), 0);
    pr->c = rec_new();
    CHECK_RC(cio_create_connection(cproto ? cproto : &rec_proto, pr->c, "127.0.0.1",
                                   cio_server_port(pr->srv), copts, &pr->t), 0);
    CHECK(wait_int(&pr->p->n, 1));
    pr->s = &pr->p->recs[0];
    CHECK(wait_int(&pr->s->made, 1));
}

/* Closes what is left and waits for both sides' connection_lost. */
static void pair_close(struct pair *pr)
{
    cio_transport_close(pr->t);
    CHECK(wait_int(&pr->c->lost, 1));
    cio_server_close(pr->srv);
    cio_server_abort_clients(pr->srv);
    CHECK_RC(cio_server_wait_closed(pr->srv), 0);
    CHECK_EQ(pr->c->lost, 1);
    CHECK_EQ(pr->s->lost, 1);
    CHECK_EQ(pr->c->bad_order, 0);
    CHECK_EQ(pr->s->bad_order, 0);
    cio_transport_release(pr->t);
    cio_server_release(pr->srv);
    free(pr->c);
    pool_free(pr->p);
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

/* ---- half-close: write_eof, eof_received keeping the transport open ------------ */

static int half_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pair pr;
    struct rec tmpl = {.keep_open = 1};
    pair_open(&pr, &tmpl, NULL, NULL);
    pr.c->keep_open = 1;
    CHECK_EQ(cio_transport_can_write_eof(pr.t), 1);
    CHECK_RC(cio_transport_write(pr.t, "abc", 3), 0);
    CHECK_RC(cio_transport_write_eof(pr.t), 0);
    CHECK(wait_int(&pr.s->eofs, 1));
    CHECK_EQ(pr.s->got, (size_t)3);
    CHECK_EQ(pr.s->lost, 0); /* still open for writing */
    CHECK_EQ(cio_transport_is_closing(pr.s->t), 0);
    CHECK_RC(cio_transport_write(pr.s->t, "xyz", 3), 0);
    CHECK(wait_size(&pr.c->got, 3));
    CHECK(!memcmp(pr.c->data, "xyz", 3));
    cio_transport_close(pr.s->t);
    CHECK(wait_int(&pr.c->eofs, 1));
    CHECK(wait_int(&pr.s->lost, 1));
    CHECK_EQ(pr.s->lost_err, 0);
    CHECK_EQ(pr.c->lost, 0); /* the client kept its side open too */
    pair_close(&pr);
    CHECK_EQ(pr.c == NULL, 0);
    return 0;
}

static void test_half_close(void) { CHECK_RC(cio_run(half_main, NULL, NULL), 0); }

/* ---- abort, close flushing, reset --------------------------------------------- */

static int abort_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pair pr;
    struct rec tmpl = {.pause_at_made = 1};
    pair_open(&pr, &tmpl, NULL, NULL);
    char *chunk = calloc(1, 65536);
    while (!cio_transport_get_write_buffer_size(pr.t))
        CHECK_RC(cio_transport_write(pr.t, chunk, 65536), 0);
    pr.c->in_call = 1;
    cio_transport_abort(pr.t);
    cio_transport_abort(pr.t);
    cio_transport_close(pr.t);
    pr.c->in_call = 0;
    CHECK_EQ(pr.c->lost, 0);
    CHECK_EQ(cio_transport_get_write_buffer_size(pr.t), (size_t)0);
    CHECK_RC(cio_transport_write(pr.t, "x", 1), CIO_ECLOSED);
    CHECK(wait_int(&pr.c->lost, 1));
    CHECK_EQ(pr.c->lost_err, 0);
    cio_sleep(0.01);
    CHECK_EQ(pr.c->lost, 1);
    free(chunk);
    pair_close(&pr);
    return 0;
}

static void test_abort(void) { CHECK_RC(cio_run(abort_main, NULL, NULL), 0); }

static int close_flush_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct pair pr;
    pair_open(&pr, NULL, NULL, NULL);
    char *buf = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        buf[i] = (char)(i * 13);
    CHECK_RC(cio_transport_write(pr.t, buf, BIG), 0);
    CHECK(cio_transport_get_write_buffer_size(pr.t) > 0);
    cio_transport_close(pr.t);
    CHECK(wait_int(&pr.s->lost, 1));
    CHECK_EQ(pr.s->got, (size_t)BIG); /* everything, then EOF */
    CHECK(!memcmp(pr.s->data, buf, sizeof pr.s->data));
    CHECK_EQ(pr.s->eofs, 1);
    CHECK(wait_int(&pr.c->lost, 1));
    CHECK_EQ(pr.c->lost_err, 0);
    free(buf);
    pair_close(&pr);
    return 0;
}

static void test_close_flushes(void) { CHECK_RC(cio_run(close_flush_main, NULL, NULL), 0); }

static int reset_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* The peer resets while we read. */
    struct pair pr;
    pair_open(&pr, NULL, NULL, NULL);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CHECK_RC(setsockopt(cio_transport_fd(pr.s->t), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    cio_transport_abort(pr.s->t);
    CHECK(wait_int(&pr.c->lost, 1));
    CHECK_EQ(pr.c->lost_err, -ECONNRESET);
    CHECK_EQ(pr.c->eofs, 0);
    pair_close(&pr);
    /* The peer resets while we write: the writer's error is reported, not
     * a clean EOF. */
    pair_open(&pr, NULL, NULL, NULL);
    CHECK_RC(setsockopt(cio_transport_fd(pr.s->t), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    cio_transport_pause_reading(pr.t);
    cio_transport_abort(pr.s->t);
    cio_sleep(0.02);
    char *chunk = calloc(1, 65536);
    int rc = 0;
    /* A write reports the reset it meets, or a later one does once the
     * loop ran (on io_uring writes are queued and sent with its next
     * wait). */
    for (int i = 0; i < 64 && rc == 0; i++) {
        rc = cio_transport_write(pr.t, chunk, 65536);
        if (rc == 0)
            cio_sleep(0.001);
    }
    CHECK(rc == -ECONNRESET || rc == -EPIPE || rc == CIO_ECLOSED);
    CHECK(wait_int(&pr.c->lost, 1));
    CHECK(pr.c->lost_err == -ECONNRESET || pr.c->lost_err == -EPIPE);
    CHECK_EQ(pr.c->eofs, 0);
    free(chunk);
    pair_close(&pr);
    return 0;
}

static void test_reset(void) { CHECK_RC(cio_run(reset_main, NULL, NULL), 0); }

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
        cio_transport_release(t[i]);
        free(c[i]);
    }
    cio_server_release(srv);
    /* A factory that refuses: the client sees the connection end. */
    p->refuse = 1;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    struct rec *r = rec_new();
    cio_transport *tr;
    CHECK_RC(cio_create_connection(&rec_proto, r, "127.0.0.1", cio_server_port(srv), NULL,
                                   &tr), 0);
    CHECK(wait_int(&r->lost, 1));
    CHECK_EQ((int)cio_server_num_clients(srv), 0);
    cio_transport_release(tr);
    free(r);
    cio_server_release(srv);
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
    cio_server_release(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_transport_release(tr);
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
    cio_transport_release(ta);
    cio_transport_release(tb);
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
        cio_transport_release(t);
    }
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    cio_server_wait_closed(srv);
    cio_server_release(srv);
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
    RUN(test_half_close);
    RUN(test_abort);
    RUN(test_close_flushes);
    RUN(test_reset);
    RUN(test_buffered);
    RUN(test_server_close);
    RUN(test_accepted_socket);
    RUN(test_alloc_failures);
    return test_finish();
}
