/*
 * test_stream_view.c - the zero-copy read view of a stream (cio_stream_peek,
 * cio_stream_fill, cio_stream_consume) and the stream as a transport's
 * protocol: a toy line parser working in place while the peer sends one
 * byte at a time, fill's end-of-stream, limit and argument errors, the
 * read buffer bounded at twice the limit while nobody reads (the
 * transport paused), and writes that queue behind a slow reader without
 * any task being made for them (no flusher) - over a socket, a TLS
 * stream and a pipe.
 */
#include <fcntl.h>
#include <sys/socket.h>

#include "tls_util.h"

/* ---- a line parser in place, fed one byte at a time -------------------------- */

struct trickle {
    int fd;
    const char *data;
    size_t len;
};

static int trickler(void *arg, void **result)
{
    (void)result;
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
    (void)arg;
    (void)result;
    static const char input[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\ntail";
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct trickle tr = {sv[1], input, sizeof input - 1};
    CHECK_RC(cio_create_task(trickler, &tr, "trickle", NULL), 0);
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
    size_t len = 99;
    CHECK(cio_stream_peek(s, &len) == NULL && len == 0); /* nothing yet */
    char lines[4][32];
    int nlines = 0, fills = 0, rc;
    size_t scanned = 0;
    for (;;) {
        const char *p = cio_stream_peek(s, &len);
        const char *nl = p ? memchr(p + scanned, '\n', len - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl + 1 - p);
            CHECK(nlines < 4 && n < sizeof lines[0]);
            if (nlines < 4 && n < sizeof lines[0]) {
                memcpy(lines[nlines], p, n); /* the test's record, not the parser's */
                lines[nlines++][n] = 0;
            }
            /* Still the same bytes, in the same place: nothing suspended. */
            size_t len2;
            CHECK(cio_stream_peek(s, &len2) == p && len2 == len);
            CHECK_RC(cio_stream_consume(s, n), 0);
            scanned = 0;
            continue;
        }
        scanned = len; /* never rescanned */
        rc = cio_stream_fill(s, len + 1);
        fills++;
        if (rc < 0)
            break;
        CHECK(rc >= (int)len + 1);
    }
    CHECK_RC(rc, CIO_EINCOMPLETE);
    CHECK_EQ(nlines, 3);
    CHECK(!strcmp(lines[0], "GET / HTTP/1.1\r\n"));
    CHECK(!strcmp(lines[1], "Host: x\r\n"));
    CHECK(!strcmp(lines[2], "\r\n"));
    CHECK(fills >= 20); /* it really came a byte or so at a time */
    /* The unterminated tail stays buffered and readable. */
    const char *p = cio_stream_peek(s, &len);
    CHECK(p && len == 4 && !memcmp(p, "tail", 4));
    CHECK(!cio_stream_at_eof(s));
    CHECK_RC(cio_stream_fill(s, 2), 4); /* enough already: no wait */
    CHECK_RC(cio_stream_consume(s, 5), -EINVAL); /* more than is there */
    CHECK_RC(cio_stream_consume(s, 4), 0);
    CHECK(cio_stream_at_eof(s));
    CHECK_RC(cio_stream_fill(s, 1), CIO_EINCOMPLETE);
    CHECK_RC(cio_stream_fill(s, 0), 0);
    CHECK_RC(cio_stream_fill(NULL, 1), -EINVAL);
    CHECK_RC(cio_stream_consume(NULL, 0), -EINVAL);
    CHECK(cio_stream_peek(NULL, &len) == NULL && len == 0);
    cio_stream_unref(s);
    return 0;
}

static void test_parse_in_place(void) { CHECK_RC(cio_run(parse_main, NULL, NULL), 0); }

/* ---- fill: the limit, cancellation, close ------------------------------------- */

static int filler(void *arg, void **result)
{
    (void)result;
    return cio_stream_fill(arg, 10);
}

static int fill_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cio_stream_options o = {.limit = 64};
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], &o, &s), 0);
    CHECK_RC(cio_stream_fill(s, 65), CIO_ELIMIT); /* never fits: at once */
    /* A cancelled fill loses nothing. */
    cio_task *t;
    CHECK_RC(cio_create_task(filler, s, "filler", &t), 0);
    CHECK_EQ(write(sv[1], "12345", 5), 5);
    test_step(3);
    CHECK(!cio_task_done(t));
    cio_task_cancel(t, NULL);
    CHECK_RC(cio_task_await(t, NULL), -ECANCELED);
    cio_task_unref(t);
    CHECK_EQ(write(sv[1], "67890", 5), 5);
    CHECK_RC(cio_stream_fill(s, 10), 10);
    size_t len;
    const char *p = cio_stream_peek(s, &len);
    CHECK(len == 10 && !memcmp(p, "1234567890", 10));
    /* A reader waiting in fill hears of the close. */
    CHECK_RC(cio_stream_consume(s, 10), 0);
    CHECK_RC(cio_create_task(filler, s, "filler", &t), 0);
    test_step(2);
    cio_stream_close(s);
    CHECK_RC(cio_task_await(t, NULL), CIO_ECLOSED);
    cio_task_unref(t);
    cio_stream_unref(s);
    cio_fd_close(sv[1]);
    return 0;
}

static void test_fill_errors(void)
{
    int before = count_fds();
    CHECK_RC(cio_run(fill_main, NULL, NULL), 0);
    CHECK_EQ(count_fds(), before);
}

/* ---- nobody reads: the buffer stops near twice the limit ------------------------- */

static int bound_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cio_stream_options o = {.limit = 8192};
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], &o, &s), 0);
    static unsigned char data[1 << 20];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 12));
    size_t sent = 0;
    CHECK_RC(cio_stream_fill(s, 0), 0); /* nothing buffered, nothing asked */
    /* The peer writes as much as the kernel takes, several times. */
    for (int round = 0; round < 20; round++) {
        ssize_t n = send(sv[1], data + sent, sizeof data - sent, MSG_DONTWAIT);
        if (n > 0)
            sent += (size_t)n;
        cio_sleep(0.001);
    }
    size_t len;
    cio_stream_peek(s, &len);
    CHECK(len > 2 * 8192);              /* it did read ahead... */
    CHECK(len <= 2 * 8192 + 64 * 1024); /* ...and then stopped */
    CHECK(sent > len);                  /* the rest waits in the kernel */
    /* Reading it all resumes the transport; every byte arrives in order. */
    static unsigned char got[1 << 20];
    size_t have = 0;
    while (have < sizeof data) {
        if (sent < sizeof data) {
            ssize_t n = send(sv[1], data + sent, sizeof data - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        }
        int n = cio_stream_read(s, got + have, sizeof got - have);
        CHECK(n > 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    CHECK(!memcmp(got, data, sizeof data));
    cio_stream_unref(s);
    cio_fd_close(sv[1]);
    return 0;
}

static void test_read_buffer_bounded(void) { CHECK_RC(cio_run(bound_main, NULL, NULL), 0); }

/* ---- writes queue behind a slow reader: no task is made for them --------------- */

static int notask_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_loop *loop = cio_get_running_loop();
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int sz = 16384;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    cio_stream *s;
    CHECK_RC(cio_stream_from_fd(sv[0], NULL, &s), 0);
    size_t before = cio_all_tasks(loop, NULL, 0);
    static char chunk[32768];
    size_t queued_max = 0, received = 0, total = 0;
    char buf[4096];
    for (int i = 0; i < 64; i++) {
        CHECK_RC(cio_stream_write(s, chunk, sizeof chunk), 0);
        total += sizeof chunk;
        size_t q = cio_stream_write_buffer_size(s);
        if (q > queued_max)
            queued_max = q;
        CHECK_EQ(cio_all_tasks(loop, NULL, 0), before);
        /* The slow reader: a little now and then. */
        int n = cio_sock_recv_into(sv[1], buf, sizeof buf);
        if (n > 0)
            received += (size_t)n;
        cio_sleep(0);
        CHECK_EQ(cio_all_tasks(loop, NULL, 0), before);
    }
    CHECK(queued_max > 64 * 1024); /* writes really queued (drain not called) */
    /* The loop flushes it all as the reader catches up, still without a task. */
    while (received < total) {
        int n = cio_sock_recv_into(sv[1], buf, sizeof buf);
        CHECK(n > 0);
        if (n <= 0)
            break;
        received += (size_t)n;
        CHECK_EQ(cio_all_tasks(loop, NULL, 0), before);
    }
    CHECK_EQ(cio_stream_write_buffer_size(s), 0);
    CHECK_RC(cio_stream_drain(s), 0);
    cio_stream_unref(s);
    cio_fd_close(sv[1]);
    return 0;
}

static void test_no_flusher_task(void) { CHECK_RC(cio_run(notask_main, NULL, NULL), 0); }

/* ---- the same over TLS and over a pipe ----------------------------------------- */

/* Reads its stream a little at a time (one read per loop iteration)
 * until the end; rc 1 while it runs. */
struct slow_reader {
    cio_stream *s;
    size_t got;
    int rc;
};

static int slow_reader_task(void *arg, void **result)
{
    (void)result;
    struct slow_reader *r = arg;
    char buf[4096];
    for (;;) {
        int n = cio_stream_read(r->s, buf, sizeof buf);
        if (n <= 0) {
            r->rc = n;
            return 0;
        }
        r->got += (size_t)n;
        cio_sleep(0);
    }
}

/* 2 MiB written to w without drain while r reads slowly: the writes
 * queue (well past the high watermark), and neither they nor the loop
 * flushing them make a task; r gets every byte. */
static void writes_make_no_task(cio_stream *w, struct slow_reader *r)
{
    cio_loop *loop = cio_get_running_loop();
    size_t before = cio_all_tasks(loop, NULL, 0);
    static char chunk[32768];
    size_t queued_max = 0, total = 0;
    for (int i = 0; i < 64; i++) {
        CHECK_RC(cio_stream_write(w, chunk, sizeof chunk), 0);
        total += sizeof chunk;
        size_t q = cio_stream_write_buffer_size(w);
        if (q > queued_max)
            queued_max = q;
        CHECK_EQ(cio_all_tasks(loop, NULL, 0), before);
        cio_sleep(0);
        CHECK_EQ(cio_all_tasks(loop, NULL, 0), before);
    }
    CHECK(queued_max > 64 * 1024); /* writes really queued (drain not called) */
    for (int i = 0; i < 10000 && r->got < total && r->rc == 1; i++) {
        cio_sleep(0.001);
        CHECK_EQ(cio_all_tasks(loop, NULL, 0), before);
    }
    CHECK_EQ(r->got, total);
    CHECK_EQ(cio_stream_write_buffer_size(w), 0);
    CHECK_RC(cio_stream_drain(w), 0);
}

struct tls_server_side {
    int fd;
    cio_tls_context *ctx;
    cio_stream *s;
    int rc;
};

static int tls_server_task(void *arg, void **result)
{
    (void)result;
    struct tls_server_side *ss = arg;
    cio_stream_options o = {.tls = ss->ctx};
    ss->rc = cio_stream_from_fd(ss->fd, &o, &ss->s);
    return 0;
}

static int notask_tls_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int sv[2];
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cio_tls_context *sctx = server_ctx(), *cctx = client_ctx(1);
    struct tls_server_side ss = {.fd = sv[1], .ctx = sctx, .rc = 1};
    cio_task *t;
    CHECK_RC(cio_create_task(tls_server_task, &ss, "tls-server", &t), 0);
    cio_stream_options o = {.tls = cctx, .server_hostname = "localhost"};
    cio_stream *w = NULL;
    CHECK_RC(cio_stream_from_fd(sv[0], &o, &w), 0);
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(ss.rc, 0);
    if (w && ss.s) {
        CHECK(cio_stream_is_tls(w) && cio_stream_is_tls(ss.s));
        struct slow_reader r = {.s = ss.s, .rc = 1};
        CHECK_RC(cio_create_task(slow_reader_task, &r, "slow-reader", &t), 0);
        writes_make_no_task(w, &r);
        cio_stream_close(w);
        CHECK_RC(cio_task_await(t, NULL), 0);
        cio_task_unref(t);
        CHECK_RC(r.rc, 0); /* close_notify: a clean end */
    }
    cio_stream_unref(w);
    cio_stream_unref(ss.s);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return 0;
}

static void test_no_flusher_task_tls(void)
{
    if (!cio_tls_available()) {
        test_skip_case("cio was built without OpenSSL");
        return;
    }
    snprintf(dir, sizeof dir, "/tmp/cio-tls-XXXXXX");
    if (!mkdtemp(dir)) {
        test_skip_case("no temporary directory");
        return;
    }
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    if (make_cert_for("localhost", "DNS:localhost", cert, key) != 0) {
        rmdir(dir);
        test_skip_case("the openssl command could not make a certificate");
        return;
    }
    CHECK_RC(cio_run(notask_tls_main, NULL, NULL), 0);
    remove_cert();
}

static int notask_pipe_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int pfd[2];
    CHECK_RC(pipe(pfd), 0);
    fcntl(pfd[1], F_SETPIPE_SZ, 16384); /* a small pipe: writes must queue */
    cio_stream *r = NULL, *w = NULL;
    CHECK_RC(cio_stream_from_fd(pfd[0], NULL, &r), 0);
    CHECK_RC(cio_stream_from_fd(pfd[1], NULL, &w), 0);
    if (r && w) {
        struct slow_reader sr = {.s = r, .rc = 1};
        cio_task *t;
        CHECK_RC(cio_create_task(slow_reader_task, &sr, "slow-reader", &t), 0);
        writes_make_no_task(w, &sr);
        cio_stream_close(w);
        CHECK_RC(cio_task_await(t, NULL), 0);
        cio_task_unref(t);
        CHECK_RC(sr.rc, 0); /* the write end closed: end of stream */
    }
    cio_stream_unref(w);
    cio_stream_unref(r);
    return 0;
}

static void test_no_flusher_task_pipe(void) { CHECK_RC(cio_run(notask_pipe_main, NULL, NULL), 0); }

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_parse_in_place);
    RUN(test_fill_errors);
    RUN(test_read_buffer_bounded);
    RUN(test_no_flusher_task);
    RUN(test_no_flusher_task_tls);
    RUN(test_no_flusher_task_pipe);
    return test_finish();
}
