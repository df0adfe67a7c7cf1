/*
 * transport_proto.c - the engine's side of the Python socket transport:
 * the cio_protocol callbacks that the engine's transport calls (on the
 * loop, GIL held) and that call the Python protocol, with asyncio's
 * selector transport's semantics (selector_events._SelectorSocketTransport):
 *
 * - data_received(bytes), or get_buffer(-1) / buffer_updated(n) for an
 *   asyncio.BufferedProtocol; eof_received (an iteration after the
 *   engine saw the end, as asyncio's later read finds it) and its truth
 *   keeps the connection half-open, else the transport closes;
 * - an exception from a protocol callback is asyncio's _fatal_error: the
 *   loop's exception handler (unless it is an OSError), then the
 *   connection is aborted and connection_lost gets that exception;
 *   SystemExit and KeyboardInterrupt stop the loop and leave run_forever,
 *   as they leave asyncio's _run_once;
 * - pause_writing / resume_writing failures go to the exception handler
 *   only (asyncio's _FlowControlMixin);
 * - connection_lost(exc or None), the negative errno of the engine made
 *   the OSError subclass it names (ConnectionResetError...), from a
 *   call_soon callback as asyncio's; then the socket is closed, the
 *   server detached, the protocol dropped.
 */
#include "pytransport.h"

#include <errno.h>
#include <string.h>

static PyObject *str_data_received, *str_eof_received, *str_get_buffer, *str_buffer_updated,
    *str_connection_lost, *str_pause_writing, *str_resume_writing, *str_detach, *str_done,
    *str_set_result, *str_set_exception, *str_call_lost, *str_call_soon;

int cio_tr_proto_init(void)
{
#define INTERN(v, s) if (!(v = PyUnicode_InternFromString(s))) return -1
    INTERN(str_data_received, "data_received");
    INTERN(str_eof_received, "eof_received");
    INTERN(str_get_buffer, "get_buffer");
    INTERN(str_buffer_updated, "buffer_updated");
    INTERN(str_connection_lost, "connection_lost");
    INTERN(str_pause_writing, "pause_writing");
    INTERN(str_resume_writing, "resume_writing");
    INTERN(str_detach, "_detach");
    INTERN(str_done, "done");
    INTERN(str_set_result, "set_result");
    INTERN(str_set_exception, "set_exception");
    INTERN(str_call_lost, "_call_connection_lost");
    INTERN(str_call_soon, "call_soon");
#undef INTERN
    return 0;
}

/* ---- errors ----------------------------------------------------------------- */

void cio_tr_report(CioTransport *self, PyObject *exc, const char *msg)
{
    PyObject *ctx = Py_BuildValue("{s:s,s:O,s:O,s:O}", "message", msg, "exception", exc,
                                  "transport", (PyObject *)self, "protocol",
                                  self->protocol ? self->protocol : Py_None);
    PyObject *r = ctx ? PyObject_CallMethodOneArg((PyObject *)self->L,
                                                  cio_str_call_exception_handler, ctx)
                      : NULL;
    Py_XDECREF(ctx);
    if (r)
        Py_DECREF(r);
    else
        PyErr_WriteUnraisable((PyObject *)self);
}

void cio_tr_schedule_lost(CioTransport *self, PyObject *exc)
{
    if (self->lost_scheduled)
        return;
    if (!exc)
        exc = Py_None;
    PyObject *fn = PyObject_GetAttr((PyObject *)self, str_call_lost);
    PyObject *h = fn ? PyObject_CallMethodObjArgs((PyObject *)self->L, str_call_soon, fn, exc,
                                                  NULL)
                     : NULL;
    Py_XDECREF(fn);
    if (h) {
        Py_DECREF(h);
        self->lost_scheduled = 1;
        return;
    }
    /* the engine's connection_lost will try again, with exc */
    PyErr_Clear();
    if (exc != Py_None) {
        Py_INCREF(exc);
        Py_XSETREF(self->pending_exc, exc);
    }
}

void cio_tr_force_close(CioTransport *self, PyObject *exc)
{
    if (self->conn_lost)
        return;
    self->closing = 1;
    self->conn_lost++;
    if (self->t)
        cio_transport_abort(self->t); /* drops the buffer */
    cio_tr_schedule_lost(self, exc);
}

void cio_tr_fatal(CioTransport *self, PyObject *exc, const char *msg)
{
    /* asyncio logs an OSError only in debug mode: it is the connection's
     * fate, which connection_lost reports. */
    if (!PyErr_GivenExceptionMatches(exc, PyExc_OSError))
        cio_tr_report(self, exc, msg);
    cio_tr_force_close(self, exc);
}

/* The exception set now, normalized with its traceback (new ref). */
static PyObject *fetch_exc(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (!value) {
        Py_INCREF(Py_None);
        value = Py_None;
    }
    return value;
}

static int is_exit(void)
{
    return PyErr_ExceptionMatches(PyExc_SystemExit) ||
           PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

void cio_tr_callback_failed(CioTransport *self, const char *msg)
{
    if (is_exit()) {
        cio_loop_abort(self->L);
        return;
    }
    PyObject *exc = fetch_exc();
    cio_tr_fatal(self, exc, msg);
    Py_DECREF(exc);
}

/* A flow-control callback failed: the handler only (asyncio goes on). */
static void flow_failed(CioTransport *self, const char *msg)
{
    if (is_exit()) {
        cio_loop_abort(self->L);
        return;
    }
    PyObject *exc = fetch_exc();
    cio_tr_report(self, exc, msg);
    Py_DECREF(exc);
}

/* protocol.<name>(arg) (arg NULL: no argument); the protocol is held
 * through the call (set_protocol may drop it meanwhile).  New ref or
 * NULL with the exception set. */
static PyObject *call_proto(CioTransport *self, PyObject *name, PyObject *arg)
{
    PyObject *proto = self->protocol;
    if (!proto)
        Py_RETURN_NONE;
    Py_INCREF(proto);
    PyObject *args[3] = {NULL, proto, arg};
    PyObject *r = PyObject_VectorcallMethod(name, args + 1,
                                            (arg ? 2 : 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                            NULL);
    Py_DECREF(proto);
    return r;
}

/* An OSError for the engine's code: errno codes make the subclass that
 * names them (ConnectionResetError...), cio's own a plain OSError. */
PyObject *cio_tr_code_exc(int err)
{
    PyObject *e = err > -4096
                      ? PyObject_CallFunction(PyExc_OSError, "is", -err, strerror(-err))
                      : PyObject_CallFunction(PyExc_OSError, "s", cio_strerror(err));
    if (!e) {
        PyErr_WriteUnraisable(NULL);
        Py_RETURN_NONE;
    }
    return e;
}

void cio_tr_release_views(CioTransport *self)
{
    if (self->has_prev) {
        self->has_prev = 0;
        PyBuffer_Release(&self->prev);
    }
    if (self->has_view) {
        self->has_view = 0;
        PyBuffer_Release(&self->view);
    }
}

/* ---- the engine's callbacks ------------------------------------------------------ */

/* Reading starts only once the Python protocol's connection_made has run
 * (SocketTransport._start_reading, queued after it as asyncio queues its
 * _add_reader): paused until then. */
static void cb_made(cio_transport *t, void *ud)
{
    cio_transport_pause_reading(t);
}

static void cb_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    if (!self->live || self->conn_lost || self->closing)
        return; /* asyncio reads nothing after close */
    PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    if (!b) {
        cio_tr_callback_failed(self, "Fatal read error on socket transport");
        return;
    }
    Py_INCREF(self);
    PyObject *r = call_proto(self, str_data_received, b);
    Py_DECREF(b);
    if (r)
        Py_DECREF(r);
    else
        cio_tr_callback_failed(self, "Fatal error: protocol.data_received() call failed.");
    Py_DECREF(self);
}

/* The end of file reaches the protocol one loop iteration after the
 * engine saw it, as on asyncio, whose read that returns b'' comes in a
 * later iteration than the data before it: the engine reports bytes and
 * the end that arrived together in one dispatch, and a callback queued
 * before then (run_until_complete's stop, say) must still run before the
 * protocol hears of the end and its transport closes.  Held while
 * reading is paused, as asyncio does not read it then. */
static void deliver_eof(CioTransport *self);

static void deferred_eof(void *arg)
{
    CioTransport *self = arg;
    cio_py_hold_gil(self->L);
    if (self->eof_deferred == 1) {
        if (!self->live || self->closing || self->conn_lost)
            self->eof_deferred = 0; /* closed meanwhile: nothing more is read */
        else if (self->paused)
            self->eof_deferred = 2;
        else
            deliver_eof(self);
    }
    Py_DECREF(self);
}

static void queue_eof(CioTransport *self)
{
    self->eof_deferred = 1;
    Py_INCREF(self);
    if (!self->L->loop || cio_call_soon(self->L->loop, deferred_eof, self, NULL) < 0)
        deferred_eof(self); /* no memory: now rather than never */
}

void cio_tr_eof_resume(CioTransport *self)
{
    if (self->eof_deferred == 2)
        queue_eof(self);
}

static int cb_eof(cio_transport *t, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    if (self->live && !self->eof_deferred)
        queue_eof(self);
    return 1; /* the engine stays open: the protocol's answer decides */
}

static void deliver_eof(CioTransport *self)
{
    self->eof_deferred = 0;
    Py_INCREF(self);
    PyObject *r = call_proto(self, str_eof_received, NULL);
    int keep = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (keep < 0)
        cio_tr_callback_failed(self, "Fatal error: protocol.eof_received() call failed.");
    else if (!keep)
        cio_tr_close(self);
    /* keep_open: the engine reads no more after EOF and stays open */
    Py_DECREF(self);
}

static void *cb_get_buffer(cio_transport *t, size_t hint, size_t *len, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    if (!self->live || self->conn_lost)
        return NULL;
    Py_INCREF(self);
    void *buf = NULL;
    PyObject *m1 = PyLong_FromLong(-1); /* asyncio asks get_buffer(-1) */
    PyObject *r = m1 ? call_proto(self, str_get_buffer, m1) : NULL;
    Py_XDECREF(m1);
    Py_buffer v;
    if (!r) {
        cio_tr_callback_failed(self, "Fatal error: protocol.get_buffer() call failed.");
    } else if (PyObject_GetBuffer(r, &v, PyBUF_WRITABLE) < 0) {
        cio_tr_callback_failed(self, "Fatal read error on socket transport");
    } else if (v.len == 0) {
        PyBuffer_Release(&v);
        PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
        cio_tr_callback_failed(self, "Fatal error: protocol.get_buffer() call failed.");
    } else {
        /* The previous buffer may still be the source of a copy (a
         * read in flight across set_protocol): kept one more turn. */
        if (self->has_prev)
            PyBuffer_Release(&self->prev);
        self->prev = self->view;
        self->has_prev = self->has_view;
        self->view = v;
        self->has_view = 1;
        buf = v.buf;
        *len = (size_t)v.len;
    }
    Py_XDECREF(r);
    Py_DECREF(self);
    return buf;
}

static void cb_buffer_updated(cio_transport *t, size_t nbytes, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    /* The read is over: the protocol may resize its buffer now. */
    cio_tr_release_views(self);
    if (!self->live || self->conn_lost || self->closing)
        return;
    Py_INCREF(self);
    PyObject *n = PyLong_FromSize_t(nbytes);
    PyObject *r = n ? call_proto(self, str_buffer_updated, n) : NULL;
    Py_XDECREF(n);
    if (r)
        Py_DECREF(r);
    else
        cio_tr_callback_failed(self, "Fatal error: protocol.buffer_updated() call failed.");
    Py_DECREF(self);
}

static void cb_pause(cio_transport *t, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    if (!self->live || self->protocol_paused)
        return;
    /* While the limits are lowered to learn when the buffer empties,
     * the pause is the protocol's only above its own high-water mark. */
    if ((self->drain_wait || self->close_wait) && self->t &&
        cio_transport_get_write_buffer_size(t) <= self->high)
        return;
    self->protocol_paused = 1;
    Py_INCREF(self);
    PyObject *r = call_proto(self, str_pause_writing, NULL);
    if (r)
        Py_DECREF(r);
    else
        flow_failed(self, "protocol.pause_writing() failed");
    Py_DECREF(self);
}

/* Resolves fut with res (NULL: exc) unless it is done. */
static void settle(PyObject *fut, PyObject *res, PyObject *exc)
{
    PyObject *d = PyObject_CallMethodNoArgs(fut, str_done);
    int done = d ? PyObject_IsTrue(d) : -1;
    Py_XDECREF(d);
    PyObject *r = done == 0 ? PyObject_CallMethodOneArg(fut, res ? str_set_result : str_set_exception,
                                                       res ? res : exc)
                            : NULL;
    if (r)
        Py_DECREF(r);
    else if (PyErr_Occurred())
        PyErr_WriteUnraisable(fut);
}

static void cb_resume(cio_transport *t, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    if (!self->live)
        return;
    Py_INCREF(self);
    int watching = self->drain_wait || self->close_wait;
    if (self->drain_wait) {
        /* The buffer is empty: the sendfile waiter's moment. */
        self->drain_wait = 0;
        if (self->empty_waiter)
            settle(self->empty_waiter, Py_None, NULL);
    }
    if (self->protocol_paused && cio_transport_get_write_buffer_size(t) <= self->low) {
        self->protocol_paused = 0;
        PyObject *r = call_proto(self, str_resume_writing, NULL);
        if (r)
            Py_DECREF(r);
        else
            flow_failed(self, "protocol.resume_writing() failed");
    }
    /* A close waiting for the buffer: now, unless resume_writing wrote
     * more (the next resume comes when that is sent). */
    if (self->close_wait && self->live && cio_transport_get_write_buffer_size(t) == 0) {
        self->close_wait = 0;
        self->conn_lost++;
        cio_transport_close(t);
        cio_tr_schedule_lost(self, NULL);
    }
    if (watching && self->live && !cio_transport_is_closing(t))
        cio_tr_watch_empty(self);
    Py_DECREF(self);
}

/* The engine's connection_lost: the engine is done with us (it closes
 * its descriptor when this returns).  The protocol's connection_lost is
 * asyncio's _call_connection_lost, queued with call_soon as asyncio queues
 * it: the engine ran this from its own queue or from inside its wait,
 * and a loop.stop() asked for by the callbacks of this iteration must
 * still find the connection up, as it does on asyncio. */
/* The engine's connection_lost: the engine is done with us (it closes
 * its descriptor when this returns).  The protocol's connection_lost is
 * asyncio's _call_connection_lost, queued with call_soon where asyncio
 * queues it (close, abort, a failure: usually already done, see
 * cio_tr_schedule_lost), else now: never run from the engine's queue or
 * wait, so that it keeps its place among the Python callbacks (a stop()
 * asked in this iteration still finds the connection up; StreamWriter's
 * drain after close sees connection_lost first, as on asyncio). */
static void cb_lost(cio_transport *t, int err, void *ud)
{
    CioTransport *self = ud;
    cio_py_hold_gil(self->L);
    if (!self->live)
        return; /* detached when the loop closed */
    self->closing = 1;
    self->close_wait = self->drain_wait = 0;
    self->t = NULL;
    self->live = 0;
    cio_tr_release_views(self); /* no read is in flight any more */
    cio_transport_unref(t);     /* ours; the engine still holds its own */
    if (!self->lost_scheduled) {
        PyObject *exc = self->pending_exc;
        self->pending_exc = NULL;
        if (!exc)
            exc = err ? cio_tr_code_exc(err) : Py_NewRef(Py_None);
        cio_tr_schedule_lost(self, exc);
        if (!self->lost_scheduled) {
            /* the loop refuses (closed): now rather than never */
            PyObject *r = cio_tr_call_connection_lost(self, exc);
            if (r)
                Py_DECREF(r);
            else
                PyErr_WriteUnraisable((PyObject *)self);
        }
        Py_DECREF(exc);
    }
    Py_DECREF(self); /* the engine's hold on us; the handle holds another */
}

/* SocketTransport._call_connection_lost(exc): asyncio's - the protocol's
 * connection_lost, then (whatever it raised) the socket is closed, the
 * protocol dropped, the server detached, the sendfile waiter failed.
 * What connection_lost raised propagates (the loop's handler reports it
 * as asyncio's Handle does). */
PyObject *cio_tr_call_connection_lost(CioTransport *self, PyObject *exc)
{
    if (self->lost)
        Py_RETURN_NONE;
    self->lost = 1;
    Py_INCREF(self);
    PyObject *r = call_proto(self, str_connection_lost, exc);
    PyObject *et = NULL, *ev = NULL, *etb = NULL;
    if (!r)
        PyErr_Fetch(&et, &ev, &etb);
    if (self->sock) {
        PyObject *c = PyObject_CallMethodNoArgs(self->sock, cio_tr_str_close);
        if (c)
            Py_DECREF(c);
        else
            PyErr_WriteUnraisable(self->sock);
        Py_CLEAR(self->sock);
    }
    Py_CLEAR(self->protocol);
    PyObject *server = self->server;
    self->server = NULL;
    if (server) {
        PyObject *d = PyObject_CallMethodNoArgs(server, str_detach);
        if (d)
            Py_DECREF(d);
        else
            PyErr_WriteUnraisable(server);
        Py_DECREF(server);
    }
    if (self->empty_waiter) {
        PyObject *e = exc;
        if (e == Py_None)
            e = PyObject_CallFunction(PyExc_ConnectionError, "s", "Connection is closed by peer");
        else
            Py_INCREF(e);
        if (e) {
            settle(self->empty_waiter, NULL, e);
            Py_DECREF(e);
        } else {
            PyErr_WriteUnraisable(NULL);
        }
    }
    Py_DECREF(self);
    if (et) {
        PyErr_Restore(et, ev, etb);
        return NULL;
    }
    return r;
}

const cio_protocol cio_tr_proto_data = {
    .connection_made = cb_made,
    .data_received = cb_data,
    .eof_received = cb_eof,
    .connection_lost = cb_lost,
    .pause_writing = cb_pause,
    .resume_writing = cb_resume,
};

const cio_protocol cio_tr_proto_buf = {
    .connection_made = cb_made,
    .eof_received = cb_eof,
    .connection_lost = cb_lost,
    .pause_writing = cb_pause,
    .resume_writing = cb_resume,
    .get_buffer = cb_get_buffer,
    .buffer_updated = cb_buffer_updated,
};
