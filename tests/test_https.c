/*
 * test_https.c - HTTPS end to end: cio's HTTP server over TLS transports,
 * with cio's HTTP client and curl as its clients.
 *
 * The certificate (tests/tls_util.h) names localhost and 127.0.0.1; a
 * client must verify it and check the name, so a client that does not
 * trust it, or asks for another name, fails closed.  A file response
 * over TLS is copied through the transport, never sendfile(2)'d past the
 * encryption (the server's sendfile counter stays still).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h" /* cio__http_sendfile_bytes */
#include "test.h"
#include "tls_util.h"

#define FILE_BYTES 300000 /* the /file route's file */
static char file_path[64];   /* its path */

static int hello(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond_text(req, 200, "hello over tls");
}

static int file_route(cio_http_request *req, void *ud)
{
    (void)ud;
    return cio_http_respond_file(req, file_path, NULL);
}

struct https_case {
    cio_tls_context *client;   /* the client's context, NULL: the default */
    const char *host;          /* the URL's host */
    int want;                  /* 1: a 200 answer; 0: an error */
    int curl;                  /* also fetch with curl */
    int file;                  /* also fetch /file and compare it */
};

static int port;
static char curl_out[64];

/* curl blocks: it runs in a thread so the loop keeps serving. */
static int run_curl(void *arg, void **result)
{
    (void)result;
    FILE *f = popen(arg, "r");
    if (!f)
        return -errno;
    size_t n = fread(curl_out, 1, sizeof curl_out - 1, f);
    curl_out[n] = 0;
    return pclose(f) == 0 ? 0 : -EIO;
}

static int fetch(cio_http_client *c, const char *host, int *status, char *body, size_t cap)
{
    char url[128];
    snprintf(url, sizeof url, "https://%s:%d/hello", host, port);
    cio_http_reply *r;
    int rc = cio_http_get(c, url, &r);
    if (rc < 0)
        return rc;
    *status = cio_http_reply_status(r);
    size_t len;
    const char *b = cio_http_reply_body(r, &len);
    snprintf(body, cap, "%.*s", (int)len, b ? b : "");
    cio_http_reply_free(r);
    return 0;
}

static int run_case(void *arg, void **result)
{
    (void)result;
    struct https_case *k = arg;
    cio_http_server_options so;
    cio_http_server_options_init(&so);
    so.transport.tls = server_ctx();
    cio_http_server *srv;
    CHECK_RC(cio_http_server_new(&so, &srv), 0);
    CHECK_RC(cio_http_server_route(srv, "GET", "/hello", hello, NULL, 0), 0);
    CHECK_RC(cio_http_server_route(srv, "GET", "/file", file_route, NULL, 0), 0);
    CHECK_RC(cio_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = cio_http_server_port(srv);

    cio_http_client_options co = {.tls = k->client};
    cio_http_client *c;
    CHECK_RC(cio_http_client_new(&co, &c), 0);
    int status = 0;
    char body[64] = "";
    int rc = fetch(c, k->host, &status, body, sizeof body);
    if (k->want) {
        CHECK_RC(rc, 0);
        CHECK_EQ(status, 200);
        CHECK(strcmp(body, "hello over tls") == 0);
        /* A second request reuses the pooled TLS connection. */
        CHECK_RC(fetch(c, k->host, &status, body, sizeof body), 0);
        CHECK_EQ(cio_http_client_idle_count(c), 1);
    } else {
        CHECK(rc < 0);
        CHECK(status == 0);
    }
    if (k->file) {
        char url[128];
        snprintf(url, sizeof url, "https://%s:%d/file", k->host, port);
        uint64_t before = cio__http_sendfile_bytes;
        cio_http_reply *r;
        CHECK_RC(cio_http_get(c, url, &r), 0);
        size_t len = 0;
        const char *b = cio_http_reply_body(r, &len);
        CHECK_EQ(len, FILE_BYTES);
        int same = b && len == FILE_BYTES;
        for (size_t i = 0; same && i < len; i++)
            same = b[i] == (char)('a' + i % 23);
        CHECK(same);
        cio_http_reply_free(r);
        CHECK_EQ(cio__http_sendfile_bytes - before, 0);
    }
    if (k->curl) {
        char cmd[600];
        snprintf(cmd, sizeof cmd,
                 "curl -s --max-time 5 --cacert %s https://localhost:%d/hello", cert, port);
        curl_out[0] = 0;
        CHECK_RC(cio_to_thread(run_curl, cmd, NULL), 0);
        CHECK(strcmp(curl_out, "hello over tls") == 0);
    }
    CHECK_RC(cio_http_client_close(c), 0);
    cio_http_client_free(c);
    CHECK_RC(cio_http_server_shutdown(srv, 5), 0);
    cio_http_server_free(srv);
    cio_tls_context_free(so.transport.tls);
    return 0;
}

static void https_case(struct https_case *k)
{
    CHECK_RC(cio_run(run_case, k, NULL), 0);
}

/* Our client trusting our certificate; curl too. */
static void test_https_get(void)
{
    struct https_case k = {.client = client_ctx(1), .host = "localhost", .want = 1, .curl = 1,
                           .file = 1};
    https_case(&k);
    cio_tls_context_free(k.client);
}

/* The certificate names 127.0.0.1 too. */
static void test_https_ip(void)
{
    struct https_case k = {.client = client_ctx(1), .host = "127.0.0.1", .want = 1};
    https_case(&k);
    cio_tls_context_free(k.client);
}

/* The default context trusts the system's CAs only: a self-signed server
 * is refused. */
static void test_https_untrusted(void)
{
    struct https_case k = {.client = NULL, .host = "localhost", .want = 0};
    https_case(&k);
}

/* A certificate for evil.example, trusted, but not the host asked for. */
static void test_https_wrong_name(void)
{
    char ecert[300], ekey[300];
    snprintf(ecert, sizeof ecert, "%s/evil.pem", dir);
    snprintf(ekey, sizeof ekey, "%s/evil.key", dir);
    if (make_cert_for("evil.example", "DNS:evil.example", ecert, ekey) != 0) {
        test_skip_case("openssl could not make a certificate");
        return;
    }
    /* Serve the evil certificate under the usual file names. */
    char saved_cert[300], saved_key[300];
    snprintf(saved_cert, sizeof saved_cert, "%s", cert);
    snprintf(saved_key, sizeof saved_key, "%s", key);
    snprintf(cert, sizeof cert, "%s", ecert);
    snprintf(key, sizeof key, "%s", ekey);
    struct https_case k = {.client = client_ctx(1), .host = "localhost", .want = 0};
    https_case(&k);
    cio_tls_context_free(k.client);
    snprintf(cert, sizeof cert, "%s", saved_cert);
    snprintf(key, sizeof key, "%s", saved_key);
    unlink(ecert);
    unlink(ekey);
}

int main(void)
{
    if (!cio_tls_available())
        TEST_SKIP("built without OpenSSL");
    make_cert();
    snprintf(file_path, sizeof file_path, "/tmp/cio_https_file_XXXXXX");
    int fd = mkstemp(file_path);
    if (fd < 0)
        TEST_SKIP("no temporary file");
    static char data[FILE_BYTES];
    for (size_t i = 0; i < FILE_BYTES; i++)
        data[i] = (char)('a' + i % 23);
    CHECK_EQ(write(fd, data, FILE_BYTES), FILE_BYTES);
    close(fd);
    RUN(test_https_get);
    RUN(test_https_ip);
    RUN(test_https_untrusted);
    RUN(test_https_wrong_name);
    remove_cert();
    unlink(file_path);
    return test_finish();
}
