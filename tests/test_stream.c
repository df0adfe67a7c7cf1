/*
 * test_stream.c - buffered streams (cio/stream.h) against real peers:
 * readline/readuntil/readexactly fed one byte at a time, limits, EOF and
 * partial counts, a Python asyncio server for half-close, a slow reader
 * that must keep the writer's memory bounded, a peer reset mid-write,
 * open_connection errors (refused, unknown host), happy eyeballs over
 * "localhost", Unix sockets, and cancellation in connect and reads.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include "net_peer.h"
#include "net/stream.h"

/* ---- parsing: bytes trickle in one at a time ---------------------------- */

struct trickle {
    int fd;
    const char *data;
    size_t len;
};

static int trickler(void *arg, void **result)
{
    struct trickle *tr = arg;
    for (size_t i = 0; i < tr->len; i++) {
        CHECK_RC(cio_sock_sendall(tr->fd, tr->data + i, 1), 0);
        cio_sleep(0);
    }
    cio_fd_close(tr->fd);
    return 0;
}

static int parse_main(void *arg, void **result)
{
    static const char input[] = "line one\nsecond\r\nA|B;;C\x01\x02\x03\x04" "tail";
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct trickle tr = {sv[1], input, sizeof input - 1};
    CHECK_RC(cio_create_task(trickler, &tr, "trickle", NULL), 0);
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
    char buf[64];
    size_t partial = 99;
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 9);
    CHECK(memcmp(buf, "line one\n", 9) == 0);
    CHECK_RC(cio_stream_readuntil(s, "\r\n", buf, sizeof buf, &partial), 8);
    CHECK(memcmp(buf, "second\r\n", 8) == 0);
    const char *seps[] = {";;", "|"};
    CHECK_RC(cio_stream_readuntil_any(s, seps, 2, buf, sizeof buf, &partial), 2);
    CHECK(memcmp(buf, "A|", 2) == 0);
    CHECK_RC(cio_stream_readuntil_any(s, seps, 2, buf, sizeof buf, &partial), 3);
    CHECK(memcmp(buf, "B;;", 3) == 0);
    CHECK_RC(cio_stream_read(s, buf, 1), 1);
    CHECK_EQ(buf[0], 'C');
    CHECK_RC(cio_stream_readexactly(s, buf, 4, &partial), 4);
    CHECK(memcmp(buf, "\x01\x02\x03\x04", 4) == 0);
    CHECK(!cio_stream_at_eof(s));
    CHECK_RC(cio_stream_readexactly(s, buf, 10, &partial), CIO_EINCOMPLETE);
    CHECK_EQ(partial, 4);
    CHECK(memcmp(buf, "tail", 4) == 0);
    CHECK(cio_stream_at_eof(s));
    CHECK_RC(cio_stream_read(s, buf, sizeof buf), 0);
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 0);
    CHECK_RC(cio_stream_readuntil(s, "x", buf, sizeof buf, &partial), CIO_EINCOMPLETE);
    CHECK_EQ(partial, 0);
    cio_stream_unref(s);
    return 0;
}

static void test_parse_trickle(void) { CHECK_RC(cio_run(parse_main, NULL, NULL), 0); }

/* ---- limits: ELIMIT leaves the data; readline's partial last line ---------- */

static int limit_main(void *arg, void **result)
{
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cio_stream_options o = {.limit = 16};
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], &o, &s), 0);
    const char *msg = "0123456789abcdefghij\nshort\nend";
    CHECK_EQ(write(sv[1], msg, strlen(msg)), (long)strlen(msg));
    close(sv[1]);
    char buf[64];
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), CIO_ELIMIT);
    CHECK_RC(cio_stream_readline(s, buf, 8), CIO_ELIMIT); /* buffer too small too */
    CHECK_RC(cio_stream_read(s, buf, 10), 10); /* the data stayed */
    CHECK(memcmp(buf, "0123456789", 10) == 0);
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 11);
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 6);
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 3); /* partial at EOF */
    CHECK(memcmp(buf, "end", 3) == 0);
    CHECK(cio_stream_at_eof(s));
    CHECK_RC(cio_stream_readline(NULL, buf, 1), -EINVAL);
    CHECK_RC(cio_stream_readuntil(s, "", buf, sizeof buf, NULL), -EINVAL);
    cio_stream_unref(s);
    return 0;
}

static void test_limits(void) { CHECK_RC(cio_run(limit_main, NULL, NULL), 0); }

/* ---- released with data queued: aborted, nothing leaks ------------------------ */

static int queued_main(void *arg, void **result)
{
    int sv[2];
    static char big[1 << 20];
    for (int graceful = 0; graceful < 2; graceful++) {
        CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        cio_stream *s;
        CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
        CHECK_RC(cio_stream_write(s, big, sizeof big), 0);
        CHECK(cio_stream_write_buffer_size(s) > 0);
        if (graceful) {
            /* Closed gracefully: the rest still arrives after release. */
            cio_stream_close(s);
            cio_stream_unref(s);
            size_t got = 0;
            char buf[65536];
            int n;
            while ((n = cio_sock_recv_into(sv[1], buf, sizeof buf)) > 0)
                got += (size_t)n;
            CHECK_EQ(got, sizeof big);
        } else {
            cio_stream_unref(s); /* the flusher never ran: aborted */
        }
        cio_fd_close(sv[1]);
    }
    return 0;
}

static void test_release_with_queue(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(queued_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- half-close against a Python asyncio server ------------------------------ */

static const char *halfclose_peer =
    "import asyncio\n"
    "async def h(r, w):\n"
    "    data = await r.read()\n"
    "    w.write(b'got %d\\n' % len(data)); await w.drain(); w.close()\n"
    "async def main():\n"
    "    s = await asyncio.start_server(h, '127.0.0.1', 0)\n"
    "    print(s.sockets[0].getsockname()[1], flush=True)\n"
    "    async with s:\n"
    "        await asyncio.sleep(20)\n"
    "asyncio.run(main())\n";

static int halfclose_main(void *arg, void **result)
{
    peer *p = arg;
    cio_stream *s;
    CHECK_RC(cio_open_connection("127.0.0.1", p->port, NULL, &s), 0);
    int one = 0;
    socklen_t l = sizeof one;
    getsockopt(cio_stream_fd(s), IPPROTO_TCP, TCP_NODELAY, &one, &l);
    CHECK_EQ(one, 1);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    CHECK_RC(cio_stream_peername(s, (struct sockaddr *)&ss, &sl), 0);
    CHECK_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), p->port);
    sl = sizeof ss;
    CHECK_RC(cio_stream_sockname(s, (struct sockaddr *)&ss, &sl), 0);
    struct iovec iov[3] = {{"abc", 3}, {"defg", 4}, {"", 0}};
    CHECK_RC(cio_stream_writelines(s, iov, 3), 0);
    char big[100000];
    memset(big, 'x', sizeof big);
    CHECK_RC(cio_stream_write(s, big, sizeof big), 0);
    CHECK_RC(cio_stream_write_eof(s), 0);
    CHECK_RC(cio_stream_write(s, "more", 4), CIO_ECLOSED);
    CHECK_RC(cio_stream_drain(s), 0);
    char line[64];
    int n = cio_stream_readline(s, line, sizeof line);
    CHECK(n > 0 && memcmp(line, "got 100007\n", (size_t)n) == 0);
    CHECK_RC(cio_stream_read(s, line, sizeof line), 0);
    CHECK(cio_stream_at_eof(s));
    CHECK_RC(cio_stream_close(s), 0);
    CHECK(cio_stream_is_closing(s));
    CHECK_RC(cio_stream_wait_closed(s), 0);
    cio_stream_unref(s);
    return 0;
}

static void test_half_close(void)
{
    peer p;
    if (peer_start_case(&p, halfclose_peer) < 0)
        return;
    CHECK_RC(cio_run(halfclose_main, &p, NULL), 0);
    peer_kill(&p);
}

/* ---- slow reader: the writer waits, its memory stays bounded ------------------ */

struct slow {
    int fd;                    /* the reading end */
    size_t got;
};

static int slow_reader(void *arg, void **result)
{
    struct slow *sl = arg;
    char buf[4096];
    cio_sleep(0.2); /* not reading at all for a while */
    for (;;) {
        int n = cio_sock_recv_into(sl->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        sl->got += (size_t)n;
        if ((sl->got & 0xfffff) < 4096)
            cio_sleep(0.001); /* and slowly after that */
    }
    return 0;
}

static int slow_main(void *arg, void **result)
{
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int sz = 16384;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct slow sl = {sv[1], 0};
    cio_task *rt;
    CHECK_RC(cio_create_task(slow_reader, &sl, "slow", &rt), 0);
    cio_stream_options o = {.high_water = 65536, .low_water = 16384};
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], &o, &s), 0);
    static char chunk[8192];
    size_t max_buffered = 0, total = 16u << 20;
    int waited = 0;
    for (size_t sent = 0; sent < total; sent += sizeof chunk) {
        CHECK_RC(cio_stream_write(s, chunk, sizeof chunk), 0);
        size_t b = cio_stream_write_buffer_size(s);
        if (b > max_buffered)
            max_buffered = b;
        if (b > 65536)
            waited++;
        CHECK_RC(cio_stream_drain(s), 0);
        CHECK(cio_stream_write_buffer_size(s) <= 65536);
    }
    CHECK(max_buffered <= 65536 + sizeof chunk);
    CHECK(waited > 0); /* the writer really was held back */
    CHECK_RC(cio_stream_close(s), 0);
    CHECK_RC(cio_stream_wait_closed(s), 0);
    cio_stream_unref(s);
    CHECK_RC(cio_task_await(rt, NULL), 0);
    cio_task_unref(rt);
    CHECK_EQ(sl.got, total);
    cio_fd_close(sv[1]);
    return 0;
}

static void test_slow_reader(void) { CHECK_RC(cio_run(slow_main, NULL, NULL), 0); }

/* ---- peer reset while the writer is blocked in drain --------------------------- */

static const char *reset_peer =
    "import socket, struct, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
    "print(s.getsockname()[1], flush=True)\n"
    "c, _ = s.accept()\n"
    "time.sleep(0.2)\n"
    "c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n"
    "c.close()\n";

static int reset_main(void *arg, void **result)
{
    peer *p = arg;
    cio_stream *s;
    CHECK_RC(cio_open_connection("127.0.0.1", p->port, NULL, &s), 0);
    static char chunk[65536];
    int rc = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = cio_stream_write(s, chunk, sizeof chunk);
        if (rc == 0)
            rc = cio_stream_drain(s);
    }
    CHECK(rc == -ECONNRESET || rc == -EPIPE);
    CHECK(cio_stream_write(s, "x", 1) < 0);
    /* The reader hears of the reset too, never a clean end of stream. */
    char b[16];
    CHECK_RC(cio_stream_read(s, b, sizeof b), rc);
    CHECK_RC(cio_stream_readline(s, b, sizeof b), rc);
    cio_stream_unref(s);
    return 0;
}

static void test_reset_mid_write(void)
{
    run_with_peer(reset_peer, reset_main);
}

/* ---- open_connection: errors, happy eyeballs, unix, cancellation ---------------- */

static int echo_once(cio_stream *s, void *arg)
{
    char line[128];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0) {
        cio_stream_write(s, line, (size_t)n);
        if (cio_stream_drain(s) < 0)
            break;
    }
    return 0;
}

static int open_main(void *arg, void **result)
{
    cio_stream *s = NULL;
    /* Refused: a port nobody listens on. */
    cio_server *srv;
    CHECK_RC(cio_start_server(echo_once, NULL, "127.0.0.1", 0, NULL, &srv), 0);
    int port = cio_server_port(srv);
    CHECK(port > 0);
    cio_server_free(srv);
    CHECK_RC(cio_open_connection("127.0.0.1", port, NULL, &s), -ECONNREFUSED);
    CHECK(s == NULL);
    /* Unknown host. */
    int rc = cio_open_connection("nonexistent.invalid", 80, NULL, &s);
    CHECK(rc <= CIO_EGAIERR && rc > CIO_EGAIERR - 100);
    CHECK_RC(cio_open_connection(NULL, 80, NULL, &s), -EINVAL);
    CHECK_RC(cio_open_connection("127.0.0.1", 70000, NULL, &s), -EINVAL);

    /* Happy eyeballs: "localhost" is ::1 and 127.0.0.1; only the IPv4
     * one listens, so whichever comes first, the connection succeeds. */
    cio_server_options so = {.family = AF_INET};
    CHECK_RC(cio_start_server(echo_once, NULL, "127.0.0.1", 0, &so, &srv), 0);
    port = cio_server_port(srv);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    CHECK_RC(cio_getaddrinfo("localhost", "1", &hints, &res), 0);
    int families = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        families |= ai->ai_family == AF_INET6 ? 2 : 1;
    cio_freeaddrinfo(res);
    if (families != 3)
        fprintf(stderr, "  (localhost has one family here: no racing tested)\n");
    CHECK_RC(cio_open_connection("localhost", port, NULL, &s), 0);
    if (s) {
        char line[16];
        CHECK_RC(cio_stream_write(s, "ping\n", 5), 0);
        CHECK_RC(cio_stream_readline(s, line, sizeof line), 5);
        cio_stream_unref(s);
    }
    /* With racing turned off too. */
    cio_stream_options seq = {.happy_eyeballs_delay = -1};
    CHECK_RC(cio_open_connection("localhost", port, &seq, &s), 0);
    cio_stream_unref(s);

    /* Unix sockets. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/cio-test-%d.sock", (int)getpid());
    cio_server *us;
    CHECK_RC(cio_start_unix_server(echo_once, NULL, path, NULL, &us), 0);
    CHECK_RC(access(path, F_OK), 0);
    CHECK_RC(cio_open_unix_connection(path, NULL, &s), 0);
    if (s) {
        char line[16];
        CHECK_RC(cio_stream_write(s, "unix\n", 5), 0);
        CHECK_RC(cio_stream_readline(s, line, sizeof line), 5);
        CHECK(memcmp(line, "unix\n", 5) == 0);
        cio_stream_unref(s);
    }
    cio_server_close(us);
    CHECK_RC(cio_server_wait_closed(us), 0);
    cio_server_free(us);
    CHECK(access(path, F_OK) != 0); /* removed at close */
    CHECK_RC(cio_open_unix_connection(path, NULL, &s), -ENOENT);

    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
    return 0;
}

static void test_open_connection(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(open_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* A connect that cannot complete: the accept queue (backlog 0) is full. */
struct cconn {
    int port;
    const char *host;
    int rc;
    int stage;                 /* 0 connect, 1 readline */
    cio_stream *s;
};

static int connector(void *arg, void **result)
{
    struct cconn *c = arg;
    cio_stream *s = NULL;
    if (c->stage == 0) {
        c->rc = cio_open_connection(c->host, c->port, NULL, &s);
        cio_stream_unref(s);
    } else {
        char line[16];
        c->rc = cio_stream_readline(c->s, line, sizeof line);
    }
    return 0;
}

static int cancel_main(void *arg, void **result)
{
    int lfd = cio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&sa, sizeof sa);
    listen(lfd, 0);
    socklen_t l = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &l);
    int fill[3];
    for (int i = 0; i < 3; i++) {
        fill[i] = cio_socket(AF_INET, SOCK_STREAM, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
    }
    cio_sleep(0.05);
    const char *hosts[] = {"127.0.0.1", "nonexistent.invalid"};
    for (int h = 0; h < 2; h++) {
        struct cconn c = {.port = ntohs(sa.sin_port), .host = hosts[h], .rc = 1};
        cio_task *t;
        CHECK_RC(cio_create_task(connector, &c, "connector", &t), 0);
        cio_sleep(0.02);
        if (cio_task_done(t)) {
            fprintf(stderr, "  (%s finished first (%s): cancel not tested)\n", hosts[h],
                    cio_strerror(c.rc));
        } else {
            cio_task_cancel(t, NULL);
            cio_task_await(t, NULL);
            /* The lookup may have completed (and woken the task) just
             * before the cancel: a finished wait returns its own outcome
             * and the cancel takes effect at the next suspension point.
             * Only that outcome is accepted besides -ECANCELED. */
            if (h == 1 && c.rc <= CIO_EGAIERR && c.rc > CIO_EGAIERR - 100)
                fprintf(stderr, "  (lookup completed before the cancel: %s)\n",
                        cio_strerror(c.rc));
            else
                CHECK_RC(c.rc, -ECANCELED);
        }
        cio_task_unref(t);
    }
    /* Cancelled in readline; the stream goes on working. */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    struct cconn c = {.stage = 1, .rc = 1};
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &c.s), 0);
    cio_task *t;
    CHECK_RC(cio_create_task(connector, &c, "reader", &t), 0);
    CHECK_EQ(write(sv[1], "par", 3), 3);
    cio_sleep(0.01);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(c.rc, -ECANCELED);
    CHECK_EQ(write(sv[1], "tial\n", 5), 5);
    char line[16];
    CHECK_RC(cio_stream_readline(c.s, line, sizeof line), 8);
    CHECK(memcmp(line, "partial\n", 8) == 0);
    cio_stream_unref(c.s);
    cio_fd_close(sv[1]);
    for (int i = 0; i < 3; i++)
        cio_fd_close(fill[i]);
    cio_fd_close(lfd);
    return 0;
}

static void test_cancel(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(cancel_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- happy eyeballs on a crafted address list ------------------------------------ */

static int listener(int backlog, struct sockaddr_in *sa)
{
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    *sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)sa, sizeof *sa);
    listen(fd, backlog);
    socklen_t l = sizeof *sa;
    getsockname(fd, (struct sockaddr *)sa, &l);
    return fd;
}

static int eyeballs_main(void *arg, void **result)
{
    cio_loop *loop = cio_get_running_loop();
    struct sockaddr_in hang, good, dead;
    int hfd = listener(0, &hang), gfd = listener(16, &good), dfd = listener(1, &dead);
    cio_fd_close(dfd); /* refuses */
    int fill[3];
    for (int i = 0; i < 3; i++) {
        fill[i] = cio_socket(AF_INET, SOCK_STREAM, 0);
        connect(fill[i], (struct sockaddr *)&hang, sizeof hang);
    }
    cio_sleep(0.05);
    struct addrinfo ai[3] = {0};
    struct sockaddr_in *addrs[3] = {&hang, &good, &dead};
    for (int i = 0; i < 3; i++) {
        ai[i].ai_family = AF_INET;
        ai[i].ai_socktype = SOCK_STREAM;
        ai[i].ai_addr = (struct sockaddr *)addrs[i];
        ai[i].ai_addrlen = sizeof(struct sockaddr_in);
    }
    int before = count_fds();
    /* hang, then good: the second attempt starts after the delay and wins;
     * the hanging one is cancelled and closed. */
    ai[0].ai_next = &ai[1];
    double t0 = cio_loop_time(loop);
    int fd = cio__connect_addrs(&ai[0], 0.25);
    double dt = cio_loop_time(loop) - t0;
    CHECK(fd >= 0);
    CHECK(dt >= 0.24 && dt < 2.0);
    if (fd >= 0)
        cio_fd_close(fd);
    CHECK_EQ(count_fds(), before);
    /* dead, then good: a failure starts the next attempt at once. */
    ai[2].ai_next = &ai[1];
    ai[1].ai_next = NULL;
    t0 = cio_loop_time(loop);
    fd = cio__connect_addrs(&ai[2], 0.25);
    dt = cio_loop_time(loop) - t0;
    CHECK(fd >= 0);
    CHECK(dt < 0.2);
    if (fd >= 0)
        cio_fd_close(fd);
    /* dead only: the attempt's error. */
    ai[2].ai_next = NULL;
    CHECK_RC(cio__connect_addrs(&ai[2], 0.25), -ECONNREFUSED);
    /* hang, dead: both fail or hang; cancelled from outside. */
    CHECK_EQ(count_fds(), before);
    for (int i = 0; i < 3; i++)
        cio_fd_close(fill[i]);
    cio_fd_close(hfd);
    cio_fd_close(gfd);
    return 0;
}

static void test_happy_eyeballs(void) { CHECK_RC(cio_run(eyeballs_main, NULL, NULL), 0); }

/* ---- timeout scopes interrupt reads, drains and connects -------------------------- */

static int timeout_main(void *arg, void **result)
{
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
    cio_timeout *tm;
    char line[16];
    CHECK_RC(cio_timeout_begin(0.05, &tm), 0);
    CHECK_RC(cio_stream_readline(s, line, sizeof line), -ETIMEDOUT);
    CHECK_RC(cio_stream_readline(s, line, sizeof line), -ETIMEDOUT); /* level */
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_EQ(write(sv[1], "ok\n", 3), 3);
    CHECK_RC(cio_stream_readline(s, line, sizeof line), 3); /* usable after */
    /* A drain that the peer never relieves. */
    static char big[1 << 20];
    CHECK_RC(cio_stream_write(s, big, sizeof big), 0);
    CHECK_RC(cio_timeout_begin(0.05, &tm), 0);
    CHECK_RC(cio_stream_drain(s), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    cio_stream_unref(s);
    cio_fd_close(sv[1]);
    return 0;
}

static void test_timeouts(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(timeout_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_parse_trickle);
    RUN(test_limits);
    RUN(test_release_with_queue);
    RUN(test_half_close);
    RUN(test_slow_reader);
    RUN(test_reset_mid_write);
    RUN(test_open_connection);
    RUN(test_cancel);
    RUN(test_happy_eyeballs);
    RUN(test_timeouts);
    return test_finish();
}
