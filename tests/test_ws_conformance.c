/*
 * test_ws_conformance.c - our WebSocket server against a raw peer that
 * sends crafted frames, following the Autobahn testsuite's categories
 * (its tool needs Python 2 or Docker; these cases are written from RFC
 * 6455 and RFC 7692):
 *
 *   1 framing (7/16/64-bit lengths, frames trickled byte by byte),
 *   2 ping/pong, 3 reserved bits, 4 opcodes, 5 fragmentation (with
 *   control frames between fragments), 6 UTF-8 handling (fail fast across
 *   fragments), 7 close handling (codes, reasons, who closes TCP),
 *   9 limits (1009), 10 auto-fragmentation, 12/13 permessage-deflate,
 *   and the opening handshake of §4.2 (statuses, frames sent before the
 *   handshake completed), masking.
 *
 * The server is cio's: an HTTP server whose routes echo every message.
 * The client side of the same categories is test_ws_conformance_client.c.
 */
#include "test.h"
#include "ws_peer.h"

#include "ws/deflate.h"

static int port;

static int echo(cio_ws *ws, void *ud)
{
    (void)ud;
    for (;;) {
        int type;
        const void *data;
        size_t len;
        int rc = cio_ws_recv(ws, &type, &data, &len);
        if (rc < 0)
            return rc == CIO_ECLOSED ? 0 : rc;
        rc = type == CIO_WS_TEXT ? cio_ws_send_text(ws, data, len)
                                 : cio_ws_send_binary(ws, data, len);
        if (rc < 0)
            return rc == CIO_ECLOSED ? 0 : rc;
    }
}

static cio_ws_options o_plain, o_small, o_frag, o_nct;

static int handlers; /* WebSocket handlers running */

/* Waits (up to 5 s) until the server's handlers have ended, so the
 * connections are freed before the loop ends. */
static void handlers_drain(void)
{
    for (int i = 0; i < 500 && handlers > 0; i++)
        cio_sleep(0.01);
    CHECK_EQ(handlers, 0);
}

static int r_ws_inner(cio_http_request *req, void *ud);

static int r_ws(cio_http_request *req, void *ud)
{
    handlers++;
    int rc = r_ws_inner(req, ud);
    handlers--;
    return rc;
}

static int r_ws_inner(cio_http_request *req, void *ud)
{
    return cio_ws_serve(req, ud, echo, NULL);
}

/* ---- helpers ------------------------------------------------------------------ */

static int open_ws(const char *path_extra)
{
    char head[2048];
    return raw_open(port, path_extra, head, sizeof head);
}

/* Opens /ws (plain), sends the frames in w, expects a close with code. */
static void expect_fail(const struct ws_wire *w, int code)
{
    int fd = open_ws("");
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    raw_send(fd, w->data, w->len);
    int eof = 0;
    int got = raw_expect_close(fd, &eof);
    CHECK_EQ(got, code);
    CHECK(eof);
    close(fd);
}

static const uint8_t K[4] = {1, 2, 3, 4};

/* Sends a message, expects it echoed as one frame of the same type. */
static void echo_one(int fd, int opcode, const void *p, size_t n, size_t chunk)
{
    struct ws_wire w = {0};
    ws_wire_frame(&w, opcode, CIO__WS_FIN, p, n, K);
    for (size_t i = 0; i < w.len; i += chunk)
        raw_send(fd, w.data + i, w.len - i < chunk ? w.len - i : chunk);
    ws_wire_free(&w);
    struct raw_frame f;
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK_EQ(f.opcode, opcode);
    CHECK(f.fin && !f.masked && !f.rsv);
    CHECK_EQ(f.len, n);
    CHECK(f.data && memcmp(f.data, p, n) == 0);
    free(f.data);
}

static void close_clean(int fd)
{
    raw_frame(fd, CIO__WS_OP_CLOSE, CIO__WS_FIN, "\x03\xe8", 2);
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 1000);
    CHECK(eof);
    close(fd);
}

/* ---- 1. framing --------------------------------------------------------------- */

static void c1_framing(void)
{
    int fd = open_ws("");
    CHECK(fd >= 0);
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t i = 0; i < CIO_ARRAY_LEN(lens); i++)
        echo_one(fd, CIO__WS_OP_BINARY, big, lens[i], 4096);
    echo_one(fd, CIO__WS_OP_TEXT, "Hello, world", 12, 1); /* byte by byte */
    close_clean(fd);
}

/* ---- 2. ping/pong ----------------------------------------------------------------- */

static void c2_ping_pong(void)
{
    int fd = open_ws("");
    uint8_t p[125];
    memset(p, 0xfe, sizeof p);
    raw_frame(fd, CIO__WS_OP_PING, CIO__WS_FIN, p, 125);
    struct raw_frame f;
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK_EQ(f.opcode, CIO__WS_OP_PONG);
    CHECK(f.len == 125 && memcmp(f.data, p, 125) == 0);
    free(f.data);
    raw_frame(fd, CIO__WS_OP_PING, CIO__WS_FIN, NULL, 0);
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK(f.opcode == CIO__WS_OP_PONG && f.len == 0);
    free(f.data);
    /* an unsolicited pong is ignored */
    raw_frame(fd, CIO__WS_OP_PONG, CIO__WS_FIN, "x", 1);
    echo_one(fd, CIO__WS_OP_TEXT, "after pong", 10, 100);
    close_clean(fd);

    /* 126 bytes: too long for a control frame (the header is built by
     * hand: our builder refuses it) */
    struct ws_wire w = {0};
    uint8_t h[8] = {0x89, 0x80 | 126, 0, 126, 1, 2, 3, 4};
    ws_wire_put(&w, h, 8);
    uint8_t body[126] = {0};
    ws_wire_put(&w, body, 126);
    expect_fail(&w, 1002);
    ws_wire_free(&w);
    /* a fragmented ping */
    uint8_t fp[6] = {0x09, 0x80, 1, 2, 3, 4};
    w = (struct ws_wire){0};
    ws_wire_put(&w, fp, 6);
    expect_fail(&w, 1002);
    ws_wire_free(&w);
}

/* ---- 3. reserved bits, 4. opcodes ---------------------------------------------------- */

static void c3_reserved_bits(void)
{
    int bits[] = {CIO__WS_RSV1, CIO__WS_RSV2, CIO__WS_RSV3, 0x70};
    for (size_t i = 0; i < CIO_ARRAY_LEN(bits); i++) {
        struct ws_wire w = {0};
        uint8_t h[7] = {(uint8_t)(0x81 | bits[i]), 0x81, 1, 2, 3, 4, 'a' ^ 1};
        ws_wire_put(&w, h, 7);
        expect_fail(&w, 1002);
        ws_wire_free(&w);
    }
}

static void c4_opcodes(void)
{
    int ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < CIO_ARRAY_LEN(ops); i++) {
        struct ws_wire w = {0};
        uint8_t h[6] = {(uint8_t)(0x80 | ops[i]), 0x80, 1, 2, 3, 4};
        ws_wire_put(&w, h, 6);
        expect_fail(&w, 1002);
        ws_wire_free(&w);
    }
}

/* ---- 5. fragmentation ------------------------------------------------------------- */

static void c5_fragmentation(void)
{
    int fd = open_ws("");
    raw_frame(fd, CIO__WS_OP_TEXT, 0, "frag", 4);
    raw_frame(fd, CIO__WS_OP_PING, CIO__WS_FIN, "mid", 3);
    raw_frame(fd, CIO__WS_OP_CONT, 0, "men", 3);
    raw_frame(fd, CIO__WS_OP_CONT, CIO__WS_FIN, "ted", 3);
    struct raw_frame f;
    CHECK(raw_read_frame(fd, &f) == 0); /* the pong comes first */
    CHECK(f.opcode == CIO__WS_OP_PONG && f.len == 3 && memcmp(f.data, "mid", 3) == 0);
    free(f.data);
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK(f.opcode == CIO__WS_OP_TEXT && f.fin && f.len == 10 &&
          memcmp(f.data, "fragmented", 10) == 0);
    free(f.data);
    /* empty fragments */
    raw_frame(fd, CIO__WS_OP_BINARY, 0, NULL, 0);
    raw_frame(fd, CIO__WS_OP_CONT, 0, NULL, 0);
    raw_frame(fd, CIO__WS_OP_CONT, CIO__WS_FIN, NULL, 0);
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK(f.opcode == CIO__WS_OP_BINARY && f.len == 0);
    free(f.data);
    close_clean(fd);

    struct ws_wire w = {0};
    ws_wire_frame(&w, CIO__WS_OP_CONT, CIO__WS_FIN, "x", 1, K); /* nothing to continue */
    expect_fail(&w, 1002);
    ws_wire_free(&w);
    ws_wire_frame(&w, CIO__WS_OP_TEXT, 0, "a", 1, K);
    ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, "b", 1, K); /* a new start */
    expect_fail(&w, 1002);
    ws_wire_free(&w);
}

/* ---- 6. UTF-8 ----------------------------------------------------------------------- */

static void c6_utf8(void)
{
    int fd = open_ws("");
    const char *ok = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80";
    echo_one(fd, CIO__WS_OP_TEXT, ok, strlen(ok), 3);
    /* a code point split across fragments */
    raw_frame(fd, CIO__WS_OP_TEXT, 0, "\xf0\x9f", 2);
    raw_frame(fd, CIO__WS_OP_CONT, CIO__WS_FIN, "\x98\x80", 2);
    struct raw_frame f;
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK(f.len == 4 && memcmp(f.data, "\xf0\x9f\x98\x80", 4) == 0);
    free(f.data);
    close_clean(fd);

    const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80",
                         "\xce"};
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad); i++) {
        struct ws_wire w = {0};
        ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, bad[i], strlen(bad[i]), K);
        expect_fail(&w, 1007);
        ws_wire_free(&w);
    }
    /* fail fast: the first fragment's bad byte closes the connection
     * before the message's end is sent */
    fd = open_ws("");
    raw_frame(fd, CIO__WS_OP_TEXT, 0, "ok so far \xf5", 11);
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 1007);
    close(fd);
    /* a close reason that is not UTF-8 */
    struct ws_wire w = {0};
    ws_wire_frame(&w, CIO__WS_OP_CLOSE, CIO__WS_FIN, "\x03\xe8\xff", 3, K);
    expect_fail(&w, 1007);
    ws_wire_free(&w);
}

/* ---- 7. close handling ------------------------------------------------------------ */

static void c7_close(void)
{
    /* a code and reason: echoed, and the server closes TCP */
    int fd = open_ws("");
    raw_frame(fd, CIO__WS_OP_CLOSE, CIO__WS_FIN, "\x0f\xa0" "bye", 5); /* 4000 */
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 4000);
    CHECK(eof);
    close(fd);
    /* no status: answered without status */
    fd = open_ws("");
    raw_frame(fd, CIO__WS_OP_CLOSE, CIO__WS_FIN, NULL, 0);
    CHECK_EQ(raw_expect_close(fd, &eof), 1005);
    CHECK(eof);
    close(fd);
    /* data after the close frame is ignored */
    fd = open_ws("");
    struct ws_wire w = {0};
    ws_wire_frame(&w, CIO__WS_OP_CLOSE, CIO__WS_FIN, "\x03\xe8", 2, K);
    ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, "late", 4, K);
    raw_send(fd, w.data, w.len);
    ws_wire_free(&w);
    struct raw_frame f;
    CHECK(raw_read_frame(fd, &f) == 0);
    CHECK_EQ(f.opcode, CIO__WS_OP_CLOSE);
    free(f.data);
    CHECK(raw_eof(fd));
    close(fd);
    /* invalid payloads and codes */
    unsigned bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad); i++) {
        uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        ws_wire_frame(&w, CIO__WS_OP_CLOSE, CIO__WS_FIN, p, 2, K);
        expect_fail(&w, 1002);
        ws_wire_free(&w);
    }
    ws_wire_frame(&w, CIO__WS_OP_CLOSE, CIO__WS_FIN, "\x03", 1, K);
    expect_fail(&w, 1002);
    ws_wire_free(&w);
    unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999};
    for (size_t i = 0; i < CIO_ARRAY_LEN(good); i++) {
        fd = open_ws("");
        uint8_t p[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
        raw_frame(fd, CIO__WS_OP_CLOSE, CIO__WS_FIN, p, 2);
        CHECK_EQ(raw_expect_close(fd, &eof), (int)good[i]);
        close(fd);
    }
}

/* ---- 9. limits, 10. auto-fragmentation, masking ------------------------------------------ */

static void c9_limits(void)
{
    char head[2048];
    int fd = raw_connect(port);
    const char *req = "GET /small HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    raw_send(fd, req, strlen(req));
    CHECK(raw_read_head(fd, head, sizeof head) > 0 && strncmp(head, "HTTP/1.1 101", 12) == 0);
    static uint8_t b[1001];
    echo_one(fd, CIO__WS_OP_BINARY, b, 1000, 1000);
    /* 600 + 600 in fragments: over the 1000-byte message limit */
    raw_frame(fd, CIO__WS_OP_BINARY, 0, b, 600);
    raw_frame(fd, CIO__WS_OP_CONT, CIO__WS_FIN, b, 600);
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 1009);
    CHECK(eof);
    close(fd);
    fd = raw_connect(port);
    raw_send(fd, req, strlen(req));
    raw_read_head(fd, head, sizeof head);
    raw_frame(fd, CIO__WS_OP_BINARY, CIO__WS_FIN, b, 1001);
    CHECK_EQ(raw_expect_close(fd, &eof), 1009);
    close(fd);
}

static void c10_auto_fragmentation(void)
{
    char head[2048];
    int fd = raw_connect(port);
    const char *req = "GET /frag HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    raw_send(fd, req, strlen(req));
    raw_read_head(fd, head, sizeof head);
    static uint8_t b[350];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)i;
    raw_frame(fd, CIO__WS_OP_BINARY, CIO__WS_FIN, b, 350);
    int ops[] = {CIO__WS_OP_BINARY, 0, 0, 0};
    size_t lens[] = {100, 100, 100, 50};
    for (int i = 0; i < 4; i++) {
        struct raw_frame f;
        CHECK(raw_read_frame(fd, &f) == 0);
        CHECK_EQ(f.opcode, ops[i]);
        CHECK_EQ(f.fin, i == 3);
        CHECK_EQ(f.len, lens[i]);
        CHECK(memcmp(f.data, b + 100 * i, f.len) == 0);
        free(f.data);
    }
    close_clean(fd);
}

static void c_masking(void)
{
    struct ws_wire w = {0};
    ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, "unmasked", 8, NULL);
    expect_fail(&w, 1002);
    ws_wire_free(&w);
}

/* ---- 12/13. permessage-deflate ------------------------------------------------------ */

static void pmd_roundtrip(const char *path, const char *offer, const char *want_resp,
                          int nct)
{
    char head[2048], req[1024];
    int fd = raw_connect(port);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Extensions: %s\r\n\r\n",
             path, offer);
    raw_send(fd, req, strlen(req));
    CHECK(raw_read_head(fd, head, sizeof head) > 0);
    CHECK(strstr(head, want_resp) != NULL);
    struct cio__ws_pmd_params p = {.server_no_context_takeover = (uint8_t)nct,
                                   .server_max_window_bits = 15,
                                   .client_max_window_bits = 15};
    struct cio__ws_deflate tx, rx;
    cio__ws_deflate_init(&tx, &p, 0, -1, 0);
    cio__ws_deflate_init(&rx, &p, 0, -1, 0);
    const char *msgs[] = {"compress me compress me compress me", "compress me again", ""};
    for (int i = 0; i < 3; i++) {
        struct cio__ws_buf z = {0}, out = {0};
        cio__ws_deflate_compress(&tx, (const uint8_t *)msgs[i], strlen(msgs[i]), 1, &z);
        /* in two fragments, RSV1 on the first only */
        size_t half = z.len / 2;
        raw_frame(fd, CIO__WS_OP_TEXT, CIO__WS_RSV1, z.data, half);
        raw_frame(fd, CIO__WS_OP_CONT, CIO__WS_FIN, z.data + half, z.len - half);
        struct raw_frame f;
        CHECK(raw_read_frame(fd, &f) == 0);
        CHECK(f.opcode == CIO__WS_OP_TEXT && f.rsv == CIO__WS_RSV1 && f.fin);
        CHECK_RC(cio__ws_deflate_decompress(&rx, f.data, f.len, 1, &out), 0);
        CHECK(out.len == strlen(msgs[i]) && (!out.len || memcmp(out.data, msgs[i], out.len) == 0));
        free(f.data);
        cio__ws_buf_free(&z);
        cio__ws_buf_free(&out);
    }
    /* RSV1 on a continuation frame */
    raw_frame(fd, CIO__WS_OP_TEXT, 0, "a", 1);
    raw_frame(fd, CIO__WS_OP_CONT, CIO__WS_FIN | CIO__WS_RSV1, "b", 1);
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 1002);
    close(fd);
    cio__ws_deflate_free(&tx);
    cio__ws_deflate_free(&rx);
}

static void c12_deflate(void)
{
    if (!cio__ws_deflate_available()) {
        test_skip_case("built without zlib: permessage-deflate cases not run");
        return;
    }
    pmd_roundtrip("/ws", "permessage-deflate; client_max_window_bits",
                  "Sec-WebSocket-Extensions: permessage-deflate", 0);
    pmd_roundtrip("/nct", "permessage-deflate", "server_no_context_takeover", 1);
    /* a bad offer is declined, the connection goes on uncompressed */
    char head[2048];
    int fd = raw_open(port, "Sec-WebSocket-Extensions: permessage-deflate; bogus=1\r\n", head,
                      sizeof head);
    CHECK(fd >= 0 && !strstr(head, "permessage-deflate"));
    echo_one(fd, CIO__WS_OP_TEXT, "plain", 5, 100);
    close_clean(fd);
    /* a compressed frame that is not DEFLATE, and a bomb over the limit */
    fd = raw_open(port, "Sec-WebSocket-Extensions: permessage-deflate\r\n", head, sizeof head);
    raw_frame(fd, CIO__WS_OP_BINARY, CIO__WS_FIN | CIO__WS_RSV1, "\xff\xff\xff\xff", 4);
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 1002);
    close(fd);
    fd = raw_open(port, "Sec-WebSocket-Extensions: permessage-deflate\r\n", head, sizeof head);
    struct cio__ws_pmd_params p = {.server_max_window_bits = 15, .client_max_window_bits = 15};
    struct cio__ws_deflate tx;
    cio__ws_deflate_init(&tx, &p, 0, 9, 0);
    uint8_t *zeros = calloc(1, 4 << 20);
    struct cio__ws_buf z = {0};
    cio__ws_deflate_compress(&tx, zeros, 4 << 20, 1, &z);
    raw_frame(fd, CIO__WS_OP_BINARY, CIO__WS_FIN | CIO__WS_RSV1, z.data, z.len);
    CHECK_EQ(raw_expect_close(fd, &eof), 1009);
    close(fd);
    free(zeros);
    cio__ws_buf_free(&z);
    cio__ws_deflate_free(&tx);
}

/* ---- the opening handshake (§4.2) -------------------------------------------------- */

static int status_of(const char *req, char *head, size_t cap)
{
    int fd = raw_connect(port);
    raw_send(fd, req, strlen(req));
    int n = raw_read_head(fd, head, cap);
    close(fd);
    return n > 12 ? atoi(head + 9) : -1;
}

static void c_handshake(void)
{
    char head[2048];
    const char *key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    char req[1024];
    int fd = raw_open(port, "", head, sizeof head);
    CHECK(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
    close_clean(fd);
    /* no Host */
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "%sSec-WebSocket-Version: 13\r\n\r\n", key);
    CHECK_EQ(status_of(req, head, sizeof head), 400);
    /* version 8 */
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: keep-alive, Upgrade\r\n%sSec-WebSocket-Version: 8\r\n\r\n", key);
    CHECK_EQ(status_of(req, head, sizeof head), 426);
    CHECK(strstr(head, "Sec-WebSocket-Version: 13") != NULL);
    /* no Upgrade token */
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
             "%sSec-WebSocket-Version: 13\r\n\r\n", key);
    CHECK_EQ(status_of(req, head, sizeof head), 426);
    /* a key of 15 bytes */
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n");
    CHECK_EQ(status_of(req, head, sizeof head), 400);
    /* HTTP/1.0 */
    snprintf(req, sizeof req, "GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\n%sSec-WebSocket-Version: 13\r\n\r\n", key);
    CHECK_EQ(status_of(req, head, sizeof head), 400);
    /* POST */
    snprintf(req, sizeof req, "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\n%sSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
             key);
    CHECK_EQ(status_of(req, head, sizeof head), 405);
    /* subprotocol: ours first that the client offered */
    fd = raw_open(port, "Sec-WebSocket-Protocol: mqtt, chat.v2, chat\r\n", head, sizeof head);
    CHECK(strstr(head, "Sec-WebSocket-Protocol: chat.v2\r\n") != NULL);
    close_clean(fd);
    /* a frame sent with the request, before the 101: not taken as data */
    fd = raw_connect(port);
    struct ws_wire w = {0};
    ws_wire_put(&w, RAW_UPGRADE, strlen(RAW_UPGRADE));
    ws_wire_put(&w, "\r\n", 2);
    ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_FIN, "early", 5, K);
    raw_send(fd, w.data, w.len);
    ws_wire_free(&w);
    CHECK(raw_read_head(fd, head, sizeof head) > 0);
    int eof = 0;
    CHECK_EQ(raw_expect_close(fd, &eof), 1002); /* and no echo before it */
    close(fd);
}

/* ---- the run ------------------------------------------------------------------------- */

static int cases(void *arg, void **result)
{
    (void)arg;
    (void)result;
    RUN(c1_framing);
    RUN(c2_ping_pong);
    RUN(c3_reserved_bits);
    RUN(c4_opcodes);
    RUN(c5_fragmentation);
    RUN(c6_utf8);
    RUN(c7_close);
    RUN(c9_limits);
    RUN(c10_auto_fragmentation);
    RUN(c_masking);
    RUN(c12_deflate);
    RUN(c_handshake);
    return 0;
}

static const char *const subs[] = {"chat.v2", "chat", NULL};

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cio_http_server *srv;
    CHECK_RC(cio_http_server_new(NULL, &srv), 0);
    cio_ws_options_init(&o_plain);
    o_plain.subprotocols = subs;
    o_small = o_plain;
    o_small.max_message = 1000;
    o_frag = o_plain;
    o_frag.fragment_size = 100;
    o_frag.no_compression = 1;
    o_nct = o_plain;
    o_nct.server_no_context_takeover = 1;
    cio_http_server_route(srv, "GET", "/ws", r_ws, &o_plain, 0);
    cio_http_server_route(srv, "*", "/ws", r_ws, &o_plain, 0);
    cio_http_server_route(srv, "GET", "/small", r_ws, &o_small, 0);
    cio_http_server_route(srv, "GET", "/frag", r_ws, &o_frag, 0);
    cio_http_server_route(srv, "GET", "/nct", r_ws, &o_nct, 0);
    CHECK_RC(cio_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = cio_http_server_port(srv);
    int rc = cio_to_thread(cases, NULL, NULL);
    handlers_drain();
    cio_http_server_shutdown(srv, 5);
    cio_http_server_free(srv);
    return rc;
}

int main(void)
{
    CHECK_RC(cio_run(main_task, NULL, NULL), 0);
    return test_finish();
}
