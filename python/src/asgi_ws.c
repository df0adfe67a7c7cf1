/*
 * asgi_ws.c - cio._cio._AsgiWs: ASGI "websocket" scopes served by cio's
 * WebSocket server (include/cio/ws.h), the C half of cio/_asgi_ws.py.
 *
 * asgi.c's route handler gives a request asking for a WebSocket upgrade
 * to cio_asgi_ws_handler.  A request that cio_ws_accept would refuse
 * anyway (no key, another version, ...) gets cio_ws_accept's answer
 * without the application; any other gets the websocket scope.  The
 * application's websocket.accept calls cio_ws_accept (which does not
 * suspend) straight from Python, with the subprotocol it chose and its
 * extra headers; websocket.close before that, or the denial response
 * extension's messages, answer the request over HTTP instead.
 *
 * Once accepted two cio tasks serve the connection, since a receive()
 * waits for the peer as long as it likes while send()s must go on:
 * the route's handler performs the application's sends and its close,
 * queued in the order asked, one at a time (cio_ws_send_* waits while
 * the peer does not drain: backpressure reaches send()), and a reader
 * task calls cio_ws_recv once per receive() asked (messages not asked
 * for wait in cio's queue, which pauses reading when max_queue are
 * there).  As in asgi.c no Python runs on a task's stack: the tasks post
 * engine callbacks (cio_call_soon) that resolve the asyncio futures on
 * the loop's stack.  When the application is done the handler closes
 * the connection (1000, or 1011 if it failed) unless it is closed, and
 * waits for the reader before it returns.
 *
 * The shared state (struct xws) is counted like asgi.c's struct xreq:
 * the handler, the reader, the Python object and each callback in
 * flight hold a reference; the WebSocket is freed with the last one.
 */
#include "asgi.h"

#include <cio/task.h>
#include <cio/transport.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

enum { WOP_TEXT = 1, WOP_BINARY, WOP_CLOSE };

/* What a receive() gets: (TEXT, str), (BINARY, bytes), (CLOSED, code, reason). */
enum { MSG_CLOSED = 0, MSG_TEXT = 1, MSG_BINARY = 2 };

static PyTypeObject AsgiWs_Type;
static PyObject *str_done, *str_create_future;

/* One send() or close the handler performs. */
struct wop {
    CIO_ASGI_OP_HEAD           /* kind: WOP_*; data holds p: str (text,
                                  reason) or bytes */
    const char *p;             /* the bytes to send, or the reason */
    size_t n;                  /* their length */
    unsigned code;             /* WOP_CLOSE: the close code */
};

/* One WebSocket request between its tasks and Python (the head's wake:
 * the handler's, for a send, finish or the reader's end). */
struct xws {
    CIO_ASGI_X_HEAD
    cio_ws *ws;                /* once accepted; freed with the struct */
    cio_event *rwake;          /* the reader: a receive asked, or stop */
    struct AsgiWs *conn;       /* the Python object, NULL before / after */
    int rc;                    /* cur's result */
    PyObject *rfut;            /* receive()'s future, while one waits */
    PyObject *stash;           /* a message whose receive() was cancelled */
    int rwant;                 /* the reader should receive one message */
    int rbusy;                 /* ... asked and not yet delivered */
    int rstop;                 /* the reader should end */
    int reader;                /* a reader task was started */
    int rdone;                 /* ... and has ended */
    int rrc;                   /* the reader's cio_ws_recv result */
    int rtype;                 /* ... the message's type */
    const void *rdata;         /* ... its bytes (the WebSocket's) */
    size_t rlen;               /* ... their length */
    int started;               /* the application was called */
    int finished;              /* Python is done with the connection */
    int abort;                 /* ... because the application failed */
};

typedef struct AsgiWs {
    PyObject_HEAD
    struct xws *x;             /* shared state (one reference) */
    PyObject *on_lost;         /* called once when the handler is gone
                                  before Python finished */
} AsgiWs;

/* ---- the handshake ------------------------------------------------------------- */

/* 1 if a field called name holds token tok in its comma-separated list. */
static int has_token(cio_http_request *req, const char *name, const char *tok)
{
    size_t nh = cio_http_request_header_count(req), tl = strlen(tok);
    for (size_t i = 0; i < nh; i++) {
        const char *hn, *v;
        if (cio_http_request_header_at(req, i, &hn, &v) < 0 || strcasecmp(hn, name) != 0)
            continue;
        while (*v) {
            while (*v == ' ' || *v == '\t' || *v == ',')
                v++;
            const char *s = v;
            while (*v && *v != ',')
                v++;
            const char *e = v;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
                return 1;
        }
    }
    return 0;
}

int cio_asgi_ws_wanted(cio_http_request *req) { return has_token(req, "upgrade", "websocket"); }

/* 1 if req looks like a handshake cio_ws_accept takes (it checks the
 * key's form itself): the application is asked only about those. */
static int handshake_plausible(cio_http_request *req)
{
    const char *v = cio_http_request_header(req, "sec-websocket-version");
    return strcmp(cio_http_request_method(req), "GET") == 0 &&
           cio_http_request_version(req) >= 1 && has_token(req, "connection", "upgrade") &&
           v && strcmp(v, "13") == 0 && cio_http_request_header(req, "sec-websocket-key") &&
           cio_http_request_header(req, "host");
}

/* ---- shared state ----------------------------------------------------------------- */

/* What a WebSocket adds to the shared head (any stack; no Python object
 * is left in x by then: the Python object's dealloc clears them). */
static void xws_fini(void *xp)
{
    struct xws *x = xp;
    cio_ws_free(x->ws);
    cio_event_free(x->rwake);
}

/* 1 if fut is not done yet (a cancelled receive() is done). */
static int pending(PyObject *fut)
{
    PyObject *d = PyObject_CallMethodNoArgs(fut, str_done);
    int r = d ? PyObject_Not(d) : -1;
    Py_XDECREF(d);
    if (r < 0) {
        PyErr_WriteUnraisable(fut);
        r = 0;
    }
    return r;
}

/* The end of the connection as receive() gives it: (0, code, reason). */
static PyObject *closed_value(struct xws *x)
{
    unsigned code = x->ws ? cio_ws_close_code(x->ws) : 0;
    const char *reason = x->ws ? cio_ws_close_reason(x->ws) : "";
    PyObject *r = PyUnicode_DecodeUTF8(reason, (Py_ssize_t)strlen(reason), "replace");
    if (!r)
        return NULL;
    return Py_BuildValue("(iIN)", MSG_CLOSED, code ? code : 1006, r);
}

/* Gives val (stolen; NULL: the exception for rc) to the receive() that
 * waits, or keeps it for the next one if that was cancelled. */
static void deliver(struct xws *x, PyObject *val, int rc)
{
    PyObject *fut = x->rfut;
    x->rfut = NULL;
    if (fut && pending(fut)) {
        cio_asgi_resolve(fut, val, rc);
        return;
    }
    Py_XDECREF(fut);
    if (val)
        Py_XSETREF(x->stash, val);
}

/* ---- callbacks (loop stack) --------------------------------------------------------- */

/* Starts the application: on_request(conn, scope, 0). */
static void start_cb(void *arg)
{
    struct xws *x = arg;
    if (x->req) {
        long long body = 0;
        AsgiWs *c = PyObject_New(AsgiWs, &AsgiWs_Type);
        PyObject *scope = c ? cio_asgi_scope(x->req, x->S, 1, &body) : NULL;
        if (c) {
            c->x = x;
            c->on_lost = NULL;
            x->refs++;
            x->conn = c;
        }
        PyObject *r = scope ? PyObject_CallFunction(x->S->on_request, "OOi", c, scope, 0)
                            : NULL;
        if (r) {
            x->started = 1;
        } else {
            PyErr_WriteUnraisable(x->S->on_request);
            x->finished = 1; /* the handler answers 500 */
            cio_event_set(x->wake);
        }
        Py_XDECREF(r);
        Py_XDECREF(scope);
        Py_XDECREF(c);
    }
    cio_asgi_x_unref(x);
}

/* The handler finished the send x->cur: resolve its future. */
static void done_cb(void *arg)
{
    struct xws *x = arg;
    struct wop *op = (struct wop *)x->cur;
    x->cur = NULL;
    if (op) {
        PyObject *fut = op->fut;
        op->fut = NULL;
        cio_asgi_resolve(fut, x->rc >= 0 ? (Py_INCREF(Py_None), Py_None) : NULL, x->rc);
        cio_asgi_op_drop((struct cio_asgi_op *)op, 0);
    }
    if (x->qhead && x->req)
        cio_event_set(x->wake);
    cio_asgi_x_unref(x);
}

/* The reader received a message (or the end): hand it to Python before
 * the reader may call cio_ws_recv again (which frees the bytes). */
static void recv_done_cb(void *arg)
{
    struct xws *x = arg;
    x->rbusy = 0;
    if (x->conn) {
        PyObject *val;
        if (x->rrc < 0)
            val = closed_value(x);
        else if (x->rtype == CIO_WS_TEXT)
            val = Py_BuildValue("(iN)", MSG_TEXT,
                                PyUnicode_DecodeUTF8(x->rdata, (Py_ssize_t)x->rlen, "replace"));
        else
            val = Py_BuildValue("(iN)", MSG_BINARY,
                                PyBytes_FromStringAndSize(x->rdata, (Py_ssize_t)x->rlen));
        if (!val)
            PyErr_Clear(); /* no memory for it: receive() fails */
        deliver(x, val, -ENOMEM);
    }
    cio_asgi_x_unref(x);
}

/* The handler returned before Python finished (server shutdown deadline,
 * client gone before the handshake): fail what waits, tell Python. */
static void lost_cb(void *arg)
{
    struct xws *x = arg;
    cio_asgi_drop_queue(x, CIO_ECLOSED);
    AsgiWs *c = x->conn;
    if (c && c->on_lost) {
        PyObject *cb = c->on_lost;
        c->on_lost = NULL;
        PyObject *r = PyObject_CallNoArgs(cb);
        if (!r)
            PyErr_WriteUnraisable(cb);
        Py_XDECREF(r);
        Py_DECREF(cb);
    }
    cio_asgi_x_unref(x);
}

/* ---- the tasks (no Python runs here) --------------------------------------------------- */

/* The reader: one cio_ws_recv per receive() asked, until the end. */
static int reader_task(void *arg, void **result)
{
    struct xws *x = arg;
    for (;;) {
        while (!x->rwant && !x->rstop) {
            int rc = cio_event_wait(x->rwake);
            cio_event_clear(x->rwake);
            if (rc < 0)
                goto out;
        }
        if (x->rstop)
            break;
        x->rwant = 0;
        int type = 0;
        const void *data = NULL;
        size_t len = 0;
        int rc = cio_ws_recv(x->ws, &type, &data, &len);
        x->rrc = rc;
        x->rtype = type;
        x->rdata = data;
        x->rlen = len;
        if (cio_asgi_post(x, recv_done_cb) < 0 || rc < 0)
            break; /* the end was delivered (or the loop is closing) */
    }
out:
    x->rdone = 1;
    cio_event_set(x->wake);
    cio_asgi_x_unref(x);
    return 0;
}

/* Waits on x->wake until cond holds; the wait's error, or 0. */
#define WAIT_UNTIL(x, cond)                                  \
    do {                                                     \
        while (!(cond)) {                                    \
            int wrc_ = cio_event_wait((x)->wake);            \
            cio_event_clear((x)->wake);                      \
            if (wrc_ < 0)                                    \
                goto gone;                                   \
        }                                                    \
    } while (0)

int cio_asgi_ws_handler(cio_http_request *req, AsgiServer *S)
{
    const char *cl = cio_http_request_header(req, "content-length");
    if ((cl && strcmp(cl, "0") != 0) || cio_http_request_header(req, "transfer-encoding"))
        return cio_http_respond_text(req, 400, "WebSocket: a handshake has no body\n");
    if (!handshake_plausible(req)) {
        /* cio_ws_accept answers it (400, 405, 426) */
        cio_ws *ws = NULL;
        int rc = cio_ws_accept(req, &S->ws_opts, &ws);
        if (rc == 0) { /* cannot happen: refused by the checks above */
            cio_ws_close(ws, 1011, NULL);
            cio_ws_free(ws);
        }
        return rc == -EPROTO ? 0 : rc;
    }
    struct xws *x = PyMem_RawCalloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->refs = 1;
    x->req = req;
    x->S = S;
    x->qtail = &x->qhead;
    x->fini = xws_fini;
    Py_INCREF(S); /* no dealloc here: S holds the server that runs us */
    int rc = cio_event_new(S->L->loop, &x->wake);
    if (rc >= 0)
        rc = cio_event_new(S->L->loop, &x->rwake);
    if (rc < 0 || (rc = cio_asgi_post(x, start_cb)) < 0) {
        cio_asgi_x_unref(x);
        return rc;
    }
    int ret = 0;
    for (;;) {
        WAIT_UNTIL(x, x->finished || (!x->cur && x->qhead));
        if (x->finished)
            break;
        struct wop *op = (struct wop *)x->qhead;
        x->qhead = op->next;
        if (!x->qhead)
            x->qtail = &x->qhead;
        x->cur = (struct cio_asgi_op *)op;
        if (op->kind == WOP_TEXT)
            x->rc = cio_ws_send_text(x->ws, op->p, op->n);
        else if (op->kind == WOP_BINARY)
            x->rc = cio_ws_send_binary(x->ws, op->p, op->n);
        else
            x->rc = cio_ws_close(x->ws, op->code, op->p);
        int r = x->rc;
        cio_asgi_post(x, done_cb);
        if (r == -ECANCELED)
            goto gone;
    }
    if (!x->ws) {
        /* no handshake, no denial response: 500 (as the application
         * failed, or returned without either) */
        if (!cio_http_response_status(req))
            ret = -EIO;
    } else {
        x->rstop = 1;
        cio_event_set(x->rwake);
        rc = cio_ws_is_open(x->ws) ? cio_ws_close(x->ws, x->abort ? 1011 : 1000, NULL)
                                   : cio_ws_wait_closed(x->ws);
        if (rc == -ECANCELED)
            goto gone;
        WAIT_UNTIL(x, !x->reader || x->rdone);
    }
    x->req = NULL;
    cio_asgi_x_unref(x);
    return ret;
gone:
    /* cancelled (the server's shutdown deadline): end it here; the
     * reader, if any, ends as the connection does and frees it */
    x->req = NULL;
    if (x->ws)
        cio_transport_abort(cio_ws_transport(x->ws));
    x->rstop = 1;
    cio_event_set(x->rwake);
    if (!x->finished)
        cio_asgi_post(x, lost_cb);
    cio_asgi_x_unref(x);
    return -ECANCELED;
}

/* ---- _AsgiWs (loop stack) ------------------------------------------------------------- */

static int ws_check(AsgiWs *c)
{
    if (!c->x || !c->x->req) {
        cio_asgi_raise(CIO_ECLOSED);
        return -1;
    }
    if (c->x->finished) {
        PyErr_SetString(PyExc_RuntimeError, "the WebSocket request is finished");
        return -1;
    }
    return 0;
}

/* accept(subprotocol or None, headers): the handshake's 101. */
static PyObject *ws_accept(AsgiWs *c, PyObject *args)
{
    PyObject *sub, *headers;
    if (!PyArg_ParseTuple(args, "OO", &sub, &headers) || ws_check(c))
        return NULL;
    struct xws *x = c->x;
    if (x->ws || cio_http_response_status(x->req)) {
        PyErr_SetString(PyExc_RuntimeError, "the handshake was already answered");
        return NULL;
    }
    const char *name = NULL;
    if (sub != Py_None && !(name = PyUnicode_AsUTF8(sub)))
        return NULL;
    if (cio_asgi_add_headers(x->req, headers) < 0)
        return NULL;
    cio_ws_options o = x->S->ws_opts;
    const char *subs[2] = {name, NULL};
    o.subprotocols = name ? subs : NULL; /* chosen if the client offered it */
    cio_ws *ws;
    int rc = cio_ws_accept(x->req, &o, &ws);
    if (rc < 0)
        return cio_asgi_raise(rc);
    x->ws = ws;
    x->refs++; /* the reader's */
    rc = cio_loop_create_task(x->S->L->loop, reader_task, x, "asgi-ws-reader", NULL);
    if (rc < 0) {
        x->refs--;
        cio_transport_abort(cio_ws_transport(ws));
        return cio_asgi_raise(rc);
    }
    x->reader = 1;
    const char *got = cio_ws_subprotocol(ws);
    if (got)
        return PyUnicode_FromString(got);
    Py_RETURN_NONE;
}

/* deny(status, headers, body): an HTTP answer instead of the handshake
 * (websocket.close before accept: 403; the denial response extension). */
static PyObject *ws_deny(AsgiWs *c, PyObject *args)
{
    int status;
    PyObject *headers;
    Py_buffer body;
    if (!PyArg_ParseTuple(args, "iOy*", &status, &headers, &body))
        return NULL;
    PyObject *res = NULL;
    if (ws_check(c) == 0) {
        struct xws *x = c->x;
        if (x->ws || cio_http_response_status(x->req))
            PyErr_SetString(PyExc_RuntimeError, "the handshake was already answered");
        else if (cio_asgi_add_headers(x->req, headers) == 0) {
            int rc = cio_http_respond(x->req, status, NULL, body.buf, (size_t)body.len);
            res = rc < 0 ? cio_asgi_raise(rc) : (Py_INCREF(Py_None), Py_None);
        }
    }
    PyBuffer_Release(&body);
    return res;
}

/* A new future, already resolved with val (stolen). */
static PyObject *resolved(struct xws *x, PyObject *val)
{
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)x->S->L, str_create_future);
    if (!fut || !val) {
        Py_XDECREF(fut);
        Py_XDECREF(val);
        return NULL;
    }
    Py_INCREF(fut);
    cio_asgi_resolve(fut, val, 0);
    return fut;
}

/* recv() -> future of (1, str) | (2, bytes) | (0, code, reason). */
static PyObject *ws_recv(AsgiWs *c, PyObject *unused)
{
    struct xws *x = c->x;
    if (!x || !x->ws) {
        PyErr_SetString(PyExc_RuntimeError, "the WebSocket is not accepted");
        return NULL;
    }
    if (x->stash) {
        PyObject *val = x->stash;
        x->stash = NULL;
        return resolved(x, val);
    }
    if (x->rdone || (!x->rbusy && x->rstop)) /* the end was given already */
        return resolved(x, closed_value(x));
    if (x->rfut && pending(x->rfut)) {
        PyErr_SetString(PyExc_RuntimeError, "another receive() is waiting");
        return NULL;
    }
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)x->S->L, str_create_future);
    if (!fut)
        return NULL;
    Py_INCREF(fut);
    Py_XSETREF(x->rfut, fut);
    if (!x->rbusy) { /* else the message on its way goes to this one */
        x->rbusy = 1;
        x->rwant = 1;
        cio_event_set(x->rwake);
    }
    return fut;
}

/* Queues a send or close for the handler; returns its future. */
static PyObject *ws_op(AsgiWs *c, int kind, PyObject *data, unsigned code)
{
    if (ws_check(c))
        return NULL;
    struct xws *x = c->x;
    if (!x->ws) {
        PyErr_SetString(PyExc_RuntimeError, "the WebSocket is not accepted");
        return NULL;
    }
    const char *p;
    Py_ssize_t n;
    if (PyUnicode_Check(data)) {
        if (!(p = PyUnicode_AsUTF8AndSize(data, &n)))
            return NULL;
        if (kind == WOP_CLOSE && strlen(p) != (size_t)n) {
            PyErr_SetString(PyExc_ValueError, "a close reason holds a NUL");
            return NULL;
        }
    } else if (PyBytes_Check(data) && kind == WOP_BINARY) {
        p = PyBytes_AS_STRING(data);
        n = PyBytes_GET_SIZE(data);
    } else {
        PyErr_SetString(PyExc_TypeError, "send() takes str or bytes, close() a str reason");
        return NULL;
    }
    struct wop *op = PyMem_RawCalloc(1, sizeof *op);
    if (!op)
        return PyErr_NoMemory();
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)x->S->L, str_create_future);
    if (!fut) {
        PyMem_RawFree(op);
        return NULL;
    }
    Py_INCREF(fut);
    op->fut = fut;
    Py_INCREF(data);
    op->data = data;
    op->p = p;
    op->n = (size_t)n;
    op->kind = kind;
    op->code = code;
    *x->qtail = (struct cio_asgi_op *)op;
    x->qtail = &op->next;
    if (!x->cur)
        cio_event_set(x->wake);
    return fut;
}

/* send(str | bytes) -> future (None once handed to the transport). */
static PyObject *ws_send(AsgiWs *c, PyObject *data)
{
    return ws_op(c, PyUnicode_Check(data) ? WOP_TEXT : WOP_BINARY, data, 0);
}

/* close(code, reason) -> future (None once the connection is closed). */
static PyObject *ws_close(AsgiWs *c, PyObject *args)
{
    unsigned code;
    PyObject *reason;
    if (!PyArg_ParseTuple(args, "IU", &code, &reason))
        return NULL;
    return ws_op(c, WOP_CLOSE, reason, code);
}

/* finish(abort): the application is done (abort: it failed). */
static PyObject *ws_finish(AsgiWs *c, PyObject *arg)
{
    struct xws *x = c->x;
    int abort = PyObject_IsTrue(arg);
    if (abort < 0)
        return NULL;
    if (x && !x->finished) {
        x->finished = 1;
        x->abort = abort;
        Py_CLEAR(c->on_lost);
        cio_asgi_drop_queue(x, -ECANCELED);
        if (x->req)
            cio_event_set(x->wake);
    }
    Py_RETURN_NONE;
}

static PyObject *ws_set_on_lost(AsgiWs *c, PyObject *cb)
{
    Py_INCREF(cb);
    Py_XSETREF(c->on_lost, cb);
    if (c->x && !c->x->req && !c->x->finished) { /* already gone */
        c->on_lost = NULL;
        PyObject *r = PyObject_CallNoArgs(cb);
        Py_DECREF(cb);
        if (!r)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *ws_compressed(AsgiWs *c, PyObject *unused)
{
    return PyBool_FromLong(c->x && cio_ws_compressed(c->x->ws));
}

static void ws_dealloc(AsgiWs *c)
{
    struct xws *x = c->x;
    Py_CLEAR(c->on_lost);
    if (x) {
        x->conn = NULL;
        cio_asgi_drop_queue(x, -ECANCELED);
        if (x->rfut)
            cio_asgi_resolve(x->rfut, NULL, -ECANCELED);
        x->rfut = NULL;
        Py_CLEAR(x->stash);
        if (!x->finished) { /* dropped without finish(): end it */
            x->finished = 1;
            if (x->req)
                cio_event_set(x->wake);
        }
        cio_asgi_x_unref(x);
    }
    PyObject_Free(c);
}

static PyMethodDef ws_methods[] = {
    {"accept", (PyCFunction)ws_accept, METH_VARARGS,
     "accept(subprotocol, headers) -> the subprotocol agreed (or None)"},
    {"deny", (PyCFunction)ws_deny, METH_VARARGS, "deny(status, headers, body)"},
    {"recv", (PyCFunction)ws_recv, METH_NOARGS,
     "recv() -> future of (1, str), (2, bytes) or (0, code, reason)"},
    {"send", (PyCFunction)ws_send, METH_O, "send(str | bytes) -> future"},
    {"close", (PyCFunction)ws_close, METH_VARARGS, "close(code, reason) -> future"},
    {"finish", (PyCFunction)ws_finish, METH_O, "finish(abort)"},
    {"set_on_lost", (PyCFunction)ws_set_on_lost, METH_O, "set_on_lost(callable)"},
    {"compressed", (PyCFunction)ws_compressed, METH_NOARGS, "permessage-deflate in use"},
    {NULL}};

static PyTypeObject AsgiWs_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._AsgiWs",
    .tp_basicsize = sizeof(AsgiWs),
    .tp_dealloc = (destructor)ws_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One WebSocket served to an ASGI application (cio/_asgi_ws.py).",
    .tp_methods = ws_methods,
};

/* ---- options ---------------------------------------------------------------------------- */

int cio_asgi_ws_options(AsgiServer *S, PyObject *kw)
{
    cio_ws_options *o = &S->ws_opts;
    cio_ws_options_init(o);
    double max = 0, queue = 0, comp = 1;
    if (cio_asgi_opt_double(kw, "ws_max_message", &max) ||
        cio_asgi_opt_double(kw, "ws_max_queue", &queue) ||
        cio_asgi_opt_double(kw, "ws_ping_interval", &o->ping_interval) ||
        cio_asgi_opt_double(kw, "ws_ping_timeout", &o->ping_timeout) ||
        cio_asgi_opt_double(kw, "ws_close_timeout", &o->close_timeout) ||
        cio_asgi_opt_double(kw, "ws_compression", &comp))
        return -1;
    if (max > 0)
        o->max_message = (uint64_t)max;
    if (queue > 0)
        o->max_queue = (size_t)queue;
    o->no_compression = comp == 0;
    return 0;
}

int cio_asgi_ws_init(void)
{
    str_done = PyUnicode_InternFromString("done");
    str_create_future = PyUnicode_InternFromString("create_future");
    if (!str_done || !str_create_future || PyType_Ready(&AsgiWs_Type) < 0)
        return -1;
    return 0;
}
