/*
 * upgrade.c - cio_http_request_upgrade: the "101 Switching Protocols"
 * answer and the hand-over of the connection's transport to another
 * protocol (WebSocket's opening handshake ends here).
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
    cio_transport_set_protocol(t, proto, ud);
    *out = cio_transport_ref(t);
    size_t extra = cio__http_conn_detach(c);
    return extra > INT32_MAX ? INT32_MAX : (int)extra;
}
