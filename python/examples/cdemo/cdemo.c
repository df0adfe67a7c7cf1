/*
 * cdemo.c - a small C extension whose C coroutines Python awaits on the cio
 * loop, beside its own asyncio tasks (python/include/cio_python.h).
 *
 *     import asyncio, cio, cdemo
 *     async def main():
 *         print(await asyncio.gather(cdemo.sleep_value(0.1, 42), asyncio.sleep(0.1, 'py')))
 *     cio.run(main())                                   # [42, 'py']
 *
 * It links no libcio: every cio_* call goes through the table of the engine
 * inside cio._cio (CioPy_Import).  Its coroutines: sleep_value (sleeps, then
 * returns a number through a converter), fail (fails with a code and a
 * message), forever (runs until cancelled, then cleans up shielded, which
 * unwound() counts), cancel_self (ends cancelled from C), number (an int
 * result, CioPy_IntResult), nothing (no converter: None), bad_convert (its
 * converter raises).
 */
#include <cio_python.h>

#include <errno.h>

/* sleep_value's argument, and where its coroutine leaves the result. */
struct sleep_arg {
    double seconds; /* how long to sleep */
    double value;   /* what to return */
};

static int sleep_value_co(void *arg, void **result)
{
    struct sleep_arg *a = arg;
    int rc = cio_sleep(a->seconds);
    if (rc < 0)
        return rc;
    *result = &a->value; /* lives in arg, freed by release after convert */
    return 0;
}

/* The converter: the double the coroutine pointed at. */
static PyObject *double_result(void *result, void *arg)
{
    return PyFloat_FromDouble(*(double *)result);
}

static int released_count; /* args freed by free_arg */

static void free_arg(void *arg)
{
    released_count++;
    PyMem_Free(arg);
}

static PyObject *released(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(released_count);
}

static PyObject *sleep_value(PyObject *self, PyObject *args)
{
    struct sleep_arg *a = PyMem_Malloc(sizeof *a);
    if (!a)
        return PyErr_NoMemory();
    if (!PyArg_ParseTuple(args, "dd", &a->seconds, &a->value)) {
        PyMem_Free(a);
        return NULL;
    }
    PyObject *t = CioPy_StartTask(NULL, sleep_value_co, a, "sleep_value", double_result, free_arg);
    if (!t)
        PyMem_Free(a); /* on failure the caller keeps arg */
    return t;
}

/* fail's argument: the code and message to fail with. */
struct fail_arg {
    int code;          /* negative errno or CIO_E* */
    char message[128]; /* the task's error message */
};

static int fail_co(void *arg, void **result)
{
    struct fail_arg *a = arg;
    int rc = cio_sleep(0.01);
    if (rc < 0)
        return rc;
    cio_set_error_message("%s", a->message);
    return a->code;
}

static PyObject *fail(PyObject *self, PyObject *args)
{
    int code;
    const char *msg;
    if (!PyArg_ParseTuple(args, "is", &code, &msg))
        return NULL;
    struct fail_arg *a = PyMem_Malloc(sizeof *a);
    if (!a)
        return PyErr_NoMemory();
    a->code = code;
    snprintf(a->message, sizeof a->message, "%s", msg);
    PyObject *t = CioPy_StartTask(NULL, fail_co, a, "fail", NULL, free_arg);
    if (!t)
        PyMem_Free(a);
    return t;
}

static int unwound_count; /* forever tasks that finished their cleanup */

static int forever_co(CIO_CORO_PARAMS)
{
    int rc;
    while ((rc = cio_sleep(3600)) == 0)
        ;
    /* Cancelled: cleanup that itself waits, shielded, before ending. */
    cio_shield_begin();
    cio_sleep(0.05);
    cio_shield_end();
    unwound_count++;
    return rc;
}

static PyObject *forever(PyObject *self, PyObject *unused)
{
    return CioPy_StartTask(NULL, forever_co, NULL, "forever", NULL, NULL);
}

static PyObject *unwound(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(unwound_count);
}

static int cancel_self_co(CIO_CORO_PARAMS)
{
    int rc = cio_sleep(0.01);
    if (rc < 0)
        return rc;
    cio_task_cancel(cio_current_task(), "cancelled by C");
    return cio_sleep(1); /* -ECANCELED at once */
}

static PyObject *cancel_self(PyObject *self, PyObject *unused)
{
    return CioPy_StartTask(NULL, cancel_self_co, NULL, NULL, NULL, NULL);
}

static int number_co(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static PyObject *number(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    return CioPy_StartTask(NULL, number_co, (void *)(intptr_t)n, NULL, CioPy_IntResult, NULL);
}

/* nothing(): a C task whose result is None (no converter). */
static PyObject *nothing(PyObject *self, PyObject *unused)
{
    return CioPy_StartTask(NULL, number_co, NULL, NULL, NULL, NULL);
}

static PyObject *raising_convert(void *result, void *arg)
{
    PyErr_SetString(PyExc_ValueError, "converter refused the result");
    return NULL;
}

static PyObject *bad_convert(PyObject *self, PyObject *unused)
{
    return CioPy_StartTask(NULL, number_co, NULL, NULL, raising_convert, NULL);
}

/* loop_time(): the engine clock of the running loop (its cio_loop). */
static PyObject *loop_time(PyObject *self, PyObject *unused)
{
    cio_loop *loop = CioPy_RunningLoop();
    if (!loop)
        return NULL;
    return PyFloat_FromDouble(cio_loop_time(loop));
}

static PyMethodDef methods[] = {
    {"sleep_value", sleep_value, METH_VARARGS, "sleep_value(seconds, value): a C task; returns value"},
    {"fail", fail, METH_VARARGS, "fail(code, message): a C task failing with code"},
    {"forever", forever, METH_NOARGS, "forever(): a C task that runs until cancelled"},
    {"released", released, METH_NOARGS, "how many sleep_value/fail arguments were freed"},
    {"unwound", unwound, METH_NOARGS, "how many forever() tasks finished their cleanup"},
    {"cancel_self", cancel_self, METH_NOARGS, "cancel_self(): a C task that cancels itself"},
    {"number", number, METH_O, "number(n): a C task whose result is the int n"},
    {"nothing", nothing, METH_NOARGS, "nothing(): a C task whose result is None"},
    {"bad_convert", bad_convert, METH_NOARGS, "bad_convert(): its converter raises"},
    {"loop_time", loop_time, METH_NOARGS, "cio_loop_time() of the running loop"},
    {NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cdemo",
    .m_doc = "C coroutines on the cio loop (an example of cio_python.h).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit_cdemo(void)
{
    if (CioPy_Import() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    if (PyModule_AddIntConstant(m, "CIO_ECLOSED", CIO_ECLOSED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
