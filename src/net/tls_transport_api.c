/*
 * tls_transport_api.c - the public side of TLS transports: loop.start_tls
 * (cio_start_tls) and the typed get_extra_info accessors ("ssl_object",
 * "cipher", "peercert", the ALPN choice, the failure message).  The
 * transport itself is tls_transport.c.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "../task/task.h"
#include "tls_internal.h"
#include "tls_transport.h"

#ifdef CIO_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/x509.h>

/* t as a TLS transport, or NULL for another kind. */
static struct cio__tls_transport *as_tls(const cio_transport *t)
{
    return t && t->vt == &cio__tls_transport_vt ? (struct cio__tls_transport *)t : NULL;
}

/* Plaintext a TLS transport decrypted (or could) but did not deliver:
 * what start_tls must refuse to mix with what comes after it. */
static int unread(const cio_transport *t)
{
    const struct cio__tls_transport *s = as_tls(t);
    return s && s->ssl && (SSL_pending(s->ssl) > 0 || BIO_ctrl_pending(s->in) > 0);
}

int cio_start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                  const char *server_hostname, cio_transport **out)
{
    if (!t || !ctx || !out)
        return cio__bad_arg(cio__running_loop, __func__, "transport, ctx or out is NULL");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    if (cio_transport_is_closing(t))
        return CIO_ECLOSED;
    if (!t->vt->writelines || !t->vt->pause_reading)
        return cio__bad_arg(t->loop, __func__, "the transport is not a stream transport");
    if (unread(t))
        return -EBUSY;
    cio_transport *nt;
    int rc = cio__tls_transport_new(t, ctx, server_side, server_hostname, NULL, &nt);
    if (rc < 0)
        return rc;
    nt->refs++; /* the caller's, if all goes well */
    cio__tls_transport_upgrade(nt);
    rc = cio__tls_transport_wait(nt);
    if (rc < 0) {
        cio_transport_release(nt);
        return rc;
    }
    *out = nt;
    return 0;
}

int cio_transport_is_tls(const cio_transport *t) { return as_tls(t) != NULL; }

const char *cio_transport_tls_version(const cio_transport *t)
{
    struct cio__tls_transport *s = as_tls(t);
    return s && s->handshaken ? SSL_get_version(s->ssl) : NULL;
}

const char *cio_transport_tls_cipher(const cio_transport *t)
{
    struct cio__tls_transport *s = as_tls(t);
    return s && s->handshaken ? SSL_get_cipher_name(s->ssl) : NULL;
}

const char *cio_transport_tls_alpn(const cio_transport *t)
{
    struct cio__tls_transport *s = as_tls(t);
    if (!s || !s->handshaken)
        return NULL;
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(s->ssl, &p, &len);
    if (!p || !len)
        return NULL;
    memcpy(s->alpn, p, len); /* OpenSSL's copy is not NUL-terminated */
    s->alpn[len] = 0;
    return s->alpn;
}

const char *cio_transport_tls_peer_subject(const cio_transport *t)
{
    struct cio__tls_transport *s = as_tls(t);
    if (!s || !s->handshaken)
        return NULL;
    if (s->subject)
        return s->subject;
    X509 *cert = SSL_get1_peer_certificate(s->ssl);
    if (!cert)
        return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n = 0;
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
        n = BIO_get_mem_data(b, &p);
    if (n > 0 && (s->subject = cio__malloc((size_t)n + 1))) {
        memcpy(s->subject, p, (size_t)n);
        s->subject[n] = 0;
    }
    BIO_free(b);
    X509_free(cert);
    ERR_clear_error();
    return s->subject;
}

const char *cio_transport_tls_error_message(const cio_transport *t)
{
    struct cio__tls_transport *s = as_tls(t);
    return s ? s->errmsg : "";
}

#else /* !CIO_HAVE_OPENSSL */

int cio_start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                  const char *server_hostname, cio_transport **out)
{
    (void)t, (void)ctx, (void)server_side, (void)server_hostname;
    if (out)
        *out = NULL;
    return -ENOTSUP;
}
int cio_transport_is_tls(const cio_transport *t) { return (void)t, 0; }
const char *cio_transport_tls_version(const cio_transport *t) { return (void)t, NULL; }
const char *cio_transport_tls_cipher(const cio_transport *t) { return (void)t, NULL; }
const char *cio_transport_tls_alpn(const cio_transport *t) { return (void)t, NULL; }
const char *cio_transport_tls_peer_subject(const cio_transport *t) { return (void)t, NULL; }
const char *cio_transport_tls_error_message(const cio_transport *t) { return (void)t, ""; }

#endif
