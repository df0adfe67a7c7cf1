/*
 * Concurrent downloads over HTTP: several pages at once, failures reported.
 *
 * The asyncio program it mirrors (aiohttp):
 *
 *     async def fetch(session, url):
 *         async with session.get(url) as resp:
 *             body = await resp.read()
 *             return resp.status, len(body)
 *
 *     async def main():
 *         timeout = aiohttp.ClientTimeout(total=1)
 *         async with aiohttp.ClientSession(timeout=timeout) as session:
 *             results = await asyncio.gather(
 *                 *(fetch(session, u) for u in urls), return_exceptions=True)
 *         for url, r in zip(urls, results):
 *             if isinstance(r, Exception):
 *                 print("FAILED", url, repr(r))
 *             else:
 *                 print("ok    ", url, *r)
 *
 * The pages come from a small HTTP/1.1 server in the same program (cio
 * streams, keep-alive), so the example runs by itself: /page/N answers N
 * KiB, /slow answers after 1.5 s, anything else is a 404.  Two more URLs
 * fail before any byte is sent: a port where nothing listens, and a URL
 * that is not one.
 *
 * What to observe: all requests run at once (the total time is about the
 * 1 s timeout of /slow, not the sum); each failure comes back as a code
 * with its reason (timed out, connection refused, invalid argument) while
 * the others succeed; a 404 is not a failure of the call, it is the
 * page's status; the six pages share the client's keep-alive pool (the
 * server counts its connections, at most 4 per host as configured).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

/* ---- the server -------------------------------------------------------------- */

static int connections;

static int serve(cio_stream *s, void *arg)
{
    (void)arg;
    connections++;
    char req[2048];
    size_t partial;
    for (;;) { /* keep-alive: one request after the other */
        int n = cio_stream_readuntil(s, "\r\n\r\n", req, sizeof req - 1, &partial);
        if (n < 0)
            return 0; /* the client closed the connection */
        req[n] = 0;
        char path[256] = "";
        sscanf(req, "GET %255s", path);
        int kib = 0, status = 200;
        if (!strcmp(path, "/slow"))
            cio_sleep(1.5); /* longer than the client waits */
        else if (sscanf(path, "/page/%d", &kib) != 1 || kib < 0 || kib > 1024)
            status = 404;
        size_t len = status == 200 ? (size_t)kib * 1024 : 9;
        char head[128];
        int hn = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n\r\n",
                          status, status == 200 ? "OK" : "Not Found", len);
        char *body = malloc(len + 1);
        memset(body, 'x', len);
        if (status != 200)
            memcpy(body, "not found", 9);
        struct iovec iov[2] = {{head, (size_t)hn}, {body, len}};
        int rc = cio_stream_writelines(s, iov, 2);
        free(body);
        if (rc < 0 || cio_stream_drain(s) < 0)
            return 0;
    }
}

/* ---- the client ------------------------------------------------------------------ */

struct fetch {
    cio_http_client *client; /* shared by all fetches */
    char url[128];           /* what to get */
    int status;              /* HTTP status of the answer */
    size_t bytes;            /* length of its body */
};

static int fetch(void *arg, void **result)
{
    (void)result;
    struct fetch *f = arg;
    cio_http_reply *r;
    int rc = cio_http_get(f->client, f->url, &r);
    if (rc < 0)
        return rc; /* the task fails with the code: gather collects it */
    f->status = cio_http_reply_status(r);
    cio_http_reply_body(r, &f->bytes);
    cio_http_reply_free(r);
    return 0;
}

static int amain(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_server *srv;
    int rc = cio_start_server(serve, NULL, "127.0.0.1", 0, NULL, &srv);
    if (rc < 0)
        return rc;
    int port = cio_server_port(srv);

    cio_http_client_options opts;
    cio_http_client_options_init(&opts);
    opts.total_timeout = 1.0; /* aiohttp.ClientTimeout(total=1) */
    opts.max_per_host = 4;
    cio_http_client *client;
    if ((rc = cio_http_client_new(&opts, &client)) < 0)
        return rc;

    const char *paths[] = {"/page/1", "/page/64", "/page/512", "/page/4", "/page/16",
                           "/page/2", "/slow",    "/missing"};
    enum { NPATHS = sizeof paths / sizeof *paths, N = NPATHS + 2 };
    struct fetch f[N];
    for (int i = 0; i < NPATHS; i++)
        snprintf(f[i].url, sizeof f[i].url, "http://127.0.0.1:%d%s", port, paths[i]);
    snprintf(f[NPATHS].url, sizeof f[0].url, "http://127.0.0.1:1/nothing-listens");
    snprintf(f[NPATHS + 1].url, sizeof f[0].url, "http://bad host/");

    /* asyncio.gather(*(fetch(u) for u in urls), return_exceptions=True) */
    cio_task *tasks[N];
    cio_future *futs[N];
    int status[N];
    double t0 = cio_loop_time(cio_get_running_loop());
    for (int i = 0; i < N; i++) {
        f[i].client = client;
        cio_create_task(fetch, &f[i], NULL, &tasks[i]);
        futs[i] = cio_task_future(tasks[i]);
    }
    cio_gather(futs, N, CIO_GATHER_RETURN_ERRORS, NULL, status);
    double dt = cio_loop_time(cio_get_running_loop()) - t0;

    int failed = 0;
    for (int i = 0; i < N; i++) {
        if (status[i] < 0) {
            printf("FAILED %-40s %s\n", f[i].url, cio_strerror(status[i]));
            failed++;
        } else {
            printf("ok     %-40s %d, %zu bytes\n", f[i].url, f[i].status, f[i].bytes);
        }
        cio_task_unref(tasks[i]);
    }
    printf("%d URLs in %.2f s: %d failed; the server saw %d connections\n", N, dt, failed,
           connections);

    cio_http_client_close(client);
    cio_http_client_free(client);
    cio_server_close(srv);
    cio_server_close_clients(srv);
    cio_server_wait_closed(srv);
    cio_server_free(srv);
    /* The example checks itself: exactly the three bad URLs failed. */
    return failed == 3 && status[NPATHS - 2] == -ETIMEDOUT && connections <= 4 ? 0 : -EIO;
}

int main(void)
{
    return cio_run(amain, NULL, NULL) == 0 ? 0 : 1;
}
