/*
 * stream.h - the stream object inside cio, shared by stream.c (lifetime,
 * the stream protocol, writing, closing), stream_read.c (reading and the
 * zero-copy view), stream_tls.c (TLS streams, start_tls, accessors),
 * connect.c, server.c and subprocess.c.
 *
 * A stream is asyncio's StreamReaderProtocol: the protocol (ud = the
 * stream) of a transport - a socket, a TLS transport over one, or a pipe.
 * The transport pushes bytes into the stream's read buffer
 * (get_buffer/buffer_updated: received in place, no copy; data_received
 * for the kinds without it) and the reading calls wait for them; writes
 * go straight to the transport.  Every stream takes this one path.
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

/* What a stream runs over (struct cio_stream's kind). */
enum {
    CIO__STREAM_SOCKET = 0,    /* a socket (plain or TLS) */
    CIO__STREAM_READ_PIPE,     /* a pipe's read end: no writing */
    CIO__STREAM_WRITE_PIPE,    /* a pipe's write end: no reading */
    CIO__STREAM_PIPE           /* a descriptor read and written (a tty) */
};

struct cio_stream {
    cio_loop *loop;            /* owner */
    uint32_t refs;             /* the users' holds + the protocol's (from
                                  connection_made until connection_lost) +
                                  one per parked call */
    uint32_t holds;            /* the users' holds: the creator's and one
                                  per cio_stream_ref; the last
                                  cio_stream_unref closes or aborts */
    cio_transport *t;          /* the transport (a reference): set at
                                  connection_made, or before it while a
                                  TLS handshake runs; NULL before */
    uint8_t kind;              /* CIO__STREAM_* */
    /* reading */
    char *rbuf;                /* read buffer, rcap bytes, made lazily */
    size_t rstart, rend;       /* unread data is rbuf[rstart, rend) */
    size_t rcap;
    size_t limit;              /* line/separator limit (asyncio's limit);
                                  reading pauses above twice this */
    int rerr;                  /* sticky read error, 0 if none */
    uint8_t eof;               /* the peer ended its side */
    uint8_t input_ended;       /* a server's shutdown asked the handler to
                                  finish: a read that finds nothing
                                  buffered sees the end of stream */
    uint8_t rpaused;           /* we paused the transport's reading */
    struct cio__waitq readers; /* tasks waiting for bytes, EOF or error */
    /* writing and closing */
    size_t high, low;          /* watermarks */
    int werr;                  /* sticky write error, 0 if none */
    uint8_t paused;            /* the transport paused our writing (above
                                  high, not yet back at low): drain waits */
    uint8_t eof_wanted;        /* write_eof called */
    uint8_t closing;           /* close/abort called, or connection lost */
    uint8_t user_closed;       /* close or abort was called */
    uint8_t graceful;          /* close (not abort): flush, then close */
    uint8_t lost;              /* connection_lost has run (or never will:
                                  a failed TLS handshake) */
    uint8_t upgrading;         /* start_tls runs: a failure's connection_
                                  lost only ends the stream (it is aborted) */
    struct cio__waitq writers; /* tasks in drain and wait_closed */
    /* TLS */
    double tls_handshake_timeout; /* seconds, <= 0: none */
    char *tls_error;           /* why a TLS handshake failed whose
                                  transport is gone (start_tls), or NULL:
                                  then the TLS transport's message */
    /* lines iterator (stream_iter.c) */
    char *lines_buf;           /* the caller's line buffer, or NULL */
    size_t lines_cap;          /* its size (one byte kept for the NUL) */
    cio_aiter lines_iter;      /* what cio_stream_lines_aiter hands out */
    size_t lines_len;          /* length of the last line handed out */
};

/* The stream as a protocol (ud: the stream); connection_made attaches
 * the transport.  Start any kind of transport with it. */
extern const cio_protocol cio__stream_protocol;

/* Makes a stream attached to nothing yet: start a transport with
 * cio__stream_protocol and the stream.  0 or -ENOMEM. */
int cio__stream_alloc(cio_loop *loop, const cio_stream_options *opts, cio_stream **out);
/* Makes a stream over a connected socket through the socket transport
 * (fd taken over on success; the caller keeps it on failure). */
int cio__stream_new(cio_loop *loop, int fd, const cio_stream_options *opts,
                    cio_stream **out);
/* Drops a reference; the last one frees the stream. */
void cio__stream_unref(cio_stream *s);
/* Records a connection failure: the writer's error and, unless the end of
 * stream was seen, the reader's too (see cio_stream_read); wakes both. */
void cio__stream_set_werr(cio_stream *s, int err);
/* A server's shutdown (server.c): from now on a read that would wait
 * with nothing buffered returns the end of stream, and readers waiting so
 * are woken to see it; a read waiting for the rest of a message that has
 * begun still waits for it.  Writing is unaffected. */
void cio__stream_end_input(cio_stream *s);
/* Parks the calling task t on q until woken; the stream stays alive
 * meanwhile.  0 or -ECANCELED / -ETIMEDOUT.  Suspends. */
int cio__stream_park(cio_stream *s, struct cio__waitq *q, cio_task *t);
/* 1 once the stream's connection is gone (or was never made). */
static inline int cio__stream_closed(const cio_stream *s) { return !s->t || s->lost; }

/* stream_read.c: bytes buffered; makes room for want more bytes at the
 * end of the buffer (compacting or growing it, out of line in
 * cio__stream_room_grow): 0 or -ENOMEM. */
static inline size_t cio__stream_buffered(const cio_stream *s) { return s->rend - s->rstart; }
int cio__stream_room_grow(cio_stream *s, size_t want);
static inline int cio__stream_room(cio_stream *s, size_t want)
{
    if (s->rstart == s->rend) /* empty: the whole buffer is free again */
        s->rstart = s->rend = 0;
    if (CIO_LIKELY(s->rcap - s->rend >= want))
        return 0; /* the common case, inline: the receive after a read */
    return cio__stream_room_grow(s, want);
}

/* stream_tls.c: a TLS stream over connected socket fd: a socket
 * transport, a TLS transport over it (client or server by opts->tls's
 * role; a client checks name, defaulting to opts->server_hostname), the
 * stream as its protocol; waits for the handshake.  On failure the code
 * is returned and the context's message set; fd is closed, or with
 * give_back the caller's again, untouched and unknown to the loop.
 * Suspends. */
int cio__stream_open_tls(cio_loop *loop, int fd, const cio_stream_options *opts,
                         const char *name, int give_back, cio_stream **out);
/* stream_tls.c: a stream over a TLS transport (server side) over raw,
 * a new socket transport: both are started, the handshake runs; wait for
 * it with cio__stream_tls_wait.  0, or -ENOMEM / -EINVAL / CIO_ETLS with
 * nothing made (raw is still the caller's). */
int cio__stream_tls_server(cio_loop *loop, cio_transport *raw, const cio_stream_options *opts,
                           cio_stream **out);
/* Waits for the handshake of s's TLS transport: 0, or its error (the
 * stream is then over for good; the transport keeps the message).
 * Suspends. */
int cio__stream_tls_wait(cio_stream *s);
/* Sets the stream's TLS failure message (copied; NULL clears it). */
void cio__stream_set_tls_error(cio_stream *s, const char *msg);
/* Connects to one address of list: happy eyeballs (connect.c) with the
 * given attempt delay, or one at a time if delay < 0.  Returns the
 * connected socket or a negative code.  Suspends. */
int cio__connect_addrs(struct addrinfo *list, double delay);
/* Sets TCP_NODELAY on an AF_INET/AF_INET6 stream socket. */
void cio__set_nodelay(int fd);

#endif
