/*
 * upgrade.c - cio_http_request_upgrade: the "101 Switching Protocols"
 * answer and the hand-over of the connection's transport to another
 * protocol (WebSocket's opening handshake ends here); and the shutdown
 * hooks that keep such a connection in the server's graceful shutdown.
 *
 * A hook holds a reference on the (detached) connection struct, which
 * keeps its transport reference, its handler task pointer and the
 * server's struct (nlive) valid until the protocol frees the hook.
 */
#include <string.h>

#include "server.h"

int cio_http_request_upgrade(cio_http_request *req, const char *protocol,
                             const cio_protocol *proto, void *ud, cio_transport **out)
{
    if (!req || !protocol || !*protocol || !proto || !out || strpbrk(protocol, "\r\n"))
        return -EINVAL;
    cio__http_conn *c = req->conn;
    if (!req->in_task || req->streaming_body)
        return -EINVAL;
    if (req->resp != CIO__RESP_NONE)
        return CIO_EINVALSTATE;
    if (c->lost || c->state == CIO__CONN_CLOSING || c->srv->shutting_down)
        return CIO_ECLOSED;
    cio__http_buf *o = &c->out;
    size_t before = o->len;
    const char *name = c->srv->opts.server_name;
    int rc = 0;
    rc |= cio__http_buf_adds(o, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ");
    rc |= cio__http_buf_adds(o, protocol);
    rc |= cio__http_buf_adds(o, "\r\nConnection: Upgrade\r\nDate: ");
    rc |= cio__http_buf_add(o, cio__http_date(), 29);
    rc |= cio__http_buf_add(o, "\r\n", 2);
    if (name && *name) {
        rc |= cio__http_buf_adds(o, "Server: ");
        rc |= cio__http_buf_adds(o, name);
        rc |= cio__http_buf_add(o, "\r\n", 2);
    }
    if (req->rh.len)
        rc |= cio__http_buf_add(o, req->rh.data, req->rh.len);
    rc |= cio__http_buf_add(o, "\r\n", 2);
    if (rc < 0) {
        o->len = before;
        return -ENOMEM;
    }
    req->status = 101;
    req->resp = CIO__RESP_DONE;
    rc = cio__http_flush(c);
    if (rc < 0)
        return rc == -ENOMEM ? rc : CIO_ECLOSED;
    cio_transport *t = c->t;
    if (!c->paused) { /* a watched route (CIO_HTTP_WATCH_CLOSE) still reads */
        c->paused = 1;
        cio_transport_pause_reading(t);
    }
    cio_transport_set_protocol(t, proto, ud);
    *out = cio_transport_ref(t);
    size_t extra = cio__http_conn_detach(c);
    return extra > INT32_MAX ? INT32_MAX : (int)extra;
}

/* ---- shutdown hooks ----------------------------------------------------------- */

struct cio_http_shutdown_hook {
    cio__http_conn *c;               /* the upgraded connection (a reference) */
    cio_http_shutdown_fn *fn;        /* called when shutdown begins */
    void *ud;                        /* its argument */
    int notified;                    /* fn has run */
    cio_http_shutdown_hook *prev, *next; /* the server's list */
};

int cio_http_request_on_shutdown(cio_http_request *req, cio_http_shutdown_fn *fn, void *ud,
                                 cio_http_shutdown_hook **out)
{
    if (!req || !fn || !out || !req->conn || !req->conn->upgraded)
        return -EINVAL;
    cio__http_conn *c = req->conn;
    cio_http_server *srv = c->srv;
    if (srv->shutting_down)
        return CIO_ECLOSED;
    cio_http_shutdown_hook *h = cio__calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->c = c;
    h->fn = fn;
    h->ud = ud;
    cio__http_conn_ref(c);
    h->next = srv->hooks;
    if (srv->hooks)
        srv->hooks->prev = h;
    srv->hooks = h;
    srv->nhooks++;
    *out = h;
    return 0;
}

void cio_http_shutdown_hook_free(cio_http_shutdown_hook *h)
{
    if (!h)
        return;
    cio_http_server *srv = h->c->srv;
    if (srv->notify_next == h)
        srv->notify_next = h->next;
    if (h->prev)
        h->prev->next = h->next;
    else
        srv->hooks = h->next;
    if (h->next)
        h->next->prev = h->prev;
    srv->nhooks--;
    cio__http_server_check_closed(srv);
    cio__http_conn *c = h->c;
    cio__free(h);
    cio__http_conn_unref(c); /* may free srv (after cio_http_server_free) */
}

void cio__http_hooks_notify(cio_http_server *srv)
{
    /* fn may free hooks (its own or others): notify_next is moved on by
     * cio_http_shutdown_hook_free when the hook it names goes */
    for (cio_http_shutdown_hook *h = srv->hooks; h; h = srv->notify_next) {
        srv->notify_next = h->next;
        if (!h->notified) {
            h->notified = 1;
            h->fn(h->ud);
        }
    }
    srv->notify_next = NULL;
}

void cio__http_hooks_abort(cio_http_server *srv)
{
    for (cio_http_shutdown_hook *h = srv->hooks; h; h = srv->notify_next) {
        srv->notify_next = h->next; /* as above, should a hook go meanwhile */
        if (h->c->req.task)
            cio_task_cancel(h->c->req.task, "http: server shutdown");
        cio_transport_abort(h->c->t);
    }
    srv->notify_next = NULL;
}
