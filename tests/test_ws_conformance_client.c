/*
 * test_ws_conformance_client.c - our WebSocket client against a raw
 * server peer (blocking sockets in a thread) that answers the handshake
 * and sends crafted frames: the client's side of the Autobahn categories
 * (handshake answer checks of §4.1, masking, ping/pong, fragmentation
 * with control frames between, UTF-8, close handling and its timeout,
 * keepalive), then cio client against cio server for what needs both
 * ends: streaming receive, broadcast (shared and per-connection
 * compression), backpressure (a peer that does not read makes the sender
 * wait, with the buffer bounded), pings.
 */
#include "test.h"
#include "ws_peer.h"

#include "ws/handshake.h"
#include "ws/deflate.h"

/* ---- the raw server ------------------------------------------------------------- */

/* What the raw server does with one connection. */
typedef void script_fn(int fd);

struct raw_server {
    int lfd;          /* listening socket */
    int port;         /* its port */
    script_fn *script; /* run on the accepted connection */
};

static int raw_listen(struct raw_server *s)
{
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 8) < 0)
        return -1;
    socklen_t l = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &l);
    s->port = ntohs(a.sin_port);
    return 0;
}

static int server_thread(void *arg, void **result)
{
    (void)result;
    struct raw_server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s->script(fd);
    close(fd);
    return 0;
}

/* Reads the client's request; writes the accept value for its key. */
static int read_request(int fd, char *accept, char *head, size_t cap)
{
    if (raw_read_head(fd, head, cap) < 0)
        return -1;
    const char *k = strstr(head, "Sec-WebSocket-Key: ");
    if (!k)
        return -1;
    return cio__ws_accept(k + 19, 24, accept);
}

static char last_request[4096];

static void answer(int fd, const char *fmt_after_accept)
{
    char accept[64], out[2048];
    read_request(fd, accept, last_request, sizeof last_request);
    snprintf(out, sizeof out,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n%s\r\n",
             accept, fmt_after_accept);
    raw_send(fd, out, strlen(out));
}

/* Server frames are not masked. */
static void sframe(int fd, int opcode, int flags, const void *p, size_t n)
{
    struct ws_wire w = {0};
    ws_wire_frame(&w, opcode, flags, p, n, NULL);
    raw_send(fd, w.data, w.len);
    ws_wire_free(&w);
}

/* Runs script on the raw server while url is connected to with opts;
 * returns cio_ws_connect's result, *ws the connection. */
static struct raw_server rs;

static int connect_with(script_fn *script, const cio_ws_options *opts, cio_ws **ws,
                        cio_task **srv_task);

static int srv_task_fn(void *arg, void **result)
{
    return cio_to_thread(server_thread, arg, result);
}

static int connect_with(script_fn *script, const cio_ws_options *opts, cio_ws **ws,
                        cio_task **srv_task)
{
    rs.script = script;
    cio_create_task(srv_task_fn, &rs, "raw server", srv_task);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/chat?room=1", rs.port);
    return cio_ws_connect(url, opts, ws);
}

static void finish(cio_task *t)
{
    cio_task_await(t, NULL);
    cio_task_unref(t);
}

/* ---- handshake answers -------------------------------------------------------------- */

static void s_wrong_accept(int fd)
{
    char accept[64], head[2048];
    read_request(fd, accept, head, sizeof head);
    const char *a = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    raw_send(fd, a, strlen(a));
    raw_eof(fd);
}
static void s_200(int fd)
{
    char accept[64], head[2048];
    read_request(fd, accept, head, sizeof head);
    raw_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
    raw_eof(fd);
}
static void s_ext_not_offered(int fd)
{
    answer(fd, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    raw_eof(fd);
}
static void s_sub_not_offered(int fd)
{
    answer(fd, "Sec-WebSocket-Protocol: other\r\n");
    raw_eof(fd);
}
static void s_no_upgrade(int fd)
{
    char accept[64], head[2048], out[512];
    read_request(fd, accept, head, sizeof head);
    snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    raw_send(fd, out, strlen(out));
    raw_eof(fd);
}

static void c_handshake_answers(void)
{
    struct {
        script_fn *s;
        int no_compression;
    } bad[] = {{s_wrong_accept, 0}, {s_200, 0}, {s_ext_not_offered, 1},
               {s_sub_not_offered, 0}, {s_no_upgrade, 0}};
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad); i++) {
        cio_ws_options o;
        cio_ws_options_init(&o);
        o.no_compression = bad[i].no_compression;
        cio_ws *ws = NULL;
        cio_task *t;
        CHECK_RC(connect_with(bad[i].s, &o, &ws, &t), -EPROTO);
        finish(t);
    }
    cio_ws *ws;
    CHECK_RC(cio_ws_connect("http://127.0.0.1/", NULL, &ws), -EINVAL);
    CHECK_RC(cio_ws_connect("ws://host:99999/", NULL, &ws), -EINVAL);
}

/* ---- frames ------------------------------------------------------------------------ */

static void s_conversation(int fd)
{
    /* a message right behind the 101, in the same write */
    char accept[64], out[2048];
    read_request(fd, accept, last_request, sizeof last_request);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    struct ws_wire w = {0};
    ws_wire_put(&w, out, (size_t)n);
    ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, "early", 5, NULL);
    raw_send(fd, w.data, w.len);
    ws_wire_free(&w);
    /* fragments with a ping between */
    sframe(fd, CIO__WS_OP_BINARY, 0, "ab", 2);
    sframe(fd, CIO__WS_OP_PING, CIO__WS_FIN, "p1", 2);
    sframe(fd, CIO__WS_OP_CONT, CIO__WS_FIN, "cd", 2);
    struct raw_frame f;
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK(f.opcode == CIO__WS_OP_PONG && f.masked && f.len == 2 && !memcmp(f.data, "p1", 2));
    free(f.data);
    /* the client's two messages: masked, with different keys */
    uint8_t keys[2][4];
    for (int i = 0; i < 2; i++) {
        uint8_t h[2];
        CHECK(raw_read(fd, h, 2) == 0);
        CHECK(h[1] & 0x80);
        raw_read(fd, keys[i], 4);
        uint8_t body[64];
        raw_read(fd, body, h[1] & 127);
        cio__ws_mask(body, h[1] & 127, keys[i], 0);
        CHECK(memcmp(body, "hello", 5) == 0);
    }
    CHECK(memcmp(keys[0], keys[1], 4) != 0);
    /* the close handshake, started by the server */
    sframe(fd, CIO__WS_OP_CLOSE, CIO__WS_FIN, "\x0b\xb8" "done", 6); /* 3000 */
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK(f.opcode == CIO__WS_OP_CLOSE && f.masked && f.len == 2 && f.data[0] == 0x0b &&
          f.data[1] == 0xb8);
    free(f.data);
}

static void c_conversation(void)
{
    cio_ws_options o;
    cio_ws_options_init(&o);
    o.no_compression = 1;
    cio_ws *ws;
    cio_task *t;
    CHECK_RC(connect_with(s_conversation, &o, &ws, &t), 0);
    CHECK(strstr(last_request, "GET /chat?room=1 HTTP/1.1\r\n") != NULL);
    CHECK(strstr(last_request, "Sec-WebSocket-Version: 13\r\n") != NULL);
    int type;
    const void *d;
    size_t n;
    CHECK_RC(cio_ws_recv(ws, &type, &d, &n), 0);
    CHECK(type == CIO_WS_TEXT && n == 5 && !memcmp(d, "early", 5));
    CHECK_RC(cio_ws_recv(ws, &type, &d, &n), 0);
    CHECK(type == CIO_WS_BINARY && n == 4 && !memcmp(d, "abcd", 4));
    CHECK_RC(cio_ws_send_text(ws, "hello", 5), 0);
    CHECK_RC(cio_ws_send_binary(ws, "hello", 5), 0);
    CHECK_RC(cio_ws_recv(ws, &type, &d, &n), CIO_ECLOSED);
    CHECK_RC(cio_ws_wait_closed(ws), 0);
    CHECK_EQ(cio_ws_close_code(ws), 3000);
    CHECK(strcmp(cio_ws_close_reason(ws), "done") == 0);
    CHECK_RC(cio_ws_send_text(ws, "x", 1), CIO_ECLOSED);
    cio_ws_free(ws);
    finish(t);
}

static int failed_with;

static void s_masked_frame(int fd)
{
    answer(fd, "");
    struct ws_wire w = {0};
    static const uint8_t k[4] = {9, 9, 9, 9};
    ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, "masked", 6, k);
    raw_send(fd, w.data, w.len);
    ws_wire_free(&w);
    failed_with = raw_expect_close(fd, NULL);
}
static void s_bad_utf8(int fd)
{
    answer(fd, "");
    sframe(fd, CIO__WS_OP_TEXT, 0, "\xed\xa0", 2); /* a surrogate, in a first fragment */
    failed_with = raw_expect_close(fd, NULL);
}
static void s_silent(int fd)
{
    answer(fd, "");
    struct raw_frame f;
    /* read what the client sends (pings, its close) but never answer */
    while (raw_read_frame(fd, &f) == 0) {
        if (f.opcode == CIO__WS_OP_CLOSE)
            failed_with = f.len >= 2 ? f.data[0] << 8 | f.data[1] : 1005;
        free(f.data);
    }
}

static void c_failures(void)
{
    cio_ws_options o;
    cio_ws_options_init(&o);
    o.no_compression = 1;
    script_fn *fs[] = {s_masked_frame, s_bad_utf8};
    int want[] = {1002, 1007};
    for (int i = 0; i < 2; i++) {
        cio_ws *ws;
        cio_task *t;
        failed_with = 0;
        CHECK_RC(connect_with(fs[i], &o, &ws, &t), 0);
        int type;
        const void *d;
        size_t n;
        CHECK_RC(cio_ws_recv(ws, &type, &d, &n), CIO_ECLOSED);
        finish(t);
        CHECK_EQ(failed_with, want[i]);
        cio_ws_free(ws);
    }
    /* the close timeout: the server never answers our close */
    o.close_timeout = 0.3;
    cio_ws *ws;
    cio_task *t;
    CHECK_RC(connect_with(s_silent, &o, &ws, &t), 0);
    double t0 = test_now();
    CHECK_RC(cio_ws_close(ws, 1001, "going"), -ETIMEDOUT);
    CHECK(test_now() - t0 < 3);
    CHECK_EQ(cio_ws_close_code(ws), 1006);
    cio_ws_free(ws);
    finish(t);
    CHECK_EQ(failed_with, 1001);
    /* keepalive: pings that get no pong fail the connection with 1011 */
    o.ping_interval = 0.1;
    o.ping_timeout = 0.2;
    failed_with = 0;
    CHECK_RC(connect_with(s_silent, &o, &ws, &t), 0);
    CHECK_RC(cio_ws_wait_closed(ws), 0);
    cio_ws_free(ws);
    finish(t);
    CHECK_EQ(failed_with, 1011);
}

/* ---- cio client against cio server ----------------------------------------------------- */

static int port;
static cio_ws *members[8];
static size_t nmembers;
static cio_event *joined;

static int r_stream(cio_ws *ws, void *ud)
{
    (void)ud;
    static uint8_t big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i % 251);
    int rc = cio_ws_send_binary(ws, big, sizeof big);
    int type;
    const void *d;
    size_t n;
    cio_ws_recv(ws, &type, &d, &n); /* until the client closes */
    return rc;
}

static int r_member(cio_ws *ws, void *ud)
{
    (void)ud;
    members[nmembers++] = ws;
    cio_event_set(joined);
    int type;
    const void *d;
    size_t n;
    while (cio_ws_recv(ws, &type, &d, &n) == 0) {
    }
    for (size_t i = 0; i < nmembers; i++)
        if (members[i] == ws)
            members[i] = members[--nmembers];
    return 0;
}

static int flood_rc;
static size_t flood_max_buffer;

static int r_flood(cio_ws *ws, void *ud)
{
    (void)ud;
    static uint8_t chunk[65536];
    cio_timeout *tm;
    cio_timeout_begin(0.5, &tm);
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        rc = cio_ws_send_binary(ws, chunk, sizeof chunk);
        size_t b = cio_transport_get_write_buffer_size(cio_ws_transport(ws));
        if (b > flood_max_buffer)
            flood_max_buffer = b;
    }
    cio_timeout_end(tm);
    flood_rc = rc;
    return 0;
}

static int handlers; /* WebSocket handlers running */

/* Waits (up to 5 s) until the server's handlers have ended, so the
 * connections are freed before the loop ends. */
static void handlers_drain(void)
{
    for (int i = 0; i < 500 && handlers > 0; i++)
        cio_sleep(0.01);
    CHECK_EQ(handlers, 0);
}

static int route_inner(cio_http_request *req, void *ud);

static int route(cio_http_request *req, void *ud)
{
    handlers++;
    int rc = route_inner(req, ud);
    handlers--;
    return rc;
}

static int route_inner(cio_http_request *req, void *ud)
{
    cio_ws_options o;
    cio_ws_options_init(&o);
    if (strcmp(cio_http_request_path(req), "/nct") == 0)
        o.server_no_context_takeover = 1;
    return cio_ws_serve(req, &o, (cio_ws_handler_fn *)ud, NULL);
}

static void c_stream(void)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/stream", port);
    cio_ws *ws;
    CHECK_RC(cio_ws_connect(url, NULL, &ws), 0);
    CHECK_EQ(cio_ws_compressed(ws), cio__ws_deflate_available()); /* zlib built in? */
    uint8_t buf[10000];
    size_t total = 0;
    int pieces = 0, type, fin = 0, bad = 0;
    while (!fin) {
        int n = cio_ws_recv_stream(ws, buf, sizeof buf, &type, &fin);
        if (n < 0) {
            CHECK_RC(n, 0);
            break;
        }
        for (int i = 0; i < n; i++)
            bad |= buf[i] != (uint8_t)((total + (size_t)i) % 251);
        total += (size_t)n;
        pieces++;
    }
    CHECK_EQ(total, 300000);
    CHECK(!bad && pieces >= 30 && type == CIO_WS_BINARY);
    CHECK_RC(cio_ws_ping(ws, "hb", 2, 5), 0);
    CHECK_RC(cio_ws_close(ws, 1000, NULL), 0);
    CHECK_EQ(cio_ws_close_code(ws), 1000);
    cio_ws_free(ws);
}

static void c_broadcast(void)
{
    cio_event_new(NULL, &joined);
    const char *paths[] = {"/member", "/nct", "/nct", "/member"};
    cio_ws_options plain;
    cio_ws_options_init(&plain);
    plain.no_compression = 1;
    cio_ws *cl[5];
    for (int i = 0; i < 5; i++) {
        char url[64];
        snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, paths[i % 4]);
        cio_event_clear(joined);
        CHECK_RC(cio_ws_connect(url, i == 4 ? &plain : NULL, &cl[i]), 0);
        cio_event_wait(joined);
    }
    CHECK_EQ(nmembers, 5);
    const char *text = "to everyone, to everyone, to everyone";
    CHECK_EQ(cio_ws_broadcast(members, nmembers, CIO_WS_TEXT, text, strlen(text)), 5);
    CHECK_RC(cio_ws_broadcast(members, nmembers, CIO_WS_TEXT, "\xff", 1), -EILSEQ);
    for (int i = 0; i < 5; i++) {
        int type;
        const void *d;
        size_t n;
        CHECK_RC(cio_ws_recv(cl[i], &type, &d, &n), 0);
        CHECK(type == CIO_WS_TEXT && n == strlen(text) && !memcmp(d, text, n));
    }
    /* again: the context-takeover connections still decode */
    CHECK_EQ(cio_ws_broadcast(members, nmembers, CIO_WS_BINARY, "bin", 3), 5);
    for (int i = 0; i < 5; i++) {
        int type;
        const void *d;
        size_t n;
        CHECK_RC(cio_ws_recv(cl[i], &type, &d, &n), 0);
        CHECK(type == CIO_WS_BINARY && n == 3);
        CHECK_RC(cio_ws_close(cl[i], 1000, NULL), 0);
        cio_ws_free(cl[i]);
    }
    cio_sleep(0.05);
    CHECK_EQ(nmembers, 0);
    cio_event_free(joined);
}

static void c_backpressure(void)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/flood", port);
    cio_ws_options o;
    cio_ws_options_init(&o);
    o.no_compression = 1;
    cio_ws *ws;
    CHECK_RC(cio_ws_connect(url, &o, &ws), 0);
    cio_transport_pause_reading(cio_ws_transport(ws)); /* a peer that does not read */
    cio_sleep(0.8);
    CHECK_RC(flood_rc, -ETIMEDOUT);  /* the sender waited */
    CHECK(flood_max_buffer <= 64 * 1024 + 65536 + 14);
    cio_ws_free(ws);
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    CHECK(raw_listen(&rs) == 0);
    RUN(c_handshake_answers);
    RUN(c_conversation);
    RUN(c_failures);
    close(rs.lfd);

    cio_http_server *srv;
    cio_http_server_new(NULL, &srv);
    cio_http_server_route(srv, "GET", "/stream", route, r_stream, 0);
    cio_http_server_route(srv, "GET", "/member", route, r_member, 0);
    cio_http_server_route(srv, "GET", "/nct", route, r_member, 0);
    cio_http_server_route(srv, "GET", "/flood", route, r_flood, 0);
    CHECK_RC(cio_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = cio_http_server_port(srv);
    RUN(c_stream);
    RUN(c_broadcast);
    RUN(c_backpressure);
    handlers_drain();
    cio_http_server_shutdown(srv, 2);
    cio_http_server_free(srv);
    return 0;
}

int main(void)
{
    CHECK_RC(cio_run(main_task, NULL, NULL), 0);
    return test_finish();
}
