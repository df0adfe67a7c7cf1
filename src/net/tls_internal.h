/*
 * tls_internal.h - what tls.c shares inside the net layer: with the
 * streams (close_notify, the context's message, the host-name rule) and
 * with the TLS transport (tls_transport.c), which reuses the context's
 * session set-up and the error text instead of keeping copies of them.
 */
#ifndef CIO_NET_TLS_INTERNAL_H
#define CIO_NET_TLS_INTERNAL_H

#include "cio/tls.h"
#include "../util/internal.h"

/* Sends close_notify once without waiting (0, or -EAGAIN if it could not
 * go out now). */
int cio__tls_close_notify(cio_tls *tls);
/* Records msg as ctx's last error (cio_tls_context_error_message). */
void cio__tls_context_set_error(cio_tls_context *ctx, const char *msg);
/* 0, or -EINVAL (ctx's message set, logged in debug mode naming fn) if
 * ctx is a client context that verifies and checks host names and
 * server_hostname is NULL or "".  Does not suspend. */
int cio__tls_check_name(cio_tls_context *ctx, const char *server_hostname, const char *fn);
/* 1 for a server context, 0 for a client one. */
int cio__tls_context_is_server(const cio_tls_context *ctx);

#ifdef CIO_HAVE_OPENSSL
#include <openssl/ssl.h>

/* A new SSL of ctx set up for one side: connect or accept state, the
 * client's SNI and name check from server_hostname (checked before with
 * cio__tls_check_name).  No BIO attached.  0, -EINVAL (server_side is not
 * ctx's role), CIO_ETLS (ctx's message set). */
int cio__tls_ssl_new(cio_tls_context *ctx, int server_side, const char *server_hostname,
                     SSL **out);
/* The code and message (into msg) of a failed SSL call whose
 * SSL_get_error was err (not WANT_*): CIO_ETLS with OpenSSL's reason and
 * the verify result, or -ECONNRESET for a peer gone without close_notify
 * (sys_errno: errno after the call, 0 for memory BIOs). */
int cio__tls_failure(SSL *ssl, int err, int sys_errno, const char *what, char *msg,
                     size_t len);
#endif

#endif
