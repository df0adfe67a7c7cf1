/*
 * test_stream_reset.c - a connection reset that the writer meets first
 * must reach the reader as that error, never as a clean end of stream.
 *
 * The kernel reports a reset once: whichever call comes first (here the
 * writer's send) gets ECONNRESET, and a later recv returns 0 as if the
 * peer had closed cleanly.  A reader waiting for the rest of a line would
 * then take a truncated message for a complete one; asyncio raises
 * ConnectionResetError in the reader instead.
 *
 * Each case: a TCP connection over loopback; the peer (a plain socket in
 * this process) sends "partial" without a newline, a reader task waits for
 * the rest (readline, readuntil, readexactly, or a plain read), the peer
 * closes with SO_LINGER 0 (an RST), the main task writes and meets the
 * reset, then the reader must end with -ECONNRESET, and so must every
 * later read.  No Python needed.
 *
 * The guarantee is the socket transport's, so a plain protocol gets it
 * too: the bytes in data_received, then connection_lost with the reset.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

enum how { READLINE, READUNTIL, READEXACTLY, READ, N_HOW };
static const char *const how_name[N_HOW] = {"readline", "readuntil", "readexactly", "read"};

struct reader {
    cio_stream *s;
    enum how how;
    int rc;                    /* what the waiting read returned */
    size_t partial;            /* readexactly/readuntil's count */
};

static int reader_task(void *arg, void **result)
{
    (void)result;
    struct reader *r = arg;
    static char buf[8192];
    switch (r->how) {
    case READLINE:
        r->rc = cio_stream_readline(r->s, buf, 64);
        break;
    case READUNTIL:
        r->rc = cio_stream_readuntil(r->s, "\r\n", buf, 64, &r->partial);
        break;
    case READEXACTLY:
        r->rc = cio_stream_readexactly(r->s, buf, 100, &r->partial);
        break;
    case READ:
        /* The direct path (a large buffer): the 7 bytes come first. */
        r->rc = cio_stream_read(r->s, buf, sizeof buf);
        CHECK_RC(r->rc, 7);
        r->rc = cio_stream_read(r->s, buf, sizeof buf);
        break;
    default:
        break;
    }
    return 0;
}

/* Waits (without consuming the socket error) until the reset arrived. */
static void wait_for_reset(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (int i = 0; i < 2000; i++) {
        p.revents = 0;
        if (poll(&p, 1, 1) == 1 && (p.revents & (POLLERR | POLLHUP)))
            return;
    }
    CHECK(!"the reset never arrived");
}

static int reset_main(void *arg, void **result)
{
    (void)result;
    enum how how = *(enum how *)arg;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(lfd, 1), 0);
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", ntohs(sa.sin_port), NULL, &s), 0);
    int peer = accept(lfd, NULL, NULL);
    CHECK(peer >= 0);
    close(lfd);
    if (!s || peer < 0)
        return -1;

    CHECK_EQ(send(peer, "partial", 7, 0), 7);
    struct reader r = {s, how, 1, 0};
    cio_task *rt;
    CHECK_RC(cio_create_task(reader_task, &r, "reader", &rt), 0);
    test_step(3); /* the reader has "partial" and waits for more */
    CHECK_EQ(r.rc, 1);

    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(peer); /* an RST, not a FIN */
    wait_for_reset(cio_stream_fd(s));
    /* The writer comes first and consumes the kernel's one report: the
     * small write is queued, its send (at the loop's next wait) meets the
     * reset, and the next write reports it. */
    CHECK_RC(cio_stream_write(s, "x", 1), 0);
    for (int i = 0; i < 100 && !cio_stream_is_closing(s); i++)
        cio_sleep(0);
    CHECK_RC(cio_stream_write(s, "x", 1), -ECONNRESET);

    CHECK_RC(cio_task_await(rt, NULL), 0);
    cio_task_unref(rt);
    if (r.rc != -ECONNRESET)
        fprintf(stderr, "  %s: the reader got %d (%s), wanted -ECONNRESET\n", how_name[how],
                r.rc, cio_strerror(r.rc));
    CHECK_RC(r.rc, -ECONNRESET);
    if (how == READEXACTLY)
        CHECK_EQ(r.partial, 7); /* what did arrive is reported, as a failure */
    CHECK(!cio_stream_at_eof(s));
    /* Sticky: the stream never turns into a clean end later.  A failed
     * readline/readuntil leaves "partial" buffered (as a limit error
     * does); a plain read hands those bytes out, then the error. */
    char buf[8192];
    CHECK_RC(cio_stream_readline(s, buf, 64), -ECONNRESET);
    int n = cio_stream_read(s, buf, 16);
    if (how == READLINE || how == READUNTIL) {
        CHECK_RC(n, 7);
        n = cio_stream_read(s, buf, 16);
    }
    CHECK_RC(n, -ECONNRESET);
    CHECK_RC(cio_stream_read(s, buf, sizeof buf), -ECONNRESET);
    size_t partial = 99;
    CHECK_RC(cio_stream_readexactly(s, buf, 4, &partial), -ECONNRESET);
    CHECK_EQ(partial, 0);
    cio_stream_unref(s);
    return 0;
}

static void test_reset_seen_by_writer(void)
{
    for (enum how h = 0; h < N_HOW; h++)
        CHECK_RC(cio_run(reset_main, &h, NULL), 0);
}

/* The same when the flusher meets the reset (the writer waits in drain)
 * and closes the socket: later reads say why, not CIO_ECLOSED, and the
 * bytes still buffered never end as a complete line. */
static int flusher_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(lfd, 1), 0);
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    cio_stream *s = NULL;
    CHECK_RC(cio_open_connection("127.0.0.1", ntohs(sa.sin_port), NULL, &s), 0);
    int peer = accept(lfd, NULL, NULL);
    CHECK(peer >= 0);
    close(lfd);
    if (!s || peer < 0)
        return -1;
    CHECK_EQ(send(peer, "partial", 7, 0), 7);
    char buf[64];
    size_t partial = 0;
    CHECK_RC(cio_stream_readexactly(s, buf, 3, &partial), 3); /* "tial" stays buffered */
    /* More than the kernel takes: the rest waits in the queue. */
    static char big[8 << 20];
    CHECK_RC(cio_stream_write(s, big, sizeof big), 0);
    CHECK(cio_stream_write_buffer_size(s) > 0);
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(peer);
    wait_for_reset(cio_stream_fd(s));
    CHECK_RC(cio_stream_drain(s), -ECONNRESET);
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), -ECONNRESET);
    CHECK_RC(cio_stream_readuntil(s, "\r\n", buf, sizeof buf, &partial), -ECONNRESET);
    CHECK_RC(cio_stream_readexactly(s, buf, 10, &partial), -ECONNRESET);
    CHECK_EQ(partial, 4); /* "tial", reported as a failure */
    CHECK_RC(cio_stream_read(s, buf, sizeof buf), -ECONNRESET);
    CHECK(!cio_stream_at_eof(s));
    cio_stream_unref(s);
    return 0;
}

static void test_reset_seen_by_flusher(void) { CHECK_RC(cio_run(flusher_main, NULL, NULL), 0); }

/* A clean close stays a clean end of stream: the partial last line comes
 * back from readline, then 0. */
static int clean_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cio_stream *s = NULL;
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
    CHECK_EQ(send(sv[1], "partial", 7, 0), 7);
    close(sv[1]);
    char buf[64];
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 7);
    CHECK_RC(cio_stream_readline(s, buf, sizeof buf), 0);
    CHECK(cio_stream_at_eof(s));
    cio_stream_unref(s);
    return 0;
}

static void test_clean_close_is_eof(void) { CHECK_RC(cio_run(clean_main, NULL, NULL), 0); }

/* A protocol of the socket transport: what arrived, and the end. */
struct rec {
    char got[64];
    size_t len;
    int lost;                  /* 1 once connection_lost ran */
    int err;                   /* its error */
    int after;                 /* bytes that came after connection_lost */
};

static void rec_data(cio_transport *t, const void *d, size_t n, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (r->lost)
        r->after++;
    if (r->len + n <= sizeof r->got) {
        memcpy(r->got + r->len, d, n);
        r->len += n;
    }
}

static void rec_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct rec *r = ud;
    r->lost = 1;
    r->err = err;
}

static const cio_protocol rec_proto = {.data_received = rec_data, .connection_lost = rec_lost};

static int transport_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(lfd, 1), 0);
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    struct rec r = {0};
    cio_transport *t = NULL;
    CHECK_RC(cio_create_connection(&rec_proto, &r, "127.0.0.1", ntohs(sa.sin_port), NULL, &t),
             0);
    int peer = accept(lfd, NULL, NULL);
    CHECK(peer >= 0);
    close(lfd);
    if (!t || peer < 0)
        return -1;
    /* The bytes and the reset arrive while the loop does not run: the
     * transport has read nothing when its send meets the reset. */
    CHECK_EQ(send(peer, "partial", 7, 0), 7);
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(peer);
    wait_for_reset(cio_transport_fd(t));
    CHECK_EQ(r.len, 0);
    /* The write is queued: its send fails a moment later. */
    CHECK_RC(cio_transport_write(t, "x", 1), 0);
    for (int i = 0; i < 100 && !r.lost; i++)
        cio_sleep(0);
    CHECK(r.lost);
    CHECK_RC(r.err, -ECONNRESET);
    CHECK(r.len == 7 && !memcmp(r.got, "partial", 7)); /* delivered, before the end */
    CHECK_EQ(r.after, 0);
    cio_transport_unref(t);
    return 0;
}

static void test_transport_salvage(void) { CHECK_RC(cio_run(transport_main, NULL, NULL), 0); }

int main(void)
{
    RUN(test_reset_seen_by_writer);
    RUN(test_reset_seen_by_flusher);
    RUN(test_clean_close_is_eof);
    RUN(test_transport_salvage);
    return test_finish();
}
