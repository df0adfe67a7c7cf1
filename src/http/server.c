/*
 * server.c - the HTTP server object: options and their defaults, the
 * listener (a transport server whose protocol factory makes
 * connections, server_conn.c), the sweep timer that enforces every
 * connection timeout, graceful shutdown and freeing.
 *
 * Timeouts are checked by one periodic timer per server rather than a
 * timer per connection: arming and disarming a heap timer on every state
 * change of every connection costs more than walking the list a few
 * times a second, and the precision needed (a tenth of the shortest
 * timeout) is coarse.
 */
#include <math.h>
#include <string.h>

#include "server.h"

void cio_http_server_options_init(cio_http_server_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->max_target = CIO__HTTP_DEFAULT_MAX_TARGET;
    o->max_head = CIO__HTTP_DEFAULT_MAX_HEAD;
    o->max_headers = CIO__HTTP_DEFAULT_MAX_HEADERS;
    o->max_body = CIO__HTTP_DEFAULT_MAX_BODY;
    o->header_timeout = 10;
    o->body_timeout = 30;
    o->idle_timeout = 60;
    o->write_timeout = 30;
    o->gzip_min = 1024;
}

/* Zero fields take their defaults. */
static void fill_defaults(cio_http_server_options *o)
{
    cio_http_server_options d;
    cio_http_server_options_init(&d);
#define DEF(f) \
    if (!o->f) \
        o->f = d.f;
    DEF(max_target)
    DEF(max_head)
    DEF(max_headers)
    DEF(max_body)
    DEF(header_timeout)
    DEF(body_timeout)
    DEF(idle_timeout)
    DEF(write_timeout)
    DEF(gzip_min)
#undef DEF
    if (!o->server_name)
        o->server_name = "cio";
}

static double min_timeout(const cio_http_server_options *o)
{
    double m = INFINITY;
    const double t[] = {o->header_timeout, o->body_timeout, o->idle_timeout, o->write_timeout};
    for (size_t i = 0; i < CIO_ARRAY_LEN(t); i++)
        if (t[i] > 0 && t[i] < m)
            m = t[i];
    return m;
}

int cio_http_server_new(const cio_http_server_options *opts, cio_http_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    cio_loop *loop = cio_get_running_loop();
    if (!loop)
        return CIO_ENOLOOP;
    cio_http_server *srv = cio__calloc(1, sizeof *srv);
    if (!srv)
        return -ENOMEM;
    if (opts)
        srv->opts = *opts;
    fill_defaults(&srv->opts);
    if (isnan(srv->opts.header_timeout) || isnan(srv->opts.body_timeout) ||
        isnan(srv->opts.idle_timeout) || isnan(srv->opts.write_timeout)) {
        cio__free(srv);
        return -EINVAL;
    }
    cio__http_limits_init(&srv->lim);
    srv->lim.max_target = srv->opts.max_target;
    srv->lim.max_head = srv->opts.max_head;
    srv->lim.max_headers = srv->opts.max_headers;
    srv->lim.max_body = srv->opts.max_body;
    if (srv->lim.max_head > (1u << 30)) {
        cio__free(srv);
        return -EINVAL;
    }
    srv->loop = loop;
    srv->name_len = srv->opts.server_name ? strlen(srv->opts.server_name) : 0;
    double m = min_timeout(&srv->opts);
    srv->sweep_every = isinf(m) ? 1.0 : m / 10 < 0.02 ? 0.02 : m / 10 > 1 ? 1 : m / 10;
    *out = srv;
    return 0;
}

static void sweep(void *arg)
{
    cio_http_server *srv = arg;
    cio_handle_unref(srv->sweep);
    srv->sweep = NULL;
    double now = cio_loop_time(srv->loop);
    for (cio__http_conn *c = srv->conns, *next; c; c = next) {
        next = c->next; /* closing never unlinks now: connection_lost comes later */
        cio__http_conn_check(c, now);
    }
    if (srv->listener || srv->nconns)
        cio_call_later(srv->loop, srv->sweep_every, sweep, srv, &srv->sweep);
}

int cio_http_server_listen(cio_http_server *srv, const char *host, int port)
{
    if (!srv || port < 0 || port > 65535)
        return -EINVAL;
    if (srv->listener || srv->shutting_down)
        return -EBUSY;
    cio_server *l;
    int rc = cio_create_server(cio__http_conn_factory, srv, host, port, &srv->opts.transport,
                               &l);
    if (rc < 0)
        return rc;
    srv->listener = l;
    if (!srv->sweep)
        cio_call_later(srv->loop, srv->sweep_every, sweep, srv, &srv->sweep);
    return 0;
}

int cio_http_server_port(const cio_http_server *srv)
{
    if (!srv || !srv->listener)
        return -EINVAL;
    return cio_server_port(srv->listener);
}

size_t cio_http_server_connections(const cio_http_server *srv)
{
    return srv ? srv->nconns : 0;
}

int cio_http_server_serve_forever(cio_http_server *srv)
{
    if (!srv)
        return -EINVAL;
    if (!srv->stopped) {
        int rc = cio_future_new(srv->loop, &srv->stopped);
        if (rc < 0)
            return rc;
    }
    cio_future *f = srv->stopped;
    cio_future_ref(f);
    int rc = cio_await(f, NULL);
    cio_future_unref(f);
    return rc;
}

static void stop_listening(cio_http_server *srv)
{
    srv->shutting_down = 1;
    if (srv->listener) {
        cio_server_close(srv->listener);
        cio_server_free(srv->listener);
        srv->listener = NULL;
    }
}

static void abort_all(cio_http_server *srv)
{
    for (cio__http_conn *c = srv->conns; c; c = c->next)
        cio__http_conn_abort(c);
    cio__http_hooks_abort(srv);
}

void cio__http_server_check_closed(cio_http_server *srv)
{
    if (srv->nconns == 0 && srv->nhooks == 0 && srv->all_closed &&
        !cio_future_done(srv->all_closed))
        cio_future_set_result(srv->all_closed, NULL);
}

/* Waits until no connection (nor hooked upgraded one) is left, at most
 * timeout seconds in all (< 0 or INFINITY: no limit, 0: none).  0,
 * -ETIMEDOUT or -ECANCELED. */
static int wait_closed(cio_http_server *srv, double timeout)
{
    if (timeout < 0)
        timeout = INFINITY;
    double end = cio_loop_time(srv->loop) + timeout;
    while (srv->nconns || srv->nhooks) {
        double left = end - cio_loop_time(srv->loop);
        if (left < 0)
            left = 0;
        cio_future *f;
        int rc = cio_future_new(srv->loop, &f);
        if (rc < 0)
            return rc;
        srv->all_closed = f;
        rc = cio_wait_for(f, left, NULL);
        srv->all_closed = NULL;
        cio_future_unref(f);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cio_http_server_shutdown(cio_http_server *srv, double deadline)
{
    if (!srv || isnan(deadline))
        return -EINVAL;
    stop_listening(srv);
    for (cio__http_conn *c = srv->conns; c; c = c->next)
        cio__http_conn_close_idle(c);
    cio__http_hooks_notify(srv);
    int rc = wait_closed(srv, deadline); /* < 0: no limit, as cio_server_shutdown */
    if (rc < 0) {
        abort_all(srv);
        cio_shield_begin(); /* aborted connections end in one iteration */
        wait_closed(srv, 5);
        cio_shield_end();
        rc = rc == -ECANCELED ? rc : -ETIMEDOUT;
    }
    if (srv->sweep) {
        cio_handle_cancel(srv->sweep);
        cio_handle_unref(srv->sweep);
        srv->sweep = NULL;
    }
    if (srv->stopped && !cio_future_done(srv->stopped))
        cio_future_set_result(srv->stopped, NULL);
    return rc;
}

void cio_http_server_free(cio_http_server *srv)
{
    if (!srv)
        return;
    stop_listening(srv);
    abort_all(srv);
    if (srv->sweep) {
        cio_handle_cancel(srv->sweep);
        cio_handle_unref(srv->sweep);
        srv->sweep = NULL;
    }
    if (srv->stopped) {
        if (!cio_future_done(srv->stopped))
            cio_future_cancel(srv->stopped, "http server freed");
        cio_future_unref(srv->stopped);
        srv->stopped = NULL;
    }
    /* Handlers being cancelled still read their routes (parameter names
     * point into patterns): the last connection to go frees the rest. */
    srv->freed = 1;
    cio__http_server_maybe_free(srv);
}

void cio__http_server_maybe_free(cio_http_server *srv)
{
    if (!srv->freed || srv->nlive)
        return;
    for (size_t i = 0; i < srv->nroutes; i++) {
        cio__free(srv->routes[i].method);
        cio__free(srv->routes[i].pattern);
    }
    cio__free(srv->routes);
    cio__free(srv);
}
