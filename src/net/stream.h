/*
 * stream.h - the stream object inside cio, shared by stream.c (lifetime,
 * the stream protocol, writing, closing), stream_read.c (reading and the
 * zero-copy view), stream_legacy.c (streams that still move their own
 * bytes: TLS and pipes), stream_tls.c, connect.c and server.c.
 *
 * A stream is asyncio's StreamReaderProtocol: the protocol (ud = the
 * stream) of a transport.  The transport pushes bytes into the stream's
 * read buffer (get_buffer/buffer_updated: received in place, no copy) and
 * the reading calls wait for them; writes go straight to the transport.
 * Any kind of cio_transport works: connection_made attaches it.
 *
 * Until TLS and pipes exist as transports, a stream without one (t NULL,
 * "legacy") moves its bytes itself through a struct cio__stream_transport
 * and a flusher task; see stream_legacy.c.  Everything above the bytes
 * (buffer, limit, lines, drain, close) is shared.
 */
#ifndef CIO_NET_STREAM_INTERNAL_H
#define CIO_NET_STREAM_INTERNAL_H

#include <netdb.h>

#include "cio/stream.h"
#include "cio/tls.h"
#include "cio/transport.h"
#include "../sync/waitq.h"
#include "../task/task.h"
#include "tls_internal.h" /* tls.c's close_notify, messages, name rule */

#define CIO__STREAM_DEFAULT_LIMIT (64 * 1024)
#define CIO__STREAM_DEFAULT_HIGH (64 * 1024)

/*
 * How a legacy stream moves bytes: a pipe (read/write, no SIGPIPE) or a
 * TLS session (stream_tls.c).  The reader and the flusher only call
 * these.  A stream gets one at most once (cio_stream_start_tls moves a
 * transport stream to TLS), between operations.
 */
struct cio__stream_transport {
    const char *name;
    /* Receives up to len bytes: count, 0 at end of stream, or -errno /
     * CIO_ETLS.  Suspends. */
    int (*recv)(cio_stream *s, void *buf, size_t len);
    /* Sends some of len bytes (at least one): count or a negative code.
     * Suspends. */
    int (*send)(cio_stream *s, const void *buf, size_t len);
    /* Half-close after the queue is flushed (write_eof).  Does not wait. */
    void (*write_eof)(cio_stream *s);
    /* Called just before the descriptor is closed; graceful: close was
     * asked (TLS sends close_notify), else abort or error.  Does not wait. */
    void (*close)(cio_stream *s, int graceful);
};

extern const struct cio__stream_transport cio__stream_pipe;

struct cio_stream {
    cio_loop *loop;            /* owner */
    uint32_t refs;             /* the user's hold + the protocol's (from
                                  connection_made until connection_lost) +
                                  one per parked call + a running flusher */
    cio_transport *t;          /* the transport (a reference), NULL for a
                                  legacy stream */
    /* reading */
    char *rbuf;                /* read buffer, rcap bytes, made lazily */
    size_t rstart, rend;       /* unread data is rbuf[rstart, rend) */
    size_t rcap;
    size_t limit;              /* line/separator limit (asyncio's limit);
                                  reading pauses above twice this */
    int rerr;                  /* sticky read error, 0 if none */
    uint8_t eof;               /* the peer ended its side */
    uint8_t rpaused;           /* we paused the transport's reading */
    struct cio__waitq readers; /* tasks waiting for bytes, EOF or error */
    /* writing and closing */
    size_t high, low;          /* watermarks */
    int werr;                  /* sticky write error, 0 if none */
    uint8_t paused;            /* above high, not yet back at low: drain
                                  waits (transport: pause_writing) */
    uint8_t eof_wanted;        /* write_eof called */
    uint8_t closing;           /* close/abort called, or connection lost */
    uint8_t graceful;          /* close (not abort): flush, then close */
    uint8_t lost;              /* transport: connection_lost has run */
    struct cio__waitq writers; /* tasks in drain and wait_closed */
    /* legacy streams (TLS, pipes): their own descriptor and flusher */
    int fd;                    /* the descriptor, -1 once closed (and
                                  always -1 on transport streams) */
    const struct cio__stream_transport *tp; /* how bytes move; NULL before
                                  a TLS handshake set it */
    cio_tls *tls;              /* the TLS session, NULL for plain streams
                                  (freed with the stream: a reader parked in
                                  it at close still returns through it) */
    double tls_handshake_timeout; /* seconds, <= 0: none */
    char *tls_error;           /* message of the last TLS failure, or NULL */
    char *wbuf;                /* bytes queued for the flusher */
    size_t wstart, wend, wcap; /* queued data is wbuf[wstart, wend) */
    char *wold;                /* the buffer a send in flight reads from,
                                  when the queue moved meanwhile; freed
                                  when that send returns */
    uint8_t sending;           /* the flusher is inside a send: the bytes at
                                  wbuf + wstart must not move */
    uint8_t eof_sent;          /* the half-close was done */
    uint8_t flushing;          /* the flusher task exists (maybe not started) */
    uint8_t flusher_started;   /* it began running: a task cancelled before
                                  that never runs, so then whoever cancels
                                  it drops the reference it holds */
    cio_task *flusher;         /* the flusher task (a reference), or NULL */
    /* lines iterator (stream_iter.c) */
    char *lines_buf;           /* the caller's line buffer, or NULL */
    size_t lines_cap;          /* its size (one byte kept for the NUL) */
    size_t lines_len;          /* length of the last line handed out */
};

/* The stream as a protocol (ud: the stream); connection_made attaches
 * the transport.  Start any kind of transport with it. */
extern const cio_protocol cio__stream_protocol;

/* Makes a stream attached to nothing yet: connect it to a transport
 * (start the transport with cio__stream_protocol and the stream), or
 * make it legacy (fd and tp).  0 or -ENOMEM. */
int cio__stream_alloc(cio_loop *loop, const cio_stream_options *opts, cio_stream **out);
/* Makes a stream over a connected socket through the socket transport
 * (fd taken over on success; the caller keeps it on failure). */
int cio__stream_new(cio_loop *loop, int fd, const cio_stream_options *opts,
                    cio_stream **out);
/* Makes a legacy stream over fd (taken on success) moving bytes with tp
 * (NULL: nothing until a TLS handshake sets it). */
int cio__stream_new_legacy(cio_loop *loop, int fd, const struct cio__stream_transport *tp,
                           const cio_stream_options *opts, cio_stream **out);
/* Drops a reference; the last one frees the stream. */
void cio__stream_unref(cio_stream *s);
/* Records a connection failure: the writer's error and, unless the end of
 * stream was seen, the reader's too (see cio_stream_read); wakes both. */
void cio__stream_set_werr(cio_stream *s, int err);
/* Parks the calling task t on q until woken; the stream stays alive
 * meanwhile.  0 or -ECANCELED / -ETIMEDOUT.  Suspends. */
int cio__stream_park(cio_stream *s, struct cio__waitq *q, cio_task *t);
/* 1 once the stream's connection is gone (descriptor closed). */
static inline int cio__stream_closed(const cio_stream *s)
{
    return s->t ? s->lost : s->fd < 0;
}

/* stream_read.c: bytes buffered; makes room for want more bytes at the
 * end of the buffer (compacting or growing it): 0 or -ENOMEM. */
static inline size_t cio__stream_buffered(const cio_stream *s) { return s->rend - s->rstart; }
int cio__stream_room(cio_stream *s, size_t want);

/* stream_legacy.c: the legacy stream's halves of the shared calls. */
int cio__legacy_fill(cio_stream *s);
int cio__legacy_writelines(cio_stream *s, const struct iovec *iov, int iovcnt, size_t total);
void cio__legacy_write_eof(cio_stream *s);
void cio__legacy_close(cio_stream *s);
void cio__legacy_abort(cio_stream *s);
/* 1 when release may leave the stream to its flusher (closed gracefully
 * with bytes still going out). */
int cio__legacy_flushing(const cio_stream *s);
/* Frees what only legacy streams own (closes the descriptor). */
void cio__legacy_free(cio_stream *s);

/* Runs a TLS handshake on s (a legacy stream, plain until then): client
 * when ctx is a client context.  Returns 0 or the handshake's error; on
 * failure s is left as it was and its TLS message set.  Suspends
 * (stream_tls.c). */
int cio__stream_tls_begin(cio_stream *s, cio_tls_context *ctx, const char *server_hostname);
/* Sets the stream's TLS failure message (copied; NULL clears it). */
void cio__stream_set_tls_error(cio_stream *s, const char *msg);
/* After connecting fd: a legacy stream and the TLS handshake opts ask
 * for, defaulting the checked name to host.  On failure fd is closed, the
 * context's message set, and the code returned.  Suspends. */
int cio__stream_open_tls(cio_loop *loop, int fd, const cio_stream_options *opts,
                         const char *host, cio_stream **out);
/* Connects to one address of list: happy eyeballs (connect.c) with the
 * given attempt delay, or one at a time if delay < 0.  Returns the
 * connected socket or a negative code.  Suspends. */
int cio__connect_addrs(struct addrinfo *list, double delay);
/* Sets TCP_NODELAY on an AF_INET/AF_INET6 stream socket. */
void cio__set_nodelay(int fd);

#endif
