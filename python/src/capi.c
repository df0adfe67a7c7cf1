/*
 * capi.c - the C API capsule cio._cio._C_API (python/include/cio_python.h):
 * other C extensions find the cio_loop under the running Python loop, start
 * C coroutines on it as Python-awaitable tasks, and call the one engine
 * linked into this module through its function table.
 *
 * CioPy_StartTask returns the coroutine cio._c_task_main(ctask)
 * (cio/__init__.py), ctask a _CTask holding the C coroutine.  When that
 * coroutine first runs it starts the cio task (_CTask._start) and waits for
 * an asyncio.Future ("done") that the cio task's done callback (c_done)
 * resolves with the converted outcome; it never cancels done, so cancelling
 * the Python side cancels the C task and then waits for it to unwind.
 */
#define CIOPY_BUILDING_CIO
#include "cio_py.h"
#include "cio_python.h"

#include <errno.h>

PyObject *cio_error_type;        /* cio.CioError */
static PyObject *get_running;    /* _asyncio._get_running_loop */
static PyObject *cancelled_type; /* asyncio.CancelledError */
static PyObject *start_py;       /* cio._start_c_task */

/* A C coroutine to run as a cio task, and its pairing with the Python
 * future that reports its outcome. */
typedef struct CTask {
    PyObject_HEAD
    PyObject *loop;              /* the cio.Loop it runs on; NULL: the
                                    running one when it starts */
    cio_coro_fn *fn;             /* the coroutine */
    char *name;                  /* the task's name (PyMem), or NULL */
    int started;                 /* _start ran: fn runs, or ran */
    cio_task *t;                 /* owned reference; NULL once ended */
    PyObject *done;              /* the asyncio.Future c_done resolves */
    CioPy_ConvertFn *convert;    /* success → Python value, or NULL */
    CioPy_ReleaseFn *release;    /* frees arg once the task ended, or NULL */
    void *arg;                   /* the coroutine's argument */
    struct CTask *prev, *next;   /* the started ones whose c_done has not
                                    run (live list, for a closing loop) */
} CTask;

/* Started C tasks still waiting for c_done, so that a loop closed under
 * them (cio_capi_loop_closed) can let go of them.  The GIL guards it. */
static CTask *live;

static void live_unlink(CTask *ct)
{
    if (ct->prev)
        ct->prev->next = ct->next;
    else
        live = ct->next;
    if (ct->next)
        ct->next->prev = ct->prev;
    ct->prev = ct->next = NULL;
}

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
    live_unlink(ct);
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

/* _CTask._start(): starts the C task on its loop (when the coroutine
 * CioPy_StartTask returned first runs) and returns the future c_done
 * resolves. */
static PyObject *ctask_start(CTask *ct, PyObject *unused)
{
    if (ct->started) {
        PyErr_SetString(PyExc_RuntimeError, "C task already started");
        return NULL;
    }
    if (!ct->loop && !(ct->loop = running_pyloop()))
        return NULL;
    cio_loop *cl = api_loop_of(ct->loop);
    if (!cl)
        return NULL;
    PyObject *done = PyObject_CallMethod(ct->loop, "create_future", NULL);
    if (!done)
        return NULL;
    cio_task *t;
    int rc = cio_task_new(cl, ct->fn, ct->arg, &(cio_task_options){.name = ct->name}, &t);
    if (rc < 0) {
        Py_DECREF(done);
        return api_raise_code(rc, NULL);
    }
    rc = cio_future_add_done_callback(cio_task_future(t), c_done, ct);
    if (rc < 0) {
        cio_task_cancel(t, NULL); /* not started: it ends without running */
        cio_task_unref(t);
        Py_DECREF(done);
        return api_raise_code(rc, NULL);
    }
    Py_INCREF(ct); /* c_done's */
    ct->prev = NULL;
    ct->next = live;
    if (live)
        live->prev = ct;
    live = ct;
    ct->t = t;
    ct->started = 1;
    ct->done = done;
    Py_INCREF(done);
    return done;
}

static void ctask_dealloc(CTask *ct)
{
    /* c_done holds a reference until the task ended, so here the task is
     * done, or was never started: its coroutine was dropped unawaited, fn
     * never ran, and arg is released here. */
    if (ct->t)
        cio_task_unref(ct->t);
    if (!ct->started && ct->release)
        ct->release(ct->arg);
    Py_XDECREF(ct->done);
    Py_XDECREF(ct->loop);
    PyMem_Free(ct->name);
    Py_TYPE(ct)->tp_free((PyObject *)ct);
}

static PyMethodDef ctask_methods[] = {
    {"_cancel", (PyCFunction)(void (*)(void))ctask_cancel, METH_FASTCALL, NULL},
    {"_start", (PyCFunction)ctask_start, METH_NOARGS, NULL},
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
    if (!start_py) {
        PyErr_SetString(PyExc_RuntimeError, "import cio first");
        return NULL;
    }
    /* The loop: the one given, else the running one if any (a foreign
     * loop is refused now), else the one the coroutine will run on
     * (loop.run_until_complete(ext.fn()) calls before the loop runs). */
    PyObject *loop = pyloop;
    if (loop)
        Py_INCREF(loop);
    else if (!(loop = PyObject_CallNoArgs(get_running)))
        return NULL;
    if (loop == Py_None)
        Py_CLEAR(loop);
    if (loop && !api_loop_of(loop)) {
        Py_DECREF(loop);
        return NULL;
    }
    CTask *ct = PyObject_New(CTask, &CioCTask_Type);
    if (!ct) {
        Py_DECREF(loop);
        return NULL;
    }
    ct->loop = loop;
    ct->fn = fn;
    ct->name = NULL;
    ct->started = 0;
    ct->t = NULL;
    ct->done = NULL;
    ct->convert = convert;
    ct->release = NULL; /* set on success: on failure the caller keeps arg */
    ct->arg = arg;
    ct->prev = ct->next = NULL;
    PyObject *coro = NULL;
    if (name && !(ct->name = PyMem_Malloc(strlen(name) + 1)))
        PyErr_NoMemory();
    else {
        if (name)
            strcpy(ct->name, name);
        coro = PyObject_CallOneArg(start_py, (PyObject *)ct);
    }
    if (coro)
        ct->release = release;
    Py_DECREF(ct);
    return coro;
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

/* The Python loop closed its cio_loop l: the engine destroyed the tasks
 * still pending there and dropped their done callbacks, so c_done will
 * never run for them.  Release their arguments and drop the references
 * c_done held; their Python awaitables stay pending, as asyncio's own
 * tasks do on a loop closed under them. */
void cio_capi_loop_closed(cio_loop *l)
{
    CTask *ct = live, *next;
    for (; ct; ct = next) {
        next = ct->next;
        if (((CioLoop *)ct->loop)->loop != l) /* started: a CioLoop */
            continue;
        live_unlink(ct);
        if (ct->release)
            ct->release(ct->arg);
        ct->release = NULL;
        cio_task_unref(ct->t);
        ct->t = NULL;
        Py_DECREF(ct);
    }
}

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
 * _c_task_main(ctask), the coroutine function whose coroutine callers of
 * CioPy_StartTask await (done at import, before any C task). */
PyObject *cio_set_c_task_starter(PyObject *self, PyObject *fn)
{
    Py_INCREF(fn);
    Py_XSETREF(start_py, fn);
    Py_RETURN_NONE;
}
