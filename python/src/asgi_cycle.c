/*
 * asgi_cycle.c - one HTTP request's ASGI cycle in C: the receive() and
 * send() the application is called with, and the coroutine its asyncio
 * task runs (the application's own, wrapped: cio._cio._AsgiRun).
 *
 * The common request - no body, one http.response.start and one complete
 * http.response.body - runs no Python of cio's: receive() and send()
 * return an awaitable that is already finished (_Ready), the response
 * goes to the engine from C, and the wrapper finishes the request as the
 * application's coroutine returns, instead of a Python coroutine around
 * the application and a done callback on its task.  Measured with a raw
 * ASGI application (docs/python.md): the Python glue per request went
 * from 2.3 to about 1 µs.  Whatever may suspend or is rare - a request
 * body, a streamed response, waiting for http.disconnect, an application
 * that fails or returns without answering - goes to cio/asgi.py's
 * functions (receive_slow, send_slow, failed), which read and change the
 * same state through _AsgiConn's attributes.  All of it runs on the
 * loop's stack with the GIL held.
 */
#include "asgi.h"

#include <string.h>

static PyTypeObject Ready_Type, Run_Type;
static PyObject *ready_none;   /* the finished awaitable of None, shared */
static PyObject *str_type, *str_status, *str_headers, *str_body, *str_more_body;
static PyObject *str_start, *str_resp_body, *str_http_request, *str_throw, *str_close;
static PyObject *str_state, *str_loop, *empty_bytes;
static PyObject *kw_loop; /* ("loop",): Task(run, loop=...)'s keyword names */

/* ---- _Ready: an awaitable already finished with a value -------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *value;           /* the result of the await */
} Ready;

static PyObject *ready_new(PyObject *value) /* steals value */
{
    if (!value)
        return NULL;
    Ready *r = PyObject_New(Ready, &Ready_Type);
    if (!r) {
        Py_DECREF(value);
        return NULL;
    }
    r->value = value;
    return (PyObject *)r;
}

static void ready_dealloc(Ready *r)
{
    Py_XDECREF(r->value);
    PyObject_Free(r);
}

static PySendResult ready_am_send(Ready *r, PyObject *arg, PyObject **result)
{
    *result = Py_NewRef(r->value);
    return PYGEN_RETURN;
}

/* Raises StopIteration(value) (a value that is a tuple stays one). */
static PyObject *ready_stop(Ready *r)
{
    if (r->value == Py_None)
        return NULL; /* no exception set: StopIteration(None) */
    PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, r->value);
    if (e) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
    return NULL;
}

static PyObject *ready_send(Ready *r, PyObject *arg)
{
    ready_stop(r);
    if (!PyErr_Occurred())
        PyErr_SetNone(PyExc_StopIteration);
    return NULL;
}

static PyObject *ready_throw(Ready *r, PyObject *const *a, Py_ssize_t n)
{
    if (n < 1 || n > 3) {
        PyErr_SetString(PyExc_TypeError, "throw(exception)");
        return NULL;
    }
    if (PyExceptionInstance_Check(a[0]))
        PyErr_SetObject((PyObject *)Py_TYPE(a[0]), a[0]);
    else if (PyExceptionClass_Check(a[0]))
        PyErr_SetObject(a[0], n > 1 ? a[1] : NULL);
    else
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
    return NULL;
}

static PyObject *ready_close(Ready *r, PyObject *unused) { Py_RETURN_NONE; }

static PyMethodDef ready_methods[] = {
    {"send", (PyCFunction)ready_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))ready_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)ready_close, METH_NOARGS, NULL},
    {NULL}};

static PyAsyncMethods ready_async = {
    .am_await = PyObject_SelfIter,
    .am_send = (sendfunc)ready_am_send,
};

static PyTypeObject Ready_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._cio._Ready",
    .tp_basicsize = sizeof(Ready),
    .tp_dealloc = (destructor)ready_dealloc,
    .tp_as_async = &ready_async,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "What receive()/send() return when they need not wait: already done.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)ready_stop,
    .tp_methods = ready_methods,
};

/* ---- receive() and send() ------------------------------------------------------- */

/* receive(): a bodiless request's one http.request at once; the rest in
 * cio/asgi.py (body chunks, then waiting for http.disconnect). */
static PyObject *cycle_receive(AsgiConn *c, PyObject *unused)
{
    if (!c->body_done && !c->disconnected && !c->has_body) {
        c->body_done = 1;
        PyObject *m = PyDict_New();
        if (!m || PyDict_SetItem(m, str_type, str_http_request) ||
            PyDict_SetItem(m, str_body, empty_bytes) ||
            PyDict_SetItem(m, str_more_body, Py_False)) {
            Py_XDECREF(m);
            return NULL;
        }
        return ready_new(m);
    }
    return PyObject_CallOneArg(c->x->S->receive_slow, (PyObject *)c);
}

/* send(message): http.response.start, and a complete body, from C; a
 * streamed body, anything unexpected (and its error) in cio/asgi.py. */
static PyObject *cycle_send(AsgiConn *c, PyObject *m)
{
    if (!PyDict_CheckExact(m))
        goto slow;
    PyObject *kind = PyDict_GetItemWithError(m, str_type);
    if (!kind || !PyUnicode_CheckExact(kind))
        goto slow;
    if (!c->started) {
        PyObject *status = PyDict_GetItemWithError(m, str_status);
        if (!status || !PyLong_CheckExact(status) ||
            PyUnicode_Compare(kind, str_start) != 0)
            goto slow;
        int st = _PyLong_AsInt(status);
        if (st == -1 && PyErr_Occurred())
            return NULL;
        PyObject *h = PyDict_GetItemWithError(m, str_headers);
        if (!h && PyErr_Occurred())
            return NULL;
        c->started = 1;
        c->status = st;
        Py_XSETREF(c->headers, h ? Py_NewRef(h) : PyTuple_New(0));
        return Py_NewRef(ready_none);
    }
    if (c->complete || c->disconnected || c->streaming ||
        PyUnicode_Compare(kind, str_resp_body) != 0)
        goto slow;
    PyObject *more = PyDict_GetItemWithError(m, str_more_body);
    if (more && more != Py_False)
        goto slow;
    PyObject *body = PyDict_GetItemWithError(m, str_body);
    if (!body)
        body = empty_bytes;
    if (!PyBytes_CheckExact(body) || PyErr_Occurred())
        goto slow;
    if (cio_asgi_conn_respond(c, c->status, c->headers, PyBytes_AS_STRING(body),
                              PyBytes_GET_SIZE(body)) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_ConnectionError))
            return NULL;
        PyErr_Clear(); /* the client left: the response is dropped */
        c->disconnected = 1;
    } else {
        c->complete = 1;
    }
    if (cio_asgi_conn_wake(c) < 0)
        return NULL;
    return Py_NewRef(ready_none);
slow:
    if (PyErr_Occurred())
        return NULL;
    return PyObject_CallFunctionObjArgs(c->x->S->send_slow, (PyObject *)c, m, NULL);
}

static PyMethodDef receive_def = {"receive", (PyCFunction)cycle_receive, METH_NOARGS,
                                  "ASGI receive()"};
static PyMethodDef send_def = {"send", (PyCFunction)cycle_send, METH_O, "ASGI send(message)"};

/* ---- _AsgiRun: the application's coroutine, and the request's end ----------- */

typedef struct {
    PyObject_HEAD
    AsgiConn *conn;            /* the request (strong) */
    PyObject *coro;            /* the application's coroutine, until it ends */
    PyObject *task;            /* the asyncio task running us, until we end */
} Run;

/* The application ended (r: PYGEN_RETURN, or PYGEN_ERROR with its
 * exception set): answer 500 or abort if it must, finish the request.
 * An Exception is logged and swallowed, as uvicorn does; CancelledError,
 * KeyboardInterrupt and SystemExit go on to the task. */
static PySendResult run_ended(Run *run, PySendResult r, PyObject **result)
{
    AsgiConn *c = run->conn;
    AsgiServer *S = c->x->S;
    PyObject *et = NULL, *ev = NULL, *etb = NULL;
    if (r == PYGEN_RETURN) {
        Py_CLEAR(*result);
    } else {
        PyErr_Fetch(&et, &ev, &etb);
        PyErr_NormalizeException(&et, &ev, &etb);
        if (etb)
            PyException_SetTraceback(ev, etb);
    }
    Py_CLEAR(run->coro);
    int abort = 0;
    if (ev || (!c->complete && !c->disconnected)) {
        PyObject *a = PyObject_CallFunctionObjArgs(S->failed, (PyObject *)c, ev ? ev : Py_None,
                                                   NULL);
        abort = a ? PyObject_IsTrue(a) : 0;
        if (!a || abort < 0) {
            PyErr_WriteUnraisable(S->failed);
            abort = 1;
        }
        Py_XDECREF(a);
    }
    cio_asgi_conn_finish(c, abort);
    if (run->task) {
        if (PySet_Discard(S->tasks, run->task) < 0)
            PyErr_WriteUnraisable(S->tasks);
        Py_CLEAR(run->task);
    }
    if (ev && !PyObject_TypeCheck(ev, (PyTypeObject *)PyExc_Exception)) {
        PyErr_Restore(et, ev, etb);
        return PYGEN_ERROR;
    }
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(etb);
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

static PySendResult run_am_send(Run *run, PyObject *arg, PyObject **result)
{
    if (!run->coro) {
        PyErr_SetString(PyExc_RuntimeError, "an ASGI request's coroutine has ended");
        *result = NULL;
        return PYGEN_ERROR;
    }
    PySendResult r = PyIter_Send(run->coro, arg, result);
    return r == PYGEN_NEXT ? r : run_ended(run, r, result);
}

/* What the generator protocol's methods return for a step's outcome. */
static PyObject *run_step_result(PySendResult r, PyObject *res)
{
    if (r == PYGEN_NEXT)
        return res;
    if (r == PYGEN_RETURN) {
        Py_DECREF(res);
        PyErr_SetNone(PyExc_StopIteration);
    }
    return NULL;
}

static PyObject *run_send(Run *run, PyObject *arg)
{
    PyObject *res;
    PySendResult r = run_am_send(run, arg, &res);
    return run_step_result(r, res);
}

static PyObject *run_iternext(Run *run)
{
    PyObject *res;
    PySendResult r = run_am_send(run, Py_None, &res);
    if (r == PYGEN_RETURN) {
        Py_DECREF(res);
        return NULL; /* StopIteration(None), no exception set */
    }
    return r == PYGEN_NEXT ? res : NULL;
}

/* throw(exc): into the application's coroutine (a task's cancellation). */
static PyObject *run_throw(Run *run, PyObject *args)
{
    if (!run->coro) {
        PyErr_SetString(PyExc_RuntimeError, "an ASGI request's coroutine has ended");
        return NULL;
    }
    PyObject *meth = PyObject_GetAttr(run->coro, str_throw);
    PyObject *res = meth ? PyObject_Call(meth, args, NULL) : NULL;
    Py_XDECREF(meth);
    if (res)
        return res; /* it yielded */
    PySendResult r = PYGEN_ERROR;
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
        PyErr_Clear(); /* the application returned (its value is not used) */
        r = PYGEN_RETURN;
        res = Py_NewRef(Py_None);
    }
    r = run_ended(run, r, &res);
    return run_step_result(r, res);
}

static PyObject *run_close(Run *run, PyObject *unused)
{
    PyObject *coro = run->coro;
    run->coro = NULL;
    PyObject *r = coro ? PyObject_CallMethodNoArgs(coro, str_close) : Py_NewRef(Py_None);
    Py_XDECREF(coro);
    return r;
}

static int run_traverse(Run *run, visitproc visit, void *arg)
{
    Py_VISIT(run->conn);
    Py_VISIT(run->coro);
    Py_VISIT(run->task);
    return 0;
}

static int run_clear(Run *run)
{
    Py_CLEAR(run->coro);
    Py_CLEAR(run->task);
    Py_CLEAR(run->conn);
    return 0;
}

static void run_dealloc(Run *run)
{
    PyObject_GC_UnTrack(run);
    run_clear(run);
    PyObject_GC_Del(run);
}

static PyMethodDef run_methods[] = {
    {"send", (PyCFunction)run_send, METH_O, NULL},
    {"throw", (PyCFunction)run_throw, METH_VARARGS, NULL},
    {"close", (PyCFunction)run_close, METH_NOARGS, NULL},
    {NULL}};

static PyAsyncMethods run_async = {
    .am_await = PyObject_SelfIter,
    .am_send = (sendfunc)run_am_send,
};

static PyTypeObject Run_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._cio._AsgiRun",
    .tp_basicsize = sizeof(Run),
    .tp_dealloc = (destructor)run_dealloc,
    .tp_as_async = &run_async,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An ASGI application's coroutine for one request, and the request's end.",
    .tp_traverse = (traverseproc)run_traverse,
    .tp_clear = (inquiry)run_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)run_iternext,
    .tp_methods = run_methods,
};

/* ---- starting the application (asgi.h) ----------------------------------------- */

/* A failure before the task exists: handled as the task would. */
static int start_failed(AsgiConn *c)
{
    AsgiServer *S = c->x->S;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyErr_NormalizeException(&et, &ev, &etb);
    if (etb)
        PyException_SetTraceback(ev, etb);
    PyObject *a = PyObject_CallFunctionObjArgs(S->failed, (PyObject *)c, ev ? ev : Py_None,
                                               NULL);
    int abort = a ? PyObject_IsTrue(a) : 1;
    if (!a)
        PyErr_WriteUnraisable(S->failed);
    Py_XDECREF(a);
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(etb);
    cio_asgi_conn_finish(c, abort != 0);
    return 0;
}

int cio_asgi_cycle_start(AsgiConn *c, PyObject *scope, long long body, CioHandle **first)
{
    *first = NULL;
    AsgiServer *S = c->x->S;
    c->has_body = body != 0;
    c->left = body > 0 ? PyLong_FromLongLong(body) : Py_NewRef(Py_None);
    if (!c->left)
        return -1;
    PyObject *state = PyDict_Copy(S->state);
    if (!state || PyDict_SetItem(scope, str_state, state) < 0) {
        Py_XDECREF(state);
        return -1;
    }
    Py_DECREF(state);
    PyObject *recv = PyCFunction_New(&receive_def, (PyObject *)c);
    PyObject *send = recv ? PyCFunction_New(&send_def, (PyObject *)c) : NULL;
    PyObject *coro = send ? PyObject_CallFunctionObjArgs(S->app, scope, recv, send, NULL) : NULL;
    Py_XDECREF(recv);
    Py_XDECREF(send);
    if (!coro)
        return start_failed(c);
    if (!PyCoro_CheckExact(coro)) /* any awaitable (or a TypeError in the task) */
        Py_SETREF(coro, PyObject_CallOneArg(S->await_any, coro));
    Run *run = coro ? PyObject_GC_New(Run, &Run_Type) : NULL;
    if (!run) {
        Py_XDECREF(coro);
        return start_failed(c);
    }
    run->conn = (AsgiConn *)Py_NewRef(c);
    run->coro = coro;
    run->task = NULL;
    PyObject_GC_Track(run);
    PyObject *task;
    CioHandle **mark = cio_loop_ready_mark(S->L);
    if (S->task_factory != Py_None) {
        task = PyObject_CallFunctionObjArgs(S->task_factory, (PyObject *)S->L, run, NULL);
    } else {
        PyObject *args[] = {(PyObject *)run, (PyObject *)S->L};
        task = PyObject_Vectorcall(S->task_type, args, 1, kw_loop);
    }
    if (!task) {
        Py_CLEAR(run->coro); /* never awaited: no warning is useful here */
        Py_DECREF(run);
        return start_failed(c);
    }
    run->task = Py_NewRef(task);
    if (PySet_Add(S->tasks, task) < 0) /* it runs; shutdown will not cancel it */
        PyErr_WriteUnraisable(S->tasks);
    Py_DECREF(task);
    Py_DECREF(run);
    /* The task's one call_soon is its first step.  A task factory of the
     * application's may schedule otherwise: its tasks start as it says. */
    if (S->task_factory == Py_None)
        *first = cio_loop_take_newest(S->L, mark);
    return 0;
}

int cio_asgi_cycle_init(PyObject *m)
{
#define S_(var, s) ((var) = PyUnicode_InternFromString(s))
    if (!S_(str_type, "type") || !S_(str_status, "status") || !S_(str_headers, "headers") ||
        !S_(str_body, "body") || !S_(str_more_body, "more_body") ||
        !S_(str_start, "http.response.start") || !S_(str_resp_body, "http.response.body") ||
        !S_(str_http_request, "http.request") || !S_(str_throw, "throw") ||
        !S_(str_close, "close") ||
        !S_(str_state, "state") || !S_(str_loop, "loop"))
        return -1;
#undef S_
    if (!(empty_bytes = PyBytes_FromStringAndSize("", 0)) ||
        !(kw_loop = PyTuple_Pack(1, str_loop)) || PyType_Ready(&Ready_Type) < 0 ||
        PyType_Ready(&Run_Type) < 0 || !(ready_none = ready_new(Py_NewRef(Py_None))))
        return -1;
    Py_INCREF(&Run_Type);
    if (PyModule_AddObject(m, "_AsgiRun", (PyObject *)&Run_Type) < 0) {
        Py_DECREF(&Run_Type);
        return -1;
    }
    Py_INCREF(&Ready_Type);
    if (PyModule_AddObject(m, "_Ready", (PyObject *)&Ready_Type) < 0) {
        Py_DECREF(&Ready_Type);
        return -1;
    }
    return 0;
}
