/*
 * test_transport_close.c - how a socket transport's connection ends, on
 * real loopback sockets: half-close (write_eof, eof_received keeping the
 * transport open), abort, close flushing its buffer first, and a peer
 * that resets the connection.
 */
#include "transport_util.h"

#define BIG (4 << 20) /* more than the socket buffers take at once */

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

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_half_close);
    RUN(test_abort);
    RUN(test_close_flushes);
    RUN(test_reset);
    return test_finish();
}
