/*
 * stream.h - the stream object inside cio, shared by stream.c (reading
 * and writing), connect.c (opening) and server.c (accepting).
 */
#ifndef CIO_NET_STREAM_INTERNAL_H
#define CIO_NET_STREAM_INTERNAL_H

#include <netdb.h>

#include "cio/stream.h"
#include "cio/tls.h"
#include "../task/task.h"
#include "tls_internal.h" /* tls.c's close_notify, messages, name rule */

#define CIO__STREAM_DEFAULT_LIMIT (64 * 1024)
#define CIO__STREAM_DEFAULT_HIGH (64 * 1024)

/*
 * How a stream moves bytes: the plain socket (op layer: recv/send), a
 * pipe (read/write, no SIGPIPE) or a TLS session (stream_tls.c).  The
 * reader and the flusher only call these, so everything above (buffers,
 * watermarks, lines) is shared.  A stream switches transport once at most
 * (cio_stream_start_tls), between operations.
 */
struct cio__stream_transport {
    const char *name;
    /* Receives up to len bytes: count, 0 at end of stream, or -errno /
     * CIO_ETLS.  Suspends. */
    int (*recv)(cio_stream *s, void *buf, size_t len);
    /* Sends some of len bytes (at least one): count or a negative code.
     * Suspends. */
    int (*send)(cio_stream *s, const void *buf, size_t len);
    /* Sends what can go out now without waiting: count (maybe 0) or a
     * negative code.  NULL: every write is queued for the flusher. */
    ssize_t (*send_now)(cio_stream *s, const struct iovec *iov, int iovcnt);
    /* Half-close after the queue is flushed (write_eof).  Does not wait. */
    void (*write_eof)(cio_stream *s);
    /* Called just before the descriptor is closed; graceful: close was
     * asked (TLS sends close_notify), else abort or error.  Does not wait. */
    void (*close)(cio_stream *s, int graceful);
};

extern const struct cio__stream_transport cio__stream_plain;
extern const struct cio__stream_transport cio__stream_pipe;

struct cio_stream {
    cio_loop *loop;            /* owner */
    int fd;                    /* the socket, -1 once closed */
    const struct cio__stream_transport *tp; /* how bytes move (never NULL) */
    cio_tls *tls;              /* the TLS session, NULL for plain streams
                                  (freed with the stream: a reader parked in
                                  it at close still returns through it) */
    double tls_handshake_timeout; /* seconds, <= 0: none */
    char *tls_error;           /* message of the last TLS failure, or NULL */
    uint32_t refs;             /* the user's hold + a running flusher */
    /* reading */
    char *rbuf;                /* read buffer, rcap bytes, made lazily */
    size_t rstart, rend;       /* unread data is rbuf[rstart, rend) */
    size_t rcap;
    size_t limit;              /* line/separator limit (asyncio's limit) */
    int rerr;                  /* sticky read error, 0 if none */
    uint8_t eof;               /* the peer ended its side */
    /* writing */
    char *wbuf;                /* bytes queued for the kernel */
    size_t wstart, wend, wcap; /* queued data is wbuf[wstart, wend) */
    char *wold;                /* the buffer a send in flight reads from,
                                  when the queue moved meanwhile; freed
                                  when that send returns */
    uint8_t sending;           /* the flusher is inside a send: the bytes at
                                  wbuf + wstart must not move */
    size_t high, low;          /* watermarks */
    int werr;                  /* sticky write error, 0 if none */
    uint8_t paused;            /* buffer went above high, not yet <= low */
    uint8_t eof_wanted;        /* write_eof called: shutdown after flush */
    uint8_t eof_sent;          /* shutdown(SHUT_WR) done */
    uint8_t closing;           /* close/abort called, or connection lost */
    uint8_t graceful;          /* close (not abort): flush, then close */
    uint8_t flushing;          /* the flusher task exists (maybe not started) */
    uint8_t flusher_started;   /* it began running: a task cancelled before
                                  that never runs, so then whoever cancels
                                  it drops the reference it holds */
    cio_task *flusher;         /* the flusher task (a reference), or NULL */
    cio_future *drain_fut;     /* done when paused clears or on error */
    cio_future *closed_fut;    /* done when the socket is closed */
    /* lines iterator (stream_iter.c) */
    char *lines_buf;           /* the caller's line buffer, or NULL */
    size_t lines_cap;          /* its size (one byte kept for the NUL) */
    size_t lines_len;          /* length of the last line handed out */
};

/* Makes a stream over a connected socket (taken over on success). */
int cio__stream_new(cio_loop *loop, int fd, const cio_stream_options *opts,
                    cio_stream **out);
/* Runs a TLS handshake on s (plain until then): client when ctx is a
 * client context.  Returns 0 or the handshake's error; on failure s is
 * left plain and its TLS message set.  Suspends (stream_tls.c). */
int cio__stream_tls_begin(cio_stream *s, cio_tls_context *ctx, const char *server_hostname);
/* Sets the stream's TLS failure message (copied; NULL clears it). */
void cio__stream_set_tls_error(cio_stream *s, const char *msg);
/* After connecting: the TLS handshake if opts ask for one, defaulting the
 * checked name to host.  On failure the stream is released, the context's
 * message set, and the code returned.  Suspends. */
int cio__stream_open_tls(cio_stream **sp, const cio_stream_options *opts, const char *host);
/* Connects to one address of list: happy eyeballs (connect.c) with the
 * given attempt delay, or one at a time if delay < 0.  Returns the
 * connected socket or a negative code.  Suspends. */
int cio__connect_addrs(struct addrinfo *list, double delay);
/* Sets TCP_NODELAY on an AF_INET/AF_INET6 stream socket. */
void cio__set_nodelay(int fd);

#endif
