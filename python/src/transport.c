/*
 * transport.c - cio._cio.SocketTransport: the Python loop's stream socket
 * transport (TCP and Unix) on cio's C transport (include/cio/transport.h),
 * what cio.Loop._make_socket_transport makes in place of asyncio's
 * _SelectorSocketTransport.  Reads, writes, buffering, flow control and
 * closing run in the engine; Python runs only the protocol's callbacks
 * (transport_proto.c).
 *
 * The type is a real subclass of asyncio.Transport: a heap type made with
 * PyType_FromSpecWithBases over the Python class.  asyncio.BaseTransport
 * declares __slots__ = ('_extra',), so the base's instances are an object
 * header and that one slot; our struct starts with the same (the slot is
 * CioTransport.extra) and import checks the base's size and the slot's
 * offset, refusing (cio then keeps asyncio's transports) if asyncio ever
 * lays it out otherwise.  The inherited Python methods (get_extra_info,
 * BaseTransport's docs) work on it unchanged; ours override the rest.
 *
 * Behaviour is asyncio's selector transport's, method by method: write
 * of a non-bytes-like object is a TypeError, after write_eof a
 * RuntimeError, of nothing a no-op, after close/abort/loss silently
 * dropped (a warning from the fifth on); close is idempotent and
 * connection_lost comes in a later iteration; connection_made, the start
 * of reading and the waiter come in three call_soon callbacks in
 * asyncio's order; an unclosed transport warns (ResourceWarning) when
 * collected.  sendfile's native path (asyncio's _sendfile_native: the
 * empty waiter, _sock) is supported.
 */
#include "pytransport.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <structmember.h>
#include <unistd.h>

PyObject *cio_tr_str_close, *cio_tr_logger;
static PyObject *str_call_soon, *str_start_reading, *str_connection_made, *str_attach,
    *str_fileno, *str_getsockname, *str_getpeername, *str_transports,
    *str_peername, *str_sockname, *str_socket;
static PyObject *buffered_type;   /* asyncio.BufferedProtocol */
static PyObject *transport_socket; /* asyncio.trsock.TransportSocket */
static PyObject *set_unless_cancelled; /* asyncio.futures._set_result_unless_cancelled */
static PyObject *transport_type;


/* ---- helpers --------------------------------------------------------------- */

static int call_soon(CioTransport *self, PyObject *fn, PyObject *arg)
{
    PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self->L, str_call_soon, fn, arg, NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int set_protocol(CioTransport *self, PyObject *protocol)
{
    int buffered = PyObject_IsInstance(protocol, buffered_type);
    if (buffered < 0)
        return -1;
    Py_INCREF(protocol);
    Py_XSETREF(self->protocol, protocol);
    if (self->t && buffered != self->buffered)
        cio_transport_set_protocol(self->t, buffered ? &cio_tr_proto_buf : &cio_tr_proto_data,
                                   self);
    self->buffered = (uint8_t)buffered;
    return 0;
}

/* sock.<name>() or None when it raises OSError (asyncio's extra info). */
static PyObject *sock_info(PyObject *sock, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(sock, name);
    if (!r && PyErr_ExceptionMatches(PyExc_OSError)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return r;
}

static int build_extra(CioTransport *self, PyObject *sock, PyObject *extra)
{
    /* asyncio keeps the dict it is given (BaseTransport.__init__) */
    PyObject *d = extra && PyDict_Check(extra) ? Py_NewRef(extra) : PyDict_New();
    if (!d)
        return -1;
    self->extra = d;
    PyObject *ts = PyObject_CallOneArg(transport_socket, sock);
    if (!ts || PyDict_SetItem(d, str_socket, ts) < 0) {
        Py_XDECREF(ts);
        return -1;
    }
    Py_DECREF(ts);
    PyObject *v = sock_info(sock, str_getsockname);
    if (!v || PyDict_SetItem(d, str_sockname, v) < 0) {
        Py_XDECREF(v);
        return -1;
    }
    Py_DECREF(v);
    int has = PyDict_Contains(d, str_peername);
    if (has < 0)
        return -1;
    if (!has) {
        v = sock_info(sock, str_getpeername);
        if (!v || PyDict_SetItem(d, str_peername, v) < 0) {
            Py_XDECREF(v);
            return -1;
        }
        Py_DECREF(v);
    }
    return 0;
}

/* ---- construction ---------------------------------------------------------------- */

/* SocketTransport(loop, sock, protocol, waiter=None, extra=None,
 * server=None): asyncio's _SelectorSocketTransport constructor.  The loop
 * must be running in this thread (the engine's transports belong to the
 * running loop). */
static PyObject *tr_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"loop", "sock", "protocol", "waiter", "extra", "server", NULL};
    PyObject *loop, *sock, *protocol, *waiter = Py_None, *extra = Py_None, *server = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OOO", kwlist, &loop, &sock, &protocol,
                                     &waiter, &extra, &server))
        return NULL;
    if (!PyObject_TypeCheck(loop, &CioLoop_Type)) {
        PyErr_SetString(PyExc_TypeError, "SocketTransport needs a cio loop");
        return NULL;
    }
    CioLoop *L = (CioLoop *)loop;
    if (L->closed || !L->loop || !L->in_run || L->owner != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "SocketTransport: the loop is not running here");
        return NULL;
    }
    CioTransport *self = (CioTransport *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    Py_INCREF(loop);
    self->L = L;
    self->fd = -1;
    self->high = CIO_TR_DEFAULT_HIGH;
    self->low = CIO_TR_DEFAULT_HIGH / 4;
    PyObject *fdo = PyObject_CallMethodNoArgs(sock, str_fileno);
    if (!fdo)
        goto fail;
    self->fd = PyLong_AsLong(fdo);
    Py_DECREF(fdo);
    if (self->fd < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "the socket is closed");
        goto fail;
    }
    if (build_extra(self, sock, extra) < 0)
        goto fail;
    Py_INCREF(sock);
    self->sock = sock;
    if (set_protocol(self, protocol) < 0)
        goto fail;
    if (server != Py_None) {
        PyObject *r = PyObject_CallMethodNoArgs(server, str_attach);
        if (!r)
            goto fail;
        Py_DECREF(r);
        Py_INCREF(server);
        self->server = server;
    }
    PyObject *map = PyObject_GetAttr(loop, str_transports);
    PyObject *key = PyLong_FromLong(self->fd);
    int rc = map && key ? PyObject_SetItem(map, key, (PyObject *)self) : -1;
    Py_XDECREF(map);
    Py_XDECREF(key);
    if (rc < 0)
        goto fail;
    /* asyncio's _set_nodelay: small writes go at once (Nagle with the
     * peer's delayed ACK would hold a response's second write 40 ms);
     * a Unix socket refuses it, which is fine. */
    int one = 1;
    (void)setsockopt(self->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* The engine gets a duplicate: the socket object keeps its own
     * descriptor (closed after connection_lost, as asyncio does). */
    int dfd = fcntl(self->fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    self->live = 1;
    Py_INCREF(self); /* the engine's hold on us, until connection_lost */
    cio_transport *t;
    rc = cio_connect_accepted_socket(self->buffered ? &cio_tr_proto_buf : &cio_tr_proto_data,
                                     self, dfd, NULL, &t);
    if (rc < 0) {
        close(dfd);
        self->live = 0;
        Py_DECREF(self);
        errno = rc > -4096 ? -rc : EIO;
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    self->t = t;
    /* asyncio's order: connection_made, reading, the waiter. */
    PyObject *made = PyObject_GetAttr(protocol, str_connection_made);
    PyObject *start = made ? PyObject_GetAttr((PyObject *)self, str_start_reading) : NULL;
    rc = start ? call_soon(self, made, (PyObject *)self) : -1;
    if (rc == 0) {
        PyObject *h = PyObject_CallMethodObjArgs(loop, str_call_soon, start, NULL);
        rc = h ? 0 : -1;
        Py_XDECREF(h);
    }
    Py_XDECREF(made);
    Py_XDECREF(start);
    if (rc == 0 && waiter != Py_None) {
        PyObject *r = PyObject_CallMethodObjArgs(loop, str_call_soon, set_unless_cancelled,
                                                 waiter, Py_None, NULL);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    if (rc < 0) {
        cio_tr_force_close(self, NULL);
        goto fail;
    }
    return (PyObject *)self;
fail:
    if (!self->t) {
        /* Not ours yet: the socket and the server's count stay the
         * caller's, as after a failed asyncio constructor. */
        Py_CLEAR(self->sock);
        if (self->server) {
            PyObject *et, *ev, *etb;
            PyErr_Fetch(&et, &ev, &etb);
            PyObject *r = PyObject_CallMethod(self->server, "_detach", NULL);
            Py_XDECREF(r);
            PyErr_Clear();
            PyErr_Restore(et, ev, etb);
        }
    }
    Py_DECREF(self);
    return NULL;
}

/* tp_new did it all: BaseTransport.__init__ must not run again. */
static int tr_init(PyObject *self, PyObject *args, PyObject *kw) { return 0; }

/* ---- reading ------------------------------------------------------------------------------ */

static PyObject *tr_is_reading(CioTransport *self, PyObject *unused)
{
    return PyBool_FromLong(!self->paused && !closing(self));
}

static PyObject *tr_pause_reading(CioTransport *self, PyObject *unused)
{
    if (closing(self) || self->paused)
        Py_RETURN_NONE;
    self->paused = 1;
    if (self->started && self->t)
        cio_transport_pause_reading(self->t);
    Py_RETURN_NONE;
}

static PyObject *tr_resume_reading(CioTransport *self, PyObject *unused)
{
    if (closing(self) || !self->paused)
        Py_RETURN_NONE;
    self->paused = 0;
    if (self->started && self->t)
        cio_transport_resume_reading(self->t);
    cio_tr_eof_resume(self);
    Py_RETURN_NONE;
}

/* Queued after connection_made (asyncio's _add_reader). */
static PyObject *tr_start_reading(CioTransport *self, PyObject *unused)
{
    self->started = 1;
    if (!self->closing && !self->paused && self->t)
        cio_transport_resume_reading(self->t);
    Py_RETURN_NONE;
}

/* ---- closing ---------------------------------------------------------------------------------- */

void cio_tr_close(CioTransport *self)
{
    if (closing(self))
        return;
    self->closing = 1;
    if (!self->t)
        return;
    if (cio_transport_get_write_buffer_size(self->t) == 0) {
        self->conn_lost++;
        cio_transport_close(self->t);
        cio_tr_schedule_lost(self, NULL);
        return;
    }
    /* asyncio stops reading and still takes writes until the buffer is
     * sent (sslproto's close_notify comes that way); the engine's close
     * refuses them, so it is asked once the buffer is empty
     * (transport_proto.c's resume). */
    cio_transport_pause_reading(self->t);
    self->close_wait = 1;
    cio_tr_watch_empty(self);
}

static PyObject *tr_close_m(CioTransport *self, PyObject *unused)
{
    cio_tr_close(self);
    Py_RETURN_NONE;
}

static PyObject *tr_abort(CioTransport *self, PyObject *unused)
{
    cio_tr_force_close(self, NULL);
    Py_RETURN_NONE;
}

static PyObject *tr_is_closing(CioTransport *self, PyObject *unused)
{
    return PyBool_FromLong(closing(self));
}

static PyObject *tr_force_close_m(CioTransport *self, PyObject *exc)
{
    cio_tr_force_close(self, exc);
    Py_RETURN_NONE;
}

static PyObject *tr_fatal_error(CioTransport *self, PyObject *args)
{
    PyObject *exc;
    const char *msg = "Fatal error on transport";
    if (!PyArg_ParseTuple(args, "O|s", &exc, &msg))
        return NULL;
    cio_tr_fatal(self, exc, msg);
    Py_RETURN_NONE;
}

/* The loop is closing with this transport open (asyncio then just drops
 * its selector): the engine lets go of us, and the socket is left to the
 * transport's collection (ResourceWarning, as asyncio's). */
static PyObject *tr_loop_closing(CioTransport *self, PyObject *unused)
{
    if (!self->live)
        Py_RETURN_NONE;
    cio_transport *t = self->t;
    self->live = 0;
    self->t = NULL;
    if (t) {
        /* No callback may reach us any more: the engine is handed a
         * protocol of no callbacks before it aborts. */
        static const cio_protocol none = {0};
        cio_transport_set_protocol(t, &none, NULL);
        cio_transport_abort(t);
        cio_transport_unref(t);
    }
    Py_DECREF(self); /* the engine's hold; the caller holds another */
    Py_RETURN_NONE;
}

/* ---- protocol, sendfile ------------------------------------------------------------------------- */

static PyObject *tr_set_protocol(CioTransport *self, PyObject *protocol)
{
    if (set_protocol(self, protocol) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *tr_get_protocol(CioTransport *self, PyObject *unused)
{
    return Py_NewRef(self->protocol ? self->protocol : Py_None);
}

/* ---- repr, attributes, lifetime ------------------------------------------------------------------ */

static PyObject *tr_repr(CioTransport *self)
{
    const char *state = !self->sock ? " closed" : closing(self) ? " closing" : "";
    if (self->lost || !self->L || self->L->closed)
        return PyUnicode_FromFormat("<%s%s fd=%d>", _PyType_Name(Py_TYPE(self)), state, self->fd);
    size_t size = self->t ? cio_transport_get_write_buffer_size(self->t) : 0;
    int reading = self->started && self->t && cio_transport_is_reading(self->t);
    return PyUnicode_FromFormat("<%s%s fd=%d read=%s write=<%s, bufsize=%zu>>",
                                _PyType_Name(Py_TYPE(self)), state, self->fd,
                                reading ? "polling" : "idle", size ? "polling" : "idle", size);
}

static void tr_finalize(CioTransport *self)
{
    if (!self->sock)
        return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyErr_ResourceWarning((PyObject *)self, 1, "unclosed transport %R", (PyObject *)self) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    PyObject *r = PyObject_CallMethodNoArgs(self->sock, cio_tr_str_close);
    if (r)
        Py_DECREF(r);
    else
        PyErr_WriteUnraisable(self->sock);
    Py_CLEAR(self->sock);
    PyErr_Restore(type, value, tb);
}

static int tr_traverse(CioTransport *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->extra);
    for (int i = 0; i < 4; i++)
        Py_VISIT(self->fc_slots[i]);
    Py_VISIT(self->dict);
    Py_VISIT(self->L);
    Py_VISIT(self->sock);
    Py_VISIT(self->protocol);
    Py_VISIT(self->server);
    Py_VISIT(self->pending_exc);
    Py_VISIT(self->empty_waiter);
    return 0;
}

static int tr_clear(CioTransport *self)
{
    Py_CLEAR(self->extra);
    for (int i = 0; i < 4; i++)
        Py_CLEAR(self->fc_slots[i]);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->protocol);
    Py_CLEAR(self->server);
    Py_CLEAR(self->pending_exc);
    Py_CLEAR(self->empty_waiter);
    return 0;
}

static void tr_dealloc(CioTransport *self)
{
    PyObject_GC_UnTrack(self);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    cio_tr_release_views(self);
    if (self->t) /* never live here: the engine holds us while it may call */
        cio_transport_unref(self->t);
    tr_clear(self);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->L);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *get_sock(CioTransport *self, void *c) { return Py_NewRef(self->sock ? self->sock : Py_None); }
static PyObject *get_sock_fd(CioTransport *self, void *c) { return PyLong_FromLong(self->fd); }
static PyObject *get_loop(CioTransport *self, void *c)
{
    return Py_NewRef(self->lost || !self->L ? Py_None : (PyObject *)self->L);
}
static PyObject *get_protocol_attr(CioTransport *self, void *c) { return tr_get_protocol(self, NULL); }
static PyObject *get_closing(CioTransport *self, void *c) { return PyBool_FromLong(closing(self)); }
static PyObject *get_high(CioTransport *self, void *c) { return PyLong_FromSize_t(self->high); }
static PyObject *get_low(CioTransport *self, void *c) { return PyLong_FromSize_t(self->low); }
static PyObject *get_paused(CioTransport *self, void *c) { return PyBool_FromLong(self->protocol_paused); }
static PyObject *get_server(CioTransport *self, void *c) { return Py_NewRef(self->server ? self->server : Py_None); }
static PyObject *get_empty_waiter(CioTransport *self, void *c)
{
    return Py_NewRef(self->empty_waiter ? self->empty_waiter : Py_None);
}

static PyGetSetDef tr_getset[] = {
    {"_sock", (getter)get_sock, NULL, "the socket (None after connection_lost)"},
    {"_sock_fd", (getter)get_sock_fd, NULL, NULL},
    {"_loop", (getter)get_loop, NULL, "the loop (None after connection_lost)"},
    {"_protocol", (getter)get_protocol_attr, NULL, NULL},
    {"_closing", (getter)get_closing, NULL, NULL},
    {"_protocol_paused", (getter)get_paused, NULL, NULL},
    {"_server", (getter)get_server, NULL, NULL},
    {"_high_water", (getter)get_high, NULL, NULL},
    {"_low_water", (getter)get_low, NULL, NULL},
    {"_empty_waiter", (getter)get_empty_waiter, NULL, NULL},
    {NULL}};

static PyMemberDef tr_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(CioTransport, dict), READONLY},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(CioTransport, weakreflist), READONLY},
    {NULL}};

#define NOARGS(name, fn, doc) {name, (PyCFunction)fn, METH_NOARGS, doc}
static PyMethodDef tr_methods[] = {
    {"write", (PyCFunction)cio_tr_write, METH_O, "write(data): sends the bytes (buffered if need be)."},
    {"writelines", (PyCFunction)cio_tr_writelines, METH_O, "writelines(list_of_data)"},
    NOARGS("write_eof", cio_tr_write_eof, "Half-closes once the buffer is sent."),
    NOARGS("can_write_eof", cio_tr_can_write_eof, "True."),
    NOARGS("get_write_buffer_size", cio_tr_get_write_buffer_size, NULL),
    NOARGS("get_write_buffer_limits", cio_tr_get_write_buffer_limits, "(low, high)"),
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))cio_tr_set_write_buffer_limits,
     METH_VARARGS | METH_KEYWORDS, "set_write_buffer_limits(high=None, low=None)"},
    NOARGS("is_reading", tr_is_reading, NULL),
    NOARGS("pause_reading", tr_pause_reading, NULL),
    NOARGS("resume_reading", tr_resume_reading, NULL),
    NOARGS("close", tr_close_m, "Closes once the buffer is sent; connection_lost(None) follows."),
    NOARGS("abort", tr_abort, "Closes at once, dropping the buffer."),
    NOARGS("is_closing", tr_is_closing, NULL),
    {"set_protocol", (PyCFunction)tr_set_protocol, METH_O, NULL},
    NOARGS("get_protocol", tr_get_protocol, NULL),
    NOARGS("_start_reading", tr_start_reading, NULL),
    {"_force_close", (PyCFunction)tr_force_close_m, METH_O, NULL},
    {"_call_connection_lost", (PyCFunction)cio_tr_call_connection_lost, METH_O, NULL},
    {"_fatal_error", (PyCFunction)tr_fatal_error, METH_VARARGS, NULL},
    NOARGS("_make_empty_waiter", cio_tr_make_empty_waiter, NULL),
    NOARGS("_reset_empty_waiter", cio_tr_reset_empty_waiter, NULL),
    NOARGS("_loop_closing", tr_loop_closing, NULL),
    {NULL}};

static PyType_Slot tr_slots[] = {
    {Py_tp_new, tr_new},
    {Py_tp_init, tr_init},
    {Py_tp_dealloc, tr_dealloc},
    {Py_tp_finalize, tr_finalize},
    {Py_tp_traverse, tr_traverse},
    {Py_tp_clear, tr_clear},
    {Py_tp_repr, tr_repr},
    {Py_tp_methods, tr_methods},
    {Py_tp_getset, tr_getset},
    {Py_tp_members, tr_members},
    {Py_tp_doc, "A stream socket transport (TCP, Unix) on cio's C transport; an asyncio.Transport."},
    {0, NULL}};

static PyType_Spec tr_spec = {
    .name = "cio._cio.SocketTransport",
    .basicsize = sizeof(CioTransport),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = tr_slots,
};

/* Whether the base's layout is the one CioTransport mirrors: an object
 * header, BaseTransport's _extra slot, then _FlowControlMixin's four
 * slots, nothing else (no __dict__, no __weakref__). */
static int layout_ok(PyObject *base)
{
    static const char *names[] = {"_extra", "_loop", "_protocol_paused", "_high_water",
                                  "_low_water"};
    const Py_ssize_t first = (Py_ssize_t)offsetof(CioTransport, fc_slots);
    for (int i = 0; i < 5; i++) {
        PyObject *d = PyObject_GetAttrString(base, names[i]);
        if (!d)
            return -1;
        Py_ssize_t off = Py_IS_TYPE(d, &PyMemberDescr_Type)
                             ? ((PyMemberDescrObject *)d)->d_member->offset
                             : -1;
        Py_DECREF(d);
        if (i == 0 ? off != (Py_ssize_t)offsetof(CioTransport, extra)
                   : off < first || off >= first + 4 * (Py_ssize_t)sizeof(PyObject *))
            return 0;
    }
    PyTypeObject *b = (PyTypeObject *)base;
    return b->tp_basicsize == (Py_ssize_t)offsetof(CioTransport, dict) &&
           b->tp_dictoffset == 0 && b->tp_weaklistoffset == 0;
}

int cio_transport_init(PyObject *m)
{
#define INTERN(v, s) if (!(v = PyUnicode_InternFromString(s))) return -1
    INTERN(cio_tr_str_close, "close");
    INTERN(str_call_soon, "call_soon");
    INTERN(str_start_reading, "_start_reading");
    INTERN(str_connection_made, "connection_made");
    INTERN(str_attach, "_attach");
    INTERN(str_fileno, "fileno");
    INTERN(str_getsockname, "getsockname");
    INTERN(str_getpeername, "getpeername");
    INTERN(str_transports, "_transports");
    INTERN(str_peername, "peername");
    INTERN(str_sockname, "sockname");
    INTERN(str_socket, "socket");
#undef INTERN
    if (cio_tr_proto_init() < 0 || cio_tr_write_init() < 0)
        return -1;
    PyObject *asyncio = PyImport_ImportModule("asyncio");
    PyObject *trsock = PyImport_ImportModule("asyncio.trsock");
    PyObject *futures = PyImport_ImportModule("asyncio.futures");
    PyObject *constants = PyImport_ImportModule("asyncio.constants");
    PyObject *log = PyImport_ImportModule("asyncio.log");
    PyObject *transports = PyImport_ImportModule("asyncio.transports");
    PyObject *base = NULL, *mode = NULL;
    int rc = -1;
    if (!asyncio || !trsock || !futures || !constants || !log || !transports)
        goto out;
    if (!(buffered_type = PyObject_GetAttrString(asyncio, "BufferedProtocol")) ||
        !(transport_socket = PyObject_GetAttrString(trsock, "TransportSocket")) ||
        !(set_unless_cancelled = PyObject_GetAttrString(futures, "_set_result_unless_cancelled")) ||
        !(cio_tr_logger = PyObject_GetAttrString(log, "logger")) ||
        !(base = PyObject_GetAttrString(transports, "_FlowControlMixin")))
        goto out;
    int ok = layout_ok(base);
    if (ok < 0)
        goto out;
    if (!ok) {
        rc = 0; /* not this asyncio: cio keeps asyncio's transports */
        goto out;
    }
    transport_type = PyType_FromSpecWithBases(&tr_spec, base);
    if (!transport_type)
        goto out;
    /* asyncio's class attributes: start_tls and native sendfile work. */
    PyObject *sendfile_mode = PyObject_GetAttrString(constants, "_SendfileMode");
    mode = sendfile_mode ? PyObject_GetAttrString(sendfile_mode, "TRY_NATIVE") : NULL;
    Py_XDECREF(sendfile_mode);
    if (!mode || PyObject_SetAttrString(transport_type, "_sendfile_compatible", mode) < 0 ||
        PyObject_SetAttrString(transport_type, "_start_tls_compatible", Py_True) < 0)
        goto out;
    Py_INCREF(transport_type);
    if (PyModule_AddObject(m, "SocketTransport", transport_type) < 0) {
        Py_DECREF(transport_type);
        goto out;
    }
    rc = 0;
out:
    Py_XDECREF(asyncio);
    Py_XDECREF(trsock);
    Py_XDECREF(futures);
    Py_XDECREF(constants);
    Py_XDECREF(log);
    Py_XDECREF(transports);
    Py_XDECREF(base);
    Py_XDECREF(mode);
    return rc;
}
