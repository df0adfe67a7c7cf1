/*
 * pool.c - the client's connection pools: one origin (scheme, host, port)
 * each, with a semaphore of max_per_host slots (a busy connection, or a
 * request opening one, holds a slot), and a list of idle keep-alive
 * connections, most recently used first so the warmest is reused and the
 * coldest expire.
 *
 * Why the limit counts busy connections only: a request takes an idle
 * connection when there is one and opens a new one only when none is
 * idle, so busy plus idle never exceeds max_per_host either.
 *
 * Idle timeout: one timer per client (not one per connection) sweeps the
 * expired connections, rescheduled while any stays idle; a connection is
 * also checked when taken, so a late sweep never hands out a stale one.
 */
#include <math.h>

#include "client.h"

/* ---- origins ----------------------------------------------------------- */

int cio__hc_origin_get(cio_http_client *c, const cio__url *u, cio__hc_origin **out)
{
    for (cio__hc_origin *o = c->origins; o; o = o->next) {
        if (strcmp(o->key, u->origin) == 0) {
            *out = o;
            return 0;
        }
    }
    cio__hc_origin *o = cio__calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->client = c;
    o->key = cio__strdup(u->origin);
    o->host = cio__strdup(u->host);
    o->port = u->port;
    o->tls = u->tls;
    int rc = o->key && o->host ? cio_semaphore_new(c->loop, (size_t)c->max_per_host, &o->slots)
                               : -ENOMEM;
    if (rc < 0) {
        cio__free(o->key);
        cio__free(o->host);
        cio__free(o);
        return rc;
    }
    o->next = c->origins;
    c->origins = o;
    *out = o;
    return 0;
}

/* ---- idle list ------------------------------------------------------------- */

void cio__hc_pool_unlink(cio__hc_conn *k)
{
    cio__hc_origin *o = k->origin;
    if (!k->idle || !o)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        o->idle = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->next = k->prev = NULL;
    k->idle = 0;
    o->nidle--;
    o->client->nidle--;
}

static void sweep(void *arg);

/* Makes sure the sweep timer runs while connections are idle. */
static void arm_sweep(cio_http_client *c)
{
    if (c->sweep || c->nidle == 0 || c->idle_timeout < 0)
        return;
    double delay = c->idle_timeout / 2 > 0.05 ? c->idle_timeout / 2 : 0.05;
    if (cio_call_later(c->loop, delay, sweep, c, &c->sweep) < 0)
        c->sweep = NULL; /* no timer: connections are still checked when taken */
}

static int expired(const cio_http_client *c, const cio__hc_conn *k, double now)
{
    return now - k->idle_since >= c->idle_timeout;
}

static void sweep(void *arg)
{
    cio_http_client *c = arg;
    cio_handle_unref(c->sweep);
    c->sweep = NULL;
    double now = cio_loop_time(c->loop);
    for (cio__hc_origin *o = c->origins; o; o = o->next) {
        cio__hc_conn *k = o->idle, *next;
        for (; k; k = next) {
            next = k->next;
            if (expired(c, k, now)) {
                cio__hc_pool_unlink(k);
                cio__hc_conn_discard(k);
            }
        }
    }
    arm_sweep(c);
}

/* ---- acquire and release ---------------------------------------------------- */

int cio__hc_pool_acquire(cio__hc_origin *o, double deadline, cio__hc_conn **out)
{
    cio_http_client *c = o->client;
    *out = NULL;
    cio_timeout *tm = NULL;
    int rc = 0;
    if (isfinite(deadline) && (rc = cio_timeout_at_begin(deadline, &tm)) < 0)
        return rc;
    rc = cio_semaphore_acquire(o->slots);
    if (tm) {
        int trc = cio_timeout_end(tm);
        if (trc < 0 && rc == 0) {
            cio_semaphore_release(o->slots);
            rc = trc;
        }
    }
    if (rc < 0)
        return rc;
    double now = cio_loop_time(c->loop);
    while (o->idle) {
        cio__hc_conn *k = o->idle;
        cio__hc_pool_unlink(k);
        if (k->lost || k->eof || k->len != k->start || expired(c, k, now)) {
            cio__hc_conn_discard(k);
            continue;
        }
        *out = k;
        break;
    }
    return 0;
}

void cio__hc_pool_give_slot(cio__hc_origin *o)
{
    if (o)
        cio_semaphore_release(o->slots);
}

void cio__hc_pool_release(cio__hc_conn *k, int clean)
{
    cio__hc_origin *o = k->origin;
    if (!o) {
        cio__hc_conn_discard(k);
        return;
    }
    cio_http_client *c = o->client;
    cio__hc_pool_give_slot(o);
    if (!clean || c->closing || c->idle_timeout < 0 || k->lost || k->eof ||
        k->len != k->start || o->nidle >= (size_t)c->max_per_host) {
        cio__hc_conn_discard(k);
        return;
    }
    if (k->rpaused) {
        k->rpaused = 0;
        cio_transport_resume_reading(k->t);
    }
    k->used = 1;
    k->idle = 1;
    k->idle_since = cio_loop_time(c->loop);
    k->next = o->idle;
    k->prev = NULL;
    if (o->idle)
        o->idle->prev = k;
    o->idle = k;
    o->nidle++;
    c->nidle++;
    arm_sweep(c);
}

/* ---- closing -------------------------------------------------------------- */

void cio__hc_pool_close_all(cio_http_client *c)
{
    if (c->sweep) {
        cio_handle_cancel(c->sweep);
        cio_handle_unref(c->sweep);
        c->sweep = NULL;
    }
    /* Busy connections are held by replies, which close them on release:
     * detach them.  Idle ones are aborted, and they and the ones being
     * closed stay counted until their connection_lost, which the client's
     * close waits for (so none is left behind when the loop ends). */
    cio__hc_conn *k = c->conns, *next;
    for (; k; k = next) {
        next = k->anext;
        if (!k->idle && !k->discarded)
            cio__hc_conn_detach(k);
    }
    for (cio__hc_origin *o = c->origins; o; o = o->next) {
        while (o->idle) {
            k = o->idle;
            cio__hc_pool_unlink(k);
            cio__hc_conn_discard(k);
        }
    }
}

void cio__hc_pool_free(cio_http_client *c)
{
    cio__hc_origin *o = c->origins, *next;
    for (; o; o = next) {
        next = o->next;
        cio_semaphore_free(o->slots);
        cio__free(o->key);
        cio__free(o->host);
        cio__free(o);
    }
    c->origins = NULL;
}
