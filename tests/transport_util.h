/*
 * transport_util.h - what the transport tests share: a protocol that
 * records every callback (and checks their order), a server factory
 * handing out recording protocols, waits in a task, and a connected pair
 * of transports (our server's and a client's).
 */
#ifndef CIO_TEST_TRANSPORT_UTIL_H
#define CIO_TEST_TRANSPORT_UTIL_H

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

static inline void r_made(cio_transport *t, void *ud)
{
    struct rec *r = ud;
    if (r->made || r->lost)
        r->bad_order = 1;
    r->made++;
    r->t = t;
    if (r->pause_at_made)
        cio_transport_pause_reading(t);
}

static inline void r_bytes(struct rec *r, const void *data, size_t len)
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

static inline void r_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)t;
    r_bytes(ud, data, len);
}

static inline int r_eof(cio_transport *t, void *ud)
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

static inline void r_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (!r->made || r->lost || r->in_call)
        r->bad_order = 1;
    r->lost++;
    r->lost_err = err;
}

static inline void r_pause(cio_transport *t, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (r->pauses != r->resumes)
        r->bad_order = 1;
    r->pauses++;
}

static inline void r_resume(cio_transport *t, void *ud)
{
    (void)t;
    struct rec *r = ud;
    if (r->pauses != r->resumes + 1)
        r->bad_order = 1;
    r->resumes++;
}

static inline void *r_get_buffer(cio_transport *t, size_t hint, size_t *len, void *ud)
{
    (void)t;
    (void)hint;
    struct rec *r = ud;
    *len = sizeof r->gbuf;
    return r->gbuf;
}

static inline void r_updated(cio_transport *t, size_t n, void *ud)
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

static inline int factory(void *arg, const cio_protocol **proto, void **ud)
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

static inline struct pool *pool_new(int cap)
{
    struct pool *p = calloc(1, sizeof *p);
    p->recs = calloc((size_t)cap, sizeof *p->recs);
    p->cap = cap;
    return p;
}

static inline void pool_free(struct pool *p)
{
    free(p->recs);
    free(p);
}

/* Polls *flag (an int) until it reaches want or about 5 s pass. */
static inline int wait_int(const int *flag, int want)
{
    for (int i = 0; i < 5000 && *flag < want; i++)
        if (cio_sleep(0.001) < 0)
            break;
    return *flag >= want;
}

static inline int wait_size(const size_t *v, size_t want)
{
    for (int i = 0; i < 5000 && *v < want; i++)
        if (cio_sleep(0.001) < 0)
            break;
    return *v >= want;
}

static inline struct rec *rec_new(void) { return calloc(1, sizeof(struct rec)); }

/* ---- a connected pair: our server's transport and a client transport -------- */

struct pair {
    struct pool *p;            /* server side: p->recs[0] once accepted */
    cio_server *srv;
    struct rec *c;             /* client side */
    cio_transport *t;          /* client transport (our reference) */
    struct rec *s;             /* server side rec */
};

static inline void pair_open(struct pair *pr, const struct rec *srv_tmpl, const cio_protocol *cproto,
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
static inline void pair_close(struct pair *pr)
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
    cio_transport_unref(pr->t);
    cio_server_free(pr->srv);
    free(pr->c);
    pool_free(pr->p);
}

#endif
