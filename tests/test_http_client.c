/*
 * test_http_client.c - the HTTP client against a real server on loopback:
 * tests/http_client_peer.py (Python asyncio writing HTTP by hand, so each
 * case controls the bytes: chunked, gzip, redirects, slow answers, a
 * close or a reset inside a body), plus the URL rules.
 *
 * Cases: URL parsing; GET with headers; chunked, close-delimited and
 * compressed bodies; redirects (methods, limits, Authorization across
 * origins); keep-alive reuse counted on the server; the per-host limit;
 * read and total timeouts; truncated bodies as errors; streamed bodies
 * and uploads; JSON; a hundred GETs with cio_gather; and cancellation at
 * each suspension point of a request, after which the pool still works.
 */
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/url.h"
#include "test.h"
#include "helpers.h"

/* ---- the Python peer ------------------------------------------------------- */

static pid_t peer_pid = -1;
static int peer_stdin = -1;
static int port_a, port_b;
static char base[64];  /* http://127.0.0.1:A */
static char base2[64]; /* http://127.0.0.1:B */

static int start_peer(void)
{
    if (access(test_python(), X_OK) != 0)
        return -1;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char script[1200];
    snprintf(script, sizeof script, "%s/http_client_peer.py", dirname(dir));
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        return -1;
    peer_pid = fork();
    if (peer_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(test_python(), "python3", "-u", script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    peer_stdin = in[1];
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof line - 1 && read(out[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(out[0]);
    if (sscanf(line, "%d %d", &port_a, &port_b) != 2)
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port_a);
    snprintf(base2, sizeof base2, "http://127.0.0.1:%d", port_b);
    return 0;
}

static void stop_peer(void)
{
    if (peer_pid > 0) {
        close(peer_stdin);
        kill(peer_pid, SIGTERM);
        waitpid(peer_pid, NULL, 0);
    }
}

/* ---- helpers ------------------------------------------------------------------- */

static char *url(const char *path)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 256, "%s%s", base, path);
    return b;
}

/* Runs fn as the main task of a fresh cio_run. */
static void run(cio_coro_fn *fn)
{
    CHECK_RC(cio_run(fn, NULL, NULL), 0);
}

static cio_http_client *new_client(const cio_http_client_options *o)
{
    cio_http_client *c = NULL;
    CHECK_RC(cio_http_client_new(o, &c), 0);
    return c;
}

/* GET path and return the body in a static buffer ("" on failure). */
static const char *get_body(cio_http_client *c, const char *path, int *status)
{
    static char out[65536];
    cio_http_reply *r;
    out[0] = 0;
    int rc = cio_http_get(c, url(path), &r);
    if (rc < 0) {
        *status = rc;
        return out;
    }
    *status = cio_http_reply_status(r);
    size_t n;
    const char *b = cio_http_reply_body(r, &n);
    snprintf(out, sizeof out, "%.*s", (int)n, b);
    cio_http_reply_free(r);
    return out;
}

static int server_conns(cio_http_client *c)
{
    int st;
    return atoi(get_body(c, "/conns", &st));
}

/* ---- URLs ------------------------------------------------------------------------ */

static void test_url(void)
{
    cio__url u;
    CHECK_RC(cio__url_parse(&u, "HTTP://Example.COM/a/b?x=1#frag"), 0);
    CHECK(!strcmp(u.host, "example.com") && u.port == 80 && !strcmp(u.target, "/a/b?x=1"));
    CHECK(!strcmp(u.authority, "example.com") && !strcmp(u.href, "http://example.com/a/b?x=1"));
    CHECK(!strcmp(u.origin, "http://example.com:80"));
    cio__url_free(&u);
    CHECK_RC(cio__url_parse(&u, "http://[::1]:8080"), 0);
    CHECK(!strcmp(u.host, "::1") && u.port == 8080 && !strcmp(u.target, "/"));
    CHECK(!strcmp(u.authority, "[::1]:8080"));
    cio__url_free(&u);
    CHECK_RC(cio__url_parse(&u, "https://h/x/./y/../z"), 0);
    CHECK(u.tls && u.port == 443 && !strcmp(u.target, "/x/z"));
    cio__url_free(&u);
    CHECK_RC(cio__url_parse(&u, "http://h/caf\xc3\xa9?q={a}"), 0);
    CHECK(!strcmp(u.target, "/caf%C3%A9?q=%7Ba%7D"));
    cio__url_free(&u);
    CHECK_RC(cio__url_parse(&u, "http://h:80/%41"), 0);
    CHECK(!strcmp(u.authority, "h") && !strcmp(u.target, "/%41"));
    cio__url_free(&u);
    const char *bad[] = {"", "http:", "http://", "http:///x", "http://h:0/", "http://h:65536/",
                         "http://h:8x/", "http://us@h/", "http://h/a b", "http://h/%4",
                         "http://h/%zz", "http://[::1/", "http://[fe80::1%25eth0]/",
                         "http://[zz]/", "http://h/\x01", "//h/x", "1http://h/",
                         "http://h%41/", "http:/h/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = cio__url_parse(&u, bad[i]);
        if (rc != -EINVAL)
            fprintf(stderr, "url %zu '%s' gave %d\n", i, bad[i], rc);
        CHECK_RC(rc, -EINVAL);
    }
    CHECK_RC(cio__url_parse(&u, "ftp://h/x"), -ENOTSUP);
    /* resolving Location values */
    cio__url b;
    CHECK_RC(cio__url_parse(&b, "http://h:81/a/b/c?q"), 0);
    struct {
        const char *ref, *want;
    } res[] = {
        {"d", "http://h:81/a/b/d"},           {"../d", "http://h:81/a/d"},
        {"/x/../y", "http://h:81/y"},         {"?z", "http://h:81/a/b/c?z"},
        {"//o.org/p", "http://o.org/p"},      {"https://s/", "https://s/"},
        {"", "http://h:81/a/b/c?q"},          {"./", "http://h:81/a/b/"},
        {"../../../../x", "http://h:81/x"},
    };
    for (size_t i = 0; i < sizeof res / sizeof *res; i++) {
        CHECK_RC(cio__url_resolve(&u, &b, res[i].ref, strlen(res[i].ref)), 0);
        if (u.href && strcmp(u.href, res[i].want))
            fprintf(stderr, "resolve '%s' gave '%s'\n", res[i].ref, u.href);
        CHECK(u.href && !strcmp(u.href, res[i].want));
        cio__url_free(&u);
    }
    cio__url_free(&b);
}

/* ---- basic bodies ---------------------------------------------------------------- */

static int basic_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client *c = new_client(NULL);
    cio_http_reply *r;
    CHECK_RC(cio_http_get(c, url("/hello"), &r), 0);
    CHECK_EQ(cio_http_reply_status(r), 200);
    CHECK(!strcmp(cio_http_reply_reason(r), "OK"));
    CHECK(!strcmp(cio_http_reply_body(r, NULL), "hello"));
    CHECK(cio_http_reply_header(r, "CONTENT-type") &&
          !strcmp(cio_http_reply_header(r, "CONTENT-type"), "text/plain"));
    CHECK(cio_http_reply_header(r, "x-none") == NULL);
    CHECK(cio_http_reply_header_count(r) == 2);
    const char *n, *v;
    CHECK_RC(cio_http_reply_header_at(r, 0, &n, &v), 0);
    CHECK_RC(cio_http_reply_header_at(r, 2, &n, &v), -EINVAL);
    cio_http_reply_free(r);
    CHECK_EQ(cio_http_client_idle_count(c), 1);

    int st;
    const char *b = get_body(c, "/chunked", &st);
    CHECK_EQ(st, 200);
    CHECK_EQ(strlen(b), 20 + 5000);
    CHECK(!strncmp(b, "chunk-one chunk-two x", 21));
    b = get_body(c, "/close", &st);
    CHECK_EQ(st, 200);
    CHECK(!strcmp(b, "until the end"));
    CHECK(!strcmp(get_body(c, "/nothing", &st), "not found") && st == 404);
    get_body(c, "/204", &st);
    CHECK_EQ(st, 204);
    /* HEAD: a Content-Length but no body; the connection stays usable */
    cio_http_client_request head = {.method = "HEAD", .url = url("/hello")};
    CHECK_RC(cio_http_client_send(c, &head, &r), 0);
    size_t len = 99;
    cio_http_reply_body(r, &len);
    CHECK_EQ(len, 0);
    cio_http_reply_free(r);
    CHECK(!strcmp(get_body(c, "/hello", &st), "hello"));
#ifdef CIO_HAVE_ZLIB
    const char *paths[] = {"/gzip", "/deflate", "/rawdeflate"};
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_http_get(c, url(paths[i]), &r), 0);
        size_t bl;
        const char *body = cio_http_reply_body(r, &bl);
        CHECK_EQ(bl, 11 * 2000);
        CHECK(!strncmp(body, "compressed compressed", 21));
        CHECK(!strcmp(cio_http_reply_header(r, "x-accept-encoding"), "gzip, deflate"));
        cio_http_reply_free(r);
    }
    /* decoding off: the bytes as sent */
    cio_http_client_options o = {.no_decompress = 1};
    cio_http_client *raw = new_client(&o);
    CHECK_RC(cio_http_get(raw, url("/gzip"), &r), 0);
    size_t bl;
    const char *body = cio_http_reply_body(r, &bl);
    CHECK(bl > 2 && (unsigned char)body[0] == 0x1f && (unsigned char)body[1] == 0x8b);
    CHECK(!strcmp(cio_http_reply_header(r, "x-accept-encoding"), ""));
    cio_http_reply_free(r);
    CHECK_RC(cio_http_client_close(raw), 0);
    cio_http_client_free(raw);
#endif
    /* JSON */
    CHECK_RC(cio_http_post_json(c, url("/json"), "[1, 2]", &r), 0);
    CHECK(cio_http_reply_is_json(r));
    CHECK(!strcmp(cio_http_reply_body(r, NULL), "{\"got\": [1, 2]}"));
    CHECK(!strcmp(cio_http_reply_header(r, "x-content-type"), "application/json"));
    cio_http_reply_free(r);
    CHECK_RC(cio_http_get(c, url("/hello"), &r), 0);
    CHECK(!cio_http_reply_is_json(r));
    cio_http_reply_free(r);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_basic(void) { run(basic_main); }

/* ---- headers and bad input ----------------------------------------------------------- */

static int headers_main(void *arg, void **result)
{
    (void)arg, (void)result;
    const char *dh[] = {"X-Default", "d", "X-Over", "client", NULL};
    cio_http_client_options o = {.user_agent = "tester/1", .headers = dh};
    cio_http_client *c = new_client(&o);
    const char *rh[] = {"X-Over", "request", "Authorization", "Bearer t", NULL};
    cio_http_client_request req = {.url = url("/echo"), .headers = rh};
    cio_http_reply *r;
    CHECK_RC(cio_http_client_send(c, &req, &r), 0);
    const char *b = cio_http_reply_body(r, NULL);
    CHECK(!strncmp(b, "GET 0\n", 6));
    CHECK(strstr(b, "user-agent: tester/1\n"));
    CHECK(strstr(b, "x-default: d\n"));
    CHECK(strstr(b, "x-over: request\n") && !strstr(b, "x-over: client"));
    CHECK(strstr(b, "host: 127.0.0.1:"));
    CHECK(strstr(b, "authorization: Bearer t\n"));
    cio_http_reply_free(r);

    /* bad input: refused before anything is sent */
    const char *bad1[] = {"X-A", "b\r\nX-Injected: 1", NULL};
    const char *bad2[] = {"Bad Name", "v", NULL};
    const char *bad3[] = {"Content-Length", "5", NULL};
    const char *const *bads[] = {bad1, bad2, bad3};
    for (int i = 0; i < 3; i++) {
        cio_http_client_request q = {.url = url("/echo"), .headers = bads[i]};
        CHECK_RC(cio_http_client_send(c, &q, &r), -EINVAL);
        CHECK(r == NULL);
    }
    cio_http_client_request q = {.url = url("/echo"), .method = "GE T"};
    CHECK_RC(cio_http_client_send(c, &q, &r), -EINVAL);
    CHECK_RC(cio_http_get(c, "http://exa mple/", &r), -EINVAL);
    CHECK_RC(cio_http_get(c, "ftp://h/", &r), -ENOTSUP);
    /* https is spoken (tests/test_https.c): a closed port is refused. */
    CHECK_RC(cio_http_get(c, "https://127.0.0.1:1/", &r), cio_tls_available() ? -ECONNREFUSED : -ENOTSUP);
    CHECK_RC(cio_http_get(NULL, url("/hello"), &r), -EINVAL);
    CHECK_RC(cio_http_get(c, NULL, &r), -EINVAL);
    CHECK_RC(cio_http_post_json(c, url("/json"), NULL, &r), -EINVAL);
    CHECK_RC(cio_http_get(c, "http://127.0.0.1:1/", &r), -ECONNREFUSED);
    cio_http_client *bad;
    cio_http_client_options nano = {.read_timeout = NAN};
    CHECK_RC(cio_http_client_new(&nano, &bad), -EINVAL);
    CHECK_RC(cio_http_client_new(NULL, NULL), -EINVAL);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_headers(void)
{
    run(headers_main);
    cio_http_client *c;
    CHECK_RC(cio_http_client_new(NULL, &c), CIO_ENOLOOP);
}

/* ---- redirects ----------------------------------------------------------------------- */

static int redirects_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client *c = new_client(NULL);
    cio_http_reply *r;
    CHECK_RC(cio_http_get(c, url("/redirect/3"), &r), 0);
    CHECK_EQ(cio_http_reply_status(r), 200);
    CHECK(!strcmp(cio_http_reply_body(r, NULL), "done"));
    CHECK(!strcmp(cio_http_reply_url(r), url("/redirect/0")));
    cio_http_reply_free(r);
    CHECK_RC(cio_http_get(c, url("/redirect/11"), &r), -ELOOP);
    CHECK(r == NULL);
    CHECK_RC(cio_http_get(c, url("/redirect/10"), &r), 0);
    cio_http_reply_free(r);

    /* methods: 301/302/303 become GET without body, 307/308 keep them */
    struct {
        int code;
        const char *want;
    } m[] = {{301, "GET 0\n"}, {302, "GET 0\n"}, {303, "GET 0\n"},
             {307, "POST 4\n"}, {308, "POST 4\n"}};
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "/r/%d", m[i].code);
        cio_http_client_request req = {.method = "POST", .url = url(path), .body = "data",
                                       .body_len = 4, .content_type = "text/plain"};
        CHECK_RC(cio_http_client_send(c, &req, &r), 0);
        const char *b = cio_http_reply_body(r, NULL);
        if (strncmp(b, m[i].want, strlen(m[i].want)))
            fprintf(stderr, "redirect %d: %s\n", m[i].code, b);
        CHECK(!strncmp(b, m[i].want, strlen(m[i].want)));
        CHECK(m[i].code >= 307 ? strstr(b, "\n\ndata") != NULL
                               : strstr(b, "content-type") == NULL);
        cio_http_reply_free(r);
    }
    /* Authorization: kept on the same origin, dropped across */
    const char *auth[] = {"Authorization", "secret", NULL};
    cio_http_client_request same = {.url = url("/r/302"), .headers = auth};
    CHECK_RC(cio_http_client_send(c, &same, &r), 0);
    CHECK(strstr(cio_http_reply_body(r, NULL), "authorization: secret"));
    cio_http_reply_free(r);
    cio_http_client_request other = {.url = url("/to-other"), .headers = auth};
    CHECK_RC(cio_http_client_send(c, &other, &r), 0);
    CHECK(strstr(cio_http_reply_url(r), base2) != NULL);
    CHECK(!strncmp(cio_http_reply_body(r, NULL), "GET 0", 5));
    CHECK(strstr(cio_http_reply_body(r, NULL), "authorization") == NULL);
    cio_http_reply_free(r);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);

    /* following turned off: the 3xx is the answer */
    cio_http_client_options o = {.max_redirects = -1};
    c = new_client(&o);
    CHECK_RC(cio_http_get(c, url("/redirect/1"), &r), 0);
    CHECK_EQ(cio_http_reply_status(r), 302);
    CHECK(!strcmp(cio_http_reply_header(r, "location"), "/redirect/0"));
    CHECK(!strcmp(cio_http_reply_body(r, NULL), "moving"));
    cio_http_reply_free(r);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_redirects(void) { run(redirects_main); }

/* ---- keep-alive and the per-host limit --------------------------------------------- */

struct job {
    cio_http_client *c; /* client */
    const char *url;    /* what to get */
    int status;         /* HTTP status or error */
    size_t len;         /* body length */
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
    cio_http_reply_body(r, &j->len);
    cio_http_reply_free(r);
    return 0;
}

/* Gets n URLs at once with cio_gather; returns how many succeeded. */
static int fetch_all(struct job *jobs, size_t n)
{
    cio_task **tasks = calloc(n, sizeof *tasks);
    cio_future **futs = calloc(n, sizeof *futs);
    int *st = calloc(n, sizeof *st);
    for (size_t i = 0; i < n; i++) {
        CHECK_RC(cio_create_task(fetch, &jobs[i], NULL, &tasks[i]), 0);
        futs[i] = cio_task_future(tasks[i]);
    }
    CHECK_RC(cio_gather(futs, n, CIO_GATHER_RETURN_ERRORS, NULL, st), 0);
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        ok += st[i] == 0;
        cio_task_unref(tasks[i]);
    }
    free(tasks);
    free(futs);
    free(st);
    return ok;
}

static int keepalive_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client *c = new_client(NULL);
    int before = server_conns(c);
    int st;
    for (int i = 0; i < 10; i++)
        CHECK(!strcmp(get_body(c, "/hello", &st), "hello"));
    CHECK_EQ(server_conns(c), before); /* one connection for all of them */
    CHECK_EQ(cio_http_client_idle_count(c), 1);
    /* Connection: close is honoured; the next request opens a new one */
    get_body(c, "/noka", &st);
    CHECK_EQ(cio_http_client_idle_count(c), 0);
    CHECK_EQ(server_conns(c), before + 1);
    /* the server closes an idle connection: the next request still works */
    get_body(c, "/idleclose", &st);
    CHECK_EQ(st, 200);
    cio_sleep(0.05);
    CHECK(!strcmp(get_body(c, "/hello", &st), "hello"));
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);

    /* 100 at once, at most 4 connections */
    cio_http_client_options o = {.max_per_host = 4};
    c = new_client(&o);
    before = server_conns(c);
    struct job jobs[100];
    char hello[256], chunked[256];
    snprintf(hello, sizeof hello, "%s", url("/hello"));
    snprintf(chunked, sizeof chunked, "%s", url("/chunked"));
    for (int i = 0; i < 100; i++)
        jobs[i] = (struct job){.c = c, .url = i % 2 ? hello : chunked};
    CHECK_EQ(fetch_all(jobs, 100), 100);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(jobs[i].len, i % 2 ? 5u : 5020u);
    int after = server_conns(c);
    CHECK(after - before >= 1 && after - before <= 4);
    CHECK(cio_http_client_idle_count(c) <= 4);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);

    /* idle timeout: the pooled connection goes away */
    cio_http_client_options it = {.idle_timeout = 0.1};
    c = new_client(&it);
    get_body(c, "/hello", &st);
    CHECK_EQ(cio_http_client_idle_count(c), 1);
    cio_sleep(0.3);
    CHECK_EQ(cio_http_client_idle_count(c), 0);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_keepalive(void) { run(keepalive_main); }

/* ---- timeouts and broken answers ---------------------------------------------------- */

static int timeouts_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client_options o = {.read_timeout = 0.3};
    cio_http_client *c = new_client(&o);
    cio_http_reply *r;
    double t0 = test_now();
    CHECK_RC(cio_http_get(c, url("/slow/2"), &r), -ETIMEDOUT);
    CHECK(test_now() - t0 < 1.5);
    CHECK_RC(cio_http_get(c, url("/slowbody/2"), &r), -ETIMEDOUT);
    CHECK_RC(cio_http_get(c, url("/slow/0.1"), &r), 0); /* within the read timeout */
    cio_http_reply_free(r);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);

    cio_http_client_options tot = {.total_timeout = 0.3};
    c = new_client(&tot);
    t0 = test_now();
    CHECK_RC(cio_http_get(c, url("/slow/2"), &r), -ETIMEDOUT);
    CHECK(test_now() - t0 < 1.5);
    /* streamed: the total timeout also bounds the body's reads */
    cio_http_client_request sreq = {.url = url("/slowbody/2"), .flags = CIO_HTTP_STREAM};
    CHECK_RC(cio_http_client_send(c, &sreq, &r), 0);
    char buf[64];
    CHECK_RC(cio_http_reply_read(r, buf, sizeof buf), 5);
    CHECK_RC(cio_http_reply_read(r, buf, sizeof buf), -ETIMEDOUT);
    CHECK_RC(cio_http_reply_read(r, buf, sizeof buf), -ETIMEDOUT); /* stays failed */
    cio_http_reply_free(r);
    /* the caller's own scope works too */
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(0.2, &tm), 0);
    CHECK_RC(cio_http_get(c, url("/slow/0.25"), &r), -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    CHECK_RC(cio_http_get(c, url("/hello"), &r), 0); /* the pool is fine */
    cio_http_reply_free(r);

    /* a body cut short is an error, never a short success */
    CHECK_RC(cio_http_get(c, url("/cut"), &r), CIO_EINCOMPLETE);
    CHECK_RC(cio_http_get(c, url("/cutchunked"), &r), CIO_EINCOMPLETE);
    int rc = cio_http_get(c, url("/reset"), &r);
    CHECK(rc == -ECONNRESET || rc == CIO_EINCOMPLETE);
    /* limits */
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    cio_http_client_options lim = {.max_body = 1000};
    c = new_client(&lim);
    CHECK_RC(cio_http_get(c, url("/big/1000"), &r), 0);
    cio_http_reply_free(r);
    CHECK_RC(cio_http_get(c, url("/big/1001"), &r), CIO_ELIMIT);
    CHECK_RC(cio_http_get(c, url("/chunked"), &r), CIO_ELIMIT);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_timeouts(void) { run(timeouts_main); }

/* ---- streaming both ways -------------------------------------------------------------- */

struct upload {
    int pieces; /* pieces left to produce */
};

static int produce(void *arg, void *buf, size_t cap)
{
    struct upload *u = arg;
    if (u->pieces == 0)
        return 0;
    u->pieces--;
    cio_sleep(0.001); /* a producer may suspend */
    size_t n = cap < 1000 ? cap : 1000;
    memset(buf, 'u', n);
    return (int)n;
}

static int stream_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client *c = new_client(NULL);
    cio_http_client_request req = {.url = url("/big/1000000"), .flags = CIO_HTTP_STREAM};
    cio_http_reply *r;
    CHECK_RC(cio_http_client_send(c, &req, &r), 0);
    CHECK_EQ(cio_http_client_idle_count(c), 0);
    char buf[1000];
    long total = 0;
    int n;
    while ((n = cio_http_reply_read(r, buf, sizeof buf)) > 0)
        total += n;
    CHECK_EQ(n, 0);
    CHECK_EQ(total, 1000000);
    CHECK_EQ(cio_http_client_idle_count(c), 1); /* back in the pool at the end */
    cio_http_reply_free(r);
    /* released in the middle: the connection is closed, not pooled */
    CHECK_RC(cio_http_client_send(c, &req, &r), 0);
    CHECK_EQ(cio_http_reply_read(r, buf, sizeof buf), 1000);
    cio_http_reply_free(r);
    CHECK_EQ(cio_http_client_idle_count(c), 0);
    int st;
    CHECK(!strcmp(get_body(c, "/hello", &st), "hello"));
#ifdef CIO_HAVE_ZLIB
    cio_http_client_request gz = {.url = url("/gzip"), .flags = CIO_HTTP_STREAM};
    CHECK_RC(cio_http_client_send(c, &gz, &r), 0);
    total = 0;
    while ((n = cio_http_reply_read(r, buf, 7)) > 0) /* tiny reads: decoder keeps input */
        total += n;
    CHECK_EQ(n, 0);
    CHECK_EQ(total, 22000);
    cio_http_reply_free(r);
#endif
    /* uploads: chunked, and with a length */
    struct upload u = {.pieces = 50};
    cio_http_client_request up = {.method = "PUT", .url = url("/echo"), .body_fn = produce,
                                  .body_arg = &u};
    CHECK_RC(cio_http_client_send(c, &up, &r), 0);
    CHECK(!strncmp(cio_http_reply_body(r, NULL), "PUT 50000\n", 10));
    CHECK(strstr(cio_http_reply_body(r, NULL), "transfer-encoding: chunked"));
    cio_http_reply_free(r);
    u.pieces = 5;
    up.body_fn_len = 5000;
    CHECK_RC(cio_http_client_send(c, &up, &r), 0);
    CHECK(!strncmp(cio_http_reply_body(r, NULL), "PUT 5000\n", 9));
    CHECK(strstr(cio_http_reply_body(r, NULL), "content-length: 5000"));
    cio_http_reply_free(r);
    u.pieces = 4; /* fewer bytes than promised */
    CHECK_RC(cio_http_client_send(c, &up, &r), -EINVAL);
    CHECK(!strcmp(get_body(c, "/hello", &st), "hello"));
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_stream(void) { run(stream_main); }

/* ---- cancellation at each suspension point ------------------------------------------- */

struct cjob {
    cio_http_client *c;
    const char *url;
    int stream; /* read the body with cio_http_reply_read */
};

static int cancellable(void *arg, void **result)
{
    (void)result;
    struct cjob *j = arg;
    cio_http_reply *r;
    cio_http_client_request req = {.url = j->url, .flags = j->stream ? CIO_HTTP_STREAM : 0};
    int rc = cio_http_client_send(j->c, &req, &r);
    if (rc < 0)
        return rc;
    char buf[100];
    while (j->stream && (rc = cio_http_reply_read(r, buf, sizeof buf)) > 0)
        ;
    cio_http_reply_free(r);
    return rc;
}

static int cancel_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client_options o = {.max_per_host = 2};
    cio_http_client *c = new_client(&o);
    int cancelled = 0, finished = 0;
    /* by loop iterations (the early points: connect, write, first read),
     * then by time (the body's reads between the server's chunks) */
    for (int i = 0; i < 60; i++) {
        struct cjob j = {.c = c, .url = url(i % 3 == 2 ? "/hello" : "/chunked"),
                         .stream = i % 2};
        cio_task *t;
        CHECK_RC(cio_create_task(cancellable, &j, NULL, &t), 0);
        if (i < 30) {
            for (int k = 0; k < i; k++)
                cio_sleep(0);
        } else {
            cio_sleep((i - 30) * 0.002);
        }
        cio_task_cancel(t, NULL);
        int rc = cio_task_await(t, NULL);
        CHECK(rc == 0 || rc == -ECANCELED);
        cancelled += rc == -ECANCELED;
        finished += rc == 0;
        cio_task_unref(t);
        /* the pool is sound: a request on the same origin works */
        int st;
        const char *b = get_body(c, i % 2 ? "/hello" : "/chunked", &st);
        CHECK_EQ(st, 200);
        CHECK(strlen(b) == (i % 2 ? 5u : 5020u));
        CHECK(cio_http_client_idle_count(c) <= 2);
    }
    CHECK(cancelled > 10);
    CHECK(finished > 0);
    /* With a request in progress, close is refused and free is logged
     * and does nothing: the request finishes normally. */
    struct cjob j = {.c = c, .url = url("/slow/0.2"), .stream = 0};
    cio_task *t;
    CHECK_RC(cio_create_task(cancellable, &j, NULL, &t), 0);
    cio_sleep(0.05);
    CHECK_RC(cio_http_client_close(c), CIO_EINVALSTATE);
    test_log_start(CIO_LOG_ERROR);
    cio_http_client_free(c);
    CHECK(test_log_find("cio_http_client_free", "in progress") >= 0);
    test_log_stop();
    CHECK_RC(cio_task_await(t, NULL), 0);
    cio_task_unref(t);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    cio_http_client_free(NULL);
    return 0;
}

static void test_cancel(void) { run(cancel_main); }

/* A hundred GETs at once with cio_gather, one of them failing. */
static int gather_main(void *arg, void **result)
{
    (void)arg, (void)result;
    cio_http_client *c = new_client(NULL);
    struct job jobs[100];
    char hello[256], cut[256];
    snprintf(hello, sizeof hello, "%s", url("/hello"));
    snprintf(cut, sizeof cut, "%s", url("/cut"));
    for (int i = 0; i < 100; i++)
        jobs[i] = (struct job){.c = c, .url = i == 50 ? cut : hello};
    CHECK_EQ(fetch_all(jobs, 100), 99);
    CHECK_EQ(jobs[50].status, CIO_EINCOMPLETE);
    CHECK_EQ(jobs[49].status, 200);
    CHECK_EQ(jobs[49].len, 5);
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    return 0;
}

static void test_gather(void) { run(gather_main); }

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_url);
    if (start_peer() < 0) {
        stop_peer();
        if (access(test_python(), X_OK) != 0) {
            char why[300];
            snprintf(why, sizeof why, "no %s to run tests/http_client_peer.py", test_python());
            test_skip_case(why);
        } else {
            CHECK(!"tests/http_client_peer.py did not start");
        }
        return test_finish();
    }
    RUN(test_basic);
    RUN(test_headers);
    RUN(test_redirects);
    RUN(test_keepalive);
    RUN(test_timeouts);
    RUN(test_stream);
    RUN(test_cancel);
    RUN(test_gather);
    stop_peer();
    return test_finish();
}
