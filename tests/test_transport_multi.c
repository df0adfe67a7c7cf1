/*
 * test_transport_multi.c - the socket transport's reads on io_uring's
 * multishot receive (a loop's provided buffer ring, io.h): the path is
 * taken (the backend's counters), many connections moving large
 * transfers in both directions keep every byte in order, a ring of two
 * tiny buffers runs dry (ENOBUFS, re-armed) without losing any, bytes
 * and end of file that arrive while reading is paused are held and
 * delivered in order on resume, and closing or aborting with a multishot
 * receive in flight ends cleanly (the ASan build checks the buffers).
 * The server's connections come through multishot accept (test_server.c
 * has its EMFILE back-off).  On epoll the same tests run the plain path
 * (the counters stay 0).
 */
#include "transport_util.h"

/* The byte at offset i of every stream. */
static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + (i >> 9)); }

/* A checking protocol: verifies every byte against pat, optionally
 * pausing its reading for a while after the first bytes. */
struct chk {
    cio_transport *t;
    size_t got;                /* bytes received */
    int bad;                   /* a byte differed, or came out of order */
    int made, lost, eofs;
    int lost_err;
    int pause_once;            /* pause_reading at the first bytes */
    int paused;                /* reading is paused now */
    int while_paused;          /* data_received / eof_received while paused */
    size_t close_at;           /* abort once this many arrived (0: never) */
};

static void c_made(cio_transport *t, void *ud)
{
    struct chk *c = ud;
    c->t = t;
    c->made++;
}

static void c_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    struct chk *c = ud;
    const unsigned char *p = data;
    if (c->paused)
        c->while_paused++;
    if (c->eofs || c->lost)
        c->bad++;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pat(c->got + i)) {
            c->bad++;
            break;
        }
    c->got += len;
    if (c->pause_once == 1) {
        c->pause_once = 2;
        c->paused = 1;
        cio_transport_pause_reading(t);
    }
    if (c->close_at && c->got >= c->close_at && !cio_transport_is_closing(t))
        cio_transport_abort(t);
}

static int c_eof(cio_transport *t, void *ud)
{
    (void)t;
    struct chk *c = ud;
    if (c->paused)
        c->while_paused++;
    c->eofs++;
    return 0;
}

static void c_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct chk *c = ud;
    c->lost++;
    c->lost_err = err;
}

static const cio_protocol chk_proto = {.connection_made = c_made, .data_received = c_data,
                                       .eof_received = c_eof, .connection_lost = c_lost};

static struct cio__io_stats stats_now(void)
{
    return cio__io_of(cio_get_running_loop())->stats;
}

static int is_uring(void)
{
    const char *n = cio_loop_backend_name(cio_get_running_loop());
    return n && !strcmp(n, "io_uring");
}

/* Writes total bytes of the pattern to t in pieces of piece bytes. */
static void send_pattern(cio_transport *t, size_t total, size_t piece)
{
    unsigned char *buf = malloc(total);
    for (size_t i = 0; i < total; i++)
        buf[i] = pat(i);
    for (size_t off = 0; off < total; off += piece)
        CHECK_RC(cio_transport_write(t, buf + off, off + piece <= total ? piece : total - off), 0);
    free(buf);
}

/* ---- many connections, large transfers, echoed ------------------------------ */

#define NCONN 24
#define BIG (384 * 1024)

static int echo_all(void)
{
    struct pool *p = pool_new(NCONN);
    p->tmpl.echo = 1;
    cio_server *srv;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    struct chk c[NCONN];
    cio_transport *t[NCONN];
    memset(c, 0, sizeof c);
    for (int i = 0; i < NCONN; i++)
        CHECK_RC(cio_create_connection(&chk_proto, &c[i], "127.0.0.1", cio_server_port(srv),
                                       NULL, &t[i]), 0);
    for (int i = 0; i < NCONN; i++)
        send_pattern(t[i], BIG, i % 2 ? 1000 : 64 * 1024);
    for (int i = 0; i < NCONN; i++) {
        for (int k = 0; k < 20000 && c[i].got < BIG; k++)
            CHECK_RC(cio_sleep(0.001), 0);
        CHECK_EQ(c[i].got, (size_t)BIG);
        CHECK_EQ(c[i].bad, 0);
        CHECK_EQ(p->recs[i].bad_order, 0);
        cio_transport_close(t[i]);
    }
    for (int i = 0; i < NCONN; i++) {
        CHECK(wait_int(&c[i].lost, 1));
        CHECK_EQ(c[i].lost_err, 0);
        cio_transport_unref(t[i]);
    }
    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
    pool_free(p);
    return 0;
}

static int integrity_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct cio__io_stats before = stats_now();
    echo_all();
    struct cio__io_stats s = stats_now();
    if (is_uring()) {
        CHECK(s.recv_multi_armed >= before.recv_multi_armed + 2 * NCONN);
        /* Far fewer submissions than arrivals: the point of multishot. */
        CHECK(s.recv_multi_data - before.recv_multi_data > 4 * (s.recv_multi_armed - before.recv_multi_armed));
        /* The server's connections came through multishot accept. */
        CHECK(s.accept_multi_armed >= 1);
        CHECK_EQ(s.accept_multi_fds - before.accept_multi_fds, NCONN);
    } else {
        CHECK_EQ(s.recv_multi_armed, 0);
        CHECK_EQ(s.recv_multi_data, 0);
    }
    return 0;
}

static void test_integrity(void) { CHECK_RC(cio_run(integrity_main, NULL, NULL), 0); }

/* ---- a ring of two tiny buffers: it runs dry, nothing is lost ------------------ */

static int tiny_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    echo_all();
    if (is_uring()) {
        struct cio__io_stats s = stats_now();
        CHECK(s.recv_multi_enobufs > 0);
        CHECK(s.recv_multi_rearmed >= s.recv_multi_enobufs);
    }
    return 0;
}

static void test_tiny_ring(void)
{
    unsigned bufs = cio__io_ring_bufs, size = cio__io_ring_buf_size;
    cio__io_ring_bufs = 2; /* read when the loop makes its ring */
    cio__io_ring_buf_size = 512;
    CHECK_RC(cio_run(tiny_main, NULL, NULL), 0);
    cio__io_ring_bufs = bufs;
    cio__io_ring_buf_size = size;
}

/* ---- paused while the multishot receive keeps bringing bytes --------------------- */

#define PAUSED_BYTES (200 * 1000)

static int paused_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *srv;
    struct pool *p = pool_new(1);
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, NULL, &srv), 0);
    struct chk c = {.pause_once = 1};
    cio_transport *t;
    CHECK_RC(cio_create_connection(&chk_proto, &c, "127.0.0.1", cio_server_port(srv), NULL, &t),
             0);
    CHECK(wait_int(&p->n, 1));
    CHECK(wait_int(&p->recs[0].made, 1));
    cio_transport *st = p->recs[0].t;
    /* Many small writes, then end of file: several arrivals per
     * iteration, the last ones after the client paused. */
    for (size_t off = 0; off < PAUSED_BYTES; off += 100) {
        unsigned char piece[100];
        for (int i = 0; i < 100; i++)
            piece[i] = pat(off + (size_t)i);
        CHECK_RC(cio_transport_write(st, piece, sizeof piece), 0);
        if (off % 20000 == 0)
            CHECK_RC(cio_sleep(0), 0);
    }
    CHECK_RC(cio_transport_write_eof(st), 0);
    CHECK_RC(cio_sleep(0.05), 0);
    CHECK_EQ(c.pause_once, 2);
    CHECK(c.got < PAUSED_BYTES);
    CHECK_EQ(c.eofs, 0);
    CHECK_EQ(c.while_paused, 0);
    c.paused = 0;
    cio_transport_resume_reading(t);
    CHECK(wait_size(&c.got, PAUSED_BYTES));
    CHECK(wait_int(&c.eofs, 1));
    CHECK_EQ(c.got, (size_t)PAUSED_BYTES);
    CHECK_EQ(c.bad, 0);
    CHECK_EQ(c.while_paused, 0);
    CHECK(wait_int(&c.lost, 1)); /* eof_received returned 0: closed */
    cio_transport_unref(t);
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
    pool_free(p);
    return 0;
}

static void test_paused(void) { CHECK_RC(cio_run(paused_main, NULL, NULL), 0); }

/* ---- closing with a multishot receive in flight -------------------------------- */

/* An echo that shrugs at resets (its peers abort mid-transfer). */
static void e_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)ud;
    if (cio_transport_write(t, data, len) < 0)
        cio_transport_abort(t);
}

static const cio_protocol loose_echo = {.data_received = e_data};

static int loose_factory(void *arg, const cio_protocol **proto, void **ud)
{
    (void)arg;
    *proto = &loose_echo;
    *ud = NULL;
    return 0;
}

static int cancel_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *srv;
    CHECK_RC(cio_create_server(loose_factory, NULL, "127.0.0.1", 0, NULL, &srv), 0);
    struct chk c[8];
    cio_transport *t[8];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 8; i++) {
        /* Half abort from inside data_received mid-transfer, half are
         * closed or aborted from outside while bytes still flow. */
        c[i].close_at = i < 4 ? (size_t)(i + 1) * 10000 : 0;
        CHECK_RC(cio_create_connection(&chk_proto, &c[i], "127.0.0.1", cio_server_port(srv),
                                       NULL, &t[i]), 0);
        send_pattern(t[i], 256 * 1024, 4096);
    }
    CHECK_RC(cio_sleep(0.002), 0);
    cio_transport_close(t[4]);
    cio_transport_abort(t[5]);
    cio_transport_pause_reading(t[6]);
    cio_transport_abort(t[6]); /* while the pause's cancel is in flight */
    for (int i = 0; i < 7; i++) {
        CHECK(wait_int(&c[i].lost, 1));
        CHECK_EQ(c[i].lost, 1);
        CHECK_EQ(c[i].bad, 0);
    }
    /* t[7] stays open: the server aborts its side with bytes in flight,
     * and the loop closes with the client's receive armed. */
    cio_server_close(srv);
    cio_server_abort_clients(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    CHECK(wait_int(&c[7].lost, 1));
    for (int i = 0; i < 8; i++)
        cio_transport_unref(t[i]);
    cio_server_free(srv);
    return 0;
}

static void test_cancel(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(cancel_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_integrity);
    RUN(test_tiny_ring);
    RUN(test_paused);
    RUN(test_cancel);
    return test_finish();
}
