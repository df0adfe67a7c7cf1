/*
 * tls.c - TLS sessions over descriptors with OpenSSL 3.
 *
 * Each session drives a non-blocking SSL object: a call tries the OpenSSL
 * operation, and on SSL_ERROR_WANT_READ / WANT_WRITE parks the task on the
 * descriptor (cio__fd_wait, edge-triggered: OpenSSL read or wrote until
 * EAGAIN, so waiting for the next edge is right) and tries again.
 *
 * Divided into: error text (OpenSSL's queue and the verify result turned
 * into a message kept on the object), contexts, sessions, and the stubs
 * used when cio is built without OpenSSL.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "cio/tls.h"
#include "../task/task.h"
#include "tls_internal.h"

#ifdef CIO_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct cio_tls_context {
    SSL_CTX *ssl_ctx;          /* OpenSSL's context (reference-counted) */
    cio_tls_role role;         /* client or server */
    int check_hostname;        /* client: a server name is required and
                                  checked (asyncio's check_hostname; on by
                                  default, off only when asked) */
    unsigned char *alpn;       /* ALPN list in wire format, owned */
    size_t alpn_len;
    char error[256];           /* message of the last failure */
};

struct cio_tls {
    SSL *ssl;                  /* the session */
    cio_tls_context *ctx;      /* its context (a reference is held) */
    int fd;                    /* the socket, owned by the caller */
    int handshaken;            /* the handshake completed */
    char alpn[256];            /* NUL-terminated copy of the ALPN choice */
    char error[256];           /* message of the last failure */
};

int cio_tls_available(void) { return 1; }

/* Fills buf with OpenSSL's queued errors (and what prefix says). */
static void take_errors(char *buf, size_t len, const char *prefix)
{
    size_t n = (size_t)snprintf(buf, len, "%s", prefix);
    unsigned long e;
    while ((e = ERR_get_error()) != 0 && n + 2 < len) {
        char one[200];
        ERR_error_string_n(e, one, sizeof one);
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ": " : "", one);
    }
}

/* ---- contexts --------------------------------------------------------- */

/* Server side of ALPN: the server's most preferred protocol that the
 * client offers, or no ALPN at all. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    cio_tls_context *ctx = arg;
    for (size_t i = 0; i < ctx->alpn_len; i += 1u + ctx->alpn[i]) {
        for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
            if (in[j] == ctx->alpn[i] && j + 1u + in[j] <= inlen &&
                memcmp(in + j + 1, ctx->alpn + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

int cio_tls_context_new(cio_tls_role role, cio_tls_context **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    if (role != CIO_TLS_CLIENT && role != CIO_TLS_SERVER)
        return cio__bad_arg(NULL, __func__, "role must be CIO_TLS_CLIENT or CIO_TLS_SERVER");
    cio_tls_context *ctx = cio__calloc(1, sizeof *ctx);
    if (!ctx)
        return -ENOMEM;
    ctx->role = role;
    ctx->check_hostname = role == CIO_TLS_CLIENT;
    ctx->ssl_ctx = SSL_CTX_new(role == CIO_TLS_CLIENT ? TLS_client_method() : TLS_server_method());
    if (!ctx->ssl_ctx) {
        cio__free(ctx);
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                       SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (role == CIO_TLS_CLIENT) {
        SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
            take_errors(ctx->error, sizeof ctx->error, "loading the system CA store");
            SSL_CTX_free(ctx->ssl_ctx);
            cio__free(ctx);
            return CIO_ETLS;
        }
    } else {
        SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select, ctx);
    }
    *out = ctx;
    return 0;
}

void cio_tls_context_free(cio_tls_context *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    cio__free(ctx->alpn);
    cio__free(ctx);
}

int cio_tls_context_load_cert(cio_tls_context *ctx, const char *cert_file, const char *key_file)
{
    if (!ctx || !cert_file || !key_file)
        return cio__bad_arg(NULL, __func__, "ctx, cert_file and key_file are required");
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cert_file) != 1) {
        take_errors(ctx->error, sizeof ctx->error, "loading the certificate");
        return CIO_ETLS;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
        take_errors(ctx->error, sizeof ctx->error, "loading the private key");
        return CIO_ETLS;
    }
    return 0;
}

int cio_tls_context_load_ca(cio_tls_context *ctx, const char *cafile, const char *capath)
{
    if (!ctx || (!cafile && !capath))
        return cio__bad_arg(NULL, __func__, "ctx and cafile or capath are required");
    if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, cafile, capath) != 1) {
        take_errors(ctx->error, sizeof ctx->error, "loading CA certificates");
        return CIO_ETLS;
    }
    return 0;
}

int cio_tls_context_set_verify(cio_tls_context *ctx, int verify)
{
    if (!ctx)
        return cio__bad_arg(NULL, __func__, "ctx is NULL");
    int mode = SSL_VERIFY_NONE;
    if (verify)
        mode = ctx->role == CIO_TLS_SERVER ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                           : SSL_VERIFY_PEER;
    SSL_CTX_set_verify(ctx->ssl_ctx, mode, NULL);
    return 0;
}

int cio_tls_context_set_check_hostname(cio_tls_context *ctx, int check)
{
    if (!ctx)
        return cio__bad_arg(NULL, __func__, "ctx is NULL");
    ctx->check_hostname = check != 0;
    return 0;
}

int cio__tls_check_name(cio_tls_context *ctx, const char *server_hostname, const char *fn)
{
    if (ctx->role != CIO_TLS_CLIENT || !ctx->check_hostname ||
        (server_hostname && *server_hostname) ||
        !(SSL_CTX_get_verify_mode(ctx->ssl_ctx) & SSL_VERIFY_PEER))
        return 0;
    /* Fail closed: without a name any certificate a trusted CA signed,
     * for any host, would pass (asyncio: "check_hostname requires
     * server_hostname"). */
    snprintf(ctx->error, sizeof ctx->error,
             "no server_hostname: a client that verifies certificates needs the name to "
             "check (or cio_tls_context_set_check_hostname(ctx, 0) to opt out)");
    return cio__bad_arg(cio__running_loop, fn, ctx->error);
}

int cio_tls_context_set_alpn(cio_tls_context *ctx, const char *const *protocols, size_t n)
{
    if (!ctx || !protocols || n == 0)
        return cio__bad_arg(NULL, __func__, "ctx and at least one protocol are required");
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = protocols[i] ? strlen(protocols[i]) : 0;
        if (l == 0 || l > 255)
            return cio__bad_arg(NULL, __func__, "an ALPN name is empty or longer than 255 bytes");
        len += 1 + l;
    }
    unsigned char *w = cio__malloc(len);
    if (!w)
        return -ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protocols[i]);
        w[off++] = (unsigned char)l;
        memcpy(w + off, protocols[i], l);
        off += l;
    }
    if (ctx->role == CIO_TLS_CLIENT && SSL_CTX_set_alpn_protos(ctx->ssl_ctx, w, (unsigned)len) != 0) {
        cio__free(w);
        return -ENOMEM;
    }
    cio__free(ctx->alpn);
    ctx->alpn = w;
    ctx->alpn_len = len;
    return 0;
}

int cio__tls_context_is_server(const cio_tls_context *ctx)
{
    return ctx->role == CIO_TLS_SERVER;
}

const char *cio_tls_context_error_message(const cio_tls_context *ctx)
{
    return ctx ? ctx->error : "";
}

/* ---- sessions ---------------------------------------------------------- */

/*
 * OpenSSL's socket BIO writes with write(2), which raises SIGPIPE (killing
 * the process by default) when the peer is gone.  A library must not
 * depend on the application ignoring it, so sessions use the socket BIO
 * with its write replaced by send(MSG_NOSIGNAL); the rest (read, ctrl,
 * create, destroy) is the socket BIO's own.
 */
static BIO_METHOD *nosigpipe_method;
static pthread_once_t nosigpipe_once = PTHREAD_ONCE_INIT;

static int nosigpipe_write(BIO *b, const char *buf, int len)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && BIO_sock_should_retry((int)n))
        BIO_set_retry_write(b);
    return (int)n;
}

static void nosigpipe_init(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "cio socket");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, nosigpipe_write) ||
        !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
        !BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) ||
        !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
        !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
        !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
        BIO_meth_free(m);
        return;
    }
    nosigpipe_method = m;
}

/* Attaches fd to ssl through the no-SIGPIPE BIO (the plain socket BIO if
 * that could not be made).  1 on success, as SSL_set_fd. */
static int attach_fd(SSL *ssl, int fd)
{
    pthread_once(&nosigpipe_once, nosigpipe_init);
    if (!nosigpipe_method)
        return SSL_set_fd(ssl, fd);
    BIO *bio = BIO_new(nosigpipe_method);
    if (!bio)
        return 0;
    BIO_set_fd(bio, fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, bio, bio);
    return 1;
}

/*
 * A new SSL object of ctx for one side of a handshake: the client's SNI
 * and name check from server_hostname, which the caller already checked
 * with cio__tls_check_name.  Shared with the TLS transport, which gives it
 * memory BIOs; cio_tls_new gives it the socket.  0, -EINVAL (server_side
 * is not ctx's role) or CIO_ETLS (ctx's message set).
 */
int cio__tls_ssl_new(cio_tls_context *ctx, int server_side, const char *server_hostname,
                     SSL **out)
{
    if ((ctx->role == CIO_TLS_SERVER) != (server_side != 0))
        return cio__bad_arg(cio__running_loop, __func__,
                            "server_side does not match the context's role");
    SSL *ssl = SSL_new(ctx->ssl_ctx);
    if (!ssl) {
        take_errors(ctx->error, sizeof ctx->error, "creating the session");
        return CIO_ETLS;
    }
    if (ctx->role == CIO_TLS_CLIENT) {
        SSL_set_connect_state(ssl);
        if (server_hostname && *server_hostname) {
            /* SNI always goes with a name (never an IP literal); the
             * check only while check_hostname is on, as in asyncio. */
            unsigned char addr[16];
            int is_ip = inet_pton(AF_INET, server_hostname, addr) == 1 ||
                        inet_pton(AF_INET6, server_hostname, addr) == 1;
            int check = ctx->check_hostname;
            int ok = is_ip ? !check || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                                                     server_hostname)
                           : (!check || SSL_set1_host(ssl, server_hostname)) &&
                                 SSL_set_tlsext_host_name(ssl, server_hostname);
            if (!ok) {
                take_errors(ctx->error, sizeof ctx->error, "setting the server name");
                SSL_free(ssl);
                return CIO_ETLS;
            }
        }
    } else {
        SSL_set_accept_state(ssl);
    }
    *out = ssl;
    return 0;
}

int cio_tls_new(cio_tls_context *ctx, int fd, const char *server_hostname, cio_tls **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    if (!ctx)
        return cio__bad_arg(NULL, __func__, "ctx is NULL");
    int rc = cio__tls_check_name(ctx, server_hostname, __func__);
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    cio_tls *tls = cio__calloc(1, sizeof *tls);
    if (!tls)
        return -ENOMEM;
    tls->fd = fd;
    tls->ctx = ctx;
    rc = cio__tls_ssl_new(ctx, ctx->role == CIO_TLS_SERVER, server_hostname, &tls->ssl);
    if (rc == 0 && attach_fd(tls->ssl, fd) != 1) {
        take_errors(ctx->error, sizeof ctx->error, "creating the session");
        SSL_free(tls->ssl);
        rc = CIO_ETLS;
    }
    if (rc < 0) {
        cio__free(tls);
        return rc;
    }
    SSL_CTX_up_ref(ctx->ssl_ctx);
    *out = tls;
    return 0;
}

void cio_tls_free(cio_tls *tls)
{
    if (!tls)
        return;
    SSL_CTX *c = SSL_get_SSL_CTX(tls->ssl);
    SSL_free(tls->ssl);
    SSL_CTX_free(c); /* the reference taken in cio_tls_new */
    cio__free(tls);
}

/*
 * The code and message of a failed SSL call whose SSL_get_error() was
 * err (not WANT_*), shared with the TLS transport (tls_transport.c).
 * sys_errno is errno after the call (0 for memory BIOs).
 */
int cio__tls_failure(SSL *ssl, int err, int sys_errno, const char *what, char *msg,
                     size_t len)
{
    if (err == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        snprintf(msg, len, "%s: %s", what,
                 sys_errno ? strerror(sys_errno)
                           : "peer closed the connection without close_notify");
        return sys_errno && sys_errno != EAGAIN ? -sys_errno : -ECONNRESET;
    }
    /* OpenSSL 3 reports a peer that closed without close_notify as a
     * protocol error (1.1.1 said SSL_ERROR_SYSCALL with errno 0); it is
     * the -ECONNRESET tls.h promises either way. */
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    unsigned long e = ERR_peek_error();
    if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
        ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        snprintf(msg, len, "%s: peer closed the connection without close_notify", what);
        return -ECONNRESET;
    }
#endif
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s", what);
    take_errors(msg, len, prefix);
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
        size_t n = strlen(msg);
        snprintf(msg + n, len - n, " (%s)", X509_verify_cert_error_string(v));
    }
    return CIO_ETLS;
}

/*
 * Turns the outcome of an SSL call into "try again after waiting" (1) or
 * a final code (0 or negative), recording a message for failures.
 */
static int settle(cio_tls *tls, int ret, const char *what)
{
    int err = SSL_get_error(tls->ssl, ret);
    switch (err) {
    case SSL_ERROR_NONE:
        return 0;
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: {
        if (!cio__current())
            return CIO_ENOTASK;
        int rc = cio__fd_wait(tls->fd, err == SSL_ERROR_WANT_WRITE);
        return rc < 0 ? rc : 1;
    }
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        return cio__tls_failure(tls->ssl, err, err == SSL_ERROR_SYSCALL ? errno : 0, what,
                                tls->error, sizeof tls->error);
    }
}

int cio_tls_handshake(cio_tls *tls)
{
    if (!tls)
        return cio__bad_arg(NULL, __func__, "tls is NULL");
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    while (!tls->handshaken) {
        ERR_clear_error();
        int r = SSL_do_handshake(tls->ssl);
        if (r == 1) {
            tls->handshaken = 1;
            break;
        }
        rc = settle(tls, r, "TLS handshake");
        if (rc == 0 && SSL_get_error(tls->ssl, r) == SSL_ERROR_ZERO_RETURN)
            rc = -ECONNRESET;
        if (rc <= 0)
            return rc ? rc : -ECONNRESET;
    }
    return 0;
}

int cio_tls_read(cio_tls *tls, void *buf, size_t len)
{
    if (!tls || (!buf && len))
        return cio__bad_arg(NULL, __func__, "tls or buf is NULL");
    int rc = cio_tls_handshake(tls);
    if (rc)
        return rc;
    if (len > INT_MAX)
        len = INT_MAX;
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(tls->ssl, buf, (int)len);
        if (r > 0)
            return r;
        int err = SSL_get_error(tls->ssl, r);
        if (err == SSL_ERROR_ZERO_RETURN)
            return 0;
        rc = settle(tls, r, "TLS read");
        if (rc <= 0)
            return rc ? rc : -ECONNRESET;
        rc = cio__checkpoint(cio__current());
        if (rc)
            return rc;
    }
}

int cio_tls_write(cio_tls *tls, const void *buf, size_t len)
{
    if (!tls || (!buf && len))
        return cio__bad_arg(NULL, __func__, "tls or buf is NULL");
    int rc = cio_tls_handshake(tls);
    if (rc)
        return rc;
    size_t done = 0;
    while (done < len) {
        ERR_clear_error();
        size_t chunk = len - done < INT_MAX ? len - done : INT_MAX;
        int r = SSL_write(tls->ssl, (const char *)buf + done, (int)chunk);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        rc = settle(tls, r, "TLS write");
        if (rc <= 0)
            return rc ? rc : -EPIPE;
    }
    return 0;
}

int cio_tls_shutdown(cio_tls *tls)
{
    if (!tls)
        return cio__bad_arg(NULL, __func__, "tls is NULL");
    if (!tls->handshaken)
        return 0;
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(tls->ssl);
        if (r == 1)
            return 0;
        if (r == 0) {
            /* Our close_notify is out; wait for the peer's. */
            char sink[256];
            int n = cio_tls_read(tls, sink, sizeof sink);
            if (n == 0)
                continue; /* SSL_shutdown now sees the peer's notify */
            if (n < 0)
                return n;
            continue;     /* application data before the notify: drop it */
        }
        int rc = settle(tls, r, "TLS shutdown");
        if (rc <= 0)
            return rc;
    }
}

const char *cio_tls_alpn_selected(const cio_tls *tls)
{
    if (!tls)
        return NULL;
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(tls->ssl, &p, &len);
    if (!p || !len)
        return NULL;
    /* OpenSSL's copy is not NUL-terminated: keep one on the session. */
    char *name = ((cio_tls *)tls)->alpn;
    memcpy(name, p, len);
    name[len] = 0;
    return name;
}

const char *cio_tls_version(const cio_tls *tls)
{
    return tls && tls->handshaken ? SSL_get_version(tls->ssl) : NULL;
}

const char *cio_tls_error_message(const cio_tls *tls) { return tls ? tls->error : ""; }

/* ---- for streams (stream_tls.c) ------------------------------------------- */

int cio__tls_close_notify(cio_tls *tls)
{
    if (!tls->handshaken)
        return 0;
    /* One try, without waiting: the alert is a few bytes that fit in the
     * socket buffer unless the peer stopped reading long ago, and then it
     * does not matter. */
    ERR_clear_error();
    int r = SSL_shutdown(tls->ssl);
    ERR_clear_error();
    return r >= 0 ? 0 : -EAGAIN;
}

void cio__tls_context_set_error(cio_tls_context *ctx, const char *msg)
{
    snprintf(ctx->error, sizeof ctx->error, "%s", msg ? msg : "");
}

#else /* !CIO_HAVE_OPENSSL */

int cio_tls_available(void) { return 0; }
int cio_tls_context_new(cio_tls_role role, cio_tls_context **out)
{
    if (out)
        *out = NULL;
    return -ENOTSUP;
}
void cio_tls_context_free(cio_tls_context *ctx) { (void)ctx; }
int cio_tls_context_load_cert(cio_tls_context *c, const char *a, const char *b) { return -ENOTSUP; }
int cio_tls_context_load_ca(cio_tls_context *c, const char *a, const char *b) { return -ENOTSUP; }
int cio_tls_context_set_verify(cio_tls_context *c, int v) { return -ENOTSUP; }
int cio_tls_context_set_alpn(cio_tls_context *c, const char *const *p, size_t n) { return -ENOTSUP; }
int cio_tls_context_set_check_hostname(cio_tls_context *c, int v) { return -ENOTSUP; }
int cio__tls_check_name(cio_tls_context *c, const char *h, const char *fn) { return 0; }
int cio__tls_context_is_server(const cio_tls_context *c) { return 0; }
const char *cio_tls_context_error_message(const cio_tls_context *c) { return "cio was built without OpenSSL"; }
int cio_tls_new(cio_tls_context *c, int fd, const char *h, cio_tls **out)
{
    if (out)
        *out = NULL;
    return -ENOTSUP;
}
int cio_tls_handshake(cio_tls *t) { return -ENOTSUP; }
int cio_tls_read(cio_tls *t, void *b, size_t n) { return -ENOTSUP; }
int cio_tls_write(cio_tls *t, const void *b, size_t n) { return -ENOTSUP; }
int cio_tls_shutdown(cio_tls *t) { return -ENOTSUP; }
const char *cio_tls_alpn_selected(const cio_tls *t) { return NULL; }
const char *cio_tls_version(const cio_tls *t) { return NULL; }
const char *cio_tls_error_message(const cio_tls *t) { return "cio was built without OpenSSL"; }
void cio_tls_free(cio_tls *t) { (void)t; }
int cio__tls_close_notify(cio_tls *t) { return -ENOTSUP; }
void cio__tls_context_set_error(cio_tls_context *c, const char *m) { (void)c; }

#endif
