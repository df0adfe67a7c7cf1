/*
 * tls_transport_api.c - making TLS transports (for cio_create_connection,
 * servers and start_tls) and waiting for their handshake; the public
 * side: loop.start_tls (cio_start_tls) and the typed get_extra_info
 * accessors ("ssl_object", "cipher", "peercert", the ALPN choice, the
 * failure message).  The transport itself is tls_transport.c.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "../task/task.h"
#include "tls_internal.h"
#include "tls_transport.h"

#ifdef CIO_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/x509.h>

#define DEFAULT_HANDSHAKE_TIMEOUT 60.0 /* asyncio's ssl_handshake_timeout */
#define DEFAULT_SHUTDOWN_TIMEOUT 30.0  /* asyncio's ssl_shutdown_timeout */

/* ---- making and waiting ------------------------------------------------------------ */

int cio__tls_transport_new(cio_transport *raw, cio_tls_context *ctx, int server_side,
                           const char *server_hostname, const cio_transport_options *opts,
                           cio_transport **out)
{
    int rc = cio__tls_check_name(ctx, server_hostname, __func__);
    if (rc < 0)
        return rc;
    struct cio__tls_transport *s = cio__calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    if ((rc = cio__tls_ssl_new(ctx, server_side, server_hostname, &s->ssl)) < 0) {
        cio__free(s);
        return rc;
    }
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    if (!s->in || !s->out) {
        BIO_free(s->in);
        BIO_free(s->out);
        SSL_free(s->ssl);
        cio__free(s);
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_set_bio(s->ssl, s->in, s->out); /* the SSL owns them now */
    s->b.vt = &cio__tls_transport_vt;
    s->b.loop = raw->loop;
    s->b.refs = 1; /* alive until raw's connection_lost has run */
    s->b.proto = &cio__no_protocol;
    s->raw = cio_transport_ref(raw);
    s->ctx = ctx;
    s->read_size = opts && opts->read_size ? opts->read_size : 64 * 1024;
    s->hs_timeout = opts && opts->tls_handshake_timeout ? opts->tls_handshake_timeout
                                                         : DEFAULT_HANDSHAKE_TIMEOUT;
    s->sd_timeout = opts && opts->tls_shutdown_timeout ? opts->tls_shutdown_timeout
                                                        : DEFAULT_SHUTDOWN_TIMEOUT;
    cio__tflow_init(&s->fl, opts);
    *out = &s->b;
    return 0;
}

void cio__tls_transport_start(cio_transport *t, const cio_protocol *proto, void *ud)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)t;
    s->b.proto = proto ? proto : &cio__no_protocol;
    s->b.ud = ud;
    s->call_made = 1;
    cio__transport_start(s->raw, &cio__tls_raw_protocol, s);
}

void cio__tls_transport_start_server(cio_transport *t, cio_protocol_factory_fn *factory,
                                     void *arg)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)t;
    s->factory = factory;
    s->factory_arg = arg;
    cio__tls_transport_start(t, NULL, NULL);
}

int cio__tls_transport_awaits_protocol(const cio_transport *t)
{
    const struct cio__tls_transport *s = (const struct cio__tls_transport *)t;
    return s->factory && !s->handshaken;
}

void cio__tls_transport_upgrade(cio_transport *t)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)t;
    cio_transport *raw = s->raw;
    s->b.proto = raw->proto;
    s->b.ud = raw->ud;
    s->made = 1;    /* the protocol had connection_made (from raw) */
    s->upgrade = 1;
    cio_transport_set_protocol(raw, &cio__tls_raw_protocol, s);
    cio_transport_resume_reading(raw); /* the handshake needs raw's data */
    cio__tls_transport_begin(s);
}

void cio__tls_transport_discard(cio_transport *t)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)t;
    cio_transport *raw = s->raw;
    cio__transport_unref(&s->b); /* drops our reference to raw too */
    cio__transport_discard(raw);
}

int cio__tls_transport_wait(cio_transport *t)
{
    struct cio__tls_transport *s = (struct cio__tls_transport *)t;
    int rc = 0;
    if (s->state == CIO__TLS_HANDSHAKE) {
        if ((rc = cio_future_new(s->b.loop, &s->hs_fut)) < 0) {
            cio__tls_transport_fail(s, rc, "no memory to wait for the TLS handshake");
        } else {
            s->b.refs++;
            rc = cio_await(s->hs_fut, NULL);
            cio_future_unref(s->hs_fut);
            s->hs_fut = NULL;
            if (rc < 0 && !s->error) {
                cio__tls_transport_fail(s, rc, rc == -ECANCELED   ? "TLS handshake cancelled"
                            : rc == -ETIMEDOUT ? "TLS handshake timed out"
                                               : "TLS handshake failed");
            }
            cio__transport_unref(&s->b);
        }
    }
    if (rc == 0 && !s->handshaken)
        rc = s->error ? s->error : CIO_ECLOSED;
    if (rc < 0 && s->errmsg[0])
        cio__tls_context_set_error(s->ctx, s->errmsg);
    return rc;
}

/* ---- start_tls and accessors -------------------------------------------------------- */

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

int cio__start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                   const char *server_hostname, const cio_transport_options *opts,
                   cio_transport **out)
{
    if (!t || !ctx || !out)
        return cio__bad_arg(cio__running_loop, "cio_start_tls", "transport, ctx or out is NULL");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    if (cio_transport_is_closing(t))
        return CIO_ECLOSED;
    if (!t->vt->writelines || !t->vt->pause_reading)
        return cio__bad_arg(t->loop, "cio_start_tls", "the transport is not a stream transport");
    if (unread(t))
        return -EBUSY;
    cio_transport *nt;
    int rc = cio__tls_transport_new(t, ctx, server_side, server_hostname, opts, &nt);
    if (rc < 0)
        return rc;
    nt->refs++; /* the caller's */
    cio__tls_transport_upgrade(nt);
    *out = nt;
    return cio__tls_transport_wait(nt);
}

int cio_start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                  const char *server_hostname, cio_transport **out)
{
    int rc = cio__start_tls(t, ctx, server_side, server_hostname, NULL, out);
    if (rc < 0 && out && *out) {
        cio_transport_unref(*out);
        *out = NULL;
    }
    return rc;
}

void cio__tls_transport_quick_close(cio_transport *t)
{
    struct cio__tls_transport *s = as_tls(t);
    if (s)
        s->quick_close = 1;
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

const struct cio__transport_vt cio__tls_transport_vt = {.kind = "tls"};

int cio__tls_transport_new(cio_transport *raw, cio_tls_context *ctx, int server_side,
                           const char *server_hostname, const cio_transport_options *opts,
                           cio_transport **out)
{
    (void)raw, (void)ctx, (void)server_side, (void)server_hostname, (void)opts;
    *out = NULL;
    return -ENOTSUP;
}
void cio__tls_transport_start(cio_transport *t, const cio_protocol *p, void *ud)
{
    (void)t, (void)p, (void)ud;
}
void cio__tls_transport_upgrade(cio_transport *t) { (void)t; }
void cio__tls_transport_start_server(cio_transport *t, cio_protocol_factory_fn *f, void *arg)
{
    (void)t;
    (void)f;
    (void)arg;
}
void cio__tls_transport_quick_close(cio_transport *t) { (void)t; }
int cio__tls_transport_awaits_protocol(const cio_transport *t)
{
    (void)t;
    return 0;
}
int cio__start_tls(cio_transport *t, cio_tls_context *ctx, int server_side,
                   const char *server_hostname, const cio_transport_options *opts,
                   cio_transport **out)
{
    (void)t, (void)ctx, (void)server_side, (void)server_hostname, (void)opts;
    if (out)
        *out = NULL;
    return -ENOTSUP;
}
void cio__tls_transport_discard(cio_transport *t) { (void)t; }
int cio__tls_transport_wait(cio_transport *t)
{
    (void)t;
    return -ENOTSUP;
}


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
