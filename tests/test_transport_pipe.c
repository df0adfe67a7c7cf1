/*
 * test_transport_pipe.c - pipe transports (cio_connect_read_pipe,
 * cio_connect_write_pipe): 16 MB through a pipe with write flow control
 * (pause_writing/resume_writing) and a reader that pauses itself, EOF,
 * a write to a pipe whose reader has gone (-EPIPE, no SIGPIPE, with the
 * default SIGPIPE disposition), the reader leaving while nothing is
 * written (connection_lost without any write), close flushing the
 * buffer, abort dropping it, and bad arguments.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_peer.h"

struct prec {
    cio_transport *t;          /* set at connection_made */
    int made, lost, lost_err, eofs; /* callbacks seen */
    int pauses, resumes;       /* pause_writing / resume_writing */
    int bad_order;             /* a callback came out of order */
    size_t got;                /* bytes received */
    size_t bad_bytes;          /* bytes that were not the pattern */
    size_t pause_every;        /* reader: pause_reading after this many */
    size_t since_pause;
    int reader_paused;         /* the test must resume it */
};

static void p_made(cio_transport *t, void *ud)
{
    struct prec *r = ud;
    if (r->made || r->lost)
        r->bad_order = 1;
    r->made++;
    r->t = t;
}

/* Byte i of the stream is (i * 7 + i / 65536) & 0xff. */
static unsigned char pattern(size_t i) { return (unsigned char)((i * 7 + i / 65536) & 0xff); }

static void p_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    struct prec *r = ud;
    if (!r->made || r->lost || r->eofs)
        r->bad_order = 1;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(r->got + i))
            r->bad_bytes++;
    r->got += len;
    r->since_pause += len;
    if (r->pause_every && r->since_pause >= r->pause_every) {
        r->since_pause = 0;
        r->reader_paused = 1;
        cio_transport_pause_reading(t);
    }
}

static int p_eof(cio_transport *t, void *ud)
{
    (void)t;
    struct prec *r = ud;
    if (!r->made || r->lost || r->eofs)
        r->bad_order = 1;
    r->eofs++;
    return 1; /* ignored by pipes: connection_lost follows anyway */
}

static void p_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct prec *r = ud;
    if (!r->made || r->lost)
        r->bad_order = 1;
    r->lost++;
    r->lost_err = err;
}

static void p_pause(cio_transport *t, void *ud)
{
    (void)t;
    struct prec *r = ud;
    if (r->pauses != r->resumes)
        r->bad_order = 1;
    r->pauses++;
}

static void p_resume(cio_transport *t, void *ud)
{
    (void)t;
    struct prec *r = ud;
    if (r->pauses != r->resumes + 1)
        r->bad_order = 1;
    r->resumes++;
}

static const cio_protocol pproto = {
    .connection_made = p_made, .data_received = p_data, .eof_received = p_eof,
    .connection_lost = p_lost, .pause_writing = p_pause, .resume_writing = p_resume,
};

static int wait_int(const int *v, int want)
{
    int n = (int)(5000 * test_timeout_multiplier());
    for (int i = 0; i < n && *v < want; i++)
        if (cio_sleep(0.001) == -ECANCELED)
            break; /* (-ENOMEM under the allocation sweep: go on) */
    return *v >= want;
}

static int wait_size(const size_t *v, size_t want)
{
    int n = (int)(10000 * test_timeout_multiplier());
    for (int i = 0; i < n && *v < want; i++)
        if (cio_sleep(0.001) == -ECANCELED)
            break; /* (-ENOMEM under the allocation sweep: go on) */
    return *v >= want;
}

/* ---- a big transfer with flow control ------------------------------------------------ */

#define BIG (16u << 20)

static int big_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec rd = {.pause_every = 1 << 20}, wr = {0};
    cio_transport *tr, *tw;
    CHECK_RC(cio_connect_read_pipe(&pproto, &rd, fds[0], &tr), 0);
    CHECK_RC(cio_connect_write_pipe(&pproto, &wr, fds[1], &tw), 0);
    CHECK_EQ(rd.made + wr.made, 2);
    CHECK_EQ(cio_transport_can_write_eof(tw), 1);
    CHECK_EQ(cio_transport_can_write_eof(tr), 0);
    CHECK_RC(cio_transport_write(tr, "x", 1), -ENOTSUP);
    unsigned char *chunk = malloc(100000);
    size_t sent = 0;
    while (sent < BIG) {
        if (wr.pauses > wr.resumes) {
            /* Paused: the reader must be running for the buffer to drain. */
            if (rd.reader_paused) {
                rd.reader_paused = 0;
                cio_transport_resume_reading(tr);
            }
            CHECK(cio_transport_get_write_buffer_size(tw) > 0);
            cio_sleep(0.0005);
            continue;
        }
        size_t n = BIG - sent < 100000 ? BIG - sent : 100000;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(sent + i);
        /* Two pieces through writelines, so both paths are used. */
        struct iovec iov[2] = {{chunk, n / 3}, {chunk + n / 3, n - n / 3}};
        CHECK_RC(cio_transport_writelines(tw, iov, 2), 0);
        sent += n;
        if (rd.reader_paused && (sent / 100000) % 5 == 0) {
            rd.reader_paused = 0;
            cio_transport_resume_reading(tr);
        }
    }
    free(chunk);
    CHECK(wr.pauses > 0);
    CHECK_EQ(wr.pauses, wr.resumes + (wr.pauses > wr.resumes));
    /* write_eof closes the pipe once the buffer is out. */
    CHECK_RC(cio_transport_write_eof(tw), 0);
    CHECK_EQ(cio_transport_is_closing(tw), 1);
    CHECK_RC(cio_transport_write(tw, "x", 1), CIO_ECLOSED);
    for (int i = 0; i < 20000 && !rd.lost; i++) {
        if (rd.reader_paused) {
            rd.reader_paused = 0;
            cio_transport_resume_reading(tr);
        }
        cio_sleep(0.0005);
    }
    CHECK_EQ(rd.got, (size_t)BIG);
    CHECK_EQ(rd.bad_bytes, 0);
    CHECK_EQ(rd.eofs, 1);
    CHECK_EQ(rd.lost, 1);
    CHECK_EQ(rd.lost_err, 0);
    CHECK(wait_int(&wr.lost, 1));
    CHECK_EQ(wr.lost_err, 0);
    CHECK_EQ(wr.pauses, wr.resumes);
    CHECK(!rd.bad_order && !wr.bad_order);
    CHECK_EQ(cio_transport_fd(tr), CIO_ECLOSED);
    cio_transport_unref(tr);
    cio_transport_unref(tw);
    return 0;
}

static void test_big_transfer(void) { CHECK_RC(cio_run(big_main, NULL, NULL), 0); }

/* ---- the reader goes away ---------------------------------------------------------------- */

static int epipe_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* 1. Writing after the reader closed: -EPIPE, and the process lives. */
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec wr = {0};
    cio_transport *tw;
    CHECK_RC(cio_connect_write_pipe(&pproto, &wr, fds[1], &tw), 0);
    CHECK_RC(cio_transport_write(tw, "before", 6), 0);
    close(fds[0]);
    int rc = cio_transport_write(tw, "after", 5);
    /* Either the write met EPIPE itself or the watch saw the reader go. */
    CHECK(rc == -EPIPE || rc == CIO_ECLOSED || rc == 0);
    CHECK(wait_int(&wr.lost, 1));
    CHECK(wr.lost_err == -EPIPE || wr.lost_err == 0);
    CHECK_RC(cio_transport_write(tw, "x", 1), wr.lost_err ? wr.lost_err : CIO_ECLOSED);
    cio_transport_unref(tw);

    /* 2. The same with bytes queued (the pipe full): -EPIPE. */
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec w2 = {0};
    CHECK_RC(cio_connect_write_pipe(&pproto, &w2, fds[1], &tw), 0);
    char *blob = calloc(1, 1 << 20);
    CHECK_RC(cio_transport_write(tw, blob, 1 << 20), 0);
    free(blob);
    CHECK(cio_transport_get_write_buffer_size(tw) > 0);
    close(fds[0]);
    CHECK(wait_int(&w2.lost, 1));
    CHECK_RC(w2.lost_err, -EPIPE);
    CHECK_EQ(cio_transport_get_write_buffer_size(tw), 0);
    cio_transport_unref(tw);

    /* 3. A direct write that meets EPIPE returns it. */
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec w3 = {0};
    CHECK_RC(cio_connect_write_pipe(&pproto, &w3, fds[1], &tw), 0);
    close(fds[0]);
    rc = cio_transport_write(tw, "x", 1); /* before the watch ran */
    CHECK_RC(rc, -EPIPE);
    CHECK(wait_int(&w3.lost, 1));
    CHECK_RC(w3.lost_err, -EPIPE);
    CHECK(!wr.bad_order && !w2.bad_order && !w3.bad_order);
    cio_transport_unref(tw);
    return 0;
}

static void test_epipe_no_sigpipe(void)
{
    /* The default disposition: a SIGPIPE would kill the test. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigaction(SIGPIPE, &dfl, &old);
    CHECK_RC(cio_run(epipe_main, NULL, NULL), 0);
    sigaction(SIGPIPE, &old, NULL);
}

/* The reader leaves while nothing is written: asyncio's write pipe sees it
 * (connection_lost(0)) without a write. */
static int reader_gone_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec wr = {0};
    cio_transport *tw;
    CHECK_RC(cio_connect_write_pipe(&pproto, &wr, fds[1], &tw), 0);
    cio_sleep(0.01);
    CHECK_EQ(wr.lost, 0);
    close(fds[0]);
    CHECK(wait_int(&wr.lost, 1));
    CHECK_EQ(wr.lost_err, 0);
    cio_transport_unref(tw);

    /* Over a socket (asyncio allows them): the peer closing ends it too. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    struct prec ws = {0};
    CHECK_RC(cio_connect_write_pipe(&pproto, &ws, sv[0], &tw), 0);
    CHECK_RC(cio_transport_write(tw, "hello", 5), 0);
    char buf[8];
    CHECK_EQ(read(sv[1], buf, sizeof buf), 5);
    close(sv[1]);
    CHECK(wait_int(&ws.lost, 1));
    CHECK(!wr.bad_order && !ws.bad_order);
    cio_transport_unref(tw);
    return 0;
}

static void test_reader_gone(void) { CHECK_RC(cio_run(reader_gone_main, NULL, NULL), 0); }

/* ---- closing -------------------------------------------------------------------------------- */

static int close_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* close flushes what is queued, then connection_lost(0). */
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec wr = {0}, rd = {0};
    cio_transport *tw, *tr;
    CHECK_RC(cio_connect_write_pipe(&pproto, &wr, fds[1], &tw), 0);
    size_t n = 1 << 20;
    unsigned char *blob = malloc(n);
    for (size_t i = 0; i < n; i++)
        blob[i] = pattern(i);
    CHECK_RC(cio_transport_write(tw, blob, n), 0);
    free(blob);
    CHECK(cio_transport_get_write_buffer_size(tw) > 0);
    CHECK_EQ(wr.pauses, 1);
    cio_transport_close(tw);
    cio_transport_close(tw); /* twice: nothing more */
    cio_sleep(0.01);
    CHECK_EQ(wr.lost, 0); /* still flushing: nobody reads */
    CHECK_RC(cio_connect_read_pipe(&pproto, &rd, fds[0], &tr), 0);
    CHECK(wait_int(&rd.lost, 1));
    CHECK_EQ(rd.got, n);
    CHECK_EQ(rd.bad_bytes, 0);
    CHECK_EQ(rd.eofs, 1);
    CHECK(wait_int(&wr.lost, 1));
    CHECK_EQ(wr.lost_err, 0);
    CHECK_EQ(wr.resumes, 1);
    cio_transport_unref(tw);
    cio_transport_unref(tr);

    /* abort drops it: the reader sees less than was written. */
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec w2 = {0}, r2 = {0};
    CHECK_RC(cio_connect_write_pipe(&pproto, &w2, fds[1], &tw), 0);
    blob = malloc(n);
    for (size_t i = 0; i < n; i++)
        blob[i] = pattern(i);
    CHECK_RC(cio_transport_write(tw, blob, n), 0);
    free(blob);
    cio_transport_abort(tw);
    CHECK_EQ(cio_transport_get_write_buffer_size(tw), 0);
    CHECK(wait_int(&w2.lost, 1));
    CHECK_EQ(w2.lost_err, 0);
    CHECK_RC(cio_connect_read_pipe(&pproto, &r2, fds[0], &tr), 0);
    CHECK(wait_int(&r2.lost, 1));
    CHECK(r2.got < n);
    CHECK_EQ(r2.bad_bytes, 0);
    cio_transport_unref(tw);
    cio_transport_unref(tr);

    /* Closing a read pipe: connection_lost(0) soon, no EOF callback. */
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec r3 = {0};
    CHECK_RC(cio_connect_read_pipe(&pproto, &r3, fds[0], &tr), 0);
    CHECK_EQ(cio_transport_is_reading(tr), 1);
    cio_transport_close(tr);
    CHECK_EQ(r3.lost, 0);
    CHECK(wait_int(&r3.lost, 1));
    CHECK_EQ(r3.eofs, 0);
    CHECK_EQ(r3.lost_err, 0);
    close(fds[1]);
    CHECK(!wr.bad_order && !rd.bad_order && !w2.bad_order && !r2.bad_order && !r3.bad_order);
    cio_transport_unref(tr);
    return 0;
}

static void test_close_abort(void) { CHECK_RC(cio_run(close_main, NULL, NULL), 0); }

/* Pausing a read pipe: nothing arrives until it resumes. */
static int pause_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec rd = {0};
    cio_transport *tr;
    CHECK_RC(cio_connect_read_pipe(&pproto, &rd, fds[0], &tr), 0);
    unsigned char b[100];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = pattern(i);
    CHECK_EQ(write(fds[1], b, 50), 50);
    CHECK(wait_size(&rd.got, 50));
    cio_transport_pause_reading(tr);
    CHECK_EQ(cio_transport_is_reading(tr), 0);
    CHECK_EQ(write(fds[1], b + 50, 50), 50);
    cio_sleep(0.02);
    CHECK_EQ(rd.got, 50);
    cio_transport_resume_reading(tr);
    CHECK(wait_size(&rd.got, 100));
    CHECK_EQ(rd.bad_bytes, 0);
    close(fds[1]);
    CHECK(wait_int(&rd.lost, 1));
    CHECK_EQ(rd.eofs, 1);
    cio_transport_unref(tr);
    return 0;
}

static void test_pause_reading(void) { CHECK_RC(cio_run(pause_main, NULL, NULL), 0); }

/* ---- arguments ---------------------------------------------------------------------------------- */

static int args_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct prec r = {0};
    cio_transport *t;
    CHECK_RC(cio_connect_read_pipe(NULL, &r, 0, &t), -EINVAL);
    CHECK_RC(cio_connect_read_pipe(&pproto, &r, -1, &t), -EINVAL);
    CHECK_RC(cio_connect_write_pipe(&pproto, &r, 0, NULL), -EINVAL);
    /* A regular file is no pipe; the descriptor stays the caller's. */
    FILE *f = tmpfile();
    int fd = fileno(f);
    int fl = fcntl(fd, F_GETFL);
    CHECK_RC(cio_connect_read_pipe(&pproto, &r, fd, &t), -EINVAL);
    CHECK_EQ(fcntl(fd, F_GETFL), fl);
    fclose(f);
    CHECK_EQ(r.made, 0);
    /* A closed descriptor. */
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    close(fds[0]);
    close(fds[1]);
    CHECK_RC(cio_connect_write_pipe(&pproto, &r, fds[1], &t), -EBADF);
    /* A terminal (a pty) is readable when input comes: that does not end
     * a write pipe over it (asyncio watches only FIFOs and sockets). */
    int mfd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (mfd >= 0 && grantpt(mfd) == 0 && unlockpt(mfd) == 0) {
        int sfd = open(ptsname(mfd), O_RDWR | O_NOCTTY | O_CLOEXEC);
        CHECK(sfd >= 0);
        struct prec tw = {0};
        CHECK_RC(cio_connect_write_pipe(&pproto, &tw, sfd, &t), 0);
        CHECK_EQ(write(mfd, "typed\n", 6), 6); /* the slave is readable now */
        CHECK_RC(cio_transport_write(t, "shown", 5), 0);
        cio_sleep(0.02);
        CHECK_EQ(tw.lost, 0);
        cio_transport_close(t);
        CHECK(wait_int(&tw.lost, 1));
        CHECK_EQ(tw.lost_err, 0);
        cio_transport_unref(t);
    }
    if (mfd >= 0)
        close(mfd);
    /* /dev/null is a character device epoll cannot watch: writes work. */
    int dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct prec w = {0};
    CHECK_RC(cio_connect_write_pipe(&pproto, &w, dn, &t), 0);
    CHECK_RC(cio_transport_write(t, "into the void", 13), 0);
    cio_transport_close(t);
    CHECK(wait_int(&w.lost, 1));
    CHECK_EQ(w.lost_err, 0);
    cio_transport_unref(t);
    return 0;
}

static void test_args(void)
{
    CHECK_RC(cio_run(args_main, NULL, NULL), 0);
    cio_transport *t;
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    CHECK_RC(cio_connect_read_pipe(&pproto, NULL, fds[0], &t), CIO_ENOLOOP);
    close(fds[0]);
    close(fds[1]);
}

/* ---- allocation failures ---------------------------------------------------------------------------------- */

static int sweep_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    struct prec rd = {0}, wr = {0};
    cio_transport *tr = NULL, *tw = NULL;
    int rc = cio_connect_read_pipe(&pproto, &rd, fds[0], &tr);
    if (rc < 0) {
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    rc = cio_connect_write_pipe(&pproto, &wr, fds[1], &tw);
    if (rc < 0) {
        close(fds[1]);
        cio_transport_close(tr);
        wait_int(&rd.lost, 1);
        cio_transport_unref(tr);
        return rc;
    }
    size_t n = 200000;
    unsigned char *blob = malloc(n);
    for (size_t i = 0; i < n; i++)
        blob[i] = pattern(i);
    rc = cio_transport_write(tw, blob, n);
    free(blob);
    cio_transport_close(tw);
    CHECK(wait_int(&rd.lost, 1));
    if (!wr.lost)
        cio_transport_abort(tw);
    CHECK(wait_int(&wr.lost, 1));
    if (rc == 0 && rd.got != n)
        rc = rd.lost_err ? rd.lost_err : wr.lost_err ? wr.lost_err : -ENOMEM;
    CHECK_EQ(rd.bad_bytes, 0);
    CHECK(!rd.bad_order && !wr.bad_order);
    cio_transport_unref(tr);
    cio_transport_unref(tw);
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
    RUN(test_big_transfer);
    RUN(test_epipe_no_sigpipe);
    RUN(test_reader_gone);
    RUN(test_close_abort);
    RUN(test_pause_reading);
    RUN(test_args);
    RUN(test_alloc_failures);
    return test_finish();
}
