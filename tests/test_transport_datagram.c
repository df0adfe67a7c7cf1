/*
 * test_transport_datagram.c - datagram transports (cio_create_datagram_endpoint,
 * cio_transport_sendto, DatagramProtocol members of cio_protocol): a UDP
 * echo between two endpoints, against a Python asyncio datagram peer,
 * ICMP port unreachable reaching error_received without closing, sendto
 * queueing and flow control when the socket is full (a Unix datagram
 * socketpair, where a full receiver blocks the sender), a burst, zero-
 * length datagrams, argument errors, pause/resume reading, close
 * draining the queue and abort dropping it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "net_peer.h"
#include "../src/net/transport.h"

/* ---- a recording datagram protocol ---------------------------------------------- */

struct drec {
    cio_transport *t;          /* set at connection_made */
    int made, lost, lost_err;  /* connection_made / connection_lost */
    int errors, last_error;    /* error_received calls */
    int pauses, resumes;       /* pause_writing / resume_writing */
    int echo;                  /* send each datagram back to its sender */
    int bad_order;             /* a callback came out of order */
    int count;                 /* datagrams received */
    size_t bytes;              /* their bytes */
    int zero;                  /* zero-length ones */
    int next_seq;              /* expected sequence number (ordered tests) */
    int out_of_order;          /* a sequence number skipped or repeated */
    struct sockaddr_storage from; /* the last sender */
    socklen_t fromlen;
    char last[256];            /* the last datagram (cut) */
    size_t lastlen;
};

static void d_made(cio_transport *t, void *ud)
{
    struct drec *r = ud;
    if (r->made || r->lost)
        r->bad_order = 1;
    r->made++;
    r->t = t;
}

static void d_recv(cio_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                   socklen_t alen, void *ud)
{
    struct drec *r = ud;
    if (!r->made || r->lost)
        r->bad_order = 1;
    r->count++;
    r->bytes += len;
    if (!len)
        r->zero++;
    if (len >= sizeof(int)) {
        int seq;
        memcpy(&seq, data, sizeof seq);
        if (seq != r->next_seq)
            r->out_of_order++;
        r->next_seq = seq + 1;
    }
    r->lastlen = len < sizeof r->last ? len : sizeof r->last;
    memcpy(r->last, data, r->lastlen);
    if (alen <= sizeof r->from) {
        memcpy(&r->from, addr, alen);
        r->fromlen = alen;
    }
    if (r->echo)
        CHECK_RC(cio_transport_sendto(t, data, len, addr, alen), 0);
}

static void d_error(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct drec *r = ud;
    if (!r->made || r->lost)
        r->bad_order = 1;
    r->errors++;
    r->last_error = err;
}

static void d_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct drec *r = ud;
    if (!r->made || r->lost)
        r->bad_order = 1;
    r->lost++;
    r->lost_err = err;
}

static void d_pause(cio_transport *t, void *ud)
{
    (void)t;
    struct drec *r = ud;
    if (r->pauses != r->resumes)
        r->bad_order = 1;
    r->pauses++;
}

static void d_resume(cio_transport *t, void *ud)
{
    (void)t;
    struct drec *r = ud;
    if (r->pauses != r->resumes + 1)
        r->bad_order = 1;
    r->resumes++;
}

static const cio_protocol dproto = {
    .connection_made = d_made, .datagram_received = d_recv, .error_received = d_error,
    .connection_lost = d_lost, .pause_writing = d_pause, .resume_writing = d_resume,
};

/* Polls *v until it reaches want or about 5 s (scaled) pass. */
static int wait_int(const int *v, int want)
{
    int n = (int)(5000 * test_timeout_multiplier());
    for (int i = 0; i < n && *v < want; i++)
        if (cio_sleep(0.001) == -ECANCELED)
            break; /* (-ENOMEM under the allocation sweep: go on) */
    return *v >= want;
}

static int port_of(cio_transport *t)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (cio_transport_sockname(t, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- UDP echo between two endpoints ------------------------------------------------ */

#define NECHO 200

static int echo_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct drec srv = {.echo = 1}, cli = {0};
    cio_transport *ts, *tc;
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &srv, "127.0.0.1", 0, NULL, 0, NULL, &ts), 0);
    CHECK_EQ(srv.made, 1);
    CHECK(srv.t == ts);
    int port = port_of(ts);
    CHECK(port > 0);
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &cli, NULL, 0, "127.0.0.1", port, NULL, &tc),
             0);
    CHECK_EQ(cli.made, 1);
    /* Connected: the peer is the server; sends need no address. */
    struct sockaddr_in pa;
    socklen_t plen = sizeof pa;
    CHECK_RC(cio_transport_peername(tc, (struct sockaddr *)&pa, &plen), 0);
    CHECK_EQ(ntohs(pa.sin_port), port);
    plen = sizeof pa;
    CHECK_RC(cio_transport_peername(ts, (struct sockaddr *)&pa, &plen), -ENOTCONN);
    for (int i = 0; i < NECHO; i++) {
        char msg[64];
        memcpy(msg, &i, sizeof i);
        int n = snprintf(msg + sizeof i, sizeof msg - sizeof i, "datagram %d", i);
        CHECK_RC(cio_transport_sendto(tc, msg, sizeof i + (size_t)n, NULL, 0), 0);
        if (i % 20 == 19)
            wait_int(&cli.count, i + 1); /* stay under the socket buffers */
    }
    CHECK(wait_int(&cli.count, NECHO));
    CHECK_EQ(srv.count, NECHO);
    CHECK_EQ(cli.count, NECHO);
    CHECK_EQ(cli.out_of_order, 0);
    CHECK(cli.lastlen > 4 && !memcmp(cli.last + 4, "datagram 199", 12));
    /* The echo came from the server's address. */
    CHECK_EQ(ntohs(((struct sockaddr_in *)&cli.from)->sin_port), port);
    /* The server saw the client's address. */
    CHECK_EQ(ntohs(((struct sockaddr_in *)&srv.from)->sin_port), port_of(tc));
    /* A zero-length datagram is a datagram. */
    CHECK_RC(cio_transport_sendto(tc, "", 0, NULL, 0), 0);
    CHECK(wait_int(&cli.zero, 1));
    CHECK_EQ(srv.zero, 1);
    /* The connected peer's address is allowed; another is not. */
    CHECK_RC(cio_transport_sendto(tc, "x", 1, (struct sockaddr *)&pa, plen), 0);
    struct sockaddr_in other = pa;
    other.sin_port = htons((uint16_t)(port == 9 ? 10 : 9));
    CHECK_RC(cio_transport_sendto(tc, "x", 1, (struct sockaddr *)&other, sizeof other), -EINVAL);
    /* Unconnected: an address is needed. */
    CHECK_RC(cio_transport_sendto(ts, "x", 1, NULL, 0), -EDESTADDRREQ);
    /* Stream calls are not a datagram transport's. */
    CHECK_RC(cio_transport_write(tc, "x", 1), -ENOTSUP);
    CHECK_RC(cio_transport_write_eof(tc), -ENOTSUP);
    CHECK_EQ(cio_transport_can_write_eof(tc), 0);
    CHECK_EQ(cio_transport_get_write_buffer_size(tc), 0);
    CHECK_EQ(cio_transport_is_reading(tc), 1);
    cio_transport_close(tc);
    cio_transport_close(ts);
    CHECK_EQ(cio_transport_is_closing(tc), 1);
    CHECK_EQ(cli.lost, 0); /* never from inside close */
    CHECK_RC(cio_transport_sendto(tc, "x", 1, NULL, 0), CIO_ECLOSED);
    CHECK(wait_int(&cli.lost, 1));
    CHECK(wait_int(&srv.lost, 1));
    CHECK_EQ(cli.lost_err, 0);
    CHECK_EQ(cio_transport_fd(tc), CIO_ECLOSED);
    CHECK(!cli.bad_order && !srv.bad_order);
    CHECK_EQ(cli.errors + srv.errors, 0);
    cio_transport_unref(tc);
    cio_transport_unref(ts);
    return 0;
}

static void test_udp_echo(void) { CHECK_RC(cio_run(echo_main, NULL, NULL), 0); }

/* ---- against Python's asyncio --------------------------------------------------------- */

/* An asyncio datagram echo server: prints its port, echoes, exits on "quit". */
static const char py_echo[] =
    "import asyncio\n"
    "class P(asyncio.DatagramProtocol):\n"
    "    def __init__(self, done): self.done = done\n"
    "    def connection_made(self, t): self.t = t\n"
    "    def datagram_received(self, data, addr):\n"
    "        if data == b'quit': self.done.set_result(None); return\n"
    "        self.t.sendto(data.upper(), addr)\n"
    "async def main():\n"
    "    loop = asyncio.get_running_loop()\n"
    "    done = loop.create_future()\n"
    "    t, p = await loop.create_datagram_endpoint(lambda: P(done), local_addr=('127.0.0.1', 0))\n"
    "    print(t.get_extra_info('sockname')[1], flush=True)\n"
    "    await asyncio.wait_for(done, 20)\n"
    "    t.close()\n"
    "asyncio.run(main())\n";

static int python_main(void *arg, void **result)
{
    (void)result;
    peer *py = arg;
    struct drec cli = {0};
    cio_transport *t;
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &cli, NULL, 0, "127.0.0.1", py->port, NULL,
                                          &t),
             0);
    for (int i = 0; i < 20; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "hello %d", i);
        CHECK_RC(cio_transport_sendto(t, msg, (size_t)n, NULL, 0), 0);
        CHECK(wait_int(&cli.count, i + 1));
        CHECK_EQ(cli.lastlen, (size_t)n);
        char want[32];
        snprintf(want, sizeof want, "HELLO %d", i);
        CHECK(!memcmp(cli.last, want, (size_t)n));
    }
    CHECK_RC(cio_transport_sendto(t, "quit", 4, NULL, 0), 0);
    cio_transport_close(t);
    CHECK(wait_int(&cli.lost, 1));
    CHECK_EQ(cli.errors, 0);
    cio_transport_unref(t);
    return 0;
}

static void test_python_peer(void) { run_with_peer(py_echo, python_main); }

/* ---- ICMP port unreachable -------------------------------------------------------------- */

static int refused_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* A port nobody listens on: bind one, note it, close it. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK(bind(s, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(getsockname(s, (struct sockaddr *)&sa, &sl) == 0);
    close(s);
    struct drec r = {0};
    cio_transport *t;
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &r, "127.0.0.1", 0, "127.0.0.1",
                                          ntohs(sa.sin_port), NULL, &t),
             0);
    CHECK_RC(cio_transport_sendto(t, "ping", 4, NULL, 0), 0);
    CHECK(wait_int(&r.errors, 1));
    CHECK_RC(r.last_error, -ECONNREFUSED);
    /* The endpoint stays open and usable. */
    CHECK_EQ(cio_transport_is_closing(t), 0);
    CHECK_EQ(r.lost, 0);
    CHECK_RC(cio_transport_sendto(t, "ping", 4, NULL, 0), 0);
    CHECK(wait_int(&r.errors, 2));
    CHECK_EQ(r.lost, 0);
    cio_transport_close(t);
    CHECK(wait_int(&r.lost, 1));
    CHECK_EQ(r.lost_err, 0);
    CHECK(!r.bad_order);
    cio_transport_unref(t);
    return 0;
}

static void test_icmp_refused(void) { CHECK_RC(cio_run(refused_main, NULL, NULL), 0); }

/* ---- queueing when the socket is full ----------------------------------------------------- */

/* A Unix datagram socketpair: a receiver that does not read blocks the
 * sender (EAGAIN), which UDP on loopback never does (it drops instead). */
static int pair(cio_loop *loop, struct drec *a, struct drec *b, cio_transport **ta,
                cio_transport **tb, const cio_transport_options *opts)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    CHECK_RC(cio__datagram_transport_open(loop, sv[0], 1, &dproto, a, opts, ta), 0);
    CHECK_RC(cio__datagram_transport_open(loop, sv[1], 1, &dproto, b, opts, tb), 0);
    return 0;
}

#define NLOAD 3000

static int load_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct drec snd = {0}, rcv = {0};
    cio_transport *ts, *tr;
    cio_transport_options o = {.high_water = 16384, .low_water = 4096};
    CHECK_RC(pair(cio_get_running_loop(), &snd, &rcv, &ts, &tr, &o), 0);
    cio_transport_pause_reading(tr);
    CHECK_EQ(cio_transport_is_reading(tr), 0);
    char msg[200];
    memset(msg, 'd', sizeof msg);
    for (int i = 0; i < NLOAD; i++) {
        memcpy(msg, &i, sizeof i);
        CHECK_RC(cio_transport_sendto(ts, msg, sizeof msg, NULL, 0), 0);
    }
    /* The receiver does not read: most of it waits in the queue. */
    size_t queued = cio_transport_get_write_buffer_size(ts);
    CHECK(queued > (size_t)NLOAD * sizeof msg / 2);
    CHECK(queued % (sizeof msg + 8) == 0); /* asyncio's 8 bytes a datagram */
    CHECK_EQ(snd.pauses, 1);
    CHECK_EQ(snd.resumes, 0);
    cio_sleep(0.01);
    CHECK_EQ(rcv.count, 0);
    /* Reading again drains it all, in order, none lost. */
    cio_transport_resume_reading(tr);
    CHECK(wait_int(&rcv.count, NLOAD));
    CHECK_EQ(rcv.out_of_order, 0);
    CHECK_EQ(rcv.bytes, (size_t)NLOAD * sizeof msg);
    CHECK_EQ(cio_transport_get_write_buffer_size(ts), 0);
    CHECK_EQ(snd.resumes, 1);
    CHECK_EQ(snd.errors + rcv.errors, 0);
    /* close waits for the queue to go out. */
    cio_transport_pause_reading(tr);
    for (int i = 0; i < 200; i++) {
        int seq = NLOAD + i;
        memcpy(msg, &seq, sizeof seq);
        CHECK_RC(cio_transport_sendto(ts, msg, sizeof msg, NULL, 0), 0);
    }
    CHECK(cio_transport_get_write_buffer_size(ts) > 0);
    cio_transport_close(ts);
    cio_sleep(0.02);
    CHECK_EQ(snd.lost, 0); /* still flushing */
    cio_transport_resume_reading(tr);
    CHECK(wait_int(&snd.lost, 1));
    CHECK(wait_int(&rcv.count, NLOAD + 200));
    CHECK_EQ(rcv.out_of_order, 0);
    CHECK_EQ(snd.lost_err, 0);
    cio_transport_close(tr);
    CHECK(wait_int(&rcv.lost, 1));
    CHECK(!snd.bad_order && !rcv.bad_order);
    cio_transport_unref(ts);
    cio_transport_unref(tr);
    return 0;
}

static void test_buffered_sendto(void) { CHECK_RC(cio_run(load_main, NULL, NULL), 0); }

/* abort drops the queue: connection_lost(0) at once, nothing more sent. */
static int abort_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct drec snd = {0}, rcv = {0};
    cio_transport *ts, *tr;
    CHECK_RC(pair(cio_get_running_loop(), &snd, &rcv, &ts, &tr, NULL), 0);
    cio_transport_pause_reading(tr);
    char msg[100] = {0};
    for (int i = 0; i < 500; i++)
        CHECK_RC(cio_transport_sendto(ts, msg, sizeof msg, NULL, 0), 0);
    CHECK(cio_transport_get_write_buffer_size(ts) > 0);
    int before = 0;
    cio_transport_abort(ts);
    CHECK_EQ(cio_transport_get_write_buffer_size(ts), 0);
    CHECK(wait_int(&snd.lost, 1));
    cio_transport_resume_reading(tr);
    cio_sleep(0.05);
    before = rcv.count;
    CHECK(before < 500);
    cio_transport_close(tr);
    CHECK(wait_int(&rcv.lost, 1));
    cio_transport_unref(ts);
    cio_transport_unref(tr);
    return 0;
}

static void test_abort_drops(void) { CHECK_RC(cio_run(abort_main, NULL, NULL), 0); }

/* ---- a burst over UDP ----------------------------------------------------------------------- */

/* Bursts of 100 datagrams, each sent at once: the receiver takes each
 * burst in batches, none dropped, in order. */
static int burst_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct drec srv = {0}, cli = {0};
    cio_transport *ts, *tc;
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &srv, "127.0.0.1", 0, NULL, 0, NULL, &ts), 0);
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &cli, NULL, 0, "127.0.0.1", port_of(ts), NULL,
                                          &tc),
             0);
    int sent = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++, sent++)
            CHECK_RC(cio_transport_sendto(tc, &sent, sizeof sent, NULL, 0), 0);
        /* The receiver takes the burst before the next one: a slow
         * machine (qemu) must not overflow the socket's receive buffer,
         * where the kernel, not cio, would drop them. */
        CHECK(wait_int(&srv.count, sent));
    }
    CHECK(wait_int(&srv.count, sent));
    CHECK_EQ(srv.count, sent);
    CHECK_EQ(srv.out_of_order, 0);
    cio_transport_close(tc);
    cio_transport_close(ts);
    CHECK(wait_int(&cli.lost, 1) && wait_int(&srv.lost, 1));
    cio_transport_unref(tc);
    cio_transport_unref(ts);
    return 0;
}

static void test_burst(void) { CHECK_RC(cio_run(burst_main, NULL, NULL), 0); }

/* ---- arguments ---------------------------------------------------------------------------------- */

static int args_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct drec r = {0};
    cio_transport *t = (cio_transport *)1;
    CHECK_RC(cio_create_datagram_endpoint(NULL, &r, "127.0.0.1", 0, NULL, 0, NULL, &t), -EINVAL);
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &r, NULL, 0, NULL, 0, NULL, &t), -EINVAL);
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &r, "127.0.0.1", 70000, NULL, 0, NULL, &t),
             -EINVAL);
    CHECK_EQ(r.made, 0);
    CHECK_RC(cio_transport_sendto(NULL, "x", 1, NULL, 0), -EINVAL);
    /* Only a family: an unbound socket that can still send. */
    cio_transport_options o = {.family = AF_INET};
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &r, NULL, 0, NULL, 0, &o, &t), 0);
    struct drec srv = {0};
    cio_transport *ts;
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &srv, "127.0.0.1", 0, NULL, 0, NULL, &ts), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_of(ts)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_RC(cio_transport_sendto(t, "hi", 2, (struct sockaddr *)&to, sizeof to), 0);
    CHECK(wait_int(&srv.count, 1));
    /* A busy port. */
    struct drec r2 = {0};
    cio_transport *t2 = NULL;
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &r2, "127.0.0.1", port_of(ts), NULL, 0, NULL,
                                          &t2),
             -EADDRINUSE);
    CHECK(t2 == NULL);
    CHECK_EQ(r2.made, 0);
    /* reuse_port on both: two endpoints share the port. */
    cio_transport_options rp = {.reuse_port = 1};
    cio_transport *a, *b;
    struct drec ra = {0}, rb = {0};
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &ra, "127.0.0.1", 0, NULL, 0, &rp, &a), 0);
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &rb, "127.0.0.1", port_of(a), NULL, 0, &rp,
                                          &b),
             0);
    /* Outside a task: no DNS. */
    cio_transport *all[] = {t, ts, a, b};
    for (int i = 0; i < 4; i++) {
        cio_transport_close(all[i]);
        cio_transport_unref(all[i]);
    }
    cio_sleep(0.01);
    return 0;
}

static void test_args(void)
{
    CHECK_RC(cio_run(args_main, NULL, NULL), 0);
    cio_transport *t;
    struct drec r = {0};
    CHECK_RC(cio_create_datagram_endpoint(&dproto, &r, "127.0.0.1", 0, NULL, 0, NULL, &t),
             CIO_ENOTASK);
}

/* ---- allocation failures ---------------------------------------------------------------------- */

static int sweep_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    struct drec a = {0}, b = {0};
    cio_transport *ta, *tb;
    cio_loop *loop = cio_get_running_loop();
    int rc = cio__datagram_transport_open(loop, sv[0], 1, &dproto, &a, NULL, &ta);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    rc = cio__datagram_transport_open(loop, sv[1], 1, &dproto, &b, NULL, &tb);
    if (rc < 0) {
        close(sv[1]);
        cio_transport_abort(ta);
        wait_int(&a.lost, 1);
        cio_transport_unref(ta);
        return rc;
    }
    /* Enough to fill the socket, so some are queued. */
    char msg[1000] = {0};
    for (int i = 0; i < 400 && rc == 0; i++) {
        memcpy(msg, &i, sizeof i);
        rc = cio_transport_sendto(ta, msg, sizeof msg, NULL, 0);
    }
    int want = rc == 0 ? 400 : 0;
    wait_int(&b.count, want);
    if (rc == 0 && b.count != want)
        rc = b.errors || a.errors || a.lost || b.lost ? -ENOMEM : -EIO;
    CHECK_EQ(b.out_of_order, 0);
    cio_transport_close(ta);
    cio_transport_close(tb);
    CHECK(wait_int(&a.lost, 1) && wait_int(&b.lost, 1));
    cio_transport_unref(ta);
    cio_transport_unref(tb);
    return rc;
}

static int sweep_run(long n, void *arg)
{
    (void)n;
    return cio_run(sweep_main, arg, NULL);
}

static void test_alloc_failures(void)
{
    long points = test_alloc_sweep(sweep_run, NULL, 400, TEST_ALLOC_ENOMEM);
    fprintf(stderr, "  %ld allocation points\n", points);
}

int main(void)
{
    RUN(test_udp_echo);
    RUN(test_python_peer);
    RUN(test_icmp_refused);
    RUN(test_buffered_sendto);
    RUN(test_abort_drops);
    RUN(test_burst);
    RUN(test_args);
    RUN(test_alloc_failures);
    return test_finish();
}
