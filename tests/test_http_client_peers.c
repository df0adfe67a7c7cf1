/*
 * test_http_client_peers.c - the HTTP client against servers it did not
 * write: nginx (gzip'd chunked answers, keep-alive counted with
 * stub_status, a redirect) and `python3 -m http.server` (HTTP/1.0 answers
 * that close the connection), each serving files from a temporary
 * directory, fetched concurrently with cio_gather.  A server that is not
 * installed skips its case (exit 77 when any case skipped).
 */
#include <fcntl.h>

#include "http_servers.h"
#include "test.h"

#define NFILES 20

static http_server srv;

/* Size of file i: some small, one large, some around buffer sizes. */
static size_t file_size(int i)
{
    static const size_t sizes[] = {0, 1, 100, 4096, 16383, 16384, 16385, 65536, 1000000, 300000};
    return sizes[i % 10] + (size_t)i;
}

static void make_files(void)
{
    for (int i = 0; i < NFILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", i);
        hs_file(&srv, name, file_size(i));
    }
}

struct job {
    cio_http_client *c; /* client */
    char url[128];      /* what to get */
    int status;         /* HTTP status, or the error */
    int ok;             /* the body is the file's content */
    int gzipped;        /* it came with Content-Encoding: gzip */
};

static int fetch(void *arg, void **result)
{
    (void)result;
    struct job *j = arg;
    cio_http_reply *r;
    int rc = cio_http_get(j->c, j->url, &r);
    if (rc < 0)
        return j->status = rc;
    j->status = cio_http_reply_status(r);
    size_t n;
    const char *b = cio_http_reply_body(r, &n);
    j->ok = hs_pattern_ok(b, n) ? (int)n + 1 : 0;
    const char *ce = cio_http_reply_header(r, "content-encoding");
    j->gzipped = ce && !strcmp(ce, "gzip");
    cio_http_reply_free(r);
    return 0;
}

/* Fetches every file (and one missing) at once; checks what came back. */
static int fetch_files(cio_http_client *c, int *gzipped)
{
    struct job jobs[NFILES + 1];
    cio_task *tasks[NFILES + 1];
    cio_future *futs[NFILES + 1];
    int st[NFILES + 1];
    for (int i = 0; i <= NFILES; i++) {
        jobs[i] = (struct job){.c = c};
        snprintf(jobs[i].url, sizeof jobs[i].url, "http://127.0.0.1:%d/f%d.txt", srv.port,
                 i < NFILES ? i : 999);
        CHECK_RC(cio_create_task(fetch, &jobs[i], NULL, &tasks[i]), 0);
        futs[i] = cio_task_future(tasks[i]);
    }
    CHECK_RC(cio_gather(futs, NFILES + 1, CIO_GATHER_RETURN_ERRORS, NULL, st), 0);
    int good = 0;
    *gzipped = 0;
    for (int i = 0; i <= NFILES; i++) {
        cio_task_unref(tasks[i]);
        if (i == NFILES) {
            CHECK_EQ(jobs[i].status, 404);
            continue;
        }
        CHECK_RC(st[i], 0);
        CHECK_EQ(jobs[i].status, 200);
        CHECK_EQ(jobs[i].ok, (int)file_size(i) + 1);
        good += jobs[i].ok == (int)file_size(i) + 1;
        *gzipped += jobs[i].gzipped;
    }
    return good;
}

/* nginx's stub_status "accepts" count. */
static long nginx_accepts(cio_http_client *c)
{
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/status", srv.port);
    cio_http_reply *r;
    if (cio_http_get(c, u, &r) < 0)
        return -1;
    long accepts = -1;
    const char *p = strstr(cio_http_reply_body(r, NULL), "requests\n");
    if (p)
        accepts = strtol(p + 9, NULL, 10);
    cio_http_reply_free(r);
    return accepts;
}

static int nginx_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client_options o = {.max_per_host = 6};
    cio_http_client *c;
    CHECK_RC(cio_http_client_new(&o, &c), 0);
    long before = nginx_accepts(c);
    CHECK(before > 0);
    int gz;
    CHECK_EQ(fetch_files(c, &gz), NFILES);
#ifdef CIO_HAVE_ZLIB
    CHECK(gz >= NFILES / 2); /* nginx compressed the larger .txt files */
#endif
    CHECK_EQ(fetch_files(c, &gz), NFILES);
    long after = nginx_accepts(c);
    CHECK(after - before <= 6); /* 42 requests over at most 6 connections */
    cio_http_reply *r;
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/moved", srv.port);
    CHECK_RC(cio_http_get(c, u, &r), 0);
    CHECK_EQ(cio_http_reply_status(r), 200);
    CHECK(strstr(cio_http_reply_url(r), "/f1.txt") != NULL);
    CHECK(!strcmp(cio_http_reply_body(r, NULL), "ab"));
    cio_http_reply_free(r);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_nginx(void)
{
    if (hs_start_nginx(&srv) < 0) {
        hs_stop(&srv);
        test_skip_case("nginx is not installed (apt-get install nginx) or did not start");
        return;
    }
    make_files();
    CHECK_RC(cio_run(nginx_main, NULL, NULL), 0);
    hs_stop(&srv);
}

static int python_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client *c;
    CHECK_RC(cio_http_client_new(NULL, &c), 0);
    int gz;
    CHECK_EQ(fetch_files(c, &gz), NFILES);
    CHECK_EQ(gz, 0);
    CHECK_EQ(cio_http_client_idle_count(c), 0); /* HTTP/1.0: every answer closed */
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_python_http_server(void)
{
    if (hs_start_python(&srv) < 0) {
        hs_stop(&srv);
        char why[300];
        snprintf(why, sizeof why, "no %s for python3 -m http.server (or it did not start)",
                 test_python());
        test_skip_case(why);
        return;
    }
    make_files();
    CHECK_RC(cio_run(python_main, NULL, NULL), 0);
    hs_stop(&srv);
}

int main(void)
{
    RUN(test_nginx);
    RUN(test_python_http_server);
    return test_finish();
}
