/*
 * cio_http.c - cio's side of bench-http (bench/http.py): an HTTP server
 * with the two routes every peer serves, run by bench/http/drive.py.
 *
 *   bench_http PORT
 *
 *   GET /      "Hello, World!" as text/plain
 *   GET /json  {"message":"Hello, World!"}, the object built and
 *              serialised per request with cJSON as TechEmpower's JSON test
 *              asks (a fixed string when cio was built without cJSON)
 *
 * Both handlers are inline (CIO_HTTP_INLINE): they never suspend, so they
 * run from the read callback without a task - the cheap path the issue
 * asks for.  The access log is off and timeouts keep their defaults.  The
 * backend is the one CIO_BACKEND names (drive.py sets it).  Serves until
 * killed.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>
#ifdef CIO_HAVE_CJSON
#include <cjson/cJSON.h>
#endif

static int hello(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

static int json(cio_http_request *req, void *ud)
{
    (void)ud;
#ifdef CIO_HAVE_CJSON
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "message", "Hello, World!")) {
        cJSON_Delete(o);
        return cio_http_respond_text(req, 500, "out of memory\n");
    }
    int rc = cio_http_respond_json_value(req, 200, o);
    cJSON_Delete(o);
    return rc;
#else
    return cio_http_respond_json(req, 200, "{\"message\":\"Hello, World!\"}");
#endif
}

static int amain(void *arg, void **result)
{
    (void)result;
    cio_http_server_options o;
    cio_http_server_options_init(&o);
    o.server_name = "cio";
    cio_http_server *srv;
    int rc = cio_http_server_new(&o, &srv);
    if (rc < 0)
        return rc;
    cio_http_server_route(srv, "GET", "/", hello, NULL, CIO_HTTP_INLINE);
    cio_http_server_route(srv, "GET", "/json", json, NULL, CIO_HTTP_INLINE);
    rc = cio_http_server_listen(srv, "127.0.0.1", *(int *)arg);
    if (rc == 0)
        rc = cio_http_server_serve_forever(srv);
    cio_http_server_free(srv);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_http PORT\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int rc = cio_run(amain, &port, NULL);
    if (rc < 0)
        fprintf(stderr, "bench_http: %s\n", cio_strerror(rc));
    return rc < 0 ? 1 : 0;
}
