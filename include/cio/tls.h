/*
 * cio/tls.h - TLS over a descriptor, with OpenSSL 3 (asyncio's ssl
 * support: SSLContext, the handshake, start_tls's session).
 *
 * A context holds the configuration shared by many sessions: role, CA
 * store, certificate and key, ALPN protocols, verification.  A session runs
 * TLS over one connected, non-blocking socket descriptor that the caller
 * keeps owning: cio_tls_free() does not close it.  The session's calls
 * suspend the calling task while the socket is not ready.
 *
 * Clients verify the server by default: the system CA store
 * (/etc/ssl/certs, Debian's ca-certificates) and the host name given to
 * cio_tls_new() (SNI is sent with it), which is therefore required: a
 * verifying client without one fails with -EINVAL unless the context
 * opted out with cio_tls_context_set_check_hostname(ctx, 0).  TLS 1.2 is
 * the minimum version.
 *
 * Errors: OpenSSL failures return CIO_ETLS, and cio_tls_error_message()
 * (or cio_tls_context_error_message()) says what failed, e.g. "certificate
 * verify failed: hostname mismatch".  Built without OpenSSL, every call
 * returns -ENOTSUP.  A peer that closes without close_notify reads as
 * -ECONNRESET (OpenSSL 3's "unexpected eof while reading" included).
 *
 * Cancelling a task inside a handshake, read or write returns -ECANCELED
 * at once; the session is then unusable (TLS records may be half sent)
 * and should be freed.
 *
 * Streams use these sessions for asyncio's ssl= parameters and start_tls
 * (cio/stream.h: cio_stream_options.tls, cio_stream_start_tls,
 * cio_stream_tls_version, cio_stream_tls_alpn_selected,
 * cio_stream_tls_error_message).  A handshake failing inside
 * cio_open_connection leaves its reason in cio_tls_context_error_message
 * of the context used.  Transports run TLS too, over another transport
 * with the same contexts (cio/transport.h: cio_transport_options.tls,
 * cio_start_tls).  Tested against openssl s_server, Python's ssl module
 * and cio itself (tests/test_tls.c).
 */
#ifndef CIO_TLS_H
#define CIO_TLS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A configuration shared by sessions (reference-counted), and a session
 * over one socket. */
typedef struct cio_tls_context cio_tls_context;
typedef struct cio_tls cio_tls;

/* Which side of the handshake a context is for. */
typedef enum cio_tls_role {
    CIO_TLS_CLIENT = 0,
    CIO_TLS_SERVER = 1
} cio_tls_role;

/* 1 if cio was built with OpenSSL, else 0. */
CIO_EXTERN int cio_tls_available(void);

/*
 * Creates a context.  A client context loads the system CA store and
 * verifies peers; a server context needs cio_tls_context_load_cert().
 * Errors: -EINVAL (role), -ENOMEM, CIO_ETLS, -ENOTSUP.  Free with
 * cio_tls_context_free(), which drops the caller's reference; sessions
 * keep their own reference to it.
 * Does not suspend.
 */
CIO_EXTERN int cio_tls_context_new(cio_tls_role role, cio_tls_context **out);
CIO_EXTERN void cio_tls_context_free(cio_tls_context *ctx);

/*
 * Loads a certificate chain and its private key (PEM files).  Errors:
 * -EINVAL (NULL), CIO_ETLS (unreadable, or the key does not match).
 */
CIO_EXTERN int cio_tls_context_load_cert(cio_tls_context *ctx, const char *cert_file,
                                         const char *key_file);

/*
 * Trusts the CAs in cafile (PEM) and/or the hashed directory capath, in
 * addition to the system store.  Errors: -EINVAL (both NULL), CIO_ETLS.
 */
CIO_EXTERN int cio_tls_context_load_ca(cio_tls_context *ctx, const char *cafile,
                                       const char *capath);

/*
 * Peer verification: on a client (default on) the server's chain and
 * name are checked; on a server (default off) a client certificate is
 * required and checked.  Returns 0.
 */
CIO_EXTERN int cio_tls_context_set_verify(cio_tls_context *ctx, int verify);

/*
 * asyncio's SSLContext.check_hostname.  On (the default for clients), a
 * client session must be given a server_hostname (cio_tls_new, and the
 * stream calls built on it: cio_open_connection's host or
 * opts->server_hostname, cio_stream_from_fd, cio_open_unix_connection,
 * cio_stream_start_tls), and the certificate must match it; NULL or ""
 * fails with -EINVAL, so a connection never silently accepts any
 * certificate a trusted CA signed for another host.  Off: no name is
 * needed and none is checked (a name given is still sent as SNI), so only
 * the chain is verified: for peers identified some other way (a pinned
 * private CA, a Unix socket).  Only clients that verify (see
 * cio_tls_context_set_verify) check names; no effect on server contexts.
 * Sessions made afterwards see the change.  Errors: -EINVAL (NULL).
 * Does not suspend.
 */
CIO_EXTERN int cio_tls_context_set_check_hostname(cio_tls_context *ctx, int check);

/*
 * ALPN protocols, most preferred first ("h2", "http/1.1").  A client
 * offers them; a server picks its most preferred one the client offers
 * (and proceeds without ALPN if none match).  Strings are copied.  Errors:
 * -EINVAL (n == 0, a name empty or longer than 255 bytes), -ENOMEM.
 */
CIO_EXTERN int cio_tls_context_set_alpn(cio_tls_context *ctx, const char *const *protocols,
                                        size_t n);

/* What the last failing call on ctx reported, or "". */
CIO_EXTERN const char *cio_tls_context_error_message(const cio_tls_context *ctx);

/*
 * Creates a session over fd (a connected socket; made non-blocking here).
 * server_hostname (client only): sent as SNI and checked against the
 * certificate; an IP address literal is checked against the certificate's
 * IP entries.  A verifying client context needs it: NULL or "" fails with
 * -EINVAL (the reason in cio_tls_context_error_message(ctx), logged in
 * debug mode) unless cio_tls_context_set_check_hostname(ctx, 0) opted
 * out.  Servers ignore it.  Errors: -EINVAL, -EBADF (fd < 0), -ENOMEM,
 * CIO_ETLS.  Free with cio_tls_free().  Does not suspend.
 */
CIO_EXTERN int cio_tls_new(cio_tls_context *ctx, int fd, const char *server_hostname,
                           cio_tls **out);

/*
 * Performs the handshake.  Suspends.  Returns 0, CIO_ETLS (see the
 * session's message: verification failure, protocol error), -ECONNRESET
 * (peer closed during the handshake), -ECANCELED/-ETIMEDOUT (the session
 * is unusable afterwards), CIO_ENOTASK.
 */
CIO_EXTERN int cio_tls_handshake(cio_tls *tls);

/*
 * Reads up to len decrypted bytes (len is capped at INT_MAX).  Suspends
 * until at least one byte is there.  Returns the count (> 0), 0 at a clean
 * end of stream (the peer's close_notify), -ECONNRESET (the peer closed
 * without close_notify), CIO_ETLS, -ECANCELED, -ETIMEDOUT.  Handshakes
 * first if cio_tls_handshake() was not called.
 */
CIO_EXTERN int cio_tls_read(cio_tls *tls, void *buf, size_t len);

/*
 * Writes all len bytes (len capped at INT_MAX).  Suspends until the
 * kernel took them.  Returns len, -EPIPE/-ECONNRESET, CIO_ETLS,
 * -ECANCELED, -ETIMEDOUT (some bytes may have been sent then).
 */
CIO_EXTERN int cio_tls_write(cio_tls *tls, const void *buf, size_t len);

/*
 * Clean shutdown: sends close_notify and waits for the peer's (bounded by
 * the caller's timeout scope, if any).  Suspends.  Returns 0, or the
 * errors of cio_tls_read.  The descriptor stays open.
 */
CIO_EXTERN int cio_tls_shutdown(cio_tls *tls);

/* The protocol ALPN selected ("h2"), or NULL.  Valid until freed. */
CIO_EXTERN const char *cio_tls_alpn_selected(const cio_tls *tls);

/* The negotiated version ("TLSv1.3"), or NULL before the handshake. */
CIO_EXTERN const char *cio_tls_version(const cio_tls *tls);

/* What the last failing call on tls reported, or "". */
CIO_EXTERN const char *cio_tls_error_message(const cio_tls *tls);

/* Frees the session without any I/O (the descriptor stays open). */
CIO_EXTERN void cio_tls_free(cio_tls *tls);

#ifdef __cplusplus
}
#endif
#endif
