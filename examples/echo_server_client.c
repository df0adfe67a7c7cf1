/*
 * Echo server and client: a TCP server and its clients, on loopback.
 *
 * The asyncio program it mirrors:
 *
 *     async def handle(reader, writer):
 *         while line := await reader.readline():
 *             writer.write(line.upper())
 *             await writer.drain()
 *         writer.close()
 *
 *     async def client(port, name):
 *         reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *         for i in range(3):
 *             writer.write(f"{name} says hello {i}\n".encode())
 *             print(await reader.readline())
 *         writer.close()
 *         await writer.wait_closed()
 *
 *     async def main():
 *         server = await asyncio.start_server(handle, "127.0.0.1", 0)
 *         port = server.sockets[0].getsockname()[1]
 *         await asyncio.gather(*(client(port, n) for n in ("ann", "bob", "cy")))
 *         server.close()
 *         await server.wait_closed()
 *
 *     asyncio.run(main())
 *
 * What to observe: the server runs one handler task per connection; the
 * three clients' lines interleave because they run concurrently; the
 * stream is closed for the handler when it returns; wait_closed returns
 * once every handler has finished, and the program ends by itself.
 */
#include <stdio.h>
#include <string.h>
#include <ctype.h>

#include <cio.h>

static int handle(cio_stream *s, void *arg)
{
    (void)arg;
    char line[256];
    int n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0) {
        for (int i = 0; i < n; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        cio_stream_write(s, line, (size_t)n);
        if (cio_stream_drain(s) < 0)
            break;
    }
    return 0; /* the server closes the stream */
}

struct client_arg {
    int port;
    const char *name;
};

static int client(void *arg, void **result)
{
    (void)result;
    struct client_arg *c = arg;
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", c->port, NULL, &s);
    if (rc < 0) {
        printf("%s: cannot connect: %s\n", c->name, cio_strerror(rc));
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        char msg[64], line[64];
        int n = snprintf(msg, sizeof msg, "%s says hello %d\n", c->name, i);
        cio_stream_write(s, msg, (size_t)n);
        n = cio_stream_readline(s, line, sizeof line);
        if (n <= 0)
            break;
        printf("%s got back: %.*s", c->name, n, line);
    }
    cio_stream_close(s);
    cio_stream_wait_closed(s);
    cio_stream_unref(s);
    return 0;
}

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *srv;
    int rc = cio_start_server(handle, NULL, "127.0.0.1", 0, NULL, &srv);
    if (rc < 0) {
        printf("start_server: %s\n", cio_strerror(rc));
        return rc;
    }
    printf("serving on 127.0.0.1:%d\n", cio_server_port(srv));
    struct client_arg cs[3] = {{cio_server_port(srv), "ann"},
                               {cio_server_port(srv), "bob"},
                               {cio_server_port(srv), "cy"}};
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        cio_create_task(client, &cs[i], cs[i].name, &ts[i]);
    for (int i = 0; i < 3; i++) {
        cio_task_await(ts[i], NULL);
        cio_task_unref(ts[i]);
    }
    cio_server_close(srv);
    cio_server_wait_closed(srv);
    printf("server closed; %zu connections left\n", cio_server_num_clients(srv));
    cio_server_free(srv);
    return 0;
}

int main(void)
{
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
