/*
 * TLS transport echo: protocols over TLS, and a STARTTLS upgrade.
 *
 * The asyncio program it mirrors:
 *
 *     class Echo(asyncio.Protocol):
 *         def connection_made(self, transport):
 *             self.transport = transport
 *         def data_received(self, data):
 *             self.transport.write(data.upper())
 *
 *     class Client(asyncio.Protocol):
 *         def __init__(self, done):
 *             self.done = done
 *         def data_received(self, data):
 *             print("client got:", data)
 *         def connection_lost(self, exc):
 *             self.done.set_result(exc)
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=server_ctx)
 *         port = server.sockets[0].getsockname()[1]
 *         done = loop.create_future()
 *         tr, pr = await loop.create_connection(lambda: Client(done), "127.0.0.1",
 *                                               port, ssl=client_ctx,
 *                                               server_hostname="localhost")
 *         print(tr.get_extra_info("ssl_object").version(), tr.get_extra_info("cipher"))
 *         tr.write(b"hello over tls\n")
 *         await asyncio.sleep(0.1)
 *         tr.close()
 *         print("connection lost:", await done)
 *
 *         # STARTTLS: a plain connection upgraded in place
 *         plain = await loop.create_server(Echo, "127.0.0.1", 0)
 *         ...
 *         tls_tr = await loop.start_tls(tr, pr, client_ctx, server_hostname="localhost")
 *
 *     asyncio.run(main())
 *
 * What to observe: the protocols are the same as for plain transports;
 * only the options carry a TLS context.  connection_made comes after the
 * handshake, so the client writes at once; the version and cipher are
 * printed from the typed accessors; close sends close_notify, the server
 * answers with its own, and both ends see connection_lost(0).  Then a
 * plain connection between two transports made over a socketpair is
 * upgraded by cio_start_tls on both sides at once (each in its task),
 * and the same protocol goes on over TLS without a second
 * connection_made.  Needs the openssl command to make the certificate
 * (exit 77 without it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio.h"

static char dir[64] = "/tmp/cio-tls-transport-XXXXXX", cert[128], key[128];

/* ---- the server's protocol: upper-cases what it gets ---- */

static void echo_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)ud;
    char up[512];
    size_t n = len < sizeof up ? len : sizeof up;
    for (size_t i = 0; i < n; i++) {
        char c = ((const char *)data)[i];
        up[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
    cio_transport_write(t, up, n);
}

static const cio_protocol echo_proto = {.data_received = echo_data};

static int echo_factory(void *arg, const cio_protocol **proto, void **ud)
{
    (void)arg;
    *proto = &echo_proto;
    *ud = NULL;
    return 0;
}

/* ---- the client's protocol: prints, and notes the end ---- */

struct client {
    int got;                   /* bytes received */
    int lost;                  /* connection_lost ran */
    int error;                 /* with this code */
};

static void client_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)t;
    struct client *c = ud;
    printf("client got: %.*s", (int)len, (const char *)data);
    c->got += (int)len;
}

static void client_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct client *c = ud;
    c->lost = 1;
    c->error = err;
}

static const cio_protocol client_proto = {.data_received = client_data,
                                          .connection_lost = client_lost};

static void wait_for(const int *flag)
{
    for (int i = 0; i < 2000 && !*flag; i++)
        cio_sleep(0.005);
}

/* ---- STARTTLS: the server's side of the upgrade runs in its own task ---- */

struct upgrade {
    cio_transport *plain;      /* the transport to upgrade */
    cio_tls_context *ctx;      /* the server context */
    cio_transport *tls;        /* the result */
};

static int server_upgrade(void *arg, void **result)
{
    (void)result;
    struct upgrade *u = arg;
    return cio_start_tls(u->plain, u->ctx, 1, NULL, &u->tls);
}

static int starttls(cio_tls_context *sctx, cio_tls_context *cctx)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    struct client c = {0};
    cio_transport *ct = NULL, *st = NULL, *tls = NULL;
    int rc = cio_connect_accepted_socket(&client_proto, &c, sv[0], NULL, &ct);
    if (rc == 0)
        rc = cio_connect_accepted_socket(&echo_proto, NULL, sv[1], NULL, &st);
    if (rc < 0)
        return rc;
    cio_transport_write(ct, "plain first\n", 12);
    wait_for(&c.got);
    struct upgrade u = {.plain = st, .ctx = sctx};
    cio_task *task;
    cio_create_task(server_upgrade, &u, "server-upgrade", &task);
    rc = cio_start_tls(ct, cctx, 0, "localhost", &tls);
    int src = cio_task_await(task, NULL);
    cio_task_unref(task);
    if (rc == 0 && src == 0) {
        printf("upgraded: %s\n", cio_transport_tls_version(tls));
        c.got = 0;
        cio_transport_write(tls, "now over tls\n", 13);
        wait_for(&c.got);
        cio_transport_close(tls);
        wait_for(&c.lost);
        printf("upgraded connection lost: %s\n", c.error ? cio_strerror(c.error) : "clean");
    } else {
        printf("start_tls failed: %s\n", cio_strerror(rc ? rc : src));
    }
    cio_transport_unref(tls);
    cio_transport_unref(u.tls);
    cio_transport_unref(ct);
    cio_transport_unref(st);
    return rc ? rc : src;
}

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx, *cctx;
    cio_tls_context_new(CIO_TLS_SERVER, &sctx);
    cio_tls_context_new(CIO_TLS_CLIENT, &cctx);
    int rc = cio_tls_context_load_cert(sctx, cert, key);
    if (rc == 0)
        rc = cio_tls_context_load_ca(cctx, cert, NULL);
    cio_server *srv = NULL;
    cio_transport_options so = {.tls = sctx};
    if (rc == 0)
        rc = cio_create_server(echo_factory, NULL, "127.0.0.1", 0, &so, &srv);
    if (rc == 0) {
        struct client c = {0};
        cio_transport *t;
        cio_transport_options o = {.tls = cctx, .server_hostname = "localhost"};
        rc = cio_create_connection(&client_proto, &c, "127.0.0.1", cio_server_port(srv), &o, &t);
        if (rc == 0) {
            printf("%s, %s, server is %s\n", cio_transport_tls_version(t),
                   cio_transport_tls_cipher(t), cio_transport_tls_peer_subject(t));
            cio_transport_write(t, "hello over tls\n", 15);
            wait_for(&c.got);
            cio_transport_close(t);
            wait_for(&c.lost);
            printf("connection lost: %s\n", c.error ? cio_strerror(c.error) : "clean");
            cio_transport_unref(t);
        } else {
            printf("connect failed: %s: %s\n", cio_strerror(rc),
                   cio_tls_context_error_message(cctx));
        }
        cio_server_close(srv);
        cio_server_wait_closed(srv);
        cio_server_free(srv);
    }
    if (rc == 0)
        rc = starttls(sctx, cctx);
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    return rc;
}

int main(void)
{
    if (!cio_tls_available()) {
        printf("skipped: cio was built without OpenSSL\n");
        return 77;
    }
    if (!mkdtemp(dir))
        return 1;
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out %s "
             ">/dev/null 2>&1", key, cert);
    if (system(cmd) != 0) {
        rmdir(dir);
        printf("skipped: the openssl command is needed to make a certificate\n");
        return 77;
    }
    int rc = cio_run(amain, NULL, NULL);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    if (rc < 0)
        fprintf(stderr, "tls_transport_echo: %s\n", cio_strerror(rc));
    return rc < 0 ? 1 : 0;
}
