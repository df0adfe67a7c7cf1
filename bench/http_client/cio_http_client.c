/*
 * cio_http_client.c - the HTTP client benchmark: N GETs with C in flight
 * (C tasks sharing one client, each taking the next request until N are
 * done) against one URL, reporting requests per second and the client's
 * own CPU per request (getrusage of this process: user + sys over the
 * measured run, divided by requests).
 *
 *   bench_http_client [URL [N [C]]]      (defaults: N 10000, C 100; URL "":
 *                                         start a server, as without one)
 *
 * Without a URL it starts nginx (tests/http_servers.h: one worker, a
 * 612-byte file as Debian's welcome page is) or, if nginx is absent,
 * `python3 -m http.server`, and says which.  Prints one JSON line:
 * {"bench": "http_client_get", "server": ..., "requests": N,
 *  "concurrency": C, "rps": ..., "cpu_us_per_req": ..., "errors": ...}
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "../../tests/http_servers.h"
#include "cio.h"

static const char *target;
static long total, next_req, errors;
static cio_http_client *client;

static int worker(void *arg, void **result)
{
    (void)arg, (void)result;
    while (next_req < total) {
        next_req++;
        cio_http_reply *r;
        int rc = cio_http_get(client, target, &r);
        if (rc < 0 || cio_http_reply_status(r) != 200)
            errors++;
        if (rc == 0)
            cio_http_reply_free(r);
    }
    return 0;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long conc;
static double rps, cpu_us;

static int amain(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client_options o;
    cio_http_client_options_init(&o);
    o.max_per_host = (int)conc;
    int rc = cio_http_client_new(&o, &client);
    if (rc < 0)
        return rc;
    /* warm-up: open the connections */
    long saved = total;
    total = conc;
    cio_task **ts = calloc((size_t)conc, sizeof *ts);
    cio_future **fs = calloc((size_t)conc, sizeof *fs);
    for (long i = 0; i < conc; i++) {
        cio_create_task(worker, NULL, NULL, &ts[i]);
        fs[i] = cio_task_future(ts[i]);
    }
    cio_gather(fs, (size_t)conc, CIO_GATHER_RETURN_ERRORS, NULL, NULL);
    for (long i = 0; i < conc; i++)
        cio_task_unref(ts[i]);
    total = saved;
    next_req = 0;
    errors = 0;
    double w0 = wall_now(), c0 = cpu_now();
    for (long i = 0; i < conc; i++) {
        cio_create_task(worker, NULL, NULL, &ts[i]);
        fs[i] = cio_task_future(ts[i]);
    }
    cio_gather(fs, (size_t)conc, CIO_GATHER_RETURN_ERRORS, NULL, NULL);
    double w1 = wall_now(), c1 = cpu_now();
    for (long i = 0; i < conc; i++)
        cio_task_unref(ts[i]);
    free(ts);
    free(fs);
    rps = (double)total / (w1 - w0);
    cpu_us = (c1 - c0) * 1e6 / (double)total;
    cio_http_client_close(client);
    cio_http_client_free(client);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    total = argc > 2 ? atol(argv[2]) : 10000;
    conc = argc > 3 ? atol(argv[3]) : 100;
    http_server srv = {0};
    const char *server = "url";
    char url[128];
    if (argc > 1 && argv[1][0]) {
        target = argv[1];
    } else {
        if (hs_start_nginx(&srv) == 0) {
            server = "nginx";
        } else if (hs_start_python(&srv) == 0) {
            server = "python-http.server";
        } else {
            fprintf(stderr, "no nginx and no python3 to serve the benchmark\n");
            return 77;
        }
        hs_file(&srv, "index.html", 612);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", srv.port);
        target = url;
    }
    int rc = cio_run(amain, NULL, NULL);
    hs_stop(&srv);
    if (rc < 0) {
        fprintf(stderr, "bench_http_client: %s\n", cio_strerror(rc));
        return 1;
    }
    printf("{\"bench\": \"http_client_get\", \"server\": \"%s\", \"requests\": %ld, "
           "\"concurrency\": %ld, \"rps\": %.0f, \"cpu_us_per_req\": %.2f, \"errors\": %ld}\n",
           server, total, conc, rps, cpu_us, errors);
    return errors ? 1 : 0;
}
