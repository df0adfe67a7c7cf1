/*
 * cio/transport.h - asyncio's transports and protocols: callback-driven
 * connections (loop.create_connection, loop.create_server,
 * loop.connect_accepted_socket, asyncio.Protocol / BufferedProtocol),
 * datagram endpoints (loop.create_datagram_endpoint, DatagramProtocol)
 * and pipes (loop.connect_read_pipe / connect_write_pipe).  Subprocess
 * transports (loop.subprocess_exec) are in cio/subprocess.h.
 *
 * A transport owns a connected socket and moves bytes; a protocol is a
 * table of callbacks (with a user pointer) that the transport calls as
 * things happen.  No task runs per connection: the transport submits its
 * reads and writes to the loop's I/O layer and calls the protocol from
 * the loop when they complete, so thousands of connections cost a few
 * hundred bytes each.  The protocol's callbacks run on the loop thread,
 * outside any task: they must not suspend (start a task for that).
 *
 * The order of callbacks is asyncio's:
 *   connection_made, then data_received / buffer_updated any number of
 *   times, then at most one eof_received, then connection_lost exactly
 *   once.  pause_writing / resume_writing alternate in between.
 *   connection_lost is never called from inside a transport method: close,
 *   abort and errors schedule it for a later loop iteration.
 *
 * Writing: cio_transport_write sends at once when nothing is queued and
 * the socket takes the bytes; what it does not take is copied to the
 * transport's buffer and flushed as the socket drains, one writev per
 * loop iteration for everything queued by then (many small writes
 * coalesce).  When the buffer passes the high-water mark the protocol's
 * pause_writing is called; resume_writing when it falls to the low-water
 * mark.  Writes are never refused for a full buffer: flow control is the
 * protocol's job (asyncio's contract).
 *
 * Lifetime: a transport is reference counted.  It holds itself alive from
 * connection_made until connection_lost has returned; cio_create_connection
 * and cio_connect_accepted_socket also hand the caller a reference
 * (cio_transport_unref).  A server's transports are lent to their
 * protocol: the pointer is valid until connection_lost returns unless the
 * protocol takes a reference with cio_transport_ref.  After
 * connection_lost the methods fail with CIO_ECLOSED (or do nothing) but
 * the object stays valid while referenced.
 */
#ifndef CIO_TRANSPORT_H
#define CIO_TRANSPORT_H

#include <sys/socket.h>
#include <sys/uio.h>

#include "common.h"
#include "stream.h"

typedef struct cio_transport cio_transport;

/*
 * asyncio.Protocol, BufferedProtocol, DatagramProtocol and
 * SubprocessProtocol in one table: every member is optional (NULL: nothing
 * to do), so zero the struct and fill what you need; each kind of
 * transport calls the members that apply to it.  More members may be
 * added at the end in later versions; a zeroed, designated-initialiser
 * table stays valid.
 * ud is the pointer given with the protocol.  The table must outlive the
 * connection.
 */
typedef struct cio_protocol {
    /* The connection is up; t is usable (writes may start here). */
    void (*connection_made)(cio_transport *t, void *ud);
    /* len (> 0) bytes arrived; data is valid only during the call. */
    void (*data_received)(cio_transport *t, const void *data, size_t len, void *ud);
    /* The peer closed its writing side.  Return 1 to keep the connection
     * open for writing (half-close: close it later yourself), 0 (or leave
     * NULL) to have the transport closed. */
    int (*eof_received)(cio_transport *t, void *ud);
    /* The connection is over: error 0 for a clean end (EOF, close, abort),
     * else the negative code (-ECONNRESET, -EPIPE, -ETIMEDOUT...).  Called
     * exactly once, after connection_made; the socket is closed after it. */
    void (*connection_lost)(cio_transport *t, int error, void *ud);
    /* The write buffer went above the high-water mark: stop writing. */
    void (*pause_writing)(cio_transport *t, void *ud);
    /* ... and fell back to the low-water mark: writing may go on. */
    void (*resume_writing)(cio_transport *t, void *ud);
    /* asyncio.BufferedProtocol: when set, used instead of data_received.
     * Return a buffer to receive into and its size in *len (at least 1;
     * sizehint is the preferred size).  Returning NULL or *len 0 fails the
     * connection with -ENOBUFS. */
    void *(*get_buffer)(cio_transport *t, size_t sizehint, size_t *len, void *ud);
    /* nbytes (> 0) were written into the buffer get_buffer returned. */
    void (*buffer_updated)(cio_transport *t, size_t nbytes, void *ud);

    /* asyncio.DatagramProtocol (datagram transports): a datagram of len
     * bytes (0 allowed) arrived from addr; data and addr are valid only
     * during the call. */
    void (*datagram_received)(cio_transport *t, const void *data, size_t len,
                              const struct sockaddr *addr, socklen_t addrlen, void *ud);
    /* A send or receive failed with error (ICMP port unreachable shows as
     * -ECONNREFUSED); the endpoint stays open. */
    void (*error_received)(cio_transport *t, int error, void *ud);

    /* asyncio.SubprocessProtocol (subprocess transports): the child wrote
     * len bytes to its stdout (fd 1) or stderr (fd 2). */
    void (*pipe_data_received)(cio_transport *t, int fd, const void *data, size_t len,
                               void *ud);
    /* The child's pipe fd (0, 1, 2) closed: error 0 clean, else negative. */
    void (*pipe_connection_lost)(cio_transport *t, int fd, int error, void *ud);
    /* The child exited (its status: cio_subprocess_transport_returncode). */
    void (*process_exited)(cio_transport *t, void *ud);
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_protocol;

/*
 * A server's protocol factory, called for each accepted connection on the
 * loop (not in a task): set *proto (and *ud) and return 0, or return
 * nonzero to refuse the connection (it is closed at once, unseen).
 */
typedef int cio_protocol_factory_fn(void *arg, const cio_protocol **proto, void **ud);

/* Options of transports and their servers; NULL or zeroed fields mean the
 * defaults.  Names and meanings are those of cio_stream_options and
 * cio_server_options. */
typedef struct cio_transport_options {
    size_t high_water;    /* pause_writing above this (default 64 KiB) */
    size_t low_water;     /* resume_writing at this (default high / 4) */
    size_t read_size;     /* bytes asked of each read, the sizehint of
                             get_buffer (default 64 KiB); on io_uring a
                             socket's reads take up to 16 KiB at a time
                             from the loop's shared buffers (multishot
                             receive) when read_size is at least that */
    double happy_eyeballs_delay; /* RFC 8305 attempt delay, s (default
                             0.25; negative: one address at a time) */
    int family;           /* AF_INET, AF_INET6 or 0 (any) for DNS */
    int no_nodelay;       /* 1: leave Nagle on (TCP_NODELAY is default) */
    int backlog;          /* servers: listen backlog (default 511) */
    int reuse_port;       /* servers, datagram endpoints: SO_REUSEPORT */
    int allow_broadcast;  /* datagram endpoints: SO_BROADCAST */
    cio_tls_context *tls; /* asyncio's ssl=: NULL plain; a client context
                             (cio_create_connection, ...) or a server one
                             (cio_create_server, ...) makes the transports
                             TLS (see "TLS" below).  Borrowed: it must
                             outlive the call (servers: the server) */
    const char *server_hostname; /* client: SNI and the name checked
                             against the certificate (default: the host
                             given to cio_create_connection); required
                             with a verifying client context unless it
                             opted out (cio_tls_context_set_check_hostname);
                             copied */
    double tls_handshake_timeout; /* seconds (default 60, asyncio's
                             ssl_handshake_timeout); negative: none */
    double tls_shutdown_timeout; /* seconds from close to the peer's
                             close_notify (default 30, asyncio's
                             ssl_shutdown_timeout); negative: none */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_transport_options;

/* For cio_transport_set_write_buffer_limits: use the default. */
#define CIO_TRANSPORT_LIMIT_DEFAULT ((size_t)-1)

/* ---- opening ------------------------------------------------------------ */

/*
 * loop.create_connection: resolves host, connects to host:port (happy
 * eyeballs as cio_open_connection, TCP_NODELAY set), makes a transport
 * running proto with ud, calls proto->connection_made before returning
 * and starts reading.  *out gets a reference owned by the caller
 * (cio_transport_unref; the connection stays up until closed).  Errors:
 * -EINVAL, CIO_ENOTASK, CIO_EGAIERR + EAI_*, the connect error
 * (-ECONNREFUSED...), -ENOMEM, -ECANCELED; nothing is left open then and
 * no protocol callback ran.  Suspends.
 *
 * With opts->tls (a client context) the transport is TLS (see "TLS"
 * below): the handshake follows the connection, verifying the certificate
 * against opts->server_hostname or else host, and connection_made comes
 * after it, still before the call returns.  Its failures: CIO_ETLS (bad
 * certificate, hostname mismatch, protocol error) with the reason in
 * cio_tls_context_error_message(opts->tls), -ECONNRESET (the peer
 * closed), -ETIMEDOUT (opts->tls_handshake_timeout), -EINVAL (a server
 * context, or no name to check: host and opts->server_hostname NULL or
 * "" with a checking client context), -ENOTSUP (built without OpenSSL).
 */
CIO_EXTERN int cio_create_connection(const cio_protocol *proto, void *ud, const char *host,
                                     int port, const cio_transport_options *opts,
                                     cio_transport **out);

/*
 * loop.create_unix_connection: as cio_create_connection on the Unix socket
 * at path (a leading '@' names an abstract socket).  With opts->tls,
 * opts->server_hostname is the name checked (required unless the context
 * opted out of host name checks).  Suspends.
 */
CIO_EXTERN int cio_create_unix_connection(const cio_protocol *proto, void *ud,
                                          const char *path,
                                          const cio_transport_options *opts,
                                          cio_transport **out);

/*
 * loop.connect_accepted_socket: makes a transport over fd, a connected
 * stream socket, taking ownership of it on success (it is set
 * non-blocking); calls connection_made before returning.  *out as for
 * cio_create_connection.  Errors: -EINVAL, CIO_ENOLOOP, -ENOMEM (fd is
 * then still the caller's).  Does not suspend, except with opts->tls:
 * then the TLS handshake runs as in cio_create_connection, a client or a
 * server one by the context's role (a client needs
 * opts->server_hostname unless the context opted out of name checks);
 * CIO_ENOTASK outside a task, and on a handshake failure fd is closed.
 */
CIO_EXTERN int cio_connect_accepted_socket(const cio_protocol *proto, void *ud, int fd,
                                           const cio_transport_options *opts,
                                           cio_transport **out);

/*
 * loop.create_server: listens on host:port (host NULL: every address;
 * port 0: any free port, cio_server_port) and starts accepting at once.
 * For each connection factory(arg, ...) picks the protocol, then the
 * transport calls its connection_made and starts reading.  The returned
 * cio_server works as for cio_start_server: cio_server_close stops
 * listening (live connections go on), cio_server_wait_closed waits for
 * them to end too, cio_server_close_clients / cio_server_abort_clients
 * close / abort their transports, cio_server_num_clients counts them.
 * With opts->tls (a server context) every connection is TLS: the
 * factory is asked once the handshake is done, then connection_made; a
 * connection whose handshake fails (or times out) is dropped before the
 * factory sees it, so no protocol state is made for it.  Errors: -EINVAL (a client context too), CIO_ENOTASK,
 * DNS and bind errors (-EADDRINUSE), -ENOMEM.  Suspends (DNS).
 */
CIO_EXTERN int cio_create_server(cio_protocol_factory_fn *factory, void *arg,
                                 const char *host, int port,
                                 const cio_transport_options *opts, cio_server **out);

/*
 * loop.create_unix_server: as cio_create_server on a Unix socket at path
 * (a stale socket file is replaced; '@': abstract).  Errors: -EINVAL,
 * CIO_ENOLOOP, bind errors, -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_create_unix_server(cio_protocol_factory_fn *factory, void *arg,
                                      const char *path, const cio_transport_options *opts,
                                      cio_server **out);

/* ---- datagrams ----------------------------------------------------------- */

/*
 * loop.create_datagram_endpoint: a UDP socket bound to local_host:
 * local_port (either may be NULL / 0: any address, any port) and, if
 * remote_host is given, connected to remote_host:remote_port (then only
 * that peer's datagrams arrive and cio_transport_sendto needs no
 * address).  With neither local nor remote address, opts->family must be
 * set: the socket is then bound to nothing until its first send.  From
 * opts: family (AF_INET / AF_INET6, else the names decide), reuse_port,
 * allow_broadcast, read_size (the largest datagram taken whole, default
 * 64 KiB; longer ones are cut), high_water / low_water.  Names resolve
 * with cio_getaddrinfo.  Calls proto->connection_made before returning,
 * then datagram_received for each datagram (with its sender) and
 * error_received for errors (ICMP port unreachable: -ECONNREFUSED on a
 * connected endpoint); the endpoint stays open through errors.  *out gets
 * a reference owned by the caller (cio_transport_unref).  Errors:
 * -EINVAL, CIO_ENOTASK, CIO_EGAIERR + EAI_*, bind errors (-EADDRINUSE),
 * -ENOMEM, -ECANCELED; nothing is left open then and no protocol callback
 * ran.  Suspends (DNS).
 *
 *     static void got(cio_transport *t, const void *d, size_t n,
 *                     const struct sockaddr *from, socklen_t fl, void *ud)
 *     { cio_transport_sendto(t, d, n, from, fl); }   // echo it back
 *     static const cio_protocol echo = {.datagram_received = got};
 *     cio_transport *t;
 *     cio_create_datagram_endpoint(&echo, NULL, "127.0.0.1", 9999, NULL, 0,
 *                                  NULL, &t);
 */
CIO_EXTERN int cio_create_datagram_endpoint(const cio_protocol *proto, void *ud,
                                            const char *local_host, int local_port,
                                            const char *remote_host, int remote_port,
                                            const cio_transport_options *opts,
                                            cio_transport **out);

/*
 * DatagramTransport.sendto: sends one datagram of len bytes (0 allowed)
 * to addr, or to the connected peer when addr is NULL (on a connected
 * endpoint addr, if given, must be the peer's).  Sent at once when
 * nothing is queued and the socket takes it; otherwise copied and queued
 * (data is the caller's again on return), and sent in order as the
 * socket drains; get_write_buffer_size counts queued bytes plus 8 per
 * datagram, and pause_writing / resume_writing follow the watermarks.  A
 * failed send is reported to error_received (at once, or when a queued
 * datagram fails), as asyncio does, and the endpoint stays open.
 * Returns 0, or: CIO_ECLOSED after close/abort (or the error that ended
 * the endpoint, as connection_lost reports it), -EDESTADDRREQ (addr NULL
 * on an unconnected endpoint), -EINVAL (bad arguments, addr not the
 * peer's), -ENOTSUP (t is not a datagram transport), -ENOMEM (nothing
 * queued).  Never suspends.
 */
CIO_EXTERN int cio_transport_sendto(cio_transport *t, const void *data, size_t len,
                                    const struct sockaddr *addr, socklen_t addrlen);

/* ---- pipes ------------------------------------------------------------------ */

/*
 * loop.connect_read_pipe: a read transport over fd (the read end of a
 * pipe or FIFO, a socket or a character device such as a terminal),
 * taking ownership of fd on success (it is set non-blocking and closed
 * after connection_lost).  Calls connection_made before returning, then
 * data_received as bytes arrive; at end of file eof_received (its answer
 * is ignored: a pipe has no other side to keep open) and then
 * connection_lost(0).  pause_reading / resume_reading / close / abort
 * work as for sockets; the writing calls fail with -ENOTSUP.  *out gets a
 * reference owned by the caller.  Errors: -EINVAL (NULL, negative fd, fd
 * not a pipe, socket or character device), CIO_ENOLOOP, -ENOMEM, -errno
 * of fstat/fcntl; fd is then still the caller's, unchanged.  Does not
 * suspend.
 */
CIO_EXTERN int cio_connect_read_pipe(const cio_protocol *proto, void *ud, int fd,
                                     cio_transport **out);

/*
 * loop.connect_write_pipe: a write transport over fd (a pipe's or FIFO's
 * write end, a socket, a character device), taking ownership of fd as
 * cio_connect_read_pipe.  cio_transport_write / writelines / close /
 * abort / get_write_buffer_size / set_write_buffer_limits and the
 * pause_writing / resume_writing callbacks work as for sockets;
 * cio_transport_write_eof closes the pipe once the buffer is written
 * (pipes have no half-close).  Writes never raise SIGPIPE: a write to a
 * pipe whose reader has gone fails the transport with -EPIPE.  Over a
 * pipe, FIFO or socket the transport also watches for the reader leaving
 * while it writes nothing (asyncio watches the write end's readability):
 * connection_lost(0) follows, or -EPIPE if bytes were still queued.  Errors as
 * cio_connect_read_pipe.  Does not suspend.
 */
CIO_EXTERN int cio_connect_write_pipe(const cio_protocol *proto, void *ud, int fd,
                                      cio_transport **out);

/* ---- writing -------------------------------------------------------------- */

/*
 * WriteTransport.write: sends len bytes (copied if they must wait; data is
 * the caller's again on return).  Returns 0, or: CIO_ECLOSED after close,
 * abort or connection loss (nothing written), -EPIPE after write_eof,
 * -EINVAL, -ENOMEM (then the connection is failed: bytes may have gone),
 * or a send error (the connection is failed and connection_lost will
 * report it).  A write of up to 4 KiB is copied and sent when the loop
 * next waits for I/O (on io_uring with that wait's submission, on epoll
 * just before it), so one iteration's writes go out together: a send
 * error then reaches connection_lost (and a later write's return value),
 * as asyncio's write reports it.  Never suspends.
 */
CIO_EXTERN int cio_transport_write(cio_transport *t, const void *data, size_t len);

/* WriteTransport.writelines: writes the iovcnt pieces of iov in order, as
 * one cio_transport_write would.  Errors as cio_transport_write. */
CIO_EXTERN int cio_transport_writelines(cio_transport *t, const struct iovec *iov, int iovcnt);

/* WriteTransport.write_eof: half-closes (shutdown SHUT_WR) once the
 * buffer is flushed; reading goes on.  0, CIO_ECLOSED or -EINVAL. */
CIO_EXTERN int cio_transport_write_eof(cio_transport *t);

/* WriteTransport.can_write_eof: 1 (sockets can half-close), 0 for NULL. */
CIO_EXTERN int cio_transport_can_write_eof(const cio_transport *t);

/* WriteTransport.get_write_buffer_size: bytes queued, not yet sent. */
CIO_EXTERN size_t cio_transport_get_write_buffer_size(const cio_transport *t);

/*
 * WriteTransport.set_write_buffer_limits: pause_writing above high,
 * resume_writing at low.  CIO_TRANSPORT_LIMIT_DEFAULT for high means 64
 * KiB (or 4 * low if low is given), for low high / 4.  0, or -EINVAL
 * (low > high).  May call pause_writing/resume_writing at once.
 */
CIO_EXTERN int cio_transport_set_write_buffer_limits(cio_transport *t, size_t high, size_t low);

/* ---- reading ----------------------------------------------------------------- */

/* ReadTransport.pause_reading: no more data_received until resumed (no
 * read is pending meanwhile, so the kernel's buffer fills and the peer
 * is slowed).  Data already read may still arrive once.  No effect when
 * closing or paused. */
CIO_EXTERN void cio_transport_pause_reading(cio_transport *t);

/* ReadTransport.resume_reading: reading starts again (next iteration). */
CIO_EXTERN void cio_transport_resume_reading(cio_transport *t);

/* ReadTransport.is_reading: 1 when reading (not paused, not closing). */
CIO_EXTERN int cio_transport_is_reading(const cio_transport *t);

/* ---- closing ------------------------------------------------------------------ */

/*
 * BaseTransport.close: stops reading, sends what is buffered, then closes
 * the socket and calls connection_lost(0) (or the send error).  Calling it
 * again does nothing.  Never calls connection_lost before returning.
 */
CIO_EXTERN void cio_transport_close(cio_transport *t);

/* WriteTransport.abort: drops the buffer and closes at once;
 * connection_lost(0) follows in a later iteration (once only). */
CIO_EXTERN void cio_transport_abort(cio_transport *t);

/* BaseTransport.is_closing: 1 once close/abort ran or the connection
 * failed (NULL: 1). */
CIO_EXTERN int cio_transport_is_closing(const cio_transport *t);

/* ---- extra info and lifetime ------------------------------------------------- */

/* get_extra_info('socket'): the socket's descriptor (still the transport's:
 * do not close it), or -1 once closed (CIO_ECLOSED) / -EINVAL. */
CIO_EXTERN int cio_transport_fd(const cio_transport *t);

/* get_extra_info('sockname'): the local address into addr (*len in: its
 * size, out: the length).  0, -EINVAL, CIO_ECLOSED or -errno. */
CIO_EXTERN int cio_transport_sockname(const cio_transport *t, struct sockaddr *addr,
                                      socklen_t *len);

/* get_extra_info('peername'): the peer's address, as above. */
CIO_EXTERN int cio_transport_peername(const cio_transport *t, struct sockaddr *addr,
                                      socklen_t *len);

/*
 * Replaces the protocol (BaseTransport.set_protocol) from now on.  Bytes
 * that a read already in flight brings go to the new protocol (copied
 * into its get_buffer's buffer if it has one): on io_uring pausing only
 * asks the kernel to cancel the pending read, so a pause just before the
 * swap does not rule them out.  Until the new protocol's first callback
 * (data, eof_received or connection_lost), the buffer the old protocol's
 * get_buffer last returned must stay valid: that read may still fill it.
 */
CIO_EXTERN void cio_transport_set_protocol(cio_transport *t, const cio_protocol *proto,
                                           void *ud);

/* Takes a reference to t (returns t). */
CIO_EXTERN cio_transport *cio_transport_ref(cio_transport *t);

/* Drops a reference; the last one (after connection_lost) frees t.
 * Dropping the last reference of an open transport does not close it. */
CIO_EXTERN void cio_transport_unref(cio_transport *t);

/* ---- TLS ------------------------------------------------------------------------ */

/*
 * TLS transports (asyncio's ssl= and loop.start_tls, sslproto's
 * _SSLProtocolTransport): TLS runs as a transport over another transport,
 * the "raw" one, whose protocol it becomes; OpenSSL reads and writes
 * memory buffers, never the descriptor, so TLS works on every I/O backend.
 * The application's protocol sees plaintext and the callback order above:
 *
 * - connection_made comes once the handshake is done (bounded by
 *   opts->tls_handshake_timeout, 60 s by default; a timeout fails with
 *   -ETIMEDOUT).  A connection whose handshake fails never reaches the
 *   protocol: cio_create_connection returns the error, a server drops the
 *   connection (cio_server_num_clients counts it until then).
 * - cio_transport_write encrypts; writes are never refused.  The write
 *   buffer (cio_transport_get_write_buffer_size) is the plaintext waiting
 *   for the handshake plus the records waiting while the raw transport
 *   is paused; pause_writing / resume_writing follow it, so a slow peer
 *   pauses the application as with a plain transport.
 * - cio_transport_pause_reading pauses the raw transport; records already
 *   read wait, decrypted at resume.
 * - The peer's close_notify is eof_received (return 1 to keep writing,
 *   TLS 1.3 allows it; else the transport closes).  The peer closing the
 *   connection without close_notify (a truncation) fails it with
 *   -ECONNRESET, as tls.h's sessions do.
 * - cio_transport_close writes what is buffered, sends close_notify and
 *   waits for the peer's (reading and dropping data meanwhile) before it
 *   closes the raw transport, as asyncio does; opts->tls_shutdown_timeout
 *   (30 s) bounds that, then it aborts with -ETIMEDOUT.  Closing during
 *   the handshake aborts.  cio_transport_write_eof sends close_notify and
 *   half-closes the raw transport; reading goes on.  cio_transport_abort
 *   aborts the raw transport at once.
 * - Failures reach connection_lost with a code: CIO_ETLS (protocol error,
 *   bad certificate, alert), -ECONNRESET, -ETIMEDOUT, the raw transport's
 *   error; cio_transport_tls_error_message says why.
 * - Post-handshake messages (TLS 1.3 session tickets, key updates) and
 *   TLS 1.2 renegotiation are handled inside; the protocol never sees
 *   them.
 * - cio_transport_fd, _sockname and _peername give the raw transport's
 *   socket.  The raw transport belongs to the TLS one: do not use it.
 */

/*
 * loop.start_tls: upgrades the live transport t (a socket transport, or
 * any stream transport, TLS included) to TLS and returns the TLS
 * transport in *out (a reference owned by the caller: cio_transport_unref).  t's
 * protocol becomes the new transport's, without a second connection_made:
 * it is called with the new transport from the next callback on.  t is
 * then owned by the new transport: do not use it (the caller's references
 * to it stay valid until unreferenced).  A client handshake when server_side
 * is 0 (ctx must be a client context, verifying against server_hostname,
 * required unless ctx opted out with cio_tls_context_set_check_hostname),
 * a server one when 1 (a server context).  Whatever t's protocol wrote
 * before is sent first, in plain.
 *
 * Unread plaintext that t holds (a TLS t whose reading was paused) is
 * refused with -EBUSY and nothing is done, as cio_stream_start_tls does
 * against STARTTLS command injection; what t's protocol received before
 * the call is its own business: a well-behaved peer sends nothing
 * between its request and the handshake.
 *
 * Suspends until the handshake is done (bound it with a timeout scope).
 * Errors: -EINVAL (NULL, server_side not ctx's role, no server_hostname
 * for a checking client: nothing is done then), CIO_ENOTASK, CIO_ECLOSED
 * (t closing), -EBUSY, -ENOMEM, -ENOTSUP (no OpenSSL), and the
 * handshake's: CIO_ETLS (reason in cio_tls_context_error_message(ctx)),
 * -ECONNRESET, -ECANCELED, -ETIMEDOUT.  After a failed handshake t is
 * aborted and its protocol gets connection_lost(t, code) in a later
 * iteration.
 */
CIO_EXTERN int cio_start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                             const char *server_hostname, cio_transport **out);

/* 1 if t is a TLS transport (get_extra_info('ssl_object') is not None),
 * else 0 (NULL included). */
CIO_EXTERN int cio_transport_is_tls(const cio_transport *t);

/* The negotiated TLS version ("TLSv1.3"), or NULL (not TLS, or before the
 * handshake).  A static string. */
CIO_EXTERN const char *cio_transport_tls_version(const cio_transport *t);

/* get_extra_info('cipher'): the cipher suite's name
 * ("TLS_AES_256_GCM_SHA384"), or NULL.  A static string. */
CIO_EXTERN const char *cio_transport_tls_cipher(const cio_transport *t);

/* The ALPN protocol agreed on ("h2"), or NULL (not TLS, none agreed).
 * Valid while t is. */
CIO_EXTERN const char *cio_transport_tls_alpn(const cio_transport *t);

/* get_extra_info('peercert')'s subject: the peer certificate's subject
 * name, RFC 2253 ("CN=localhost"), or NULL (not TLS, no certificate,
 * no memory).  Valid while t is. */
CIO_EXTERN const char *cio_transport_tls_peer_subject(const cio_transport *t);

/* Why the TLS transport failed (handshake, verification, read, timeout),
 * or "" (no failure, or not TLS).  Valid while t is. */
CIO_EXTERN const char *cio_transport_tls_error_message(const cio_transport *t);

#endif
