/*
 * asgi.c - cio._cio._AsgiServer and _AsgiConn: the C half of
 * cio.serve_asgi.  cio's HTTP/1.1 server (include/cio/http.h) parses,
 * keeps connections alive, pipelines, times out and shuts down; the
 * Python half (cio/asgi.py) runs the ASGI application as an asyncio task
 * on the same loop.
 *
 * One route ("*", "/{path...}", streamed body, watched for the client
 * closing: CIO_HTTP_WATCH_CLOSE, so a client that leaves while the
 * application still works cancels the handler and receive() returns
 * http.disconnect at once) takes every request.  Its
 * handler runs as a cio task and never runs Python: Python frames must
 * not live on a task's stack (the stack is switched away when the task
 * suspends, and the interpreter's frame chain would then point into it).
 * So the handler only schedules engine callbacks (cio_call_soon), which
 * run on the loop's own stack with the GIL held, and those build the
 * scope, start the application and resolve the asyncio futures.  The
 * handler then serves the application's requests that must suspend in a
 * task - reading the body, writing a streamed body with the server's
 * backpressure - queued in the order asked (a receive() and a send()
 * may be pending together, as Starlette's disconnect listener does while
 * a response streams) and done one at a time, woken by a cio_event, until
 * the application says it is finished.  Calls that never suspend (a complete
 * response, starting and ending a stream) are made straight from Python.
 *
 * The request state (struct xreq, asgi.h) is shared by the handler and
 * the Python _AsgiConn object, and counted: each of them, and each engine
 * callback in flight, holds one reference.  Reference counts of Python
 * objects are only ever dropped on the loop's stack (the server's, held
 * by each request, through a callback when it could be the last); its
 * counted head and operation queue are asgi_x.c's, shared with asgi_ws.c.
 * The scope is built by asgi_scope.c; receive(), send() and the task's
 * coroutine are asgi_cycle.c's.  A request asking for a WebSocket
 * upgrade goes to asgi_ws.c's handler instead (the websocket scope).
 */
#include "asgi.h"

#include <cio/sync.h>
#include <cio/task.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <structmember.h>

#define RBUF 65536 /* bytes read from a body at a time */

enum { OP_READ = 1, OP_WRITE };

static PyTypeObject AsgiConn_Type;
static PyObject *str_create_future;

/* What a request adds to the shared head. */
static void xreq_fini(void *xp)
{
    struct xreq *x = xp;
    PyMem_RawFree(x->rbuf);
}

/* ---- the handler's callbacks (loop stack) ------------------------------------ */

/* Starts the application for x's request: on_request(conn, scope, body). */
static void start_cb(void *arg)
{
    struct xreq *x = arg;
    if (x->req) {
        long long body = 0;
        AsgiConn *c = PyObject_GC_New(AsgiConn, &AsgiConn_Type);
        if (c) {
            memset((char *)c + offsetof(AsgiConn, x), 0, sizeof *c - offsetof(AsgiConn, x));
            c->x = x;
            c->status = 200;
            x->refs++;
            x->conn = c;
            PyObject_GC_Track(c);
        }
        PyObject *scope = c ? cio_asgi_scope(x->req, x->S, 0, &body) : NULL;
        CioHandle *first = NULL;
        if (scope && cio_asgi_cycle_start(c, scope, body, &first) == 0) {
            x->started = 1;
            cio_loop_run_taken(x->S->L, first);
        } else if (!x->finished) {
            PyErr_WriteUnraisable(x->S->app);
            x->finished = 1; /* the handler answers 500 */
            cio_event_set(x->wake);
        }
        Py_XDECREF(scope);
        Py_XDECREF(c);
    }
    cio_asgi_x_unref(x);
}

/* The handler finished its operation x->cur: resolve its future, and let
 * the handler take the next one. */
static void done_cb(void *arg)
{
    struct xreq *x = arg;
    struct cio_asgi_op *op = x->cur;
    x->cur = NULL;
    if (op) {
        PyObject *fut = op->fut, *val = NULL;
        op->fut = NULL;
        int rc = x->rc;
        if (rc >= 0) {
            val = op->kind == OP_READ ? PyBytes_FromStringAndSize(x->rbuf, rc)
                                      : (Py_INCREF(Py_None), Py_None);
            if (!val) { /* no memory for the bytes: the future fails */
                PyErr_Clear();
                rc = -ENOMEM;
            }
        }
        cio_asgi_resolve(fut, val, rc);
        cio_asgi_op_drop(op, 0);
    }
    if (x->qhead && x->req)
        cio_event_set(x->wake);
    cio_asgi_x_unref(x);
}

/* The handler returned before Python finished (client gone, shutdown
 * deadline): fail what waits and tell the Python side. */
static void lost_cb(void *arg)
{
    struct xreq *x = arg;
    cio_asgi_drop_queue(x, CIO_ECLOSED);
    AsgiConn *c = x->conn;
    if (c) {
        c->disconnected = 1;
        if (cio_asgi_conn_wake(c) < 0)
            PyErr_WriteUnraisable((PyObject *)c);
    }
    cio_asgi_x_unref(x);
}

/* ---- the route's handler (a cio task: no Python runs here) ------------------- */

static int asgi_handler(cio_http_request *req, void *ud)
{
    AsgiServer *S = ud;
    if (cio_asgi_ws_wanted(req))
        return cio_asgi_ws_handler(req, S); /* asgi_ws.c */
    struct xreq *x = PyMem_RawCalloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->refs = 1;
    x->req = req;
    x->S = S;
    x->qtail = &x->qhead;
    x->fini = xreq_fini;
    Py_INCREF(S); /* no dealloc here: S holds the server that runs us */
    int rc = cio_event_new(S->L->loop, &x->wake);
    if (rc < 0 || (rc = cio_asgi_post(x, start_cb)) < 0) {
        cio_asgi_x_unref(x);
        return rc;
    }
    int ret = 0;
    for (;;) {
        /* one operation at a time: the next once done_cb has run */
        while (!x->finished && (x->cur || !x->qhead)) {
            rc = cio_event_wait(x->wake);
            cio_event_clear(x->wake);
            if (rc < 0)
                goto gone;
        }
        if (x->finished)
            break;
        struct cio_asgi_op *op = x->qhead;
        x->qhead = op->next;
        if (!x->qhead)
            x->qtail = &x->qhead;
        x->cur = op;
        if (op->kind == OP_READ) {
            if (!x->rbuf && !(x->rbuf = PyMem_RawMalloc(RBUF)))
                x->rc = -ENOMEM;
            else
                x->rc = cio_http_request_read(req, x->rbuf, RBUF);
            if (x->rc < 0)
                x->read_err = x->rc;
        } else {
            x->rc = cio_http_response_write(req, PyBytes_AS_STRING(op->data),
                                            (size_t)PyBytes_GET_SIZE(op->data));
        }
        int r = x->rc;
        cio_asgi_post(x, done_cb);
        if (r == -ECANCELED || (r < 0 && cio_http_request_disconnected(req)))
            goto gone;
    }
    if (!x->started && !x->abort)
        ret = -EIO; /* the application never started: 500 */
    else if (x->read_err && !cio_http_response_status(req))
        ret = x->read_err; /* 413, 400, else 500 */
    if (x->abort)
        cio_http_request_abort(req);
    x->req = NULL;
    cio_asgi_x_unref(x);
    return ret;
gone:
    x->req = NULL;
    if (!x->finished)
        cio_asgi_post(x, lost_cb);
    cio_asgi_x_unref(x);
    return -ECANCELED;
}

/* ---- _AsgiConn (loop stack) ------------------------------------------------------ */

static int conn_check(AsgiConn *c)
{
    if (!c->x || !c->x->req) {
        cio_asgi_raise(CIO_ECLOSED);
        return -1;
    }
    return 0;
}

/* (asgi.h) */
int cio_asgi_conn_respond(AsgiConn *c, int status, PyObject *headers, const char *body,
                          Py_ssize_t len)
{
    if (conn_check(c) || cio_asgi_add_headers(c->x->req, headers))
        return -1;
    int rc = cio_http_respond(c->x->req, status, NULL, body, (size_t)len);
    if (rc < 0) {
        cio_asgi_raise(rc);
        return -1;
    }
    return 0;
}

/* respond(status, headers, body): a complete response. */
static PyObject *conn_respond(AsgiConn *c, PyObject *args)
{
    int status;
    PyObject *headers;
    Py_buffer body;
    if (!PyArg_ParseTuple(args, "iOy*", &status, &headers, &body))
        return NULL;
    int rc = cio_asgi_conn_respond(c, status, headers, body.buf, body.len);
    PyBuffer_Release(&body);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* start(status, headers): the head of a streamed response. */
static PyObject *conn_start(AsgiConn *c, PyObject *args)
{
    int status;
    PyObject *headers;
    if (!PyArg_ParseTuple(args, "iO", &status, &headers))
        return NULL;
    if (conn_check(c) || cio_asgi_add_headers(c->x->req, headers))
        return NULL;
    int rc = cio_http_response_start(c->x->req, status, NULL);
    if (rc < 0)
        return cio_asgi_raise(rc);
    Py_RETURN_NONE;
}

/* end(): the last chunk of a streamed response. */
static PyObject *conn_end(AsgiConn *c, PyObject *unused)
{
    if (conn_check(c))
        return NULL;
    int rc = cio_http_response_end(c->x->req);
    if (rc < 0)
        return cio_asgi_raise(rc);
    Py_RETURN_NONE;
}

/* Queues an operation for the handler; returns the future it resolves. */
static PyObject *conn_op(AsgiConn *c, int kind, PyObject *data)
{
    if (conn_check(c))
        return NULL;
    struct xreq *x = c->x;
    if (x->finished) {
        PyErr_SetString(PyExc_RuntimeError, "the request is finished");
        return NULL;
    }
    struct cio_asgi_op *op = PyMem_RawCalloc(1, sizeof *op);
    if (!op)
        return PyErr_NoMemory();
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)x->S->L, str_create_future);
    if (!fut) {
        PyMem_RawFree(op);
        return NULL;
    }
    Py_INCREF(fut);
    op->fut = fut;
    Py_XINCREF(data);
    op->data = data;
    op->kind = kind;
    *x->qtail = op;
    x->qtail = &op->next;
    if (!x->cur)
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

/* (asgi.h) */
void cio_asgi_conn_finish(AsgiConn *c, int abort)
{
    struct xreq *x = c->x;
    if (x && !x->finished) {
        x->finished = 1;
        x->abort = abort;
        cio_asgi_drop_queue(x, -ECANCELED); /* asked, never taken */
        if (x->req)
            cio_event_set(x->wake);
    }
}

/* finish(abort): the application is done; abort cuts the connection. */
static PyObject *conn_finish(AsgiConn *c, PyObject *arg)
{
    int abort = PyObject_IsTrue(arg);
    if (abort < 0)
        return NULL;
    cio_asgi_conn_finish(c, abort);
    Py_RETURN_NONE;
}

/* (asgi.h) */
int cio_asgi_conn_wake(AsgiConn *c)
{
    PyObject *fut = c->disc_fut;
    if (!fut || fut == Py_None)
        return 0;
    Py_INCREF(fut);
    cio_asgi_resolve(fut, Py_NewRef(Py_None), 0);
    return 0;
}

static PyObject *conn_wake(AsgiConn *c, PyObject *unused)
{
    if (cio_asgi_conn_wake(c) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *conn_disconnected(AsgiConn *c, PyObject *unused)
{
    return PyBool_FromLong(!c->x || !c->x->req || cio_http_request_disconnected(c->x->req));
}

static int conn_traverse(AsgiConn *c, visitproc visit, void *arg)
{
    Py_VISIT(c->headers);
    Py_VISIT(c->disc_fut);
    Py_VISIT(c->left);
    return 0;
}

static int conn_clear(AsgiConn *c)
{
    Py_CLEAR(c->headers);
    Py_CLEAR(c->disc_fut);
    Py_CLEAR(c->left);
    return 0;
}

static void conn_dealloc(AsgiConn *c)
{
    struct xreq *x = c->x;
    PyObject_GC_UnTrack(c);
    conn_clear(c);
    if (x) {
        x->conn = NULL;
        cio_asgi_drop_queue(x, -ECANCELED);
        if (!x->finished) { /* dropped without finish(): end the request */
            x->finished = 1;
            if (x->req)
                cio_event_set(x->wake);
        }
        cio_asgi_x_unref(x);
    }
    PyObject_GC_Del(c);
}

static PyMethodDef conn_methods[] = {
    {"respond", (PyCFunction)conn_respond, METH_VARARGS, "respond(status, headers, body)"},
    {"start", (PyCFunction)conn_start, METH_VARARGS, "start(status, headers)"},
    {"end", (PyCFunction)conn_end, METH_NOARGS, "end()"},
    {"read", (PyCFunction)conn_read, METH_NOARGS, "read() -> future of bytes (b'' at the end)"},
    {"write", (PyCFunction)conn_write, METH_O, "write(bytes) -> future (drained)"},
    {"finish", (PyCFunction)conn_finish, METH_O, "finish(abort)"},
    {"wake", (PyCFunction)conn_wake, METH_NOARGS, "resolves disc_fut (http.disconnect)"},
    {"is_disconnected", (PyCFunction)conn_disconnected, METH_NOARGS, NULL},
    {NULL}};

#define M_(name, type, flags) {#name, type, offsetof(AsgiConn, name), flags, NULL}
static PyMemberDef conn_members[] = {
    M_(headers, T_OBJECT, 0),   M_(disc_fut, T_OBJECT, 0),   M_(left, T_OBJECT, 0),
    M_(status, T_INT, 0),       M_(has_body, T_BOOL, READONLY), M_(body_done, T_BOOL, 0),
    M_(disconnected, T_BOOL, 0), M_(started, T_BOOL, 0),     M_(streaming, T_BOOL, 0),
    M_(complete, T_BOOL, 0),    M_(body_error, T_BOOL, 0),   {NULL}};
#undef M_

static PyTypeObject AsgiConn_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._AsgiConn",
    .tp_basicsize = sizeof(AsgiConn),
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One HTTP request served to an ASGI application (cio/asgi.py).",
    .tp_traverse = (traverseproc)conn_traverse,
    .tp_clear = (inquiry)conn_clear,
    .tp_methods = conn_methods,
    .tp_members = conn_members,
};

/* ---- _AsgiServer ------------------------------------------------------------------ */

static void server_done_cb(void *arg)
{
    AsgiServer *S = arg;
    PyObject *fut = S->fut;
    S->fut = NULL;
    S->busy = 0;
    if (fut)
        cio_asgi_resolve(fut, S->rc >= 0 ? PyLong_FromLong(S->rc) : NULL, S->rc);
    Py_DECREF(S);
}

static int start_task(void *arg, void **result)
{
    AsgiServer *S = arg;
    const char *host = PyUnicode_AsUTF8(S->host); /* cached: no allocation */
    int rc = cio_http_server_new(&S->opts, &S->srv);
    if (rc == 0)
        rc = cio_http_server_route(S->srv, "*", "/{path...}", asgi_handler, S,
                                   CIO_HTTP_STREAM_BODY | CIO_HTTP_WATCH_CLOSE);
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
        return cio_asgi_raise(rc);
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
    if (!S->app) {
        PyErr_SetString(PyExc_RuntimeError, "bind() an application first");
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

/* bind(app, state, root_path, tasks, receive_slow, send_slow, failed,
 * await_any, task_factory, task_type): what the HTTP requests run
 * (asgi_cycle.c) and the Python helpers it calls (cio/asgi.py). */
static PyObject *server_bind(AsgiServer *S, PyObject *args)
{
    PyObject *app, *state, *root, *tasks, *rs, *ss, *failed, *aw, *tf, *tt;
    if (!PyArg_ParseTuple(args, "OO!UO!OOOOOO", &app, &PyDict_Type, &state, &root,
                          &PySet_Type, &tasks, &rs, &ss, &failed, &aw, &tf, &tt))
        return NULL;
    Py_XSETREF(S->app, Py_NewRef(app));
    Py_XSETREF(S->state, Py_NewRef(state));
    Py_XSETREF(S->root_path, PyUnicode_GET_LENGTH(root) ? Py_NewRef(root) : NULL);
    Py_XSETREF(S->tasks, Py_NewRef(tasks));
    Py_XSETREF(S->receive_slow, Py_NewRef(rs));
    Py_XSETREF(S->send_slow, Py_NewRef(ss));
    Py_XSETREF(S->failed, Py_NewRef(failed));
    Py_XSETREF(S->await_any, Py_NewRef(aw));
    Py_XSETREF(S->task_factory, Py_NewRef(tf));
    Py_XSETREF(S->task_type, Py_NewRef(tt));
    Py_CLEAR(S->scope_http); /* it holds the root path */
    Py_RETURN_NONE;
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
    if (cio_asgi_opt_double(kw, "max_body", &mb) ||
        cio_asgi_opt_double(kw, "header_timeout", &S->opts.header_timeout) ||
        cio_asgi_opt_double(kw, "body_timeout", &S->opts.body_timeout) ||
        cio_asgi_opt_double(kw, "idle_timeout", &S->opts.idle_timeout) ||
        cio_asgi_opt_double(kw, "write_timeout", &S->opts.write_timeout) ||
        cio_asgi_opt_double(kw, "log_requests", &lr) || cio_asgi_ws_options(S, kw) ||
        cio_asgi_tls_options(S, kw) || PyUnicode_AsUTF8(host) == NULL) {
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
    Py_VISIT(S->app);
    Py_VISIT(S->state);
    Py_VISIT(S->root_path);
    Py_VISIT(S->tasks);
    Py_VISIT(S->receive_slow);
    Py_VISIT(S->send_slow);
    Py_VISIT(S->failed);
    Py_VISIT(S->await_any);
    Py_VISIT(S->task_factory);
    Py_VISIT(S->task_type);
    Py_VISIT(S->server_addr);
    Py_VISIT(S->scope_http);
    return 0;
}

static int server_clear(AsgiServer *S)
{
    Py_CLEAR(S->on_request);
    Py_CLEAR(S->app);
    Py_CLEAR(S->state);
    Py_CLEAR(S->root_path);
    Py_CLEAR(S->tasks);
    Py_CLEAR(S->receive_slow);
    Py_CLEAR(S->send_slow);
    Py_CLEAR(S->failed);
    Py_CLEAR(S->await_any);
    Py_CLEAR(S->task_factory);
    Py_CLEAR(S->task_type);
    Py_CLEAR(S->server_addr);
    Py_CLEAR(S->scope_http);
    return 0;
}

static void server_dealloc(AsgiServer *S)
{
    PyObject_GC_UnTrack(S);
    if (S->srv && S->L->loop)
        cio_http_server_free(S->srv);
    cio_tls_context_free(S->tls); /* sessions still open hold their own reference */
    server_clear(S);
    Py_CLEAR(S->host);
    Py_CLEAR(S->fut);
    Py_CLEAR(S->L);
    Py_TYPE(S)->tp_free((PyObject *)S);
}

static PyMethodDef server_methods[] = {
    {"bind", (PyCFunction)server_bind, METH_VARARGS, "bind(app, state, root_path, ...)"},
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
    str_create_future = PyUnicode_InternFromString("create_future");
    if (!str_create_future || cio_asgi_x_init() < 0 ||
        PyType_Ready(&AsgiConn_Type) < 0 || PyType_Ready(&CioAsgiServer_Type) < 0 ||
        cio_asgi_ws_init() < 0 || cio_asgi_cycle_init(m) < 0 ||
        cio_asgi_scope_init() < 0)
        return -1;
    Py_INCREF(&CioAsgiServer_Type);
    if (PyModule_AddObject(m, "_AsgiServer", (PyObject *)&CioAsgiServer_Type) < 0) {
        Py_DECREF(&CioAsgiServer_Type);
        return -1;
    }
    return 0;
}
