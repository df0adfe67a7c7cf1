/*
 * tls_transport_util.h - what the TLS transport tests share: a recording
 * protocol (callback counts and order, received bytes and a checksum,
 * optional echo, flow control and half-close behaviour), a factory handing
 * out recs, polling waits, and a cio TLS server of them.
 */
#ifndef CIO_TLS_TRANSPORT_UTIL_H
#define CIO_TLS_TRANSPORT_UTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tls_util.h"

/* ---- a recording protocol ------------------------------------------------------ */

struct rec {
    cio_transport *t;          /* the transport of the last callback */
    int made, lost, eofs;      /* callback counts */
    int lost_err;              /* connection_lost's error */
    int pauses, resumes;       /* pause_writing / resume_writing calls */
    int echo;                  /* echo what arrives */
    int keep_open;             /* eof_received's answer */
    int reply_on_eof;          /* on EOF write "bye" and close */
    int flow;                  /* echo: pause reading while writing is paused */
    int bad_order;             /* a callback came out of order */
    size_t got;                /* bytes received */
    unsigned long sum;         /* a checksum of them (position-weighted) */
    char data[4096];           /* the first of them */
    char lost_msg[256];        /* cio_transport_tls_error_message at the end */
};

static void r_made(cio_transport *t, void *ud)
{
    struct rec *r = ud;
    if (r->made || r->lost)
        r->bad_order = 1;
    r->made++;
    r->t = t;
    if (r->flow) {
        /* Small kernel buffers, so the test's megabytes back up. */
        int sz = 32768;
        setsockopt(cio_transport_fd(t), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(cio_transport_fd(t), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
}

static void r_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    struct rec *r = ud;
    r->t = t;
    if (!r->made || r->lost || r->eofs)
        r->bad_order = 1;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        r->sum += (unsigned long)p[i] * ((r->got + i) % 251 + 1);
    if (r->got < sizeof r->data) {
        size_t k = len < sizeof r->data - r->got ? len : sizeof r->data - r->got;
        memcpy(r->data + r->got, data, k);
    }
    r->got += len;
    if (r->echo) {
        /* The echo may need memory (on io_uring every write is queued):
         * a failure injected there ends the connection, as it would a
         * server's. */
        int wrc = cio_transport_write(t, data, len);
        if (wrc == -ENOMEM && test_alloc_injected())
            cio_transport_abort(t);
        else
            CHECK_RC(wrc, 0);
    }
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
    if (!r->made || r->lost)
        r->bad_order = 1;
    r->lost++;
    r->lost_err = err;
    snprintf(r->lost_msg, sizeof r->lost_msg, "%s", cio_transport_tls_error_message(t));
}

static void r_pause(cio_transport *t, void *ud)
{
    struct rec *r = ud;
    if (r->pauses != r->resumes)
        r->bad_order = 1;
    r->pauses++;
    if (r->flow)
        cio_transport_pause_reading(t);
}

static void r_resume(cio_transport *t, void *ud)
{
    struct rec *r = ud;
    if (r->pauses != r->resumes + 1)
        r->bad_order = 1;
    r->resumes++;
    if (r->flow)
        cio_transport_resume_reading(t);
}

static const cio_protocol rec_proto = {
    .connection_made = r_made, .data_received = r_data, .eof_received = r_eof,
    .connection_lost = r_lost, .pause_writing = r_pause, .resume_writing = r_resume,
};

/* The server side: recs handed out by the factory. */
struct pool {
    struct rec recs[8];
    int n;
    struct rec tmpl;           /* copied into each new rec */
};

static int factory(void *arg, const cio_protocol **proto, void **ud)
{
    struct pool *p = arg;
    if (p->n == 8)
        return -1;
    struct rec *r = &p->recs[p->n++];
    *r = p->tmpl;
    *proto = &rec_proto;
    *ud = r;
    return 0;
}

/* Polls *v until it reaches want or about 10 s pass. */
static int wait_int(const int *v, int want)
{
    for (int i = 0; i < 10000 && *v < want; i++)
        if (cio_sleep(0.001) < 0)
            break;
    return *v >= want;
}

static int wait_size(const size_t *v, size_t want)
{
    for (int i = 0; i < 10000 && *v < want; i++)
        if (cio_sleep(0.001) < 0)
            break;
    return *v >= want;
}

static cio_server *tls_server(struct pool *p, cio_tls_context *sctx, double hs_timeout)
{
    cio_transport_options o = {.tls = sctx, .tls_handshake_timeout = hs_timeout};
    cio_server *srv = NULL;
    CHECK_RC(cio_create_server(factory, p, "127.0.0.1", 0, &o, &srv), 0);
    return srv;
}

static void server_done(cio_server *srv)
{
    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
}

#endif
