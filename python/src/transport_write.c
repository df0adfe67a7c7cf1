/*
 * transport_write.c - the writing half of the Python socket transport
 * (SocketTransport, transport.c): write, writelines, write_eof, the write
 * buffer's size and limits, and sendfile's empty waiter, with asyncio's
 * selector transport's checks and messages.  The bytes go to the engine's
 * cio_transport_write / _writelines, which send at once when they can and
 * buffer the rest (pause_writing / resume_writing come back through
 * transport_proto.c).
 */
#include "pytransport.h"

#include <sys/uio.h>

static PyObject *str_create_future, *str_set_result;
static long log_threshold = 5; /* constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES */

int cio_tr_write_init(void)
{
    if (!(str_create_future = PyUnicode_InternFromString("create_future")) ||
        !(str_set_result = PyUnicode_InternFromString("set_result")))
        return -1;
    PyObject *constants = PyImport_ImportModule("asyncio.constants");
    PyObject *thr = constants ? PyObject_GetAttrString(constants, "LOG_THRESHOLD_FOR_CONNLOST_WRITES")
                              : NULL;
    if (thr)
        log_threshold = PyLong_AsLong(thr);
    Py_XDECREF(thr);
    Py_XDECREF(constants);
    PyErr_Clear(); /* the default, 5, is asyncio's */
    return 0;
}


/* A write that the connection's end makes void: dropped, as asyncio
 * drops it, with a warning from the threshold on. */
static PyObject *dropped_write(CioTransport *self)
{
    if (self->conn_lost >= log_threshold && cio_tr_logger) {
        PyObject *r = PyObject_CallMethod(cio_tr_logger, "warning", "s",
                                          "socket.send() raised exception.");
        if (!r)
            return NULL;
        Py_DECREF(r);
    }
    self->conn_lost++;
    Py_RETURN_NONE;
}

/* A send error failed the connection: connection_lost reports it, as
 * asyncio's _fatal_error does; closed and lost meanwhile. */
static void write_failed(CioTransport *self, int rc)
{
    self->closing = 1;
    if (!self->conn_lost)
        self->conn_lost = 1;
    PyObject *exc = cio_tr_code_exc(rc);
    cio_tr_schedule_lost(self, exc);
    Py_DECREF(exc);
}

static int write_checks(CioTransport *self)
{
    if (self->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
        return -1;
    }
    if (self->empty_waiter) {
        PyErr_SetString(PyExc_RuntimeError, "unable to write; sendfile is in progress");
        return -1;
    }
    return 0;
}

PyObject *cio_tr_write(CioTransport *self, PyObject *data)
{
    const char *buf;
    Py_ssize_t len;
    Py_buffer view;
    int has_view = 0;
    if (PyBytes_CheckExact(data)) {
        buf = PyBytes_AS_STRING(data);
        len = PyBytes_GET_SIZE(data);
    } else if (PyBytes_Check(data) || PyByteArray_Check(data) || PyMemoryView_Check(data)) {
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        buf = view.buf;
        len = view.len;
        has_view = 1;
    } else {
        return PyErr_Format(PyExc_TypeError,
                            "data argument must be a bytes-like object, not '%.200s'",
                            Py_TYPE(data)->tp_name);
    }
    PyObject *res;
    if (write_checks(self) < 0)
        res = NULL;
    else if (len == 0)
        res = Py_NewRef(Py_None);
    else if (write_refused(self))
        res = dropped_write(self);
    else {
        int rc = cio_transport_write(self->t, buf, (size_t)len);
        if (rc < 0)
            write_failed(self, rc);
        res = Py_NewRef(Py_None);
    }
    if (has_view)
        PyBuffer_Release(&view);
    return res;
}

#define WL_STACK 16

PyObject *cio_tr_writelines(CioTransport *self, PyObject *list)
{
    PyObject *seq = PySequence_Fast(list, "writelines() argument must be iterable");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), got = 0;
    Py_buffer vstack[WL_STACK];
    struct iovec iostack[WL_STACK];
    Py_buffer *views = n <= WL_STACK ? vstack : PyMem_Malloc((size_t)n * sizeof *views);
    struct iovec *iov = n <= WL_STACK ? iostack : PyMem_Malloc((size_t)n * sizeof *iov);
    PyObject *res = NULL;
    size_t total = 0;
    if (!views || !iov) {
        PyErr_NoMemory();
        goto out;
    }
    for (; got < n; got++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, got);
        if (PyObject_GetBuffer(it, &views[got], PyBUF_SIMPLE) < 0) {
            PyErr_Format(PyExc_TypeError,
                         "sequence item %zd: expected a bytes-like object, %.80s found", got,
                         Py_TYPE(it)->tp_name);
            goto out;
        }
        iov[got].iov_base = views[got].buf;
        iov[got].iov_len = (size_t)views[got].len;
        total += (size_t)views[got].len;
    }
    if (write_checks(self) < 0)
        goto out;
    if (total == 0) {
        res = Py_NewRef(Py_None);
    } else if (write_refused(self)) {
        res = dropped_write(self);
    } else {
        int rc = cio_transport_writelines(self->t, iov, (int)n);
        if (rc < 0)
            write_failed(self, rc);
        res = Py_NewRef(Py_None);
    }
out:
    for (Py_ssize_t i = 0; i < got; i++)
        PyBuffer_Release(&views[i]);
    if (views && views != vstack)
        PyMem_Free(views);
    if (iov && iov != iostack)
        PyMem_Free(iov);
    Py_DECREF(seq);
    return res;
}

PyObject *cio_tr_write_eof(CioTransport *self, PyObject *unused)
{
    if (closing(self) || self->eof)
        Py_RETURN_NONE;
    self->eof = 1;
    if (self->t)
        (void)cio_transport_write_eof(self->t);
    Py_RETURN_NONE;
}

PyObject *cio_tr_can_write_eof(CioTransport *self, PyObject *unused) { Py_RETURN_TRUE; }

PyObject *cio_tr_get_write_buffer_size(CioTransport *self, PyObject *unused)
{
    return PyLong_FromSize_t(self->t ? cio_transport_get_write_buffer_size(self->t) : 0);
}

PyObject *cio_tr_get_write_buffer_limits(CioTransport *self, PyObject *unused)
{
    return Py_BuildValue("(nn)", (Py_ssize_t)self->low, (Py_ssize_t)self->high);
}

/* asyncio's _FlowControlMixin._set_write_buffer_limits, then the engine's. */
PyObject *cio_tr_set_write_buffer_limits(CioTransport *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"high", "low", NULL};
    PyObject *ho = Py_None, *lo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", kwlist, &ho, &lo))
        return NULL;
    Py_ssize_t high, low;
    if (ho == Py_None) {
        if (lo == Py_None) {
            high = CIO_TR_DEFAULT_HIGH;
        } else {
            Py_ssize_t l = PyNumber_AsSsize_t(lo, PyExc_OverflowError);
            if (l == -1 && PyErr_Occurred())
                return NULL;
            high = 4 * l;
        }
    } else {
        high = PyNumber_AsSsize_t(ho, PyExc_OverflowError);
        if (high == -1 && PyErr_Occurred())
            return NULL;
    }
    if (lo == Py_None) {
        low = high / 4;
        if (high < 0 && high % 4)
            low--; /* Python's floor division */
    } else {
        low = PyNumber_AsSsize_t(lo, PyExc_OverflowError);
        if (low == -1 && PyErr_Occurred())
            return NULL;
    }
    if (!(high >= low && low >= 0))
        return PyErr_Format(PyExc_ValueError, "high (%zd) must be >= low (%zd) must be >= 0",
                            high, low);
    self->high = (size_t)high;
    self->low = (size_t)low;
    /* The engine may call pause_writing / resume_writing now. */
    if (self->t && !self->drain_wait && !self->close_wait)
        (void)cio_transport_set_write_buffer_limits(self->t, self->high, self->low);
    Py_RETURN_NONE;
}


/* ---- sendfile ------------------------------------------------------------------ */

/* asyncio's: a future done once everything written is sent. */
PyObject *cio_tr_make_empty_waiter(CioTransport *self, PyObject *unused)
{
    if (self->empty_waiter) {
        PyErr_SetString(PyExc_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)self->L, str_create_future);
    if (!fut)
        return NULL;
    self->empty_waiter = fut;
    if (!self->t || cio_transport_get_write_buffer_size(self->t) == 0) {
        PyObject *r = PyObject_CallMethodOneArg(fut, str_set_result, Py_None);
        if (!r)
            return NULL;
        Py_DECREF(r);
    } else {
        self->drain_wait = 1;
        cio_tr_watch_empty(self);
    }
    return Py_NewRef(fut);
}

PyObject *cio_tr_reset_empty_waiter(CioTransport *self, PyObject *unused)
{
    Py_CLEAR(self->empty_waiter);
    if (self->drain_wait) {
        self->drain_wait = 0;
        cio_tr_watch_empty(self);
    }
    Py_RETURN_NONE;
}


void cio_tr_watch_empty(CioTransport *self)
{
    if (!self->t)
        return;
    /* Limits of 0: the engine's resume_writing says "empty". */
    if (self->drain_wait || self->close_wait)
        (void)cio_transport_set_write_buffer_limits(self->t, 0, 0);
    else
        (void)cio_transport_set_write_buffer_limits(self->t, self->high, self->low);
}
