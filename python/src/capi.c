/*
 * capi.c - the C API capsule cio._cio._C_API (python/include/cio_python.h):
 * other C extensions find the cio_loop under the running Python loop, start
 * C coroutines on it as Python-awaitable tasks, and call the one engine
 * linked into this module through its function table.
 *
 * A started C task is paired with an asyncio.Future ("done") that a cio
 * done callback (c_done) resolves with the converted outcome, and with a
 * _CTask object that owns the cio_task reference.  The Python task that
 * callers await runs cio._c_task_main (cio/__init__.py): it waits for
 * done without ever cancelling it, so cancelling the Python task cancels
 * the C task and then waits for it to unwind.
 */
#define CIOPY_BUILDING_CIO
#include "cio_py.h"
#include "cio_python.h"

#include <errno.h>

PyObject *cio_error_type;        /* cio.CioError */
static PyObject *get_running;    /* _asyncio._get_running_loop */
static PyObject *cancelled_type; /* asyncio.CancelledError */
static PyObject *start_py;       /* cio._start_c_task */

/* The pairing of a C task with its Python future. */
typedef struct CTask {
    PyObject_HEAD
    cio_task *t;                 /* owned reference; NULL once ended */
    PyObject *done;              /* the asyncio.Future c_done resolves */
    CioPy_ConvertFn *convert;    /* success → Python value, or NULL */
    CioPy_ReleaseFn *release;    /* frees arg once the task ended, or NULL */
    void *arg;                   /* the coroutine's argument */
} CTask;

/* cio's own codes by name, for CioError.name. */
static const char *code_name(int code)
{
    switch (code) {
    case CIO_ENOTASK: return "CIO_ENOTASK";
    case CIO_EWRONGTHREAD: return "CIO_EWRONGTHREAD";
    case CIO_EINVALSTATE: return "CIO_EINVALSTATE";
    case CIO_ECLOSED: return "CIO_ECLOSED";
    case CIO_ERUNNING: return "CIO_ERUNNING";
    case CIO_ENOLOOP: return "CIO_ENOLOOP";
    case CIO_ESHUTDOWN: return "CIO_ESHUTDOWN";
    case CIO_EEMPTY: return "CIO_EEMPTY";
    case CIO_EFULL: return "CIO_EFULL";
    case CIO_EBROKEN: return "CIO_EBROKEN";
    case CIO_ELIMIT: return "CIO_ELIMIT";
    case CIO_EINCOMPLETE: return "CIO_EINCOMPLETE";
    case CIO_ESTALLED: return "CIO_ESTALLED";
    case CIO_ETLS: return "CIO_ETLS";
    case CIO_EWORKERDIED: return "CIO_EWORKERDIED";
    case CIO_EPG: return "CIO_EPG";
    default: return code <= CIO_EGAIERR && code > CIO_EGAIERR - 100 ? "CIO_EGAIERR" : "CIO_E?";
    }
}

/* The exception instance for a failure code (a new reference, or NULL
 * with an exception set): OSError for errno codes, CancelledError for
 * -ECANCELED, CioError otherwise. */
static PyObject *make_exception(int code, const char *message)
{
    if (!message || !*message)
        message = cio_strerror(code);
    if (code == -ECANCELED)
        return PyObject_CallFunction(cancelled_type, "s", message);
    if (code < 0 && code >= -CIO_ERRNO_MAX)
        return PyObject_CallFunction(PyExc_OSError, "is", -code, message);
    PyObject *e = PyObject_CallFunction(cio_error_type, "s", message);
    if (!e)
        return NULL;
    PyObject *c = PyLong_FromLong(code);
    PyObject *n = PyUnicode_FromString(code_name(code));
    PyObject *m = PyUnicode_FromString(message);
    if (!c || !n || !m || PyObject_SetAttrString(e, "code", c) < 0 ||
        PyObject_SetAttrString(e, "name", n) < 0 || PyObject_SetAttrString(e, "message", m) < 0)
        Py_CLEAR(e);
    Py_XDECREF(c);
    Py_XDECREF(n);
    Py_XDECREF(m);
    return e;
}

static PyObject *api_raise_code(int code, const char *message)
{
    PyObject *e = make_exception(code, message);
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

static cio_loop *api_loop_of(PyObject *pyloop)
{
    if (!pyloop || !PyObject_TypeCheck(pyloop, &CioLoop_Type)) {
        PyErr_Format(PyExc_RuntimeError,
                     "not a cio event loop: %s (run the program with cio.run() or "
                     "loop_factory=cio.new_event_loop)",
                     pyloop ? Py_TYPE(pyloop)->tp_name : "NULL");
        return NULL;
    }
    CioLoop *L = (CioLoop *)pyloop;
    if (L->closed || !L->loop) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return NULL;
    }
    return L->loop;
}

/* The running Python loop (a new reference), or NULL with RuntimeError. */
static PyObject *running_pyloop(void)
{
    PyObject *loop = PyObject_CallNoArgs(get_running);
    if (loop == Py_None) {
        Py_DECREF(loop);
        PyErr_SetString(PyExc_RuntimeError, "no running event loop");
        return NULL;
    }
    return loop;
}

static cio_loop *api_running_loop(void)
{
    PyObject *loop = running_pyloop();
    if (!loop)
        return NULL;
    cio_loop *l = api_loop_of(loop);
    Py_DECREF(loop);
    return l;
}

/* Completes ct->done with outcome rc of the C task (the GIL is held: the
 * engine runs callbacks only between its waits, which release it). */
static void resolve(CTask *ct, int rc, void *res, const char *msg)
{
    PyObject *r = NULL;
    if (rc >= 0) {
        PyObject *val = ct->convert ? ct->convert(res, ct->arg) : (Py_INCREF(Py_None), Py_None);
        if (val) {
            r = PyObject_CallMethod(ct->done, "set_result", "O", val);
            Py_DECREF(val);
        } else {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            if (tb)
                PyException_SetTraceback(v, tb);
            r = v ? PyObject_CallMethod(ct->done, "set_exception", "O", v) : NULL;
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
        }
    } else if (rc == -ECANCELED) {
        r = msg ? PyObject_CallMethod(ct->done, "cancel", "s", msg)
                : PyObject_CallMethod(ct->done, "cancel", NULL);
    } else {
        PyObject *e = make_exception(rc, msg);
        r = e ? PyObject_CallMethod(ct->done, "set_exception", "O", e) : NULL;
        Py_XDECREF(e);
    }
    if (r)
        Py_DECREF(r);
    else
        PyErr_WriteUnraisable((PyObject *)ct);
}

/* The cio task's done callback; arg is a reference to its CTask. */
static void c_done(cio_future *fut, void *arg)
{
    CTask *ct = arg;
    void *res = NULL;
    int rc = cio_task_result(ct->t, &res);
    const char *msg = cio_task_error_message(ct->t);
    PyObject *isdone = PyObject_CallMethod(ct->done, "done", NULL);
    int already = isdone ? PyObject_IsTrue(isdone) : -1;
    Py_XDECREF(isdone);
    if (already == 0)
        resolve(ct, rc, res, msg);
    else if (already < 0)
        PyErr_WriteUnraisable((PyObject *)ct);
    if (ct->release)
        ct->release(ct->arg);
    ct->release = NULL;
    cio_task_unref(ct->t);
    ct->t = NULL;
    Py_DECREF(ct);
}

/* _CTask._cancel(msg=None): asks the C task to cancel (from the Python
 * task's cancellation); False once it has ended. */
static PyObject *ctask_cancel(CTask *ct, PyObject *const *a, Py_ssize_t n)
{
    const char *msg = NULL;
    if (n > 1) {
        PyErr_SetString(PyExc_TypeError, "_cancel(msg=None)");
        return NULL;
    }
    if (n == 1 && a[0] != Py_None && !(msg = PyUnicode_AsUTF8(a[0])))
        return NULL;
    if (!ct->t || cio_task_done(ct->t))
        Py_RETURN_FALSE;
    int rc = cio_task_cancel(ct->t, msg);
    if (rc < 0)
        return api_raise_code(rc, NULL);
    return PyBool_FromLong(rc);
}

static void ctask_dealloc(CTask *ct)
{
    /* c_done holds a reference until the task ended, so here the task is
     * done, or was never started (start_task failed). */
    if (ct->t)
        cio_task_unref(ct->t);
    Py_XDECREF(ct->done);
    Py_TYPE(ct)->tp_free((PyObject *)ct);
}

static PyMethodDef ctask_methods[] = {
    {"_cancel", (PyCFunction)(void (*)(void))ctask_cancel, METH_FASTCALL, NULL},
    {NULL}};

PyTypeObject CioCTask_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._cio._CTask",
    .tp_basicsize = sizeof(CTask),
    .tp_dealloc = (destructor)ctask_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A C coroutine running as a cio task, paired with a Python future.",
    .tp_methods = ctask_methods,
};

static PyObject *api_start_task(PyObject *pyloop, cio_coro_fn *fn, void *arg, const char *name,
                                CioPy_ConvertFn *convert, CioPy_ReleaseFn *release)
{
    if (!fn) {
        PyErr_SetString(PyExc_TypeError, "CioPy_StartTask: fn is NULL");
        return NULL;
    }
    PyObject *loop = pyloop ? (Py_INCREF(pyloop), pyloop) : running_pyloop();
    if (!loop)
        return NULL;
    cio_loop *cl = api_loop_of(loop);
    CTask *ct = NULL;
    PyObject *task = NULL, *pyname = NULL;
    if (!cl)
        goto out;
    ct = PyObject_New(CTask, &CioCTask_Type);
    if (!ct)
        goto out;
    ct->t = NULL;
    ct->convert = convert;
    ct->release = release;
    ct->arg = arg;
    ct->done = PyObject_CallMethod(loop, "create_future", NULL);
    if (!ct->done)
        goto out;
    pyname = name ? PyUnicode_FromString(name) : (Py_INCREF(Py_None), Py_None);
    if (!pyname)
        goto out;
    int rc = cio_task_new(cl, fn, arg, &(cio_task_options){.name = name}, &ct->t);
    if (rc < 0) {
        ct->t = NULL;
        api_raise_code(rc, NULL);
        goto out;
    }
    Py_INCREF(ct); /* c_done's */
    rc = cio_future_add_done_callback(cio_task_future(ct->t), c_done, ct);
    if (rc < 0) {
        Py_DECREF(ct);
        ct->release = NULL;
        cio_task_cancel(ct->t, NULL); /* not started: it ends without running */
        api_raise_code(rc, NULL);
        goto out;
    }
    task = !start_py ? (PyErr_SetString(PyExc_RuntimeError, "import cio first"), NULL)
                     : PyObject_CallFunctionObjArgs(start_py, loop, ct->done, (PyObject *)ct, pyname, NULL);
    if (!task) {
        /* fn never runs (cancelled before it starts) and the caller keeps
         * arg: c_done must not release it. */
        ct->release = NULL;
        ct->convert = NULL;
        cio_task_cancel(ct->t, NULL);
    }
out:
    Py_XDECREF(pyname);
    Py_XDECREF(ct);
    Py_DECREF(loop);
    return task;
}

static PyObject *api_int_result(void *result, void *arg)
{
    return PyLong_FromSsize_t((Py_ssize_t)(intptr_t)result);
}

static CioPy_CAPI capi = {
    .version = CIOPY_API_VERSION,
    .engine_count = CIOPY_ENGINE_COUNT,
    .running_loop = api_running_loop,
    .loop_of = api_loop_of,
    .start_task = api_start_task,
    .raise_code = api_raise_code,
    .int_result = api_int_result,
    .engine = {
#define FILL(name) .name = name,
        CIOPY_ENGINE_FUNCTIONS(FILL)
#undef FILL
    },
};

int cio_capi_init(PyObject *m)
{
    if (PyType_Ready(&CioCTask_Type) < 0)
        return -1;
    cio_error_type = PyErr_NewExceptionWithDoc(
        "cio.CioError",
        "A cio engine error (a CIO_E* code) from C code: args (message,); "
        "attributes code, name, message.",
        PyExc_Exception, NULL);
    if (!cio_error_type)
        return -1;
    PyObject *aio = PyImport_ImportModule("_asyncio");
    if (!aio)
        return -1;
    get_running = PyObject_GetAttrString(aio, "_get_running_loop");
    Py_DECREF(aio);
    PyObject *exc = PyImport_ImportModule("asyncio.exceptions");
    if (!get_running || !exc) {
        Py_XDECREF(exc);
        return -1;
    }
    cancelled_type = PyObject_GetAttrString(exc, "CancelledError");
    Py_DECREF(exc);
    if (!cancelled_type)
        return -1;
    capi.error_type = cio_error_type;
    capi.engine_version = cio_version();
    PyObject *cap = PyCapsule_New(&capi, CIOPY_CAPSULE_NAME, NULL);
    Py_INCREF(cio_error_type);
    if (!cap || PyModule_AddObject(m, "_C_API", cap) < 0) {
        Py_XDECREF(cap);
        Py_DECREF(cio_error_type);
        return -1;
    }
    if (PyModule_AddObject(m, "CioError", cio_error_type) < 0) {
        Py_DECREF(cio_error_type);
        return -1;
    }
    return 0;
}

/* cio._cio._set_c_task_starter(fn): cio/__init__.py hands over
 * _start_c_task(loop, done, ctask, name), which wraps done in the
 * asyncio.Task callers await (done at import, before any C task). */
PyObject *cio_set_c_task_starter(PyObject *self, PyObject *fn)
{
    Py_INCREF(fn);
    Py_XSETREF(start_py, fn);
    Py_RETURN_NONE;
}
