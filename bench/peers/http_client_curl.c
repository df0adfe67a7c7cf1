/*
 * http_client_curl.c - libcurl's multi interface as a peer of bench-http's
 * client benchmark (bench/http/drive_client.py): N GETs of URL with C in
 * flight (C easy handles on one multi handle; a finished one is re-added
 * until N are started, its connection reused from the multi's cache),
 * after a warm-up of C requests that opens the connections.  Prints one
 * JSON line like bench/http_client/cio_http_client.c: requests/s and the
 * process's own CPU (getrusage) per request over the measured run.
 *
 *   peer_http_client_curl URL N C
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
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

/* Runs total GETs with conc in flight; returns the failures. */
static long run(CURLM *m, CURL **easy, const char *url, long total, long conc)
{
    long started = 0, errors = 0;
    for (long i = 0; i < conc && started < total; i++, started++) {
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_multi_add_handle(m, easy[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK || code != 200)
                errors++;
            curl_multi_remove_handle(m, e);
            if (started < total) {
                started++;
                curl_multi_add_handle(m, e);
                running = 1;
            }
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    return errors;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: peer_http_client_curl URL N C\n");
        return 2;
    }
    const char *url = argv[1];
    long total = atol(argv[2]), conc = atol(argv[3]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, conc);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc);
    CURL **easy = calloc((size_t)conc, sizeof *easy);
    for (long i = 0; i < conc; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy[i], CURLOPT_TCP_NODELAY, 1L);
    }
    run(m, easy, url, conc, conc); /* warm-up: open the connections */
    double w0 = wall_now(), c0 = cpu_now();
    long errors = run(m, easy, url, total, conc);
    double secs = wall_now() - w0, cpu = cpu_now() - c0;
    printf("{\"bench\": \"http_client_get\", \"client\": \"curl-multi\", \"requests\": %ld, "
           "\"concurrency\": %ld, \"rps\": %.0f, \"cpu_us_per_req\": %.2f, \"errors\": %ld}\n",
           total, conc, (double)total / secs, cpu * 1e6 / (double)total, errors);
    for (long i = 0; i < conc; i++)
        curl_easy_cleanup(easy[i]);
    free(easy);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
