/*
 * loop.c - cio._LoopCore: the C core of cio.Loop on a cio_loop.
 *
 * What runs in C: scheduling (call_soon, call_later, call_at,
 * call_soon_threadsafe), the clock, running and stopping, and descriptor
 * readiness (the engine's add_reader/add_writer, which the Python layer's
 * sockets and transports sit on).  The Python subclass (cio/__init__.py)
 * supplies the rest of AbstractEventLoop.
 *
 * Callbacks made ready (call_soon, call_soon_threadsafe) wait in one FIFO of
 * the extension's, which one engine callback (drain_cb) runs a batch at a
 * time, as asyncio's _run_once runs its _ready deque; timers are engine
 * timers, each running its Handle (sched_cb).  A Python callback that raises SystemExit or
 * KeyboardInterrupt aborts run_forever as in asyncio: the exception is kept,
 * the loop is asked to stop, callbacks still due in this iteration are put
 * back on the queue unrun (they run when the loop runs again), and
 * _run_core re-raises it.  The GIL is released only while the engine may
 * block (the poll hook); after each such wait Python's signal handlers
 * run, so Ctrl-C and asyncio.Runner's SIGINT handling work.
 */
#include "cio_py.h"

#include <errno.h>

/* A descriptor's reader and writer (asyncio's selector key data). */
struct fdslot {
    CioLoop *L;                /* borrowed: the loop outlives its slots */
    int fd;
    CioHandle *reader;         /* owned, or NULL */
    CioHandle *writer;         /* owned, or NULL */
};

void cio_loop_link(CioLoop *L, CioHandle *h)
{
    Py_INCREF(h);
    h->scheduled = 1;
    h->prev = NULL;
    h->next = L->sched;
    if (L->sched)
        L->sched->prev = h;
    L->sched = h;
}

void cio_loop_unlink(CioLoop *L, CioHandle *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        L->sched = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    h->scheduled = 0;
    Py_DECREF(h);
}

static void drain_cb(void *arg);

/* Asks the engine to run the FIFO; from a thread other than the one
 * running the loop this must be the engine's thread-safe call (the engine
 * may be blocked in its wait, without the GIL). */
static int want_drain(CioLoop *L)
{
    if (L->drain_pending)
        return 0;
    int rc = L->in_run && PyThread_get_thread_ident() != L->owner
                 ? cio_call_soon_threadsafe(L->loop, drain_cb, L)
                 : cio_call_soon(L->loop, drain_cb, L, NULL);
    if (rc == 0)
        L->drain_pending = 1;
    return rc;
}

/* Appends h to the ready FIFO (taking a reference).  One FIFO for
 * call_soon and call_soon_threadsafe keeps their order across threads, as
 * asyncio's single _ready deque does; the GIL is its lock. */
static int push_ready(CioLoop *L, CioHandle *h)
{
    int rc = want_drain(L);
    if (rc < 0)
        return rc;
    Py_INCREF(h);
    h->next = NULL;
    h->scheduled = 1;
    *L->rtail = h;
    L->rtail = &h->next;
    L->nready++;
    return 0;
}

static CioHandle *pop_ready(CioLoop *L)
{
    CioHandle *h = L->rhead;
    if (h) {
        L->rhead = h->next;
        if (!L->rhead)
            L->rtail = &L->rhead;
        L->nready--;
        h->next = NULL;
        h->scheduled = 0;
    }
    return h;
}

/* Keeps the exception set now to re-raise from run_forever, and stops. */
void cio_loop_abort(CioLoop *L)
{
    if (L->aborting) {
        PyErr_WriteUnraisable((PyObject *)L);
        return;
    }
    PyErr_Fetch(&L->exc_type, &L->exc_value, &L->exc_tb);
    L->aborting = 1;
    cio_loop_stop(L->loop);
}

/* Runs h, timing it in debug mode. */
static void run_handle(CioLoop *L, CioHandle *h)
{
    if (!L->debug) {
        if (cio_handle_run(h) < 0)
            cio_loop_abort(L);
        return;
    }
    double t0 = cio_loop_time(L->loop);
    int rc = cio_handle_run(h);
    double dt = cio_loop_time(L->loop) - t0;
    if (rc < 0) {
        cio_loop_abort(L);
        return;
    }
    PyObject *d = PyFloat_FromDouble(dt);
    PyObject *r = d ? PyObject_CallMethodObjArgs((PyObject *)L, cio_str_log_slow, (PyObject *)h, d,
                                                 NULL)
                    : NULL;
    Py_XDECREF(d);
    if (r)
        Py_DECREF(r);
    else
        cio_loop_abort(L);
}

/* The engine callback of a timer: runs it (or, while aborting, queues it
 * for the next run). */
static void sched_cb(void *arg)
{
    CioHandle *h = arg;
    CioLoop *L = (CioLoop *)h->loop;
    if (h->ch) {
        cio_handle_unref(h->ch);
        h->ch = NULL;
    }
    Py_INCREF(h);
    cio_loop_unlink(L, h);
    if (!h->cancelled) {
        if (L->aborting)
            push_ready(L, h);
        else
            run_handle(L, h);
    }
    Py_DECREF(h);
}

/* Runs the callbacks that were ready when it started (asyncio's ntodo);
 * those they schedule run in the next iteration. */
static void drain_cb(void *arg)
{
    CioLoop *L = arg;
    L->drain_pending = 0;
    for (Py_ssize_t n = L->nready; n > 0 && L->rhead; n--) {
        if (L->aborting) {
            want_drain(L); /* the rest runs when the loop runs again */
            return;
        }
        CioHandle *h = pop_ready(L);
        if (!h->cancelled)
            run_handle(L, h);
        Py_DECREF(h);
    }
}

CioHandle **cio_loop_ready_mark(CioLoop *L) { return L->rtail; }

CioHandle *cio_loop_take_newest(CioLoop *L, CioHandle **mark)
{
    CioHandle *h = *mark;
    if (!h || L->rtail != &h->next || L->aborting)
        return NULL;
    *mark = NULL;
    L->rtail = mark;
    L->nready--;
    h->scheduled = 0;
    return h;
}

void cio_loop_run_taken(CioLoop *L, CioHandle *h)
{
    if (!h)
        return;
    if (L->aborting)
        push_ready(L, h); /* runs when the loop runs again, as drain_cb's rest */
    else if (!h->cancelled)
        run_handle(L, h);
    Py_DECREF(h);
}

/* Reader/writer readiness: runs the handle (level-triggered). */
static void fd_ready(struct fdslot *s, int writer)
{
    CioLoop *L = s->L;
    CioHandle *h = writer ? s->writer : s->reader;
    if (!h || L->aborting)
        return;
    if (h->cancelled) {
        if (writer) {
            cio_loop_remove_writer(L->loop, s->fd);
            s->writer = NULL;
        } else {
            cio_loop_remove_reader(L->loop, s->fd);
            s->reader = NULL;
        }
        Py_DECREF(h);
        return;
    }
    Py_INCREF(h);
    run_handle(L, h);
    Py_DECREF(h);
}

static void reader_cb(void *arg) { fd_ready(arg, 0); }
static void writer_cb(void *arg) { fd_ready(arg, 1); }

static void poll_hook(cio_loop *loop, int after, void *ud)
{
    CioLoop *L = ud;
    if (!after) {
        L->tstate = PyEval_SaveThread();
        return;
    }
    cio_py_hold_gil(L); /* unless a completion took it back already */
    if (PyErr_CheckSignals() < 0)
        cio_loop_abort(L);
}

static int raise_code(int rc)
{
    if (rc == CIO_ECLOSED) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
    } else if (rc == CIO_ERUNNING) {
        PyErr_SetString(PyExc_RuntimeError, "This event loop is already running");
    } else if (rc < 0 && rc > -4096) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
    } else {
        PyErr_Format(PyExc_RuntimeError, "cio: %s", cio_strerror(rc));
    }
    return -1;
}

static int check_open(CioLoop *L)
{
    if (L->closed || !L->loop) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

/* debug mode: asyncio's _check_thread and _check_callback */
static int debug_checks(CioLoop *L, PyObject *cb, const char *method, int thread)
{
    if (thread) {
        PyObject *r = PyObject_CallMethodNoArgs((PyObject *)L, cio_str_check_thread);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    PyObject *r = PyObject_CallMethod((PyObject *)L, "_check_callback", "Os", cb, method);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Parses (..., callback, *args, context=None) from position `first`. */
static int parse_cb(PyObject *const *a, Py_ssize_t n, PyObject *kwn, Py_ssize_t first,
                    PyObject **cb, PyObject **args, PyObject **ctx, const char *name)
{
    *ctx = NULL;
    if (kwn) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwn);
        for (Py_ssize_t i = 0; i < nk; i++) {
            PyObject *k = PyTuple_GET_ITEM(kwn, i);
            if (!PyUnicode_Check(k) || PyUnicode_CompareWithASCIIString(k, "context") != 0) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", name, k);
                return -1;
            }
            *ctx = a[n + i];
        }
    }
    if (n <= first) {
        PyErr_Format(PyExc_TypeError, "%s() missing required argument 'callback'", name);
        return -1;
    }
    *cb = a[first];
    Py_ssize_t na = n - first - 1;
    *args = PyTuple_New(na);
    if (!*args)
        return -1;
    for (Py_ssize_t i = 0; i < na; i++) {
        Py_INCREF(a[first + 1 + i]);
        PyTuple_SET_ITEM(*args, i, a[first + 1 + i]);
    }
    return 0;
}

static PyObject *schedule(CioLoop *L, PyObject *cb, PyObject *args, PyObject *ctx, int timer,
                          double when, int threadsafe)
{
    CioHandle *h = cio_handle_make((PyObject *)L, cb, args, ctx, timer, when);
    Py_DECREF(args);
    if (!h)
        return NULL;
    int rc = timer ? cio_call_at(L->loop, when, sched_cb, h, &h->ch) : push_ready(L, h);
    if (rc < 0) {
        Py_DECREF(h);
        raise_code(rc);
        return NULL;
    }
    if (!timer)
        return (PyObject *)h;
    cio_loop_link(L, h);
    return (PyObject *)h;
}

static PyObject *loop_call_soon(CioLoop *L, PyObject *const *a, size_t nargsf, PyObject *kwn)
{
    PyObject *cb, *args, *ctx;
    if (check_open(L) || parse_cb(a, PyVectorcall_NARGS(nargsf), kwn, 0, &cb, &args, &ctx, "call_soon"))
        return NULL;
    if (L->debug && debug_checks(L, cb, "call_soon", 1)) {
        Py_DECREF(args);
        return NULL;
    }
    return schedule(L, cb, args, ctx, 0, 0, 0);
}

static PyObject *loop_call_soon_threadsafe(CioLoop *L, PyObject *const *a, size_t nargsf,
                                           PyObject *kwn)
{
    PyObject *cb, *args, *ctx;
    if (check_open(L) ||
        parse_cb(a, PyVectorcall_NARGS(nargsf), kwn, 0, &cb, &args, &ctx, "call_soon_threadsafe"))
        return NULL;
    if (L->debug && debug_checks(L, cb, "call_soon_threadsafe", 0)) {
        Py_DECREF(args);
        return NULL;
    }
    return schedule(L, cb, args, ctx, 0, 0, 1);
}

static PyObject *timer_common(CioLoop *L, PyObject *const *a, size_t nargsf, PyObject *kwn,
                              int relative)
{
    const char *name = relative ? "call_later" : "call_at";
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n < 1) {
        PyErr_Format(PyExc_TypeError, "%s() missing required arguments", name);
        return NULL;
    }
    if (a[0] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "when cannot be None");
        return NULL;
    }
    double t = PyFloat_AsDouble(a[0]);
    if (t == -1.0 && PyErr_Occurred())
        return NULL;
    PyObject *cb, *args, *ctx;
    if (check_open(L) || parse_cb(a, n, kwn, 1, &cb, &args, &ctx, name))
        return NULL;
    if (L->debug && debug_checks(L, cb, "call_at", 1)) {
        Py_DECREF(args);
        return NULL;
    }
    if (relative)
        t += cio_loop_time(L->loop);
    if (t != t) {
        Py_DECREF(args);
        PyErr_SetString(PyExc_ValueError, "Invalid value NaN (not a number)");
        return NULL;
    }
    return schedule(L, cb, args, ctx, 1, t, 0);
}

static PyObject *loop_call_later(CioLoop *L, PyObject *const *a, size_t nargsf, PyObject *kwn)
{
    return timer_common(L, a, nargsf, kwn, 1);
}

static PyObject *loop_call_at(CioLoop *L, PyObject *const *a, size_t nargsf, PyObject *kwn)
{
    return timer_common(L, a, nargsf, kwn, 0);
}

static PyObject *loop_time(CioLoop *L, PyObject *unused)
{
    return PyFloat_FromDouble(L->loop ? cio_loop_time(L->loop) : 0.0);
}

static PyObject *loop_stop(CioLoop *L, PyObject *unused)
{
    if (L->loop)
        cio_loop_stop(L->loop);
    Py_RETURN_NONE;
}

static PyObject *loop_run_core(CioLoop *L, PyObject *unused)
{
    if (check_open(L))
        return NULL;
    L->owner = PyThread_get_thread_ident();
    L->in_run = 1;
    int rc = cio_loop_run_forever(L->loop);
    L->in_run = 0;
    L->aborting = 0;
    if (L->exc_type) {
        PyErr_Restore(L->exc_type, L->exc_value, L->exc_tb);
        L->exc_type = L->exc_value = L->exc_tb = NULL;
        return NULL;
    }
    if (rc < 0) {
        raise_code(rc);
        return NULL;
    }
    Py_RETURN_NONE;
}

static void drop_fds(CioLoop *L)
{
    for (int i = 0; i < L->nfds; i++) {
        struct fdslot *s = L->fds[i];
        if (!s)
            continue;
        Py_CLEAR(s->reader);
        Py_CLEAR(s->writer);
        PyMem_Free(s);
    }
    PyMem_Free(L->fds);
    L->fds = NULL;
    L->nfds = 0;
}

static void core_close(CioLoop *L)
{
    if (L->closed || !L->loop)
        return;
    L->closed = 1;
    for (int i = 0; i < L->nfds; i++) {
        struct fdslot *s = L->fds[i];
        if (s && s->reader)
            cio_loop_remove_reader(L->loop, i);
        if (s && s->writer)
            cio_loop_remove_writer(L->loop, i);
    }
    cio_loop_close(L->loop);
    cio_capi_loop_closed(L->loop); /* C tasks of other extensions left */
    /* The engine dropped its queue unrun: drop the handles' own refs. */
    CioHandle *r;
    while ((r = pop_ready(L)))
        Py_DECREF(r);
    L->drain_pending = 0;
    while (L->sched) {
        CioHandle *h = L->sched;
        if (h->ch) {
            cio_handle_unref(h->ch);
            h->ch = NULL;
        }
        cio_loop_unlink(L, h);
    }
    drop_fds(L);
}

static PyObject *loop_core_close(CioLoop *L, PyObject *unused)
{
    if (L->loop && cio_loop_is_running(L->loop)) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot close a running event loop");
        return NULL;
    }
    core_close(L);
    Py_RETURN_NONE;
}

static struct fdslot *slot_for(CioLoop *L, int fd)
{
    if (fd >= L->nfds) {
        int n = L->nfds ? L->nfds : 64;
        while (n <= fd)
            n *= 2;
        struct fdslot **a = PyMem_Realloc(L->fds, (size_t)n * sizeof *a);
        if (!a)
            return (struct fdslot *)PyErr_NoMemory();
        memset(a + L->nfds, 0, (size_t)(n - L->nfds) * sizeof *a);
        L->fds = a;
        L->nfds = n;
    }
    if (!L->fds[fd]) {
        struct fdslot *s = PyMem_Calloc(1, sizeof *s);
        if (!s)
            return (struct fdslot *)PyErr_NoMemory();
        s->L = L;
        s->fd = fd;
        L->fds[fd] = s;
    }
    return L->fds[fd];
}

static PyObject *add_fd(CioLoop *L, PyObject *const *a, Py_ssize_t n, int writer)
{
    if (n != 2 || !PyLong_Check(a[0]) || !PyObject_TypeCheck(a[1], &CioHandle_Type)) {
        PyErr_SetString(PyExc_TypeError, "expected (fd, Handle)");
        return NULL;
    }
    if (check_open(L))
        return NULL;
    int fd = PyLong_AsLong(a[0]);
    if (fd < 0) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %d", fd);
        return NULL;
    }
    struct fdslot *s = slot_for(L, fd);
    if (!s)
        return NULL;
    CioHandle **pp = writer ? &s->writer : &s->reader;
    if (!*pp) {
        int rc = writer ? cio_loop_add_writer(L->loop, fd, writer_cb, s)
                        : cio_loop_add_reader(L->loop, fd, reader_cb, s);
        if (rc < 0)
            return raise_code(rc), NULL;
    }
    CioHandle *old = *pp;
    Py_INCREF(a[1]);
    *pp = (CioHandle *)a[1];
    if (old) {
        PyObject *r = PyObject_CallMethod((PyObject *)old, "cancel", NULL);
        Py_XDECREF(r);
        Py_DECREF(old);
        if (!r)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *remove_fd(CioLoop *L, PyObject *arg, int writer)
{
    int fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (L->closed || !L->loop || fd < 0 || fd >= L->nfds || !L->fds[fd])
        Py_RETURN_FALSE;
    struct fdslot *s = L->fds[fd];
    CioHandle **pp = writer ? &s->writer : &s->reader;
    CioHandle *h = *pp;
    if (!h)
        Py_RETURN_FALSE;
    if (writer)
        cio_loop_remove_writer(L->loop, fd);
    else
        cio_loop_remove_reader(L->loop, fd);
    *pp = NULL;
    PyObject *r = PyObject_CallMethod((PyObject *)h, "cancel", NULL);
    Py_DECREF(h);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_TRUE;
}

static PyObject *loop_add_reader(CioLoop *L, PyObject *const *a, Py_ssize_t n) { return add_fd(L, a, n, 0); }
static PyObject *loop_add_writer(CioLoop *L, PyObject *const *a, Py_ssize_t n) { return add_fd(L, a, n, 1); }
static PyObject *loop_remove_reader(CioLoop *L, PyObject *fd) { return remove_fd(L, fd, 0); }
static PyObject *loop_remove_writer(CioLoop *L, PyObject *fd) { return remove_fd(L, fd, 1); }

/* (reader, writer) handles of fd, for the Python layer's selector view. */
static PyObject *loop_fd_handles(CioLoop *L, PyObject *arg)
{
    int fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    PyObject *r = Py_None, *w = Py_None;
    if (fd >= 0 && fd < L->nfds && L->fds[fd]) {
        if (L->fds[fd]->reader)
            r = (PyObject *)L->fds[fd]->reader;
        if (L->fds[fd]->writer)
            w = (PyObject *)L->fds[fd]->writer;
    }
    return PyTuple_Pack(2, r, w);
}

static PyObject *loop_set_core_debug(CioLoop *L, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    L->debug = on;
    Py_RETURN_NONE;
}

/* get_debug(): every Future and Task asks it when made (to keep a
 * traceback in debug mode); BaseEventLoop's is a Python call.  set_debug
 * (cio/__init__.py, also run by BaseEventLoop.__init__) keeps the two in
 * step. */
static PyObject *loop_get_debug(CioLoop *L, PyObject *unused)
{
    return PyBool_FromLong(L->debug);
}

static PyObject *loop_core_running(CioLoop *L, PyObject *unused)
{
    return PyBool_FromLong(L->loop && cio_loop_is_running(L->loop));
}

static PyObject *loop_new(PyTypeObject *type, PyObject *a, PyObject *kw)
{
    CioLoop *L = (CioLoop *)type->tp_alloc(type, 0);
    if (!L)
        return NULL;
    int rc = cio_loop_new(&L->loop);
    if (rc < 0) {
        L->loop = NULL;
        Py_DECREF(L);
        raise_code(rc);
        return NULL;
    }
    cio_loop_set_poll_hook(L->loop, poll_hook, L);
    L->rtail = &L->rhead;
    return (PyObject *)L;
}

static int loop_traverse(CioLoop *L, visitproc visit, void *arg)
{
    for (int i = 0; i < L->nfds; i++) {
        if (L->fds[i]) {
            Py_VISIT(L->fds[i]->reader);
            Py_VISIT(L->fds[i]->writer);
        }
    }
    return 0;
}

static int loop_clear(CioLoop *L)
{
    for (int i = 0; i < L->nfds; i++) {
        struct fdslot *s = L->fds[i];
        if (!s)
            continue;
        if (s->reader && L->loop && !L->closed)
            cio_loop_remove_reader(L->loop, i);
        if (s->writer && L->loop && !L->closed)
            cio_loop_remove_writer(L->loop, i);
        Py_CLEAR(s->reader);
        Py_CLEAR(s->writer);
    }
    return 0;
}

static void loop_dealloc(CioLoop *L)
{
    PyObject_GC_UnTrack(L);
    if (L->loop && !cio_loop_is_running(L->loop)) {
        core_close(L);
        cio_loop_free(L->loop);
        L->loop = NULL;
    }
    drop_fds(L);
    Py_CLEAR(L->exc_type);
    Py_CLEAR(L->exc_value);
    Py_CLEAR(L->exc_tb);
    Py_TYPE(L)->tp_free((PyObject *)L);
}

#define FAST (METH_FASTCALL | METH_KEYWORDS)
static PyMethodDef loop_methods[] = {
    {"call_soon", (PyCFunction)(void (*)(void))loop_call_soon, FAST, "call_soon(callback, *args, context=None)"},
    {"call_later", (PyCFunction)(void (*)(void))loop_call_later, FAST, "call_later(delay, callback, *args, context=None)"},
    {"call_at", (PyCFunction)(void (*)(void))loop_call_at, FAST, "call_at(when, callback, *args, context=None)"},
    {"call_soon_threadsafe", (PyCFunction)(void (*)(void))loop_call_soon_threadsafe, FAST,
     "call_soon_threadsafe(callback, *args, context=None)"},
    {"time", (PyCFunction)loop_time, METH_NOARGS, "The loop's monotonic clock, seconds."},
    {"stop", (PyCFunction)loop_stop, METH_NOARGS, "Stops after the current iteration."},
    {"_run_core", (PyCFunction)loop_run_core, METH_NOARGS, NULL},
    {"_core_close", (PyCFunction)loop_core_close, METH_NOARGS, NULL},
    {"_core_running", (PyCFunction)loop_core_running, METH_NOARGS, NULL},
    {"_core_add_reader", (PyCFunction)(void (*)(void))loop_add_reader, METH_FASTCALL, NULL},
    {"_core_add_writer", (PyCFunction)(void (*)(void))loop_add_writer, METH_FASTCALL, NULL},
    {"_core_remove_reader", (PyCFunction)loop_remove_reader, METH_O, NULL},
    {"_core_remove_writer", (PyCFunction)loop_remove_writer, METH_O, NULL},
    {"_core_fd_handles", (PyCFunction)loop_fd_handles, METH_O, NULL},
    {"_core_set_debug", (PyCFunction)loop_set_core_debug, METH_O, NULL},
    {"get_debug", (PyCFunction)loop_get_debug, METH_NOARGS, "whether debug mode is on"},
    {NULL}};

PyTypeObject CioLoop_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cio._LoopCore",
    .tp_basicsize = sizeof(CioLoop),
    .tp_dealloc = (destructor)loop_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C core of cio.Loop: scheduling, clock, readiness on a cio_loop.",
    .tp_traverse = (traverseproc)loop_traverse,
    .tp_clear = (inquiry)loop_clear,
    .tp_methods = loop_methods,
    .tp_new = loop_new,
};
