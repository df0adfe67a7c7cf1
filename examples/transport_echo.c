/*
 * Transport echo: an echo server and client written as protocols.
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
 *         def connection_made(self, transport):
 *             transport.write(b"hello, transports\n")
 *             transport.write_eof()
 *         def data_received(self, data):
 *             print("client got:", data)
 *         def connection_lost(self, exc):
 *             self.done.set_result(exc)
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         server = await loop.create_server(Echo, "127.0.0.1", 0)
 *         port = server.sockets[0].getsockname()[1]
 *         done = loop.create_future()
 *         await loop.create_connection(lambda: Client(done), "127.0.0.1", port)
 *         print("connection lost:", await done)
 *         server.close()
 *         await server.wait_closed()
 *
 *     asyncio.run(main())
 *
 * What to observe: no task runs per connection: the transports call the
 * protocols' callbacks from the loop.  The client half-closes with
 * write_eof; the server's eof_received is left NULL, so its transport
 * closes after sending the echo; the client sees the echo, then EOF, then
 * connection_lost with 0 (a clean end), and wait_closed returns once the
 * server's transport is gone.
 */
#include <ctype.h>
#include <stdio.h>

#include <cio.h>

/* ---- the server's protocol ---- */

static void echo_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)ud;
    char up[256];
    const char *p = data;
    while (len) {
        size_t n = len < sizeof up ? len : sizeof up;
        for (size_t i = 0; i < n; i++)
            up[i] = (char)toupper((unsigned char)p[i]);
        cio_transport_write(t, up, n);
        p += n;
        len -= n;
    }
}

static const cio_protocol echo_protocol = {.data_received = echo_data};

static int echo_factory(void *arg, const cio_protocol **proto, void **ud)
{
    (void)arg;
    *proto = &echo_protocol;
    *ud = NULL;
    return 0;
}

/* ---- the client's protocol ---- */

static void client_made(cio_transport *t, void *ud)
{
    (void)ud;
    const char msg[] = "hello, transports\n";
    cio_transport_write(t, msg, sizeof msg - 1);
    cio_transport_write_eof(t);
}

static void client_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)t;
    (void)ud;
    printf("client got: %.*s", (int)len, (const char *)data);
}

static void client_lost(cio_transport *t, int error, void *ud)
{
    (void)t;
    cio_future_set_result(ud, (void *)(intptr_t)error);
}

static const cio_protocol client_protocol = {
    .connection_made = client_made,
    .data_received = client_data,
    .connection_lost = client_lost,
};

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *server;
    int rc = cio_create_server(echo_factory, NULL, "127.0.0.1", 0, NULL, &server);
    if (rc < 0) {
        fprintf(stderr, "create_server: %s\n", cio_strerror(rc));
        return rc;
    }
    cio_future *done;
    cio_future_new(NULL, &done);
    cio_transport *t;
    rc = cio_create_connection(&client_protocol, done, "127.0.0.1", cio_server_port(server),
                               NULL, &t);
    if (rc == 0) {
        void *lost;
        cio_await(done, &lost);
        printf("connection lost: %d (%s)\n", (int)(intptr_t)lost,
               (intptr_t)lost ? cio_strerror((int)(intptr_t)lost) : "clean");
        cio_transport_unref(t);
    } else {
        fprintf(stderr, "create_connection: %s\n", cio_strerror(rc));
    }
    cio_future_unref(done);
    cio_server_close(server);
    cio_server_wait_closed(server);
    cio_server_free(server);
    return rc;
}

int main(void)
{
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
