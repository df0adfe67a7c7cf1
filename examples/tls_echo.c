/*
 * TLS echo: a TLS server and its clients in one program, on loopback.
 *
 * The certificate is a self-signed one made at start by the openssl
 * command (the example exits 77, skipped, without it).
 *
 * The asyncio program it mirrors:
 *
 *     async def handle(reader, writer):
 *         async for line in reader:
 *             writer.write(line.upper())
 *             await writer.drain()
 *         writer.close()
 *
 *     async def client(port, name, ctx):
 *         reader, writer = await asyncio.open_connection(
 *             "127.0.0.1", port, ssl=ctx, server_hostname="localhost")
 *         print(name, writer.get_extra_info("ssl_object").version())
 *         for i in range(3):
 *             writer.write(f"{name} says hello {i}\n".encode())
 *             print(await reader.readline())
 *         writer.close()
 *         await writer.wait_closed()
 *
 *     async def main():
 *         sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
 *         sctx.load_cert_chain("cert.pem", "key.pem")
 *         cctx = ssl.create_default_context(cafile="cert.pem")
 *         server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=sctx)
 *         port = server.sockets[0].getsockname()[1]
 *         await asyncio.gather(*(client(port, n, cctx) for n in ("ann", "bob")))
 *         # a client that does not trust the certificate is refused
 *         try:
 *             await asyncio.open_connection("127.0.0.1", port,
 *                                           ssl=ssl.create_default_context())
 *         except ssl.SSLCertVerificationError as e:
 *             print("refused:", e)
 *         server.close()
 *         await server.wait_closed()
 *
 *     asyncio.run(main())
 *
 * What to observe: the same stream calls as the plain echo example, with
 * one option (the TLS context) more; the negotiated version printed per
 * client; the server reading lines with CIO_FOR over the stream's lines
 * iterator; a client without the certificate in its trust store failing
 * with CIO_ETLS and OpenSSL's reason, while the server goes on serving.
 * Needs the openssl command to make the certificate (exit 77 without it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cio.h"

static char dir[64] = "/tmp/cio-tls-echo-XXXXXX", cert[128], key[128];

static int handle(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[256];
    cio_aiter lines;
    void *line;
    int rc;
    cio_stream_lines_aiter(s, buf, sizeof buf, &lines);
    CIO_FOR(&lines, line, rc) {
        size_t n = cio_stream_line_length(s);
        for (size_t i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] = (char)(buf[i] - 32);
        if ((rc = cio_stream_write(s, buf, n)) < 0 || (rc = cio_stream_drain(s)) < 0)
            return rc;
    }
    return rc == CIO_ITER_END ? 0 : rc;
}

struct client {
    const char *name;
    int port;
    cio_tls_context *ctx;
};

static int client(void *arg, void **result)
{
    (void)result;
    struct client *c = arg;
    cio_stream_options o = {.tls = c->ctx, .server_hostname = "localhost"};
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", c->port, &o, &s);
    if (rc < 0)
        return rc;
    printf("%s connected with %s\n", c->name, cio_stream_tls_version(s));
    for (int i = 0; i < 3 && rc >= 0; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "%s says hello %d\n", c->name, i);
        if ((rc = cio_stream_write(s, line, (size_t)n)) < 0)
            break;
        if ((rc = cio_stream_readline(s, line, sizeof line)) > 0)
            printf("  %s got: %.*s", c->name, rc, line);
    }
    cio_stream_close(s);
    cio_stream_wait_closed(s);
    cio_stream_unref(s);
    return rc < 0 ? rc : 0;
}

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_tls_context *sctx, *cctx, *stranger;
    cio_tls_context_new(CIO_TLS_SERVER, &sctx);
    cio_tls_context_new(CIO_TLS_CLIENT, &cctx);
    cio_tls_context_new(CIO_TLS_CLIENT, &stranger);
    int rc = cio_tls_context_load_cert(sctx, cert, key);
    if (rc == 0)
        rc = cio_tls_context_load_ca(cctx, cert, NULL);
    cio_server *srv = NULL;
    cio_server_options so = {.stream.tls = sctx};
    if (rc == 0)
        rc = cio_start_server(handle, NULL, "127.0.0.1", 0, &so, &srv);
    if (rc == 0) {
        int port = cio_server_port(srv);
        struct client c[2] = {{"ann", port, cctx}, {"bob", port, cctx}};
        cio_task *t[2];
        cio_create_task(client, &c[0], "ann", &t[0]);
        cio_create_task(client, &c[1], "bob", &t[1]);
        for (int i = 0; i < 2; i++) {
            int crc = cio_task_await(t[i], NULL);
            if (crc < 0)
                rc = crc;
            cio_task_unref(t[i]);
        }
        cio_stream_options o = {.tls = stranger, .server_hostname = "localhost"};
        cio_stream *s = NULL;
        int r = cio_open_connection("127.0.0.1", port, &o, &s);
        printf("untrusting client: %s: %s\n", cio_strerror(r),
               cio_tls_context_error_message(stranger));
        cio_stream_unref(s);
        if (r != CIO_ETLS)
            rc = -1;
        cio_server_close(srv);
        cio_server_wait_closed(srv);
        cio_server_free(srv);
    } else {
        fprintf(stderr, "setup failed: %s %s\n", cio_strerror(rc),
                cio_tls_context_error_message(sctx));
    }
    cio_tls_context_free(sctx);
    cio_tls_context_free(cctx);
    cio_tls_context_free(stranger);
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
        fprintf(stderr, "tls_echo: %s\n", cio_strerror(rc));
    return rc < 0 ? 1 : 0;
}
