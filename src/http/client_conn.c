/*
 * client_conn.c - one client connection: the transport's buffered
 * protocol receiving straight into the connection's buffer, and the
 * requesting task's waits for bytes (with the read and total timeouts).
 *
 * The receive buffer.  The transport may have a read pending into the
 * region get_buffer handed out, so the task never moves or frees the
 * buffer: it only advances `start` past what it consumed.  Compaction and
 * growth happen in get_buffer, the one moment no read is pending; the
 * parser saves offsets only, so a head parsed across a compaction stays
 * valid.  The buffer is freed after connection_lost, when no read can be
 * pending any more.
 *
 * Waking.  Each callback that changes what a waiting task would see sets
 * the connection's event; the task clears it before checking, so no wake
 * is lost (nothing runs between the check and the wait).
 */
#include <math.h>

#include "client.h"

/* ---- protocol callbacks ------------------------------------------------ */

static void conn_free(cio__hc_conn *k)
{
    cio_event_free(k->ev);
    cio__free(k->buf);
    if (k->t)
        cio_transport_unref(k->t);
    cio__free(k);
}

static void *on_get_buffer(cio_transport *t, size_t sizehint, size_t *len, void *ud)
{
    (void)t;
    cio__hc_conn *k = ud;
    if (k->start == k->len) {
        k->start = k->len = 0; /* all read: start over at the front */
    } else if (k->start > 0 && k->cap - k->len < sizehint / 4) {
        memmove(k->buf, k->buf + k->start, k->len - k->start);
        k->len -= k->start;
        k->start = 0;
    }
    if (k->cap - k->len < 1024) {
        size_t cap = k->cap * 2;
        char *nb = cio__realloc(k->buf, cap);
        if (!nb)
            return NULL; /* the transport fails the connection: -ENOBUFS */
        k->buf = nb;
        k->cap = cap;
    }
    k->rd_off = k->len;
    *len = k->cap - k->len;
    return k->buf + k->len;
}

static void on_buffer_updated(cio_transport *t, size_t n, void *ud)
{
    cio__hc_conn *k = ud;
    k->len += n; /* == rd_off + n: only get_buffer and this move len */
    k->rx += n;
    if (k->idle) {
        /* Bytes nobody asked for: the connection is not clean. */
        cio__hc_pool_unlink(k);
        cio__hc_conn_discard(k);
        return;
    }
    if (k->len - k->start >= CIO__HC_HIGH_WATER && !k->rpaused) {
        k->rpaused = 1;
        cio_transport_pause_reading(t);
    }
    cio_event_set(k->ev);
}

static int on_eof(cio_transport *t, void *ud)
{
    (void)t;
    cio__hc_conn *k = ud;
    k->eof = 1;
    cio_event_set(k->ev);
    return 0; /* close: we never half-close */
}

static void on_lost(cio_transport *t, int error, void *ud)
{
    (void)t;
    cio__hc_conn *k = ud;
    k->lost = 1;
    k->err = error;
    if (k->discarded) {
        cio__hc_conn_detach(k); /* discarded: counted until now */
        conn_free(k);
        return;
    }
    if (k->idle) {
        cio__hc_pool_unlink(k);
        cio__hc_conn_detach(k);
        conn_free(k);
        return;
    }
    cio_event_set(k->ev); /* a busy connection: its task sees `lost` */
}

static void on_pause_writing(cio_transport *t, void *ud)
{
    (void)t;
    ((cio__hc_conn *)ud)->wpaused = 1;
}

static void on_resume_writing(cio_transport *t, void *ud)
{
    (void)t;
    cio__hc_conn *k = ud;
    k->wpaused = 0;
    cio_event_set(k->ev);
}

static const cio_protocol conn_proto = {
    .get_buffer = on_get_buffer,
    .buffer_updated = on_buffer_updated,
    .eof_received = on_eof,
    .connection_lost = on_lost,
    .pause_writing = on_pause_writing,
    .resume_writing = on_resume_writing,
};

/* ---- opening and closing --------------------------------------------------- */

/* Runs the current task's waits below under a deadline scope when one of
 * the bounds is finite; the scope's end decides the code. */
static double bound(double rel, double deadline, cio_loop *loop)
{
    double d = rel >= 0 ? cio_loop_time(loop) + rel : INFINITY;
    return d < deadline ? d : deadline;
}

int cio__hc_conn_open(cio__hc_origin *o, double deadline, cio__hc_conn **out)
{
    cio_http_client *c = o->client;
    cio__hc_conn *k = cio__calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->cap = CIO__HC_BUF_INIT;
    k->buf = cio__malloc(k->cap);
    int rc = k->buf ? cio_event_new(c->loop, &k->ev) : -ENOMEM;
    if (rc == 0)
        rc = cio__http_parser_init(&k->p, CIO__HTTP_RESPONSE, NULL, k->hdrs, CIO__HC_HEADERS);
    if (rc < 0) {
        conn_free(k);
        return rc;
    }
    k->p.lim.max_body = UINT64_MAX; /* the reply enforces max_body itself */
    cio_transport_options topts = {.read_size = CIO__HC_BUF_INIT};
    if (o->tls) {
        topts.tls = c->tls;             /* https: verified, name checked */
        topts.server_hostname = o->host;
    }
    double when = bound(c->connect_timeout, deadline, c->loop);
    cio_timeout *tm = NULL;
    if (isfinite(when) && (rc = cio_timeout_at_begin(when, &tm)) < 0) {
        conn_free(k);
        return rc;
    }
    rc = cio_create_connection(&conn_proto, k, o->host, o->port, &topts, &k->t);
    if (tm) {
        int trc = cio_timeout_end(tm);
        if (trc < 0 && rc == 0) {
            /* connected just as the deadline fired: keep the honest answer */
            rc = trc;
        }
    }
    if (rc < 0) {
        if (k->t) {
            cio__hc_conn_discard(k); /* connected: freed in connection_lost */
            return rc;
        }
        conn_free(k);
        return rc;
    }
    k->origin = o;
    k->anext = c->conns;
    if (c->conns)
        c->conns->aprev = k;
    c->conns = k;
    c->live++;
    *out = k;
    return 0;
}

void cio__hc_conn_detach(cio__hc_conn *k)
{
    cio__hc_origin *o = k->origin;
    if (!o)
        return;
    cio_http_client *c = o->client;
    if (k->aprev)
        k->aprev->anext = k->anext;
    else
        c->conns = k->anext;
    if (k->anext)
        k->anext->aprev = k->aprev;
    k->anext = k->aprev = NULL;
    k->origin = NULL;
    if (--c->live == 0 && c->drained)
        cio_event_set(c->drained);
}

void cio__hc_conn_discard(cio__hc_conn *k)
{
    if (k->lost) {
        cio__hc_conn_detach(k);
        conn_free(k);
        return;
    }
    /* Still counted by the client until connection_lost, so that its
     * close waits for the transport to be gone. */
    k->discarded = 1;
    cio_transport_abort(k->t);
}

/* ---- waiting ------------------------------------------------------------------- */

int cio__hc_conn_end_code(const cio__hc_conn *k)
{
    return k->lost && k->err < 0 ? k->err : CIO_EINCOMPLETE;
}

/* One wait on k's event under the bound; 0 or a negative code. */
static int wait_event(cio__hc_conn *k, double read_timeout, double deadline)
{
    cio_loop *loop = k->origin ? k->origin->client->loop : cio_get_running_loop();
    double when = bound(read_timeout, deadline, loop);
    if (!isfinite(when))
        return cio_event_wait(k->ev);
    cio_timeout *tm;
    int rc = cio_timeout_at_begin(when, &tm);
    if (rc < 0)
        return rc;
    rc = cio_event_wait(k->ev);
    int trc = cio_timeout_end(tm);
    return trc < 0 ? trc : rc;
}

int cio__hc_conn_wait(cio__hc_conn *k, double read_timeout, double deadline)
{
    size_t have = k->len - k->start;
    cio_event_clear(k->ev);
    if (k->len - k->start != have || k->eof || k->lost)
        return 0;
    if (k->rpaused) {
        k->rpaused = 0;
        cio_transport_resume_reading(k->t);
    }
    return wait_event(k, read_timeout, deadline);
}

int cio__hc_conn_drain(cio__hc_conn *k, double read_timeout, double deadline)
{
    while (k->wpaused && !k->lost) {
        cio_event_clear(k->ev);
        int rc = wait_event(k, read_timeout, deadline);
        if (rc < 0)
            return rc;
    }
    return k->lost ? cio__hc_conn_end_code(k) : 0;
}

void cio__hc_conn_consume(cio__hc_conn *k, size_t n)
{
    k->start += n;
    if (k->rpaused && k->len - k->start < CIO__HC_HIGH_WATER / 2) {
        k->rpaused = 0;
        cio_transport_resume_reading(k->t);
    }
}
