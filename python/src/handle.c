/*
 * handle.c - cio.Handle and cio.TimerHandle: the objects call_soon,
 * call_later and call_at return (asyncio.Handle / asyncio.TimerHandle's
 * interface: cancel, cancelled, when, get_context, _run).
 *
 * A handle runs its callback in its contextvars.Context; an Exception goes
 * to the loop's exception handler as asyncio's Handle._run does, while
 * SystemExit and KeyboardInterrupt propagate (the loop core stops and
 * re-raises them from run_forever).  Cancelling a timer takes it out of
 * the engine's heap at once (cio_handle_cancel), so a cancelled long
 * timeout costs nothing until its deadline.
 */
#include "cio_py.h"

#include <structmember.h>

CioHandle *cio_handle_make(PyObject *loop, PyObject *callback, PyObject *args,
                           PyObject *context, int timer, double when)
{
    CioHandle *h = PyObject_GC_New(CioHandle, timer ? &CioTimerHandle_Type : &CioHandle_Type);
    if (!h)
        return NULL;
    if (context == NULL || context == Py_None) {
        context = PyContext_CopyCurrent();
        if (!context) {
            h->loop = h->callback = h->args = h->context = NULL;
            h->weakreflist = NULL;
            Py_DECREF(h);
            return NULL;
        }
    } else {
        Py_INCREF(context);
    }
    Py_INCREF(loop);
    Py_INCREF(callback);
    Py_INCREF(args);
    h->loop = loop;
    h->callback = callback;
    h->args = args;
    h->context = context;
    h->ch = NULL;
    h->when = when;
    h->cancelled = 0;
    h->scheduled = 0;
    h->prev = h->next = NULL;
    h->weakreflist = NULL;
    PyObject_GC_Track(h);
    return h;
}

/* Reports an Exception the callback raised to the loop's handler, as
 * asyncio's Handle._run does.  The exception is set on entry. */
static int report_exception(CioHandle *h)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    PyObject *what = NULL, *msg = NULL, *ctx = NULL;
    if (h->callback && cio_format_cb)
        what = PyObject_CallFunctionObjArgs(cio_format_cb, h->callback, h->args, NULL);
    if (!what) {
        PyErr_Clear();
        what = PyObject_Repr((PyObject *)h);
    }
    if (what)
        msg = PyUnicode_FromFormat("Exception in callback %U", what);
    ctx = PyDict_New();
    int rc = -1;
    if (msg && ctx && PyDict_SetItemString(ctx, "message", msg) == 0 &&
        PyDict_SetItemString(ctx, "exception", value ? value : Py_None) == 0 &&
        PyDict_SetItemString(ctx, "handle", (PyObject *)h) == 0) {
        PyObject *r = PyObject_CallMethodOneArg(h->loop, cio_str_call_exception_handler, ctx);
        if (r) {
            Py_DECREF(r);
            rc = 0;
        }
    }
    Py_XDECREF(what);
    Py_XDECREF(msg);
    Py_XDECREF(ctx);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (rc < 0 && !(PyErr_ExceptionMatches(PyExc_SystemExit) ||
                    PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))) {
        /* A failing handler is itself reported, not raised (asyncio's
         * call_exception_handler guards its own handler the same way). */
        PyErr_WriteUnraisable((PyObject *)h);
        rc = 0;
    }
    return rc;
}

int cio_handle_run(CioHandle *h)
{
    PyObject *cb = h->callback, *args = h->args, *ctx = h->context;
    if (!cb)
        return 0;
    Py_INCREF(cb);
    Py_INCREF(args);
    Py_INCREF(ctx);
    PyObject *res = NULL;
    if (PyContext_Enter(ctx) == 0) {
        Py_ssize_t n = PyTuple_GET_SIZE(args);
        res = n ? PyObject_Call(cb, args, NULL) : PyObject_CallNoArgs(cb);
        PyContext_Exit(ctx);
    }
    Py_DECREF(cb);
    Py_DECREF(args);
    Py_DECREF(ctx);
    if (res) {
        Py_DECREF(res);
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_SystemExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
        return -1;
    return report_exception(h);
}

static PyObject *handle_cancel(CioHandle *h, PyObject *unused)
{
    if (h->cancelled)
        Py_RETURN_NONE;
    h->cancelled = 1;
    Py_INCREF(h);
    if (h->ch) {
        /* A timer leaves the engine's heap now; its callback will never
         * run, so the schedule's reference goes here. */
        cio_handle_cancel(h->ch);
        cio_handle_unref(h->ch);
        h->ch = NULL;
        if (h->scheduled)
            cio_loop_unlink((CioLoop *)h->loop, h);
    }
    /* Drop the callback's references now (asyncio keeps them in debug
     * mode for the repr; we favour freeing what the callback holds). */
    Py_CLEAR(h->callback);
    Py_CLEAR(h->args);
    Py_DECREF(h);
    Py_RETURN_NONE;
}

static PyObject *handle_cancelled(CioHandle *h, PyObject *unused)
{
    return PyBool_FromLong(h->cancelled);
}

static PyObject *handle_run_method(CioHandle *h, PyObject *unused)
{
    if (cio_handle_run(h) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *handle_get_context(CioHandle *h, PyObject *unused)
{
    Py_INCREF(h->context);
    return h->context;
}

static PyObject *handle_when(CioHandle *h, PyObject *unused)
{
    return PyFloat_FromDouble(h->when);
}

static PyObject *handle_repr(CioHandle *h)
{
    const char *name = Py_TYPE(h) == &CioTimerHandle_Type ? "TimerHandle" : "Handle";
    PyObject *parts = PyUnicode_FromFormat("<%s", name);
    if (!parts)
        return NULL;
    if (h->cancelled)
        PyUnicode_AppendAndDel(&parts, PyUnicode_FromString(" cancelled"));
    if (parts && Py_TYPE(h) == &CioTimerHandle_Type) {
        PyObject *w = PyFloat_FromDouble(h->when);
        PyObject *ws = w ? PyObject_Repr(w) : NULL;
        Py_XDECREF(w);
        if (ws)
            PyUnicode_AppendAndDel(&parts, PyUnicode_FromFormat(" when=%U", ws));
        Py_XDECREF(ws);
    }
    if (parts && h->callback && cio_format_cb) {
        PyObject *s = PyObject_CallFunctionObjArgs(cio_format_cb, h->callback, h->args, NULL);
        if (s) {
            PyUnicode_AppendAndDel(&parts, PyUnicode_FromFormat(" %U", s));
            Py_DECREF(s);
        } else {
            PyErr_Clear();
        }
    }
    if (parts)
        PyUnicode_AppendAndDel(&parts, PyUnicode_FromString(">"));
    return parts;
}

static PyObject *handle_get_cancelled(CioHandle *h, void *c) { return PyBool_FromLong(h->cancelled); }
static PyObject *handle_get_scheduled(CioHandle *h, void *c) { return PyBool_FromLong(h->scheduled); }
static PyObject *handle_get_when(CioHandle *h, void *c) { return PyFloat_FromDouble(h->when); }
static PyObject *handle_get_source_tb(CioHandle *h, void *c) { Py_RETURN_NONE; }

static PyObject *handle_new(PyTypeObject *type, PyObject *a, PyObject *kw)
{
    static char *kwlist[] = {"callback", "args", "loop", "context", NULL};
    PyObject *cb, *args, *loop, *ctx = Py_None;
    if (!PyArg_ParseTupleAndKeywords(a, kw, "OO!O|O", kwlist, &cb, &PyTuple_Type, &args, &loop, &ctx))
        return NULL;
    return (PyObject *)cio_handle_make(loop, cb, args, ctx, 0, 0);
}

static int handle_traverse(CioHandle *h, visitproc visit, void *arg)
{
    Py_VISIT(h->loop);
    Py_VISIT(h->callback);
    Py_VISIT(h->args);
    Py_VISIT(h->context);
    return 0;
}

static int handle_clear(CioHandle *h)
{
    Py_CLEAR(h->callback);
    Py_CLEAR(h->args);
    Py_CLEAR(h->context);
    return 0;
}

static void handle_dealloc(CioHandle *h)
{
    PyObject_GC_UnTrack(h);
    if (h->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)h);
    /* A scheduled handle holds a reference on itself: reaching zero means
     * it is no longer scheduled, so only an engine timer may be left. */
    if (h->ch) {
        cio_handle_cancel(h->ch);
        cio_handle_unref(h->ch);
    }
    handle_clear(h);
    Py_CLEAR(h->loop);
    PyObject_GC_Del(h);
}

static PyMethodDef handle_methods[] = {
    {"cancel", (PyCFunction)handle_cancel, METH_NOARGS, "Cancels the callback."},
    {"cancelled", (PyCFunction)handle_cancelled, METH_NOARGS, "True once cancelled."},
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS, "The callback's context."},
    {"_run", (PyCFunction)handle_run_method, METH_NOARGS, "Runs the callback now."},
    {NULL}};

static PyMethodDef timer_methods[] = {
    {"when", (PyCFunction)handle_when, METH_NOARGS, "The deadline, on loop.time()'s scale."},
    {NULL}};

static PyMemberDef handle_members[] = {
    {"_callback", T_OBJECT, offsetof(CioHandle, callback), READONLY, NULL},
    {"_args", T_OBJECT, offsetof(CioHandle, args), READONLY, NULL},
    {"_loop", T_OBJECT, offsetof(CioHandle, loop), READONLY, NULL},
    {"_context", T_OBJECT, offsetof(CioHandle, context), READONLY, NULL},
    {NULL}};

static PyGetSetDef handle_getset[] = {
    {"_cancelled", (getter)handle_get_cancelled, NULL, NULL, NULL},
    {"_scheduled", (getter)handle_get_scheduled, NULL, NULL, NULL},
    {"_when", (getter)handle_get_when, NULL, NULL, NULL},
    {"_source_traceback", (getter)handle_get_source_tb, NULL, NULL, NULL},
    {NULL}};

PyTypeObject CioHandle_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio.Handle",
    .tp_basicsize = sizeof(CioHandle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_repr = (reprfunc)handle_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A callback scheduled on a cio loop (asyncio.Handle's interface).",
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_weaklistoffset = offsetof(CioHandle, weakreflist),
    .tp_methods = handle_methods,
    .tp_members = handle_members,
    .tp_getset = handle_getset,
    .tp_new = handle_new,
};

PyTypeObject CioTimerHandle_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio.TimerHandle",
    .tp_basicsize = sizeof(CioHandle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_repr = (reprfunc)handle_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A timer scheduled on a cio loop (asyncio.TimerHandle's interface).",
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_weaklistoffset = offsetof(CioHandle, weakreflist),
    .tp_methods = timer_methods,
    .tp_base = &CioHandle_Type,
};
