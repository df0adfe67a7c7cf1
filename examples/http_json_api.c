/*
 * HTTP JSON API: a slow awaited route answering JSON to many clients.
 *
 * Scenario 12: a small web API started with one command.
 *
 * The asyncio program it mirrors (aiohttp.web):
 *
 *     from aiohttp import web
 *
 *     async def get_user(request):
 *         uid = request.match_info["id"]
 *         await asyncio.sleep(0.1)            # a slow database call
 *         return web.json_response({"id": uid, "name": f"user {uid}"})
 *
 *     async def create_user(request):
 *         body = await request.json()
 *         return web.json_response({"created": body["name"]}, status=201)
 *
 *     app = web.Application()
 *     app.add_routes([web.get("/users/{id}", get_user),
 *                     web.post("/users", create_user)])
 *     web.run_app(app, port=8080)
 *
 * Run it with a port to serve until interrupted (`http_json_api 8080`,
 * then `curl localhost:8080/users/7`); without arguments it serves on a
 * free port, sends itself 100 concurrent requests, and shuts down.
 *
 * What to observe: each request's handler runs as its own task and
 * awaits cio_sleep(0.1), so 100 concurrent requests take about 0.1 s in
 * all, not 10 s; the POST route parses its JSON body; the shutdown is
 * graceful (cio_http_server_shutdown waits for requests in flight).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio.h>

static int get_user(cio_http_request *req, void *ud)
{
    (void)ud;
    const char *id = cio_http_request_param(req, "id");
    int rc = cio_sleep(0.1); /* the slow database call */
    if (rc < 0)
        return rc;
    char json[128];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"name\":\"user %s\"}", id, id);
    return cio_http_respond_json(req, 200, json);
}

static int create_user(cio_http_request *req, void *ud)
{
    (void)ud;
    char name[64];
    int rc = cio_http_request_json_get(req, "name", name, sizeof name);
    if (rc == -ENOTSUP)
        return cio_http_respond_json(req, 501, "{\"error\":\"built without cJSON\"}");
    if (rc < 0)
        return cio_http_respond_json(req, 400, "{\"error\":\"need a JSON body with a name\"}");
    char json[128];
    snprintf(json, sizeof json, "{\"created\":\"%s\"}", name);
    return cio_http_respond_json(req, 201, json);
}

/* ---- the self-test client: raw HTTP over a stream ---- */

static int port;
static int ok_count;

static int fetch(void *arg, void **result)
{
    (void)result;
    int i = (int)(intptr_t)arg;
    cio_stream *s;
    int rc = cio_open_connection("127.0.0.1", port, NULL, &s);
    if (rc < 0)
        return rc;
    char req[128], resp[1024];
    int n = snprintf(req, sizeof req,
                     "GET /users/%d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", i);
    cio_stream_write(s, req, (size_t)n);
    size_t got = 0;
    while ((rc = cio_stream_read(s, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)rc;
    resp[got] = 0;
    cio_stream_close(s);
    cio_stream_unref(s);
    char want[64];
    snprintf(want, sizeof want, "{\"id\":\"%d\"", i);
    if (strstr(resp, "HTTP/1.1 200 OK") && strstr(resp, want))
        ok_count++;
    if (i == 0)
        printf("first response:\n%s\n\n", resp);
    return 0;
}

static int amain(void *arg, void **result)
{
    (void)result;
    int serve_port = (int)(intptr_t)arg;
    cio_http_server *srv;
    int rc = cio_http_server_new(NULL, &srv);
    if (rc < 0)
        return rc;
    cio_http_server_route(srv, "GET", "/users/{id}", get_user, NULL, 0);
    cio_http_server_route(srv, "POST", "/users", create_user, NULL, 0);
    rc = cio_http_server_listen(srv, "127.0.0.1", serve_port);
    if (rc < 0) {
        fprintf(stderr, "listen: %s\n", cio_strerror(rc));
        cio_http_server_free(srv);
        return rc;
    }
    port = cio_http_server_port(srv);
    if (serve_port) {
        printf("serving on http://127.0.0.1:%d/users/{id} (Ctrl-C to stop)\n", port);
        rc = cio_http_server_serve_forever(srv);
    } else {
        enum { N = 100 };
        cio_task *tasks[N];
        double t0 = cio_loop_time(NULL);
        for (int i = 0; i < N; i++)
            cio_create_task(fetch, (void *)(intptr_t)i, NULL, &tasks[i]);
        for (int i = 0; i < N; i++) {
            cio_task_await(tasks[i], NULL);
            cio_task_unref(tasks[i]);
        }
        printf("%d of %d concurrent requests answered in %.2f s\n", ok_count, N,
               cio_loop_time(NULL) - t0);
        rc = cio_http_server_shutdown(srv, 5);
        printf("graceful shutdown: %s\n", rc == 0 ? "done" : cio_strerror(rc));
        if (ok_count != N)
            rc = -EIO;
    }
    cio_http_server_free(srv);
    return rc;
}

int main(int argc, char **argv)
{
    int p = argc > 1 ? atoi(argv[1]) : 0;
    return cio_run(amain, (void *)(intptr_t)p, NULL) == 0 ? 0 : 1;
}
