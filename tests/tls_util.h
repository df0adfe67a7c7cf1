/*
 * tls_util.h - what the TLS stream tests share: a self-signed certificate
 * for localhost / 127.0.0.1 made with the openssl command in a temporary
 * directory (the test skips without it), client and server contexts that
 * use it, and a cio echo server over TLS.
 */
#ifndef CIO_TLS_UTIL_H
#define CIO_TLS_UTIL_H

#include "net_peer.h"

static char dir[256], cert[300], key[300];

/* Makes a self-signed certificate for cn with the subjectAltName san
 * (e.g. "DNS:localhost,IP:127.0.0.1") into cert_path and key_path; 0 on
 * success. */
static inline int make_cert_for(const char *cn, const char *san, const char *cert_path,
                                const char *key_path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s "
             "-addext subjectAltName=%s -keyout %s -out %s >/dev/null 2>&1", cn, san,
             key_path, cert_path);
    return system(cmd) == 0 ? 0 : -1;
}

static inline void make_cert(void)
{
    snprintf(dir, sizeof dir, "/tmp/cio-tls-XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary directory");
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    if (make_cert_for("localhost", "DNS:localhost,IP:127.0.0.1", cert, key) != 0) {
        rmdir(dir);
        TEST_SKIP("the openssl command could not make a certificate");
    }
}

static inline void remove_cert(void)
{
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static inline cio_tls_context *server_ctx(void)
{
    cio_tls_context *ctx = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_SERVER, &ctx), 0);
    CHECK_RC(cio_tls_context_load_cert(ctx, cert, key), 0);
    return ctx;
}

static inline cio_tls_context *client_ctx(int trust)
{
    cio_tls_context *ctx = NULL;
    CHECK_RC(cio_tls_context_new(CIO_TLS_CLIENT, &ctx), 0);
    if (trust)
        CHECK_RC(cio_tls_context_load_ca(ctx, cert, NULL), 0);
    return ctx;
}

/* ---- a cio echo server ---------------------------------------------------------- */

static int handled; /* connections that reached a handler */

/* Echoes lines until the client's end of stream, then returns (the
 * server closes the stream: close_notify). */
static inline int echo_handler(cio_stream *s, void *arg)
{
    (void)arg;
    handled++;
    static char line[70000];
    for (;;) {
        int n = cio_stream_readline(s, line, sizeof line);
        if (n <= 0)
            return n;
        int rc = cio_stream_write(s, line, (size_t)n);
        if (rc == 0)
            rc = cio_stream_drain(s);
        if (rc < 0)
            return rc;
    }
}

static inline cio_server *start_echo(cio_tls_context *sctx, cio_client_connected_fn *fn)
{
    cio_server_options so = {0};
    so.stream.tls = sctx;
    cio_server *srv = NULL;
    handled = 0;
    CHECK_RC(cio_start_server(fn ? fn : echo_handler, NULL, "127.0.0.1", 0, &so, &srv), 0);
    return srv;
}

static inline void stop_server(cio_server *srv)
{
    cio_server_close(srv);
    CHECK_RC(cio_server_wait_closed(srv), 0);
    cio_server_free(srv);
}

/* ---- echo, both sides cio -------------------------------------------------------- */


#endif
