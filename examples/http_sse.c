/*
 * HTTP Server-Sent Events: events pushed to a client as they happen.
 *
 * The seeds' streaming use case: a browser's EventSource, or any client.
 *
 * The asyncio program it mirrors (aiohttp.web with aiohttp-sse's idea):
 *
 *     async def ticks(request):
 *         resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
 *         await resp.prepare(request)
 *         for i in range(5):
 *             await resp.write(f"event: tick\ndata: {i}\n\n".encode())
 *             await asyncio.sleep(0.05)
 *         return resp
 *
 * Run it with a port to serve (`http_sse 8080`, then
 * `curl -N localhost:8080/ticks`); without arguments it serves on a free
 * port, reads the stream itself and shuts down.
 *
 * What to observe: the events arrive one by one as the handler sends
 * them (chunked transfer coding, no Content-Length), with the pauses in
 * between; the connection stays usable for the next request.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

static int ticks(cio_http_request *req, void *ud)
{
    (void)ud;
    int rc = cio_http_sse_start(req);
    for (int i = 0; rc == 0 && i < 5; i++) {
        char data[32];
        snprintf(data, sizeof data, "%d", i);
        rc = cio_http_sse_send(req, "tick", NULL, data);
        if (rc == 0)
            rc = cio_sleep(0.05);
    }
    return rc < 0 ? rc : cio_http_response_end(req);
}

static int read_stream(int port)
{
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", port, NULL, &s);
    if (rc < 0)
        return rc;
    const char req[] = "GET /ticks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    cio_stream_write(s, req, sizeof req - 1);
    char buf[512];
    int n, events = 0;
    double t0 = cio_loop_time(NULL);
    while ((n = cio_stream_read(s, buf, sizeof buf - 1)) > 0) {
        buf[n] = 0;
        for (char *p = buf; (p = strstr(p, "data: ")) != NULL; p++) {
            printf("%.2f s: event %c\n", cio_loop_time(NULL) - t0, p[6]);
            events++;
        }
    }
    cio_stream_unref(s);
    return events == 5 ? 0 : -EIO;
}

static int amain(void *arg, void **result)
{
    (void)result;
    int serve_port = (int)(intptr_t)arg;
    cio_http_server *srv;
    int rc = cio_http_server_new(NULL, &srv);
    if (rc < 0)
        return rc;
    cio_http_server_route(srv, "GET", "/ticks", ticks, NULL, 0);
    if ((rc = cio_http_server_listen(srv, "127.0.0.1", serve_port)) < 0) {
        cio_http_server_free(srv);
        return rc;
    }
    if (serve_port) {
        printf("serving on http://127.0.0.1:%d/ticks\n", serve_port);
        rc = cio_http_server_serve_forever(srv);
    } else {
        rc = read_stream(cio_http_server_port(srv));
        cio_http_server_shutdown(srv, 5);
    }
    cio_http_server_free(srv);
    return rc;
}

int main(int argc, char **argv)
{
    int p = argc > 1 ? atoi(argv[1]) : 0;
    return cio_run(amain, (void *)(intptr_t)p, NULL) == 0 ? 0 : 1;
}
