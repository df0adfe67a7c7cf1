/*
 * Concurrent downloads: several fetches from a local server over raw streams.
 *
 * The asyncio program it mirrors:
 *
 *     async def serve(reader, writer):
 *         request = await reader.readuntil(b"\r\n\r\n")
 *         size = int(request.split()[1].strip(b"/"))
 *         writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
 *         for _ in range(size // 65536):
 *             writer.write(b"x" * 65536)
 *             await writer.drain()          # a slow client holds us back
 *         writer.close()
 *
 *     async def download(port, size):
 *         reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *         writer.write(b"GET /%d HTTP/1.0\r\n\r\n" % size)
 *         header = await reader.readuntil(b"\r\n\r\n")
 *         length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
 *         body = await reader.readexactly(length)
 *         return len(body)
 *
 *     async def main():
 *         server = await asyncio.start_server(serve, "127.0.0.1", 0)
 *         port = server.sockets[0].getsockname()[1]
 *         sizes = [1 << 20, 4 << 20, 256 << 10, 2 << 20, 8 << 20]
 *         t0 = time.monotonic()
 *         got = await asyncio.gather(*(download(port, s) for s in sizes))
 *         print(got, time.monotonic() - t0)
 *
 * What to observe: the five downloads progress at the same time (their
 * progress lines interleave); the server's memory per connection stays at
 * the write buffer's high watermark because it drains after each chunk;
 * readuntil parses the header and readexactly the body (a body cut short
 * would be CIO_EINCOMPLETE with the partial count).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

#define CHUNK 65536

static int serve(cio_stream *s, void *arg)
{
    (void)arg;
    char req[512];
    size_t partial;
    int n = cio_stream_readuntil(s, "\r\n\r\n", req, sizeof req - 1, &partial);
    if (n < 0)
        return n;
    req[n] = 0;
    long size = 0;
    if (sscanf(req, "GET /%ld", &size) != 1 || size < 0) {
        const char *bad = "HTTP/1.0 400 Bad Request\r\n\r\n";
        cio_stream_write(s, bad, strlen(bad));
        return 0;
    }
    char head[128];
    int hn = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %ld\r\n\r\n", size);
    cio_stream_write(s, head, (size_t)hn);
    static char chunk[CHUNK];
    memset(chunk, 'x', sizeof chunk);
    for (long sent = 0; sent < size; sent += CHUNK) {
        size_t k = size - sent < CHUNK ? (size_t)(size - sent) : CHUNK;
        int rc = cio_stream_write(s, chunk, k);
        if (rc == 0)
            rc = cio_stream_drain(s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct dl {
    int port;
    long size;
    long got;
};

static int download(void *arg, void **result)
{
    (void)result;
    struct dl *d = arg;
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", d->port, NULL, &s);
    if (rc < 0)
        return rc;
    char req[64], head[512];
    int n = snprintf(req, sizeof req, "GET /%ld HTTP/1.0\r\n\r\n", d->size);
    cio_stream_write(s, req, (size_t)n);
    size_t partial;
    n = cio_stream_readuntil(s, "\r\n\r\n", head, sizeof head - 1, &partial);
    if (n < 0) {
        cio_stream_unref(s);
        return n;
    }
    head[n] = 0;
    const char *cl = strstr(head, "Content-Length: ");
    long length = cl ? atol(cl + 16) : 0;
    char *body = malloc(CHUNK);
    long next_report = length / 4;
    while (d->got < length) {
        size_t want = length - d->got < CHUNK ? (size_t)(length - d->got) : CHUNK;
        rc = cio_stream_readexactly(s, body, want, &partial);
        if (rc < 0) {
            printf("download %ld: %s after %ld bytes\n", d->size, cio_strerror(rc),
                   d->got + (long)partial);
            break;
        }
        d->got += rc;
        if (d->got >= next_report && next_report) {
            printf("download of %7ld bytes: %3ld%%\n", d->size, d->got * 100 / length);
            next_report += length / 4;
        }
    }
    free(body);
    cio_stream_unref(s);
    return rc < 0 ? rc : 0;
}

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *srv;
    int rc = cio_start_server(serve, NULL, "127.0.0.1", 0, NULL, &srv);
    if (rc < 0)
        return rc;
    struct dl d[5] = {{0, 1 << 20, 0}, {0, 4 << 20, 0}, {0, 256 << 10, 0},
                      {0, 2 << 20, 0}, {0, 8 << 20, 0}};
    cio_task *ts[5];
    double t0 = cio_loop_time(cio_get_running_loop());
    for (int i = 0; i < 5; i++) {
        d[i].port = cio_server_port(srv);
        cio_create_task(download, &d[i], NULL, &ts[i]);
    }
    int failed = 0;
    for (int i = 0; i < 5; i++) {
        if (cio_task_await(ts[i], NULL) < 0 || d[i].got != d[i].size)
            failed++;
        cio_task_unref(ts[i]);
    }
    double dt = cio_loop_time(cio_get_running_loop()) - t0;
    long total = 0;
    for (int i = 0; i < 5; i++)
        total += d[i].got;
    printf("%d downloads, %ld bytes in %.3f s, %d failed\n", 5, total, dt, failed);
    cio_server_close(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    return failed ? -EIO : 0;
}

int main(void)
{
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
