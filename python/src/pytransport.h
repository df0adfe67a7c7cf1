/*
 * pytransport.h - the socket transport of the Python loop, shared by its
 * two files: transport.c (the SocketTransport type: construction, the
 * asyncio methods, lifetime) and transport_proto.c (the engine's protocol
 * callbacks, which call the Python protocol, and asyncio's error paths).
 *
 * A SocketTransport is a cio_transport (include/cio/transport.h) seen from
 * Python as an asyncio.Transport: its type is a heap type whose base is
 * asyncio.Transport itself, so isinstance() against Transport,
 * ReadTransport, WriteTransport and BaseTransport holds and
 * get_extra_info / is_closing's documented behaviour come from the real
 * classes.  (Its base is transports._FlowControlMixin, a Transport,
 * because asyncio's sendfile fallback requires one.)  The engine works on a duplicate of the socket's descriptor:
 * the socket.socket that asyncio hands over stays the owner of its own
 * (get_extra_info('socket') wraps it, as asyncio's TransportSocket does)
 * and is closed after connection_lost, as asyncio closes it; the engine
 * closes its duplicate then too, so nothing is closed twice.
 */
#ifndef CIO_PY_TRANSPORT_H
#define CIO_PY_TRANSPORT_H

#include "cio_py.h"

#include <cio/transport.h>
#include <stdint.h>

typedef struct CioTransport {
    PyObject_HEAD
    PyObject *extra;           /* asyncio.BaseTransport's _extra slot: where
                                  its __slots__ put it (checked at import) */
    PyObject *fc_slots[4];     /* _FlowControlMixin's slots (_loop,
                                  _protocol_paused, _high_water,
                                  _low_water): shadowed by our getters,
                                  unused, NULL unless written through the
                                  base's descriptors */
    PyObject *dict;            /* __dict__ (attributes set on a transport) */
    PyObject *weakreflist;     /* loop._transports holds transports weakly */
    CioLoop *L;                /* the loop (strong) */
    cio_transport *t;          /* the engine's transport, our reference;
                                  NULL after connection_lost (or detach) */
    PyObject *sock;            /* the socket.socket; closed and NULL after
                                  connection_lost (asyncio's _sock) */
    PyObject *protocol;        /* NULL after connection_lost */
    PyObject *server;          /* the asyncio.Server to _detach, or NULL */
    PyObject *pending_exc;     /* what _force_close gives connection_lost
                                  when it could not queue it */
    PyObject *empty_waiter;    /* sendfile's future: done when the write
                                  buffer is empty (asyncio's) */
    Py_buffer view;            /* get_buffer's buffer, held while a read
                                  may fill it */
    Py_buffer prev;            /* the one before (a read in flight during
                                  set_protocol may still fill it) */
    size_t high, low;          /* the write buffer limits as set */
    int fd;                    /* sock.fileno(): repr, loop._transports */
    int conn_lost;             /* asyncio's _conn_lost: writes are dropped */
    uint8_t has_view, has_prev; /* view / prev hold an export */
    uint8_t buffered;          /* the protocol is a BufferedProtocol */
    uint8_t closing;           /* close, abort or a failure (_closing) */
    uint8_t paused;            /* pause_reading (asyncio's _paused) */
    uint8_t started;           /* connection_made has been called: reading
                                  may start (asyncio adds its reader then) */
    uint8_t eof;               /* write_eof was called */
    uint8_t protocol_paused;   /* the protocol was told pause_writing */
    uint8_t drain_wait;        /* the empty waiter is pending */
    uint8_t close_wait;        /* close() with bytes buffered: the engine
                                  closes once they are sent; writes meanwhile
                                  are still taken, as asyncio takes them */
    /* While either waits, the engine's limits are (0, 0), so that its
     * resume_writing says when the buffer is empty (cio_tr_watch_empty). */
    uint8_t live;              /* the engine may still call us: we hold a
                                  reference on ourselves until then */
    uint8_t lost_scheduled;    /* _call_connection_lost is queued */
    uint8_t lost;              /* the protocol's connection_lost has run */
    uint8_t eof_deferred;      /* the engine's EOF, not yet the protocol's:
                                  1 queued for the next iteration, 2 held
                                  while reading is paused (transport_proto.c) */
} CioTransport;

/* The engine's protocol tables: plain (data_received) and buffered
 * (get_buffer / buffer_updated). */
extern const cio_protocol cio_tr_proto_data;
extern const cio_protocol cio_tr_proto_buf;

/* Interned method names and asyncio objects (transport.c, at import). */
extern PyObject *cio_tr_str_close, *cio_tr_logger;

/* The exception set now came from a protocol callback: SystemExit and
 * KeyboardInterrupt stop the loop; anything else is asyncio's
 * _fatal_error(exc, msg). */
void cio_tr_callback_failed(CioTransport *self, const char *msg);
/* asyncio's _fatal_error: the exception handler for a non-OSError, then
 * _force_close(exc).  Borrows exc. */
void cio_tr_fatal(CioTransport *self, PyObject *exc, const char *msg);
/* asyncio's _force_close: drops the buffer, connection_lost(exc) in a
 * later iteration.  Borrows exc (None or NULL: a clean end). */
void cio_tr_force_close(CioTransport *self, PyObject *exc);
/* BaseTransport.close. */
void cio_tr_close(CioTransport *self);
/* Reports to the loop's exception handler: message, exception, this
 * transport and its protocol.  Never fails (an error is unraisable). */
void cio_tr_report(CioTransport *self, PyObject *exc, const char *msg);
/* Queues asyncio's _call_connection_lost(exc) (once; exc NULL: None). */
void cio_tr_schedule_lost(CioTransport *self, PyObject *exc);
/* The OSError (subclass) for an engine error code; never fails (None). */
PyObject *cio_tr_code_exc(int err);
/* asyncio's _call_connection_lost(exc) (transport_proto.c). */
PyObject *cio_tr_call_connection_lost(CioTransport *self, PyObject *exc);
/* Releases the held get_buffer exports. */
void cio_tr_release_views(CioTransport *self);

#define CIO_TR_DEFAULT_HIGH (64 * 1024) /* asyncio's high-water mark */

/* Whether a write is void: after close with nothing buffered, abort, a
 * failure, connection_lost (asyncio's _conn_lost).  A close() waiting
 * for the buffer still takes writes. */
static inline int write_refused(const CioTransport *self)
{
    return self->conn_lost || !self->t || cio_transport_is_closing(self->t);
}

/* A failure the engine met (a send or read error) closes the transport
 * at once, as asyncio's _force_close sets _closing; connection_lost
 * follows. */
static inline int closing(CioTransport *self)
{
    if (!self->closing && self->t && cio_transport_is_closing(self->t))
        self->closing = 1;
    return self->closing;
}

/* transport_write.c: the WriteTransport methods and sendfile's waiter. */
PyObject *cio_tr_write(CioTransport *self, PyObject *data);
PyObject *cio_tr_writelines(CioTransport *self, PyObject *list);
PyObject *cio_tr_write_eof(CioTransport *self, PyObject *unused);
PyObject *cio_tr_can_write_eof(CioTransport *self, PyObject *unused);
PyObject *cio_tr_get_write_buffer_size(CioTransport *self, PyObject *unused);
PyObject *cio_tr_get_write_buffer_limits(CioTransport *self, PyObject *unused);
PyObject *cio_tr_set_write_buffer_limits(CioTransport *self, PyObject *args, PyObject *kw);
PyObject *cio_tr_make_empty_waiter(CioTransport *self, PyObject *unused);
PyObject *cio_tr_reset_empty_waiter(CioTransport *self, PyObject *unused);
int cio_tr_write_init(void);
/* Gives the engine limits of (0, 0) while the buffer's emptying is
 * awaited (drain_wait, close_wait), else the transport's own. */
void cio_tr_watch_empty(CioTransport *self);
/* transport_proto.c's names, at import */
int cio_tr_proto_init(void);

/* resume_reading with an end of file held while paused: queue it. */
void cio_tr_eof_resume(CioTransport *self);

#endif
