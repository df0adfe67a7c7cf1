/*
 * asgi_x.c - what the ASGI server's C files share (asgi.c's HTTP requests,
 * asgi_ws.c's WebSockets): the counted state between a handler task and
 * Python with its queue of operations (struct cio_asgi_x, asgi.h), the
 * futures those resolve, the exceptions for cio's error codes, the
 * application's response headers and serve_asgi's numeric options.
 */
#include "asgi.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static PyObject *str_set_result, *str_set_exception, *str_done;

PyObject *cio_asgi_code_error(int rc)
{
    if (rc == CIO_ECLOSED || rc == -ECANCELED || rc == CIO_EINCOMPLETE)
        return PyObject_CallFunction(PyExc_ConnectionResetError, "s",
                                     "the client disconnected");
    /* errno codes and cio's own (CIO_ELIMIT: the body is too large) */
    return PyObject_CallFunction(PyExc_OSError, "is", -rc, cio_strerror(rc));
}

PyObject *cio_asgi_raise(int rc)
{
    PyObject *e = cio_asgi_code_error(rc);
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

/* Resolves fut (stolen) with val (stolen) or, val NULL, the exception
 * for rc; a future already done (cancelled) is left alone. */
void cio_asgi_resolve(PyObject *fut, PyObject *val, int rc)
{
    PyObject *done = PyObject_CallMethodNoArgs(fut, str_done);
    int is_done = done ? PyObject_IsTrue(done) : -1;
    Py_XDECREF(done);
    if (is_done == 0) {
        PyObject *r = val ? PyObject_CallMethodOneArg(fut, str_set_result, val)
                          : NULL;
        if (!val) {
            PyObject *e = cio_asgi_code_error(rc);
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

static void server_decref_cb(void *arg) { Py_DECREF((PyObject *)arg); }

/* (asgi.h) */
void cio_asgi_x_unref(void *xp)
{
    struct cio_asgi_x *x = xp;
    if (--x->refs > 0)
        return;
    AsgiServer *S = x->S;
    x->fini(x);
    cio_event_free(x->wake);
    PyMem_RawFree(x);
    /* the loop closed: leaked rather than freed on a task's stack */
    if (Py_REFCNT(S) > 1)
        Py_DECREF(S);
    else
        (void)cio_call_soon(S->L->loop, server_decref_cb, S, NULL);
}

/* (asgi.h) */
void cio_asgi_op_drop(struct cio_asgi_op *op, int rc)
{
    if (op->fut)
        cio_asgi_resolve(op->fut, NULL, rc);
    Py_XDECREF(op->data);
    PyMem_RawFree(op);
}

/* (asgi.h) */
void cio_asgi_drop_queue(void *xp, int rc)
{
    struct cio_asgi_x *x = xp;
    while (x->qhead) {
        struct cio_asgi_op *op = x->qhead;
        x->qhead = op->next;
        cio_asgi_op_drop(op, rc);
    }
    x->qtail = &x->qhead;
}

/* (asgi.h) */
int cio_asgi_post(void *xp, cio_callback_fn *fn)
{
    struct cio_asgi_x *x = xp;
    x->refs++;
    int rc = cio_call_soon(x->S->L->loop, fn, x, NULL);
    if (rc < 0)
        x->refs--;
    return rc;
}

/* 1 if the header named name (n bytes) is one the server writes itself:
 * Content-Length, Transfer-Encoding, Connection, Date. */
static int server_owned(const char *name, Py_ssize_t n)
{
    static const struct {
        Py_ssize_t len;
        const char *name;
    } own[] = {{4, "date"}, {10, "connection"}, {14, "content-length"}, {17, "transfer-encoding"}};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (n == own[i].len && strcasecmp(name, own[i].name) == 0)
            return 1;
    return 0;
}

/* Adds the application's headers; the server's own are left to it. */
int cio_asgi_add_headers(cio_http_request *req, PyObject *headers)
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
        if (!server_owned(ns, PyBytes_GET_SIZE(n))) {
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

/* (asgi.h) */
int cio_asgi_opt_double(PyObject *kw, const char *k, double *out)
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

int cio_asgi_x_init(void)
{
    str_set_result = PyUnicode_InternFromString("set_result");
    str_set_exception = PyUnicode_InternFromString("set_exception");
    str_done = PyUnicode_InternFromString("done");
    return str_set_result && str_set_exception && str_done ? 0 : -1;
}
