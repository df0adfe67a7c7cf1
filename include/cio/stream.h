/*
 * cio/stream.h - buffered streams and servers (asyncio's StreamReader,
 * StreamWriter, open_connection, start_server, Server).
 *
 * One cio_stream is both asyncio's reader and writer of a connection:
 * cio_stream_read* are StreamReader's methods, cio_stream_write/drain/
 * close... StreamWriter's.  One task may read while another writes.
 *
 * A stream is a coroutine adapter over a transport (cio/transport.h), as
 * asyncio's StreamReaderProtocol is: the stream is the transport's
 * protocol.  Reading: the transport receives straight into the stream's
 * buffer as bytes arrive, and the reading calls take from it, waiting
 * when it is empty; while more than twice the limit (default 64 KiB) is
 * buffered the transport stops reading, and it starts again once readers
 * brought the buffer back to the limit, so a slow reader slows the peer.
 * A parser can work on the buffer in place: cio_stream_peek,
 * cio_stream_fill, cio_stream_consume.
 *
 * Writing never blocks: cio_stream_write hands the bytes to the
 * transport, which sends what the kernel takes now and keeps the rest,
 * flushing it from the loop (no task per stream).  A writer that outpaces
 * its peer must call cio_stream_drain(), which waits while more than the
 * high watermark (default 64 KiB) is buffered, until the buffer is down
 * to the low watermark (default a quarter of it); so a slow peer holds
 * the writer back and memory stays bounded.
 *
 * Lifetime: cio_stream_close() starts a graceful close (buffered data is
 * still sent), cio_stream_wait_closed() waits for it, cio_stream_unref()
 * drops the caller's hold (aborting the stream unless it was closed
 * gracefully, in which case the rest is sent in the background first).
 * Streams are reference-counted: cio_stream_ref takes another hold,
 * and only the last release ends the stream.  A stream handed to a
 * server's connection callback belongs to the server: it is closed and
 * the server's hold released when the callback returns (a task that
 * retained it may still call it: writes then fail with CIO_ECLOSED).
 *
 * TLS (asyncio's ssl= parameters and start_tls): a stream is a coroutine
 * adapter over a transport (cio/transport.h) - a socket, a pipe, or a TLS
 * transport over a socket.  Everything else - buffers, watermarks, lines,
 * drain, close - is the same, so a TLS stream is used exactly like a
 * plain one: give
 * cio_stream_options a cio_tls_context and the stream encrypts everything
 * it reads and writes.
 *
 *     cio_tls_context *ctx;
 *     cio_tls_context_new(CIO_TLS_CLIENT, &ctx);   // system CAs, verify on
 *     cio_stream_options o = {.tls = ctx};          // name checked: "example.org"
 *     cio_stream *s;
 *     int rc = cio_open_connection("example.org", 443, &o, &s);
 *     if (rc == CIO_ETLS)                           // "... (hostname mismatch)"
 *         printf("%s\n", cio_tls_context_error_message(ctx));
 *
 * - Client (cio_open_connection, cio_open_unix_connection,
 *   cio_stream_from_fd on a socket): the handshake follows the connection,
 *   bounded by tls_handshake_timeout; see cio_open_connection for its
 *   failures.  No socket is left behind when it fails.
 * - Server (cio_server_options.stream.tls, a server context): each
 *   connection's handshake starts when it is accepted and its handler
 *   task waits for it before the callback; a failing client is closed
 *   and logged at debug level and never reaches the callback; the server
 *   goes on.
 * - Closing: a graceful close sends close_notify after the queued data
 *   (without waiting for the peer's); cio_stream_abort does not.
 *   cio_stream_write_eof on TLS sends close_notify (TLS's half-close).
 * - Writes on a TLS stream are encrypted at once and handed to the
 *   socket; what the socket cannot take yet waits in the transports
 *   (no task per stream), and drain and the watermarks work as for
 *   sockets: cio_stream_write_buffer_size counts what waits in TLS.
 * - cio_stream_start_tls() upgrades an open plain stream (STARTTLS).
 */
#ifndef CIO_STREAM_H
#define CIO_STREAM_H

#include <sys/socket.h>
#include <sys/uio.h>

#include "common.h"
#include "iter.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_stream cio_stream;
typedef struct cio_server cio_server;

/* Options of a stream; NULL or zeroed fields mean the defaults. */
typedef struct cio_stream_options {
    size_t limit;         /* reader buffer and line limit (default 64 KiB) */
    size_t high_water;    /* drain waits above this (default 64 KiB) */
    size_t low_water;     /* ... until the buffer is this small (default
                             high_water / 4) */
    double happy_eyeballs_delay; /* RFC 8305 connection attempt delay, s
                             (default 0.25; negative: one address at a
                             time, no racing) */
    int family;           /* AF_INET, AF_INET6 or 0 (any) for DNS */
    int no_nodelay;       /* 1: leave Nagle on (TCP_NODELAY is default) */
    cio_tls_context *tls; /* asyncio's ssl=: NULL plain; a client context
                             (cio_open_connection, cio_stream_from_fd) or
                             a server one (cio_start_server).  Borrowed: it
                             must outlive the call (servers: the server) */
    const char *server_hostname; /* client: SNI and the name checked
                             against the certificate (default: the host
                             given to cio_open_connection); required
                             with a verifying client context unless it
                             opted out (cio_tls_context_set_check_hostname);
                             copied */
    double tls_handshake_timeout; /* seconds (default 60, asyncio's
                             ssl_handshake_timeout); negative: none */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_stream_options;

/* ---- opening ------------------------------------------------------------ */

/*
 * asyncio.open_connection: resolves host (off the loop), connects to
 * host:port with happy eyeballs (RFC 8305: addresses interleaved by
 * family, a new attempt every happy_eyeballs_delay while earlier ones are
 * pending, the first to connect wins, the others are closed) and returns a
 * stream in *out (owned by the caller: cio_stream_unref()).  TCP_NODELAY
 * is set.  Errors: -EINVAL, CIO_EGAIERR + EAI_* (unknown host), the last
 * attempt's -errno (-ECONNREFUSED, -ETIMEDOUT...), -ENOMEM, -ECANCELED
 * (every attempt's socket is closed).  Suspends.
 *
 * With opts->tls (a client context) the TLS handshake follows the
 * connection, verifying the certificate against opts->server_hostname or
 * else host.  Its failures: CIO_ETLS (bad certificate, hostname mismatch,
 * protocol error) with the reason in cio_tls_context_error_message(
 * opts->tls) (the last failure of any connection on that context, e.g.
 * "... certificate verify failed (hostname mismatch)"), -ECONNRESET (the
 * peer closed), -ETIMEDOUT (tls_handshake_timeout passed), -EINVAL (no
 * name to check: host and opts->server_hostname NULL or "", see
 * cio_tls_context_set_check_hostname).  The socket is closed then.
 */
CIO_EXTERN int cio_open_connection(const char *host, int port, const cio_stream_options *opts,
                                   cio_stream **out);

/* asyncio.open_unix_connection: as cio_open_connection for a Unix
 * socket path (a leading '@' means the abstract namespace); with
 * opts->tls, opts->server_hostname is the name checked (required unless
 * the context opted out of host name checks).  Suspends. */
CIO_EXTERN int cio_open_unix_connection(const char *path, const cio_stream_options *opts,
                                        cio_stream **out);

/*
 * Wraps a connected stream socket (open_connection(sock=...)), or any
 * other descriptor that reads/writes a byte stream: a pipe, a FIFO, a
 * terminal (read(2)/write(2) are used for those, EPIPE never raises
 * SIGPIPE, there is no peername, write_eof closes the descriptor; one
 * open only for reading cannot be written, -EBADF, nor one open only for
 * writing read).  The stream takes fd over (made non-blocking); on
 * failure the caller keeps it.  Errors: -EINVAL, -EBADF, -ENOMEM.  Does not suspend, except with
 * opts->tls on a socket: then the TLS handshake runs as in
 * cio_open_connection and suspends; a client needs opts->server_hostname
 * (there is no host to default to) unless the context opted out of host
 * name checks (-EINVAL).
 */
CIO_EXTERN int cio_stream_from_fd(int fd, const cio_stream_options *opts, cio_stream **out);

/* ---- reading (StreamReader) -------------------------------------------- */

/*
 * Reads up to n bytes into buf: what is buffered, else waits for at least
 * one byte.  Returns the count, 0 at end of stream, or -errno
 * (-ECONNRESET...).  Suspends.
 *
 * Errors are sticky and shared by both directions: once a write failed on
 * the connection (-ECONNRESET, -EPIPE...), every read that needs the
 * socket returns that error, as asyncio's reader raises the transport's
 * exception; the kernel reports a reset only once, so the reader could
 * otherwise take it for a clean end of stream.  What is already buffered
 * can still be read, and readline, readuntil and readexactly fail with the
 * error rather than end a truncated message as if it were complete.
 */
CIO_EXTERN int cio_stream_read(cio_stream *s, void *buf, size_t n);

/*
 * Reads exactly n bytes.  Returns n, or CIO_EINCOMPLETE if the stream ends
 * first: the bytes that did arrive are in buf and their count in *partial
 * (partial may be NULL), and they are consumed.  Other errors -errno.
 * Suspends.
 */
CIO_EXTERN int cio_stream_readexactly(cio_stream *s, void *buf, size_t n, size_t *partial);

/*
 * Reads one line, up to and including "\n", into buf (not NUL-terminated).
 * At end of stream returns the partial last line (0 when nothing is left).
 * CIO_ELIMIT if no newline comes within min(cap, limit) bytes: the data
 * stays buffered.  Suspends.
 */
CIO_EXTERN int cio_stream_readline(cio_stream *s, void *buf, size_t cap);

/*
 * Reads up to and including sep (a NUL-terminated string of 1+ bytes).
 * Returns the length read into buf.  CIO_EINCOMPLETE at end of stream
 * before sep (the rest is consumed into buf, count in *partial);
 * CIO_ELIMIT if sep is not within min(cap, limit) bytes (data stays
 * buffered).  Suspends.
 */
CIO_EXTERN int cio_stream_readuntil(cio_stream *s, const char *sep, void *buf, size_t cap,
                                    size_t *partial);

/* As cio_stream_readuntil with several separators (asyncio 3.13's tuple):
 * stops at the first place any of them ends.  Suspends. */
CIO_EXTERN int cio_stream_readuntil_any(cio_stream *s, const char *const *seps, size_t nseps,
                                        void *buf, size_t cap, size_t *partial);

/* 1 if the peer ended the stream and nothing is left buffered. */
CIO_EXTERN int cio_stream_at_eof(const cio_stream *s);

/*
 * `async for line in reader`: the lines of s as an asynchronous iterator
 * (cio/iter.h, CIO_FOR).  Each next reads one line with
 * cio_stream_readline into buf (at most cap - 1 bytes, then a NUL) and
 * sets the value to buf: a line including its "\n" (the last one may lack
 * it), valid until the next call; cio_stream_line_length gives its length
 * if it may contain NUL bytes.  The end of the stream ends the iteration
 * (CIO_ITER_END); errors are readline's (CIO_ELIMIT for a line longer than
 * cap - 1 or the limit, -ECANCELED...: a cancelled step loses nothing, the
 * partial line stays buffered).  aclose does nothing: the stream stays
 * open.  buf must stay valid while the iterator is used.  The pointer
 * lives inside s (valid while s is); a new call replaces the previous
 * iteration's buffer.  NULL if s or buf is NULL or cap < 2 (CIO_FOR then
 * ends at once with -EINVAL).  Does not suspend (its next does).
 *
 *     char buf[256];
 *     void *line;
 *     int rc;
 *     CIO_FOR(cio_stream_lines_aiter(s, buf, sizeof buf), line, rc)
 *         printf("%s", (char *)line);
 *     // rc == CIO_ITER_END at the end of the stream
 */
CIO_EXTERN cio_aiter *cio_stream_lines_aiter(cio_stream *s, char *buf, size_t cap);

/* Length of the line the lines iterator handed out last (0 before). */
CIO_EXTERN size_t cio_stream_line_length(const cio_stream *s);

/* ---- reading in place (zero copy) ---------------------------------------- */

/*
 * The bytes buffered and not yet consumed, for a parser that works in
 * place (picohttpparser style): returns a pointer to them and sets *len
 * (len may be NULL) to their count; NULL and 0 when nothing is buffered.
 * The bytes stay the stream's: the pointer is valid until the next call
 * on s that may suspend (any read, fill, drain, wait_closed...) or that
 * consumes (read*, consume) or unrefs s; parse, consume what was
 * parsed, then fill for more.  Does not suspend.
 *
 *     size_t len, scanned = 0;
 *     for (;;) {
 *         const char *p = cio_stream_peek(s, &len);
 *         const char *nl = p ? memchr(p + scanned, '\n', len - scanned) : NULL;
 *         if (nl) {
 *             handle(p, nl + 1 - p);            // in place, no copy
 *             cio_stream_consume(s, nl + 1 - p);
 *             scanned = 0;
 *             continue;
 *         }
 *         scanned = len;                        // no rescans
 *         int rc = cio_stream_fill(s, len + 1); // suspends
 *         if (rc < 0)
 *             break;                            // CIO_EINCOMPLETE: EOF
 *     }
 */
CIO_EXTERN const void *cio_stream_peek(const cio_stream *s, size_t *len);

/*
 * Waits until at least min bytes are buffered (cio_stream_peek shows
 * them).  Returns the number buffered (>= min; min 0 returns at once);
 * CIO_EINCOMPLETE if the stream ends first (what arrived stays buffered
 * and peekable); CIO_ELIMIT at once if min exceeds the stream's limit
 * (cio_stream_options.limit): the buffer never has to hold more; the
 * connection's error (-ECONNRESET...) once the buffer has fewer than min
 * bytes, as for cio_stream_read; CIO_ECLOSED after close/abort;
 * -ECANCELED / -ETIMEDOUT (nothing is lost).  Errors: -EINVAL (s NULL).
 * Suspends (unless min bytes are already there).
 */
CIO_EXTERN int cio_stream_fill(cio_stream *s, size_t min);

/*
 * Drops the first n buffered bytes (they were parsed in place): 0, or
 * -EINVAL (s NULL, or n more than is buffered; nothing is consumed).
 * May let the transport read again (under the limit).  Does not suspend.
 */
CIO_EXTERN int cio_stream_consume(cio_stream *s, size_t n);

/* ---- writing (StreamWriter) --------------------------------------------- */

/*
 * Queues len bytes of buf (copied: buf may be reused at once) and sends
 * what the kernel takes now (a write of up to 4 KiB goes when the loop
 * next waits for I/O: see cio_transport_write).  Errors:
 * CIO_ECLOSED after close/write_eof, the connection's error (-EPIPE,
 * -ECONNRESET) once one occurred,
 * -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_stream_write(cio_stream *s, const void *buf, size_t len);

/* Queues every iov buffer in order, as one write.  Does not suspend. */
CIO_EXTERN int cio_stream_writelines(cio_stream *s, const struct iovec *iov, int iovcnt);

/*
 * Waits until the write buffer is at or below the low watermark if it is
 * above the high one (returns at once otherwise).  Returns 0, the
 * connection's error (-EPIPE, -ECONNRESET...), or -ECANCELED.  Suspends.
 */
CIO_EXTERN int cio_stream_drain(cio_stream *s);

/* Sets the watermarks (high 0: default; low > high: -EINVAL). */
CIO_EXTERN int cio_stream_set_write_buffer_limits(cio_stream *s, size_t high, size_t low);

/* Bytes queued and not yet taken by the kernel. */
CIO_EXTERN size_t cio_stream_write_buffer_size(const cio_stream *s);

/* Half-closes: once the buffer is sent, shutdown(SHUT_WR).  Reading goes
 * on.  On a TLS stream the half-close is TLS's own: close_notify is sent
 * (then shutdown(SHUT_WR)); a TLS 1.3 peer may go on writing, though many
 * (Python's ssl) answer with their own close_notify.  On a pipe the
 * descriptor is closed.  Returns 0 or CIO_ECLOSED.  Does not suspend. */
CIO_EXTERN int cio_stream_write_eof(cio_stream *s);

/* Starts a graceful close: no more writes; buffered data is sent, then
 * (TLS) close_notify without waiting for the peer's, then the socket is
 * closed.  Idempotent.  Does not suspend. */
CIO_EXTERN int cio_stream_close(cio_stream *s);

/* Closes at once, dropping buffered data (transport.abort()). */
CIO_EXTERN void cio_stream_abort(cio_stream *s);

/* 1 once cio_stream_close or abort was called (or the peer was lost). */
CIO_EXTERN int cio_stream_is_closing(const cio_stream *s);

/* Waits until the socket is closed (after cio_stream_close).  Returns 0
 * or the error that ended the connection.  Suspends. */
CIO_EXTERN int cio_stream_wait_closed(cio_stream *s);

/*
 * Takes another hold on s (streams are reference-counted): s stays valid
 * until each hold is dropped with cio_stream_unref, so a task that
 * writes to other connections' streams (a broadcast, a chat room) can
 * keep them safely while their owners - a server's handler that returns,
 * a task that releases its stream - let go.  A hold keeps the object, not
 * the connection: once the owner closed it (a server closes a handler's
 * stream when the handler returns) writes fail with CIO_ECLOSED, and
 * reads see what the connection left; nothing crashes.  Returns s (NULL
 * for NULL).  Does not suspend.
 *
 *     cio_stream *peer = cio_stream_ref(other);  // while in the room
 *     ...
 *     if (cio_stream_write(peer, msg, len) < 0 || cio_stream_drain(peer) < 0)
 *         ;                                         // that client is gone
 *     cio_stream_unref(peer);                     // left the room
 */
CIO_EXTERN cio_stream *cio_stream_ref(cio_stream *s);

/*
 * Drops one hold on the stream (its creator's, or one cio_stream_ref
 * took).  While other holds remain, nothing else happens.  The last one
 * ends the stream: if cio_stream_close was called, buffered data is
 * still sent in the background, then the socket closed and the memory
 * freed; otherwise the stream is aborted.  NULL is a no-op.  Tasks still
 * blocked in its calls keep the memory valid until they return, but
 * should be finished first (an aborted stream's calls fail with
 * CIO_ECLOSED).  Does not suspend.
 */
CIO_EXTERN void cio_stream_unref(cio_stream *s);

/* ---- extra info (get_extra_info) ----------------------------------------- */

/* get_extra_info("socket"): the socket (borrowed: do not close it), or -1
 * once closed. */
CIO_EXTERN int cio_stream_fd(const cio_stream *s);
/* get_extra_info("peername") / ("sockname"): 0 or -errno. */
CIO_EXTERN int cio_stream_peername(const cio_stream *s, struct sockaddr *addr, socklen_t *len);
CIO_EXTERN int cio_stream_sockname(const cio_stream *s, struct sockaddr *addr, socklen_t *len);

/* ---- TLS ------------------------------------------------------------------- */

/*
 * StreamWriter.start_tls / loop.start_tls: upgrades an open plain socket
 * stream to TLS in place (STARTTLS).  Waits until every queued byte was
 * sent, then runs the handshake: a client one (verifying against
 * server_hostname, required unless ctx opted out with
 * cio_tls_context_set_check_hostname) when ctx is a client context, a
 * server one otherwise (server_hostname ignored).  No other task may read or
 * write the stream meanwhile.
 *
 * Unread bytes already buffered are refused with -EBUSY, and nothing is
 * done: read them first.  Unlike asyncio, which keeps serving them as if
 * they had come over TLS, cio never mixes plaintext received before the
 * upgrade with the encrypted stream (the STARTTLS command injection of
 * CVE-2011-0411); a well-behaved peer sends nothing between its request
 * and the handshake.
 *
 * Errors: -EINVAL (NULL s/ctx, a pipe, no server_hostname for a client
 * that checks names: nothing is done then), -EALREADY (already TLS), -EBUSY,
 * CIO_ECLOSED, the write error, and the handshake's: CIO_ETLS (reason in
 * cio_stream_tls_error_message), -ECONNRESET, -ETIMEDOUT, -ECANCELED.  A
 * failed handshake aborts the stream (the message stays readable).
 * ctx must outlive the stream.  Suspends.
 */
CIO_EXTERN int cio_stream_start_tls(cio_stream *s, cio_tls_context *ctx,
                                    const char *server_hostname);

/* 1 if the stream runs TLS (get_extra_info("ssl_object") is not None). */
CIO_EXTERN int cio_stream_is_tls(const cio_stream *s);

/* The negotiated TLS version ("TLSv1.3"), or NULL for a plain stream.
 * Valid while the stream is. */
CIO_EXTERN const char *cio_stream_tls_version(const cio_stream *s);

/* The ALPN protocol agreed on ("h2"), or NULL (plain, or none agreed).
 * Valid while the stream is. */
CIO_EXTERN const char *cio_stream_tls_alpn_selected(const cio_stream *s);

/* Why the last TLS call failed (handshake, read, write), or "". */
CIO_EXTERN const char *cio_stream_tls_error_message(const cio_stream *s);

/* ---- servers ------------------------------------------------------------- */

/*
 * The per-connection callback (client_connected_cb), run as its own task
 * for every accepted connection (on a TLS server, once the handshake
 * succeeded).  The stream is closed (gracefully: what was written is
 * still sent) and the server's hold on it released when it returns;
 * another task that needs the stream longer takes its own hold with
 * cio_stream_ref.  The return value is only logged if negative and
 * not -ECANCELED.  During cio_server_shutdown a read that would wait
 * with nothing buffered returns the end of stream, so a handler looping
 * over requests finishes after the one in progress.
 */
typedef int cio_client_connected_fn(cio_stream *s, void *arg);

/* Options of a server; NULL or zeroed fields mean the defaults. */
typedef struct cio_server_options {
    int backlog;          /* listen backlog (default 511) */
    int reuse_port;       /* SO_REUSEPORT, so several loops can share a port */
    int family;           /* AF_INET, AF_INET6 or 0 (both) */
    cio_stream_options stream; /* options of the accepted streams */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_server_options;

/*
 * asyncio.start_server: listens on host:port (host NULL: every address;
 * port 0: any free port, see cio_server_port) and starts accepting at
 * once, running cb(stream, arg) as a task per connection.  SO_REUSEADDR is
 * set; TCP_NODELAY is set on accepted sockets.  With opts->stream.tls (a
 * server context, which must outlive the server) each connection's
 * handshake runs in its handler task before cb, bounded by
 * tls_handshake_timeout; a connection whose handshake fails is closed and
 * logged at debug level, and never reaches cb.  When accept fails for lack
 * of descriptors (EMFILE/ENFILE) the server backs off briefly and keeps
 * going (logged once).  *out is owned by the caller: cio_server_close,
 * cio_server_wait_closed, cio_server_free.  Errors: -EINVAL, DNS and
 * bind errors (-EADDRINUSE), -ENOMEM.  Suspends (DNS).
 */
CIO_EXTERN int cio_start_server(cio_client_connected_fn *cb, void *arg, const char *host,
                                int port, const cio_server_options *opts, cio_server **out);

/* asyncio.start_unix_server: as cio_start_server on a Unix socket path (an
 * existing socket file there is replaced; removed again at close). */
CIO_EXTERN int cio_start_unix_server(cio_client_connected_fn *cb, void *arg, const char *path,
                                     const cio_server_options *opts, cio_server **out);

/* The bound port of the first listening socket (useful with port 0). */
CIO_EXTERN int cio_server_port(const cio_server *srv);

/* Server.sockets: the i-th listening socket's address; -ENOENT past the end. */
CIO_EXTERN int cio_server_sockname(const cio_server *srv, int i, struct sockaddr *addr,
                                   socklen_t *len);

/* 1 while the server accepts connections. */
CIO_EXTERN int cio_server_is_serving(const cio_server *srv);

/* Server.serve_forever: waits until the server is closed.  Returns 0, or
 * -ECANCELED / -ETIMEDOUT (cancelled, or inside an expired timeout scope;
 * the server is then closed).  Suspends. */
CIO_EXTERN int cio_server_serve_forever(cio_server *srv);

/* Server.close: stops listening (the sockets are closed); connections
 * already accepted go on, except a TLS connection still in its handshake,
 * which has no protocol yet and is aborted (its protocol would come from
 * the factory of a closed server).  Idempotent.  Does not suspend. */
CIO_EXTERN int cio_server_close(cio_server *srv);

/* Server.close_clients: closes every connection gracefully: queued data
 * is sent, but a handler's reads fail at once (CIO_ECLOSED) and so do
 * its later writes, even in the middle of a request; see
 * cio_server_shutdown for an end that lets requests finish. */
CIO_EXTERN void cio_server_close_clients(cio_server *srv);

/* Server.abort_clients: closes every connection at once and cancels the
 * handler tasks. */
CIO_EXTERN void cio_server_abort_clients(cio_server *srv);

/* Number of connections whose handler is still running. */
CIO_EXTERN size_t cio_server_num_clients(const cio_server *srv);

/* Server.wait_closed: waits until the server is closed and every handler
 * task has finished (and its connection closed).  A connection that
 * stays open, an idle keep-alive one say, keeps it waiting: see
 * cio_server_shutdown.  Returns 0, -ECANCELED or -ETIMEDOUT.
 * Suspends. */
CIO_EXTERN int cio_server_wait_closed(cio_server *srv);

/*
 * Graceful shutdown with a deadline (what asyncio programs write by hand
 * with close, close_clients, wait_for(wait_closed) and abort_clients):
 *
 * 1. Stops accepting (cio_server_close).
 * 2. Asks every connection handler to finish: from now on a read on its
 *    stream that would wait with nothing buffered returns the end of
 *    stream (cio_stream_read and readline 0, readexactly / readuntil /
 *    fill CIO_EINCOMPLETE with nothing partial), and handlers waiting so
 *    are woken to see it.  So an idle keep-alive connection ends at once,
 *    while a request in progress runs to its end: a read that waits for
 *    the rest of a message already begun still gets it, writes work, and
 *    the reply is sent (the stream is closed gracefully when the handler
 *    returns).  A handler that reads between requests must take the end
 *    of stream as "stop", as it would when the client closes.
 * 3. Waits for every handler to return and its connection to close, for
 *    at most timeout seconds (< 0 or INFINITY: no limit; 0: cut at once).
 * 4. At the deadline, cuts what is left, as cio_server_abort_clients:
 *    streams are aborted (queued data dropped) and handlers cancelled
 *    (-ECANCELED at their suspension points); then waits, shielded, until
 *    they have returned.
 *
 * Protocol-mode servers (cio_create_server) are shut down the same way,
 * except step 2: a connection's protocol decides when it ends (the HTTP
 * server, which knows which connections are idle, ends those at once
 * with its own cio_http_server_shutdown).
 *
 * Returns 0 when everything ended by itself, -ETIMEDOUT when some had to
 * be cut (also when an enclosing timeout scope expired meanwhile),
 * -ECANCELED when the caller was cancelled (everything is cut then, as at
 * the deadline, and waited for).  In every case the server is closed and
 * no handler runs any more when it returns.  Errors: -EINVAL (NULL, NaN
 * timeout), CIO_ENOTASK, -ENOMEM (nothing done).  The server stays the
 * caller's: release it afterwards.  Suspends.
 */
CIO_EXTERN int cio_server_shutdown(cio_server *srv, double timeout);

/* Closes (if needed) and frees the server once its handlers are done; if
 * some still run, the last one to finish frees it.  NULL is a no-op. */
CIO_EXTERN void cio_server_free(cio_server *srv);

#ifdef __cplusplus
}
#endif
#endif
