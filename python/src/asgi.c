/*
 * asgi.c - cio._cio._AsgiServer and _AsgiConn: the C half of
 * cio.serve_asgi.  cio's HTTP/1.1 server (include/cio/http.h) parses,
 * keeps connections alive, pipelines, times out and shuts down; the
 * Python half (cio/asgi.py) runs the ASGI application as an asyncio task
 * on the same loop.
 *
 * One route ("*", "/{path...}", streamed body) takes every request.  Its
 * handler runs as a cio task and never runs Python: Python frames must
 * not live on a task's stack (the stack is switched away when the task
 * suspends, and the interpreter's frame chain would then point into it).
 * So the handler only schedules engine callbacks (cio_call_soon), which
 * run on the loop's own stack with the GIL held, and those build the
 * scope, start the application and resolve the asyncio futures.  The
 * handler then serves the application's requests that must suspend in a
 * task - reading the body, writing a streamed body with the server's
 * backpressure - one at a time, woken by a cio_event, until the
 * application says it is finished.  Calls that never suspend (a complete
 * response, starting and ending a stream) are made straight from Python.
 *
 * The request state (struct xreq) is shared by the handler and the
 * Python _AsgiConn object, and counted: each of them, and each engine
 * callback in flight, holds one reference.  Reference counts of Python
 * objects are only ever dropped on the loop's stack.
 */
#include "cio_py.h"

#include <arpa/inet.h>
#include <cio/http.h>
#include <cio/sync.h>
#include <cio/task.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define RBUF 65536 /* bytes read from a body at a time */

enum { OP_NONE, OP_READ, OP_WRITE };

struct AsgiServer;

/* One request between the handler task and Python. */
struct xreq {
    int refs;                  /* handler + _AsgiConn + callbacks in flight */
    cio_http_request *req;     /* NULL once the handler has returned */
    struct AsgiServer *S;      /* borrowed: the server outlives its handlers */
    cio_event *wake;           /* the handler waits on it for work */
    struct AsgiConn *conn;     /* the Python object, NULL before / after */
    int pending;               /* the operation asked, not yet taken */
    int op;                    /* the operation taken (for done_cb) */
    int read_err;              /* a body read failed (not a disconnect) */
    PyObject *fut;             /* the asyncio future op resolves */
    PyObject *data;            /* OP_WRITE: the bytes to write */
    char *rbuf;                /* OP_READ: the bytes read */
    int rc;                    /* op's result (count read, or error) */
    int finished;              /* Python is done with the request */
    int abort;                 /* ... and wants the connection aborted */
    int lost_told;             /* the loss was reported to Python */
};

typedef struct AsgiConn {
    PyObject_HEAD
    struct xreq *x;            /* shared state (one reference) */
    PyObject *on_lost;         /* called once when the handler is gone
                                  before Python finished */
} AsgiConn;

typedef struct AsgiServer {
    PyObject_HEAD
    CioLoop *L;                /* the cio.Loop (strong) */
    cio_http_server *srv;      /* NULL before start / after close */
    cio_http_server_options opts; /* limits and timeouts */
    PyObject *on_request;      /* callable(conn, scope), on the loop stack */
    PyObject *host;            /* str: the address listened on */
    int port;                  /* asked, then the one bound */
    PyObject *fut;             /* start/shutdown: its asyncio future */
    int rc;                    /* start/shutdown: its result */
    double deadline;           /* shutdown's deadline */
    int busy;                  /* a start or shutdown task runs */
} AsgiServer;

static PyTypeObject AsgiConn_Type;
static PyObject *str_set_result, *str_set_exception, *str_done, *str_create_future;

/* ---- helpers (loop stack) -------------------------------------------------- */

static PyObject *code_error(int rc)
{
    if (rc == CIO_ECLOSED || rc == -ECANCELED || rc == CIO_EINCOMPLETE)
        return PyObject_CallFunction(PyExc_ConnectionResetError, "s",
                                     "the client disconnected");
    /* errno codes and cio's own (CIO_ELIMIT: the body is too large) */
    return PyObject_CallFunction(PyExc_OSError, "is", -rc, cio_strerror(rc));
}

static PyObject *raise_rc(int rc)
{
    PyObject *e = code_error(rc);
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

/* Resolves fut (stolen) with val (stolen) or, val NULL, the exception
 * for rc; a future already done (cancelled) is left alone. */
static void resolve(PyObject *fut, PyObject *val, int rc)
{
    PyObject *done = PyObject_CallMethodNoArgs(fut, str_done);
    int is_done = done ? PyObject_IsTrue(done) : -1;
    Py_XDECREF(done);
    if (is_done == 0) {
        PyObject *r = val ? PyObject_CallMethodOneArg(fut, str_set_result, val)
                          : NULL;
        if (!val) {
            PyObject *e = code_error(rc);
            r = e ? PyObject_CallMethodOneArg(fut, str_set_exception, e) : NULL;
            Py_XDECREF(e);
        }
        Py_XDECREF(r);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(fut);
    Py_XDECREF(val);
    Py_DECREF(fut);
}

static void x_unref(struct xreq *x)
{
    if (--x->refs > 0)
        return;
    cio_event_free(x->wake);
    PyMem_RawFree(x->rbuf);
    PyMem_RawFree(x);
}

/* Schedules fn(x) on the loop's stack with a reference on x. */
static int post(struct xreq *x, cio_callback_fn *fn)
{
    x->refs++;
    int rc = cio_call_soon(x->S->L->loop, fn, x, NULL);
    if (rc < 0)
        x->refs--;
    return rc;
}

/* ---- the handler's callbacks (loop stack) ------------------------------------ */

static PyObject *bytes_str(const char *s) { return PyBytes_FromString(s ? s : ""); }

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 32);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "%2F" -> "/": the scope's path is decoded (bad UTF-8 replaced). */
static PyObject *decoded_path(const char *p, size_t n)
{
    char small[512];
    char *buf = n < sizeof small ? small : PyMem_Malloc(n + 1);
    if (!buf)
        return PyErr_NoMemory();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int h1, h2;
        if (p[i] == '%' && i + 2 < n && (h1 = hexval(p[i + 1])) >= 0 &&
            (h2 = hexval(p[i + 2])) >= 0) {
            buf[k++] = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            buf[k++] = p[i];
        }
    }
    PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)k, "replace");
    if (buf != small)
        PyMem_Free(buf);
    return s;
}

static PyObject *addr_tuple(const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN];
    int port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(si)", ip, port);
}

static int set_item(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return rc;
}

/* The ASGI 3 HTTP scope of x's request. */
static PyObject *make_scope(struct xreq *x)
{
    cio_http_request *req = x->req;
    AsgiServer *S = x->S;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    const char *target = cio_http_request_target(req);
    const char *path = cio_http_request_path(req);
    const char *q = strchr(target, '?');
    size_t plen = strlen(path);
    size_t nh = cio_http_request_header_count(req);
    PyObject *headers = PyList_New((Py_ssize_t)nh);
    if (!headers)
        goto fail;
    for (size_t i = 0; i < nh; i++) {
        const char *name, *value;
        cio_http_request_header_at(req, i, &name, &value);
        size_t nl = strlen(name);
        PyObject *n = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)nl);
        if (!n) {
            Py_DECREF(headers);
            goto fail;
        }
        char *nb = PyBytes_AS_STRING(n);
        for (size_t j = 0; j < nl; j++)
            nb[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] | 32 : name[j]);
        PyObject *v = bytes_str(value);
        PyObject *t = v ? PyTuple_Pack(2, n, v) : NULL;
        Py_DECREF(n);
        Py_XDECREF(v);
        if (!t) {
            Py_DECREF(headers);
            goto fail;
        }
        PyList_SET_ITEM(headers, (Py_ssize_t)i, t);
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    PyObject *client = cio_http_request_peer(req, (struct sockaddr *)&ss, &sl) == 0
                           ? addr_tuple(&ss)
                           : (Py_INCREF(Py_None), Py_None);
    if (set_item(d, "type", PyUnicode_FromString("http")) ||
        set_item(d, "asgi", Py_BuildValue("{ssss}", "version", "3.0", "spec_version", "2.3")) ||
        set_item(d, "http_version",
                 PyUnicode_FromString(cio_http_request_version(req) ? "1.1" : "1.0")) ||
        set_item(d, "method", PyUnicode_FromString(cio_http_request_method(req))) ||
        set_item(d, "scheme", PyUnicode_FromString("http")) ||
        set_item(d, "path", decoded_path(path, plen)) ||
        set_item(d, "raw_path", PyBytes_FromStringAndSize(path, (Py_ssize_t)plen)) ||
        set_item(d, "query_string", PyBytes_FromString(q ? q + 1 : "")) ||
        set_item(d, "root_path", PyUnicode_FromString("")) || set_item(d, "headers", headers) ||
        set_item(d, "client", client) ||
        set_item(d, "server", Py_BuildValue("(Oi)", S->host, S->port)))
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

/* Starts the application for x's request. */
static void start_cb(void *arg)
{
    struct xreq *x = arg;
    if (x->req) {
        AsgiConn *c = PyObject_New(AsgiConn, &AsgiConn_Type);
        PyObject *scope = c ? make_scope(x) : NULL;
        if (c) {
            c->x = x;
            c->on_lost = NULL;
            x->refs++;
            x->conn = c;
        }
        PyObject *r = scope ? PyObject_CallFunctionObjArgs(x->S->on_request, c, scope, NULL)
                            : NULL;
        if (!r) {
            PyErr_WriteUnraisable(x->S->on_request);
            x->finished = 1; /* the handler answers 500 */
            cio_event_set(x->wake);
        }
        Py_XDECREF(r);
        Py_XDECREF(scope);
        Py_XDECREF(c);
    }
    x_unref(x);
}

/* The handler finished an operation: resolve its future. */
static void done_cb(void *arg)
{
    struct xreq *x = arg;
    PyObject *fut = x->fut, *val = NULL;
    int op = x->op, rc = x->rc;
    x->fut = NULL;
    PyObject *data = x->data;
    x->data = NULL;
    Py_XDECREF(data);
    if (rc >= 0)
        val = op == OP_READ ? PyBytes_FromStringAndSize(x->rbuf, rc) : (Py_INCREF(Py_None), Py_None);
    if (fut)
        resolve(fut, val, rc);
    else
        Py_XDECREF(val);
    x_unref(x);
}

/* The handler returned before Python finished (client gone, shutdown
 * deadline): fail what waits and tell the Python side. */
static void lost_cb(void *arg)
{
    struct xreq *x = arg;
    PyObject *fut = x->fut;
    x->fut = NULL;
    Py_CLEAR(x->data);
    if (fut)
        resolve(fut, NULL, CIO_ECLOSED);
    AsgiConn *c = x->conn;
    if (c && c->on_lost) {
        PyObject *cb = c->on_lost;
        c->on_lost = NULL;
        PyObject *r = PyObject_CallNoArgs(cb);
        if (!r)
            PyErr_WriteUnraisable(cb);
        Py_XDECREF(r);
        Py_DECREF(cb);
    }
    x_unref(x);
}

/* ---- the route's handler (a cio task: no Python runs here) ------------------- */

static int asgi_handler(cio_http_request *req, void *ud)
{
    AsgiServer *S = ud;
    struct xreq *x = PyMem_RawCalloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->refs = 1;
    x->req = req;
    x->S = S;
    int rc = cio_event_new(S->L->loop, &x->wake);
    if (rc < 0 || (rc = post(x, start_cb)) < 0) {
        x_unref(x);
        return rc;
    }
    int ret = 0;
    for (;;) {
        while (!x->finished && x->pending == OP_NONE) {
            rc = cio_event_wait(x->wake);
            cio_event_clear(x->wake);
            if (rc < 0)
                goto gone;
        }
        if (x->finished)
            break;
        x->op = x->pending;
        x->pending = OP_NONE;
        if (x->op == OP_READ) {
            if (!x->rbuf && !(x->rbuf = PyMem_RawMalloc(RBUF)))
                x->rc = -ENOMEM;
            else
                x->rc = cio_http_request_read(req, x->rbuf, RBUF);
            if (x->rc < 0)
                x->read_err = x->rc;
        } else {
            x->rc = cio_http_response_write(req, PyBytes_AS_STRING(x->data),
                                            (size_t)PyBytes_GET_SIZE(x->data));
        }
        int r = x->rc;
        post(x, done_cb);
        if (r == -ECANCELED || (r < 0 && cio_http_request_disconnected(req)))
            goto gone;
    }
    if (!x->conn && !x->abort)
        ret = -EIO; /* the application never started: 500 */
    else if (x->read_err && !cio_http_response_status(req))
        ret = x->read_err; /* 413, 400, else 500 */
    if (x->abort)
        cio_http_request_abort(req);
    x->req = NULL;
    x_unref(x);
    return ret;
gone:
    x->req = NULL;
    if (!x->finished)
        post(x, lost_cb);
    x_unref(x);
    return -ECANCELED;
}

/* ---- _AsgiConn (loop stack) ------------------------------------------------------ */

static int conn_check(AsgiConn *c)
{
    if (!c->x || !c->x->req) {
        raise_rc(CIO_ECLOSED);
        return -1;
    }
    return 0;
}

/* Adds the application's headers; the server's own (Content-Length,
 * Transfer-Encoding, Connection, Date) are left to it. */
static int add_headers(cio_http_request *req, PyObject *headers)
{
    PyObject *it = PyObject_GetIter(headers);
    if (!it)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(it))) {
        PyObject *n = NULL, *v = NULL;
        PyObject *seq = PySequence_Fast(item, "a header is a [name, value] pair");
        Py_DECREF(item);
        if (!seq)
            break;
        if (PySequence_Fast_GET_SIZE(seq) != 2) {
            PyErr_SetString(PyExc_TypeError, "a header is a [name, value] pair");
            Py_DECREF(seq);
            break;
        }
        n = PySequence_Fast_GET_ITEM(seq, 0);
        v = PySequence_Fast_GET_ITEM(seq, 1);
        if (!PyBytes_Check(n) || !PyBytes_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "header names and values are bytes");
            Py_DECREF(seq);
            break;
        }
        const char *ns = PyBytes_AS_STRING(n);
        if (strcasecmp(ns, "content-length") && strcasecmp(ns, "transfer-encoding") &&
            strcasecmp(ns, "connection") && strcasecmp(ns, "date")) {
            if (strlen(ns) != (size_t)PyBytes_GET_SIZE(n) ||
                strlen(PyBytes_AS_STRING(v)) != (size_t)PyBytes_GET_SIZE(v)) {
                PyErr_SetString(PyExc_ValueError, "a header holds a NUL byte");
                Py_DECREF(seq);
                break;
            }
            int rc = cio_http_response_header(req, ns, PyBytes_AS_STRING(v));
            if (rc < 0) {
                PyErr_Format(PyExc_ValueError, "bad response header %R: %s", n,
                             cio_strerror(rc));
                Py_DECREF(seq);
                break;
            }
        }
        Py_DECREF(seq);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* respond(status, headers, body): a complete response. */
static PyObject *conn_respond(AsgiConn *c, PyObject *args)
{
    int status;
    PyObject *headers;
    Py_buffer body;
    if (!PyArg_ParseTuple(args, "iOy*", &status, &headers, &body))
        return NULL;
    PyObject *res = NULL;
    if (conn_check(c) == 0 && add_headers(c->x->req, headers) == 0) {
        int rc = cio_http_respond(c->x->req, status, NULL, body.buf, (size_t)body.len);
        res = rc < 0 ? raise_rc(rc) : (Py_INCREF(Py_None), Py_None);
    }
    PyBuffer_Release(&body);
    return res;
}

/* start(status, headers): the head of a streamed response. */
static PyObject *conn_start(AsgiConn *c, PyObject *args)
{
    int status;
    PyObject *headers;
    if (!PyArg_ParseTuple(args, "iO", &status, &headers))
        return NULL;
    if (conn_check(c) || add_headers(c->x->req, headers))
        return NULL;
    int rc = cio_http_response_start(c->x->req, status, NULL);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

/* end(): the last chunk of a streamed response. */
static PyObject *conn_end(AsgiConn *c, PyObject *unused)
{
    if (conn_check(c))
        return NULL;
    int rc = cio_http_response_end(c->x->req);
    if (rc < 0)
        return raise_rc(rc);
    Py_RETURN_NONE;
}

/* Hands op to the handler; returns the future it resolves. */
static PyObject *conn_op(AsgiConn *c, int op, PyObject *data)
{
    if (conn_check(c))
        return NULL;
    struct xreq *x = c->x;
    if (x->fut || x->finished) {
        PyErr_SetString(PyExc_RuntimeError, "another receive() or send() is in progress");
        return NULL;
    }
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)x->S->L, str_create_future);
    if (!fut)
        return NULL;
    Py_INCREF(fut);
    x->fut = fut;
    Py_XINCREF(data);
    x->data = data;
    x->pending = op;
    cio_event_set(x->wake);
    return fut;
}

static PyObject *conn_read(AsgiConn *c, PyObject *unused) { return conn_op(c, OP_READ, NULL); }

static PyObject *conn_write(AsgiConn *c, PyObject *data)
{
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "body must be bytes");
        return NULL;
    }
    return conn_op(c, OP_WRITE, data);
}

/* finish(abort): the application is done; abort cuts the connection. */
static PyObject *conn_finish(AsgiConn *c, PyObject *arg)
{
    struct xreq *x = c->x;
    int abort = PyObject_IsTrue(arg);
    if (abort < 0)
        return NULL;
    if (x && !x->finished) {
        x->finished = 1;
        x->abort = abort;
        Py_CLEAR(c->on_lost);
        if (x->pending != OP_NONE) { /* asked, never taken: dropped */
            x->pending = OP_NONE;
            Py_CLEAR(x->data);
            PyObject *fut = x->fut;
            x->fut = NULL;
            if (fut)
                resolve(fut, NULL, -ECANCELED);
        }
        if (x->req)
            cio_event_set(x->wake);
    }
    Py_RETURN_NONE;
}

static PyObject *conn_set_on_lost(AsgiConn *c, PyObject *cb)
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

static PyObject *conn_disconnected(AsgiConn *c, PyObject *unused)
{
    return PyBool_FromLong(!c->x || !c->x->req || cio_http_request_disconnected(c->x->req));
}

static void conn_dealloc(AsgiConn *c)
{
    struct xreq *x = c->x;
    Py_CLEAR(c->on_lost);
    if (x) {
        x->conn = NULL;
        Py_CLEAR(x->data);
        Py_CLEAR(x->fut);
        if (!x->finished) { /* dropped without finish(): end the request */
            x->finished = 1;
            if (x->req)
                cio_event_set(x->wake);
        }
        x_unref(x);
    }
    PyObject_Free(c);
}

static PyMethodDef conn_methods[] = {
    {"respond", (PyCFunction)conn_respond, METH_VARARGS, "respond(status, headers, body)"},
    {"start", (PyCFunction)conn_start, METH_VARARGS, "start(status, headers)"},
    {"end", (PyCFunction)conn_end, METH_NOARGS, "end()"},
    {"read", (PyCFunction)conn_read, METH_NOARGS, "read() -> future of bytes (b'' at the end)"},
    {"write", (PyCFunction)conn_write, METH_O, "write(bytes) -> future (drained)"},
    {"finish", (PyCFunction)conn_finish, METH_O, "finish(abort)"},
    {"set_on_lost", (PyCFunction)conn_set_on_lost, METH_O, "set_on_lost(callable)"},
    {"disconnected", (PyCFunction)conn_disconnected, METH_NOARGS, NULL},
    {NULL}};

static PyTypeObject AsgiConn_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._AsgiConn",
    .tp_basicsize = sizeof(AsgiConn),
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One HTTP request served to an ASGI application (cio/asgi.py).",
    .tp_methods = conn_methods,
};

/* ---- _AsgiServer ------------------------------------------------------------------ */

static void server_done_cb(void *arg)
{
    AsgiServer *S = arg;
    PyObject *fut = S->fut;
    S->fut = NULL;
    S->busy = 0;
    if (fut)
        resolve(fut, S->rc >= 0 ? PyLong_FromLong(S->rc) : NULL, S->rc);
    Py_DECREF(S);
}

static int start_task(void *arg, void **result)
{
    AsgiServer *S = arg;
    const char *host = PyUnicode_AsUTF8(S->host); /* cached: no allocation */
    int rc = cio_http_server_new(&S->opts, &S->srv);
    if (rc == 0)
        rc = cio_http_server_route(S->srv, "*", "/{path...}", asgi_handler, S,
                                   CIO_HTTP_STREAM_BODY);
    if (rc == 0)
        rc = cio_http_server_listen(S->srv, host, S->port);
    if (rc == 0)
        rc = S->port = cio_http_server_port(S->srv);
    S->rc = rc;
    if (rc < 0 && S->srv) {
        cio_http_server_free(S->srv);
        S->srv = NULL;
    }
    if (cio_call_soon(S->L->loop, server_done_cb, S, NULL) < 0)
        S->busy = 0; /* the loop is closing: nobody waits */
    return 0;
}

static int shutdown_task(void *arg, void **result)
{
    AsgiServer *S = arg;
    S->rc = cio_http_server_shutdown(S->srv, S->deadline);
    if (cio_call_soon(S->L->loop, server_done_cb, S, NULL) < 0)
        S->busy = 0;
    return 0;
}

/* Runs fn in a cio task; returns the future server_done_cb resolves. */
static PyObject *server_run(AsgiServer *S, cio_coro_fn *fn)
{
    if (S->busy) {
        PyErr_SetString(PyExc_RuntimeError, "a start or shutdown is in progress");
        return NULL;
    }
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)S->L, str_create_future);
    if (!fut)
        return NULL;
    int rc = cio_loop_create_task(S->L->loop, fn, S, "asgi-server", NULL);
    if (rc < 0) {
        Py_DECREF(fut);
        return raise_rc(rc);
    }
    S->busy = 1;
    Py_INCREF(S); /* server_done_cb's */
    Py_INCREF(fut);
    S->fut = fut;
    return fut;
}

static PyObject *server_start(AsgiServer *S, PyObject *unused)
{
    if (S->srv) {
        PyErr_SetString(PyExc_RuntimeError, "already started");
        return NULL;
    }
    return server_run(S, start_task);
}

static PyObject *server_shutdown(AsgiServer *S, PyObject *arg)
{
    double d = PyFloat_AsDouble(arg);
    if (d == -1 && PyErr_Occurred())
        return NULL;
    if (!S->srv) {
        PyErr_SetString(PyExc_RuntimeError, "not started");
        return NULL;
    }
    S->deadline = d;
    return server_run(S, shutdown_task);
}

static PyObject *server_close(AsgiServer *S, PyObject *unused)
{
    if (S->busy) {
        PyErr_SetString(PyExc_RuntimeError, "a start or shutdown is in progress");
        return NULL;
    }
    cio_http_server_free(S->srv);
    S->srv = NULL;
    Py_RETURN_NONE;
}

static PyObject *server_connections(AsgiServer *S, PyObject *unused)
{
    return PyLong_FromSize_t(S->srv ? cio_http_server_connections(S->srv) : 0);
}

static PyObject *server_get_port(AsgiServer *S, void *unused) { return PyLong_FromLong(S->port); }

static int opt_double(PyObject *kw, const char *k, double *out)
{
    PyObject *v = kw ? PyDict_GetItemString(kw, k) : NULL;
    if (!v || v == Py_None)
        return 0;
    double d = PyFloat_AsDouble(v);
    if (d == -1 && PyErr_Occurred())
        return -1;
    *out = d;
    return 0;
}

/* _AsgiServer(loop, on_request, host, port, **limits) */
static PyObject *server_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    PyObject *loop, *cb, *host;
    int port;
    if (!PyArg_ParseTuple(args, "O!OUi", &CioLoop_Type, &loop, &cb, &host, &port))
        return NULL;
    AsgiServer *S = (AsgiServer *)type->tp_alloc(type, 0);
    if (!S)
        return NULL;
    Py_INCREF(loop);
    S->L = (CioLoop *)loop;
    Py_INCREF(cb);
    S->on_request = cb;
    Py_INCREF(host);
    S->host = host;
    S->port = port;
    cio_http_server_options_init(&S->opts);
    double mb = -1, lr = 0;
    if (opt_double(kw, "max_body", &mb) || opt_double(kw, "header_timeout", &S->opts.header_timeout) ||
        opt_double(kw, "body_timeout", &S->opts.body_timeout) ||
        opt_double(kw, "idle_timeout", &S->opts.idle_timeout) ||
        opt_double(kw, "write_timeout", &S->opts.write_timeout) ||
        opt_double(kw, "log_requests", &lr) || PyUnicode_AsUTF8(host) == NULL) {
        Py_DECREF(S);
        return NULL;
    }
    if (mb > 0)
        S->opts.max_body = (uint64_t)mb;
    S->opts.log_requests = lr != 0;
    return (PyObject *)S;
}

static int server_traverse(AsgiServer *S, visitproc visit, void *arg)
{
    Py_VISIT(S->L);
    Py_VISIT(S->on_request);
    Py_VISIT(S->fut);
    return 0;
}

static int server_clear(AsgiServer *S)
{
    Py_CLEAR(S->on_request);
    return 0;
}

static void server_dealloc(AsgiServer *S)
{
    PyObject_GC_UnTrack(S);
    if (S->srv && S->L->loop)
        cio_http_server_free(S->srv);
    Py_CLEAR(S->on_request);
    Py_CLEAR(S->host);
    Py_CLEAR(S->fut);
    Py_CLEAR(S->L);
    Py_TYPE(S)->tp_free((PyObject *)S);
}

static PyMethodDef server_methods[] = {
    {"start", (PyCFunction)server_start, METH_NOARGS, "start() -> future of the port"},
    {"shutdown", (PyCFunction)server_shutdown, METH_O, "shutdown(deadline) -> future"},
    {"close", (PyCFunction)server_close, METH_NOARGS, "frees the server (aborts what is open)"},
    {"connections", (PyCFunction)server_connections, METH_NOARGS, NULL},
    {NULL}};

static PyGetSetDef server_getset[] = {
    {"port", (getter)server_get_port, NULL, "the port (bound, once started)", NULL},
    {NULL}};

PyTypeObject CioAsgiServer_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._AsgiServer",
    .tp_basicsize = sizeof(AsgiServer),
    .tp_dealloc = (destructor)server_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "cio's HTTP/1.1 server feeding an ASGI application (cio/asgi.py).",
    .tp_traverse = (traverseproc)server_traverse,
    .tp_clear = (inquiry)server_clear,
    .tp_methods = server_methods,
    .tp_getset = server_getset,
    .tp_new = server_new,
};

int cio_asgi_init(PyObject *m)
{
    str_set_result = PyUnicode_InternFromString("set_result");
    str_set_exception = PyUnicode_InternFromString("set_exception");
    str_done = PyUnicode_InternFromString("done");
    str_create_future = PyUnicode_InternFromString("create_future");
    if (!str_set_result || !str_set_exception || !str_done || !str_create_future ||
        PyType_Ready(&AsgiConn_Type) < 0 || PyType_Ready(&CioAsgiServer_Type) < 0)
        return -1;
    Py_INCREF(&CioAsgiServer_Type);
    if (PyModule_AddObject(m, "_AsgiServer", (PyObject *)&CioAsgiServer_Type) < 0) {
        Py_DECREF(&CioAsgiServer_Type);
        return -1;
    }
    return 0;
}
