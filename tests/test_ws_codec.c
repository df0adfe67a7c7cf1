/*
 * test_ws_codec.c - the transport-independent WebSocket pieces (src/ws):
 *
 *   1. SHA-1 (FIPS 180 vectors) and base64 (RFC 4648 §10 vectors).
 *   2. Handshake keys: the RFC 6455 §1.3 accept example, key syntax.
 *   3. Frames: the RFC 6455 §5.7 examples parsed fed one byte at a time
 *      and built back, every header rule with its close code, message
 *      assembly with control frames between fragments, size limits.
 *   4. Masking at every alignment, offset and split against a byte-wise
 *      reference.
 *   5. UTF-8: valid and invalid vectors at every split point, and random
 *      strings against a reference decoder, checking that the validator
 *      fails on exactly the first byte that no completion could save.
 *   6. Close payloads: the code table, parse and build.
 *
 * permessage-deflate (negotiation and codec) is in test_ws_deflate.c.
 */
#include "test.h"
#include "ws_util.h"

#include "ws/base64.h"
#include "ws/close.h"
#include "ws/handshake.h"
#include "ws/sha1.h"

/* ---- 1. SHA-1 and base64 ------------------------------------------------- */

static void hex_of(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void sha1_hex(char out[41], const char *s, size_t n, size_t piece)
{
    struct cio__sha1 h;
    uint8_t d[20];
    cio__sha1_init(&h);
    for (size_t i = 0; i < n; i += piece)
        cio__sha1_update(&h, s + i, n - i < piece ? n - i : piece);
    cio__sha1_final(&h, d);
    hex_of(out, d, 20);
}

static void test_sha1_vectors(void)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"},
    };
    char got[41];
    for (size_t i = 0; i < CIO_ARRAY_LEN(v); i++)
        for (size_t piece = 1; piece <= 70; piece += 23) {
            sha1_hex(got, v[i].in, strlen(v[i].in), piece);
            CHECK(strcmp(got, v[i].hex) == 0);
        }
    /* One million 'a' (FIPS 180 appendix), in uneven pieces. */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    sha1_hex(got, a, 1000000, 4099);
    CHECK(strcmp(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
    free(a);
    /* Lengths around the padding boundary (55, 56, 63, 64 bytes) hash the
     * same whole and byte by byte. */
    char buf[130], one[41];
    memset(buf, 'x', sizeof buf);
    for (size_t n = 50; n < 130; n++) {
        sha1_hex(got, buf, n, n ? n : 1);
        sha1_hex(one, buf, n, 1);
        CHECK(strcmp(got, one) == 0);
    }
}

static void test_base64_vectors(void)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < CIO_ARRAY_LEN(plain); i++) {
        char out[16];
        uint8_t dec[16];
        size_t n = strlen(plain[i]);
        CHECK_EQ(cio__base64_encode(out, (const uint8_t *)plain[i], n), strlen(enc[i]));
        CHECK(strcmp(out, enc[i]) == 0);
        CHECK_EQ(cio__base64_decode(dec, sizeof dec, enc[i], strlen(enc[i])), (long long)n);
        CHECK(memcmp(dec, plain[i], n) == 0);
    }
    static const char *bad[] = {"Zg=", "Zh==", "Zm9=", "Z===", "Zm9v!A==", "=Zg=", "Zg==Zg==", "Zm 9"};
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad); i++) {
        uint8_t dec[16];
        CHECK_RC(cio__base64_decode(dec, sizeof dec, bad[i], strlen(bad[i])), -EINVAL);
    }
    uint8_t small[2];
    CHECK_RC(cio__base64_decode(small, sizeof small, "Zm9v", 4), -ENOSPC);
}

/* ---- 2. handshake keys ----------------------------------------------------- */

static void test_accept_key(void)
{
    /* RFC 6455 §1.3. */
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    char acc[CIO__WS_ACCEPT_LEN + 1];
    CHECK_RC(cio__ws_accept(key, strlen(key), acc), 0);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    CHECK_RC(cio__ws_accept_check(key, strlen(key), acc, strlen(acc)), 0);
    CHECK_RC(cio__ws_accept_check(key, strlen(key), " s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\t", 30), 0);
    CHECK_RC(cio__ws_accept_check(key, strlen(key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOO=", 28), -EPROTO);
    CHECK_RC(cio__ws_accept_check(key, strlen(key), "", 0), -EPROTO);
    /* OWS around the key is not part of it. */
    CHECK_RC(cio__ws_accept(" dGhlIHNhbXBsZSBub25jZQ== ", 26, acc), 0);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);

    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ",       /* no padding */
        "dGhlIHNhbXBsZSBub25jZQ=",      /* short padding */
        "dGhlIHNhbXBsZSBub25jZXg=",     /* 17 bytes */
        "dGhlIHNhbXBsZSBub25j",         /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZR==",     /* non-canonical last symbol */
        "dGhlIHNhbXBsZSBub25j*Q==",     /* not base64 */
        "dGhlIHNhbXBsZSBub25jZQ==dGhl", /* too long */
    };
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad); i++) {
        CHECK_RC(cio__ws_key_check(bad[i], strlen(bad[i])), -EINVAL);
        CHECK_RC(cio__ws_accept(bad[i], strlen(bad[i]), acc), -EINVAL);
    }
    CHECK_RC(cio__ws_key_check(NULL, 0), -EINVAL);

    uint8_t nonce[16];
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)(i * 37 + 1);
    char made[CIO__WS_KEY_LEN + 1];
    cio__ws_key_make(nonce, made);
    CHECK_EQ(strlen(made), 24);
    CHECK_RC(cio__ws_key_check(made, strlen(made)), 0);
}

/* ---- 3. frames --------------------------------------------------------------- */

/* RFC 6455 §5.7. */
static const uint8_t hello_unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t hello_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                       0x9f, 0x4d, 0x51, 0x58};
static const uint8_t hello_fragmented[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
static const uint8_t ping_unmasked[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t pong_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                      0x9f, 0x4d, 0x51, 0x58};

static void test_rfc6455_examples(void)
{
    static const size_t steps[] = {1, 2, 3, 5, 1000};
    for (size_t k = 0; k < CIO_ARRAY_LEN(steps); k++) {
        struct ws_sim s;
        ws_sim_init(&s, 0, 0, 0, 0);
        CHECK_RC(ws_sim_feed(&s, hello_unmasked, sizeof hello_unmasked, steps[k]), 0);
        CHECK_EQ(s.messages, 1);
        CHECK_EQ(s.last_opcode, CIO__WS_OP_TEXT);
        CHECK(s.last_len == 5 && memcmp(s.last, "Hello", 5) == 0);
        ws_sim_free(&s);

        ws_sim_init(&s, 1, 0, 0, 0);
        CHECK_RC(ws_sim_feed(&s, hello_masked, sizeof hello_masked, steps[k]), 0);
        CHECK(s.messages == 1 && s.last_len == 5 && memcmp(s.last, "Hello", 5) == 0);
        CHECK_RC(ws_sim_feed(&s, pong_masked, sizeof pong_masked, steps[k]), 0);
        CHECK(s.controls == 1 && s.ctrl_opcode == CIO__WS_OP_PONG && s.ctrl_len == 5 &&
              memcmp(s.ctrl, "Hello", 5) == 0);
        ws_sim_free(&s);

        ws_sim_init(&s, 0, 0, 0, 0);
        CHECK_RC(ws_sim_feed(&s, hello_fragmented, sizeof hello_fragmented, steps[k]), 0);
        CHECK(s.messages == 1 && s.frames == 2 && s.last_len == 5 &&
              memcmp(s.last, "Hello", 5) == 0);
        CHECK_RC(ws_sim_feed(&s, ping_unmasked, sizeof ping_unmasked, steps[k]), 0);
        CHECK(s.controls == 1 && s.ctrl_opcode == CIO__WS_OP_PING);
        ws_sim_free(&s);
    }

    /* The headers build back byte for byte. */
    uint8_t h[CIO__WS_MAX_HEADER];
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_TEXT, CIO__WS_FIN, 5, NULL), 2);
    CHECK(memcmp(h, hello_unmasked, 2) == 0);
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_TEXT, CIO__WS_FIN, 5, key), 6);
    CHECK(memcmp(h, hello_masked, 6) == 0);
    uint8_t payload[5];
    cio__ws_mask_copy(payload, (const uint8_t *)"Hello", 5, key, 0);
    CHECK(memcmp(payload, hello_masked + 6, 5) == 0);
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_TEXT, 0, 3, NULL), 2);
    CHECK(memcmp(h, hello_fragmented, 2) == 0);
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_CONT, CIO__WS_FIN, 2, NULL), 2);
    CHECK(memcmp(h, hello_fragmented + 5, 2) == 0);
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_PONG, CIO__WS_FIN, 5, key), 6);
    CHECK(memcmp(h, pong_masked, 6) == 0);

    /* 256 bytes and 64 KiB of binary in one unmasked frame. */
    static const uint8_t h256[] = {0x82, 0x7E, 0x01, 0x00};
    static const uint8_t h64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_BINARY, CIO__WS_FIN, 256, NULL), 4);
    CHECK(memcmp(h, h256, 4) == 0);
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_BINARY, CIO__WS_FIN, 65536, NULL), 10);
    CHECK(memcmp(h, h64k, 10) == 0);
    static const size_t sizes[] = {256, 65536};
    for (size_t k = 0; k < 2; k++) {
        size_t n = sizes[k];
        uint8_t *wire = malloc(n + 10);
        size_t hl = k ? 10 : 4;
        memcpy(wire, k ? h64k : h256, hl);
        for (size_t i = 0; i < n; i++)
            wire[hl + i] = (uint8_t)(i * 7);
        struct ws_sim s;
        ws_sim_init(&s, 0, 0, 0, 0);
        CHECK_RC(ws_sim_feed(&s, wire, hl + n, k ? 997 : 1), 0);
        CHECK(s.messages == 1 && s.last_opcode == CIO__WS_OP_BINARY && s.last_len == n &&
              memcmp(s.last, wire + hl, n) == 0);
        ws_sim_free(&s);
        free(wire);
    }
    /* Maximum sizes, and what may not be built. */
    CHECK_EQ(cio__ws_frame_build(h, CIO__WS_OP_BINARY, CIO__WS_FIN, UINT64_MAX >> 1, key), 14);
    CHECK_RC(cio__ws_frame_build(h, CIO__WS_OP_BINARY, CIO__WS_FIN, UINT64_C(1) << 63, NULL), -EINVAL);
    CHECK_RC(cio__ws_frame_build(h, CIO__WS_OP_PING, CIO__WS_FIN, 126, NULL), -EINVAL);
    CHECK_RC(cio__ws_frame_build(h, CIO__WS_OP_PING, 0, 1, NULL), -EINVAL);
    CHECK_RC(cio__ws_frame_build(h, 3, CIO__WS_FIN, 1, NULL), -EINVAL);
    CHECK_RC(cio__ws_frame_build(h, CIO__WS_OP_TEXT, 0x01, 1, NULL), -EINVAL);
}

/* One header rule: the bytes, the receiver, the error, and after how many
 * bytes it must show (fail fast). */
struct bad_header {
    const char *what;
    uint8_t bytes[14];
    size_t len;      /* bytes given */
    int server;      /* receiver side */
    int rsv_allowed; /* negotiated RSV bits */
    uint64_t max_frame;
    int err;         /* expected error */
    size_t fails_at; /* number of bytes at which it is first reported */
};

static void test_header_rules(void)
{
    static const struct bad_header t[] = {
        {"reserved data opcode", {0x83, 0x00}, 2, 0, 0, 0, -EPROTO, 1},
        {"reserved control opcode", {0x8B, 0x00}, 2, 0, 0, 0, -EPROTO, 1},
        {"RSV1 without extension", {0xC1, 0x00}, 2, 0, 0, 0, -EPROTO, 1},
        {"RSV2 with deflate", {0xA1, 0x00}, 2, 0, CIO__WS_RSV1, 0, -EPROTO, 1},
        {"RSV3", {0x91, 0x00}, 2, 0, CIO__WS_RSV1, 0, -EPROTO, 1},
        {"RSV1 on ping", {0xC9, 0x00}, 2, 0, CIO__WS_RSV1, 0, -EPROTO, 1},
        {"fragmented ping", {0x09, 0x00}, 2, 0, 0, 0, -EPROTO, 1},
        {"fragmented close", {0x08, 0x00}, 2, 0, 0, 0, -EPROTO, 1},
        {"continuation, no message", {0x80, 0x00}, 2, 0, 0, 0, -EPROTO, 1},
        {"ping of 126 bytes", {0x89, 0x7E, 0x00, 0x7E}, 4, 0, 0, 0, -EPROTO, 2},
        {"close of 127+ bytes", {0x88, 0x7F}, 2, 0, 0, 0, -EPROTO, 2},
        {"64-bit length top bit", {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1}, 10, 0, 0, 0, -EPROTO, 3},
        {"unmasked to server", {0x81, 0x05}, 2, 1, 0, 0, -EPROTO, 2},
        {"masked to client", {0x81, 0x85, 1, 2, 3, 4}, 6, 0, 0, 0, -EPROTO, 2},
        {"frame over limit (16-bit)", {0x82, 0x7E, 0x01, 0x01}, 4, 0, 0, 256, -EMSGSIZE, 4},
        {"frame over limit (64-bit)", {0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0}, 10, 0, 0, 1 << 20, -EMSGSIZE, 10},
    };
    for (size_t i = 0; i < CIO_ARRAY_LEN(t); i++) {
        test_current = t[i].what;
        struct cio__ws_recv r;
        struct cio__ws_frame f;
        cio__ws_recv_init(&r, t[i].server, t[i].rsv_allowed, t[i].max_frame, 0);
        for (size_t n = 0; n <= t[i].len; n++) {
            int rc = cio__ws_frame_parse(&r, t[i].bytes, n, &f);
            if (n < t[i].fails_at) {
                CHECK_RC(rc, 0);
            } else {
                CHECK_RC(rc, t[i].err);
                CHECK(f.why != NULL);
            }
        }
        CHECK_EQ(cio__ws_close_code_for(t[i].err),
                 t[i].err == -EPROTO ? CIO__WS_CLOSE_PROTOCOL : CIO__WS_CLOSE_TOO_BIG);
    }
    test_current = "test_header_rules";
    CHECK_EQ(cio__ws_close_code_for(-EILSEQ), CIO__WS_CLOSE_INVALID_DATA);
    CHECK_EQ(cio__ws_close_code_for(-ENOMEM), CIO__WS_CLOSE_INTERNAL);

    /* The limits are inclusive; a 64-bit length under 2^63 is fine. */
    struct cio__ws_recv r;
    struct cio__ws_frame f;
    cio__ws_recv_init(&r, 0, 0, 256, 0);
    static const uint8_t at_limit[] = {0x82, 0x7E, 0x01, 0x00};
    CHECK_EQ(cio__ws_frame_parse(&r, at_limit, 4, &f), 4);
    CHECK_EQ(f.len, 256);
    cio__ws_recv_init(&r, 0, 0, 0, 0);
    static const uint8_t huge[] = {0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK_EQ(cio__ws_frame_parse(&r, huge, 10, &f), 10);
    CHECK(f.len == UINT64_MAX >> 1);
    /* Non-minimal length encoding is accepted (§5.2 binds senders). */
    static const uint8_t loose[] = {0x82, 0x7E, 0x00, 0x05};
    CHECK_EQ(cio__ws_frame_parse(&r, loose, 4, &f), 4);
    CHECK_EQ(f.len, 5);
}

static void test_fragments_and_controls(void)
{
    /* Server side: "Hel" (text, masked), a ping between the fragments,
     * "lo" — fed at every chunk size from 1 byte up. */
    static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    struct ws_wire w = {0};
    ws_wire_frame(&w, CIO__WS_OP_TEXT, 0, "Hel", 3, key);
    ws_wire_frame(&w, CIO__WS_OP_PING, CIO__WS_FIN, "ab", 2, key);
    ws_wire_frame(&w, CIO__WS_OP_CONT, 0, "", 0, key);
    ws_wire_frame(&w, CIO__WS_OP_PONG, CIO__WS_FIN, "", 0, key);
    ws_wire_frame(&w, CIO__WS_OP_CONT, CIO__WS_FIN, "lo", 2, key);
    ws_wire_frame(&w, CIO__WS_OP_BINARY, CIO__WS_FIN, "\xff\x00", 2, key);
    for (size_t step = 1; step <= w.len; step++) {
        struct ws_sim s;
        ws_sim_init(&s, 1, 0, 0, 0);
        CHECK_RC(ws_sim_feed(&s, w.data, w.len, step), 0);
        CHECK_EQ(s.messages, 2);
        CHECK_EQ(s.controls, 2);
        CHECK(s.first_len == 5 && memcmp(s.first, "Hello", 5) == 0);
        CHECK(s.last_opcode == CIO__WS_OP_BINARY && s.last_len == 2);
        ws_sim_free(&s);
    }

    /* A new data message while one is open; RSV1 on a continuation. */
    struct cio__ws_recv r;
    struct cio__ws_frame f;
    cio__ws_recv_init(&r, 0, CIO__WS_RSV1, 0, 0);
    static const uint8_t first[] = {0x41, 0x01};
    CHECK_EQ(cio__ws_frame_parse(&r, first, 2, &f), 2);
    CHECK_RC(cio__ws_recv_frame(&r, &f), 0);
    CHECK_RC(cio__ws_recv_frame_end(&r), 0);
    static const uint8_t text_again[] = {0x81};
    CHECK_RC(cio__ws_frame_parse(&r, text_again, 1, &f), -EPROTO);
    static const uint8_t cont_rsv1[] = {0xC0};
    CHECK_RC(cio__ws_frame_parse(&r, cont_rsv1, 1, &f), -EPROTO);
    static const uint8_t ping[] = {0x89, 0x00};
    CHECK_EQ(cio__ws_frame_parse(&r, ping, 2, &f), 2);
    CHECK_RC(cio__ws_recv_frame(&r, &f), 0);
    CHECK_RC(cio__ws_recv_data(&r, (const uint8_t *)"x", 1), -EINVAL);
    CHECK_RC(cio__ws_recv_frame_end(&r), 0);
    static const uint8_t cont_fin[] = {0x80, 0x00};
    CHECK_EQ(cio__ws_frame_parse(&r, cont_fin, 2, &f), 2);
    CHECK_RC(cio__ws_recv_frame(&r, &f), 0);
    CHECK_RC(cio__ws_recv_frame_end(&r), 1);

    /* The message limit counts across fragments: 10 + 10 > 15. */
    cio__ws_recv_init(&r, 0, 0, 0, 15);
    uint8_t ten[] = {0x02, 10};
    CHECK_EQ(cio__ws_frame_parse(&r, ten, 2, &f), 2);
    CHECK_RC(cio__ws_recv_frame(&r, &f), 0);
    CHECK_RC(cio__ws_recv_frame_end(&r), 0);
    ten[0] = 0x80;
    CHECK_RC(cio__ws_frame_parse(&r, ten, 2, &f), -EMSGSIZE);
    ten[1] = 5;
    CHECK_EQ(cio__ws_frame_parse(&r, ten, 2, &f), 2); /* exactly 15 */

    /* UTF-8 fails in the fragment where it breaks, not at the end: a
     * surrogate split across fragments, then a text ending mid-character. */
    struct ws_wire bad = {0};
    ws_wire_frame(&bad, CIO__WS_OP_TEXT, 0, "Hel\xed", 4, NULL);
    ws_wire_frame(&bad, CIO__WS_OP_CONT, 0, "\xa0\x80", 2, NULL);
    struct ws_sim s;
    ws_sim_init(&s, 0, 0, 0, 0);
    CHECK_RC(ws_sim_feed(&s, bad.data, bad.len, 1), -EILSEQ);
    CHECK_EQ(s.frames, 1);        /* fragment 1 was fine... */
    CHECK_EQ(s.payload_bytes, 5); /* ...fragment 2's first byte failed */
    ws_sim_free(&s);
    ws_wire_free(&bad);
    ws_wire_frame(&bad, CIO__WS_OP_TEXT, 0, "caf\xc3", 4, NULL);
    ws_wire_frame(&bad, CIO__WS_OP_CONT, CIO__WS_FIN, "", 0, NULL);
    ws_sim_init(&s, 0, 0, 0, 0);
    CHECK_RC(ws_sim_feed(&s, bad.data, bad.len, 1), -EILSEQ);
    CHECK_EQ(s.messages, 0);
    ws_sim_free(&s);
    ws_wire_free(&bad);
    ws_wire_free(&w);
}

/* ---- 4. masking ----------------------------------------------------------- */

static void test_masking(void)
{
    enum { MAX = 300 };
    static const uint8_t key[4] = {0x12, 0x34, 0xab, 0xcd};
    uint8_t src[MAX + 32], want[MAX + 32], buf[MAX + 32], dst[MAX + 32];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 31 + 7);
    for (size_t align = 0; align < 16; align++)
        for (size_t n = 0; n <= MAX; n += (n < 70 ? 1 : 23))
            for (size_t off = 0; off < 4; off++) {
                for (size_t i = 0; i < n; i++)
                    want[i] = src[i] ^ key[(off + i) & 3];
                /* Whole, in place, at this alignment. */
                memcpy(buf + align, src, n);
                CHECK_EQ(cio__ws_mask(buf + align, n, key, off), (off + n) & 3);
                CHECK(memcmp(buf + align, want, n) == 0);
                /* Copying, destination at another alignment. */
                CHECK_EQ(cio__ws_mask_copy(dst + (15 - align), src, n, key, off), (off + n) & 3);
                CHECK(memcmp(dst + (15 - align), want, n) == 0);
                /* In two pieces with the running offset, every split. */
                if (n > 40 || align > 3)
                    continue;
                for (size_t cut = 0; cut <= n; cut++) {
                    memcpy(buf + align, src, n);
                    size_t o = cio__ws_mask(buf + align, cut, key, off);
                    cio__ws_mask(buf + align + cut, n - cut, key, o);
                    CHECK(memcmp(buf + align, want, n) == 0);
                }
            }
    /* Masking twice is the identity, on a large odd-sized buffer. */
    size_t n = 65536 + 3;
    uint8_t *big = malloc(n), *copy = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = copy[i] = (uint8_t)(i ^ (i >> 8));
    cio__ws_mask(big + 1, n - 1, key, 3);
    CHECK(memcmp(big + 1, copy + 1, n - 1) != 0);
    cio__ws_mask(big + 1, 1000, key, 3);
    cio__ws_mask(big + 1001, n - 1001, key, (3 + 1000) & 3);
    CHECK(memcmp(big, copy, n) == 0);
    free(big);
    free(copy);
}

/* ---- 5. UTF-8 -------------------------------------------------------------- */

/* A reference that decodes code points the plain way (RFC 3629 §3). */
static int ref_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        uint32_t cp, min;
        size_t len;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            len = 2, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Whether some ending could make p[0..n) valid: the class boundaries of
 * continuation bytes stand for all of them. */
static int ref_viable(const uint8_t *p, size_t n)
{
    static const uint8_t cont[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF};
    uint8_t buf[64];
    if (ref_utf8_valid(p, n))
        return 1;
    memcpy(buf, p, n);
    for (size_t a = 0; a < 6; a++) {
        buf[n] = cont[a];
        if (ref_utf8_valid(buf, n + 1))
            return 1;
        for (size_t b = 0; b < 6; b++) {
            buf[n + 1] = cont[b];
            if (ref_utf8_valid(buf, n + 2))
                return 1;
            for (size_t c = 0; c < 6; c++) {
                buf[n + 2] = cont[c];
                if (ref_utf8_valid(buf, n + 3))
                    return 1;
            }
        }
    }
    return 0;
}

/* Checks s against the reference: whole, split at every point, and byte
 * by byte failing on the first byte that leaves no valid ending. */
static void utf8_check(const uint8_t *s, size_t n)
{
    int want = ref_utf8_valid(s, n);
    CHECK_RC(cio__ws_utf8_valid(s, n), want ? 0 : -EILSEQ);
    for (size_t cut = 0; cut <= n; cut++) {
        struct cio__ws_utf8 v;
        cio__ws_utf8_init(&v);
        int rc = cio__ws_utf8_feed(&v, s, cut);
        if (rc == 0)
            rc = cio__ws_utf8_feed(&v, s + cut, n - cut);
        if (rc == 0)
            rc = cio__ws_utf8_finish(&v);
        CHECK_RC(rc, want ? 0 : -EILSEQ);
    }
    struct cio__ws_utf8 v;
    cio__ws_utf8_init(&v);
    for (size_t i = 0; i < n; i++) {
        int rc = cio__ws_utf8_feed(&v, s + i, 1);
        CHECK_RC(rc, ref_viable(s, i + 1) ? 0 : -EILSEQ);
        if (rc < 0) {
            CHECK_RC(cio__ws_utf8_feed(&v, (const uint8_t *)"a", 1), -EILSEQ); /* sticky */
            break;
        }
    }
}

static void test_utf8(void)
{
    static const char *valid[] = {
        "", "Hello", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" /* κόσμε */,
        "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
        "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xef\xbb\xbf BOM",
    };
    static const char *invalid[] = {
        "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\xff", "\xfe", "\x80", "\xbf", "\xc2", "\xe0\xa0",
        "\xf0\x90\x80", "\xc2\x41", "\xe1\x80\x41", "Hello\xc3(", "\xed\xa0\x80\xed\xb0\x80",
    };
    for (size_t i = 0; i < CIO_ARRAY_LEN(valid); i++) {
        CHECK_RC(cio__ws_utf8_valid((const uint8_t *)valid[i], strlen(valid[i])), 0);
        utf8_check((const uint8_t *)valid[i], strlen(valid[i]));
    }
    for (size_t i = 0; i < CIO_ARRAY_LEN(invalid); i++) {
        CHECK_RC(cio__ws_utf8_valid((const uint8_t *)invalid[i], strlen(invalid[i])), -EILSEQ);
        utf8_check((const uint8_t *)invalid[i], strlen(invalid[i]));
    }
    /* Fail fast: the surrogate is refused on its second byte. */
    struct cio__ws_utf8 v;
    cio__ws_utf8_init(&v);
    CHECK_RC(cio__ws_utf8_feed(&v, (const uint8_t *)"ok\xed", 3), 0);
    CHECK_RC(cio__ws_utf8_feed(&v, (const uint8_t *)"\xa0", 1), -EILSEQ);
    CHECK_RC(cio__ws_utf8_finish(&v), -EILSEQ);

    /* A bad byte at every position of a long ASCII run (the 32- and
     * 8-byte fast paths), and multibyte characters straddling them. */
    uint8_t buf[100];
    for (size_t pos = 0; pos < 70; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = 0xC0;
        CHECK_RC(cio__ws_utf8_valid(buf, 80), -EILSEQ);
        memset(buf, 'a', sizeof buf);
        memcpy(buf + pos, "\xf0\x9f\x98\x80", 4);
        CHECK_RC(cio__ws_utf8_valid(buf, 80), 0);
        CHECK_RC(cio__ws_utf8_valid(buf, pos + 3), -EILSEQ);
    }

    /* Random strings, biased to UTF-8-looking bytes, against the reference. */
    static const uint8_t pool[] = {'a', 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2,
                                   0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
    uint32_t seed = 12345;
    for (int iter = 0; iter < 4000; iter++) {
        uint8_t s[12];
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof s;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = pool[(seed >> 16) % sizeof pool];
        }
        utf8_check(s, n);
    }
}

/* ---- 6. close payloads ------------------------------------------------------ */

static void test_close_payloads(void)
{
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                  1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned bad[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016,
                                   1100, 2000, 2999, 5000, 65535};
    uint8_t p[CIO__WS_MAX_CONTROL];
    for (size_t i = 0; i < CIO_ARRAY_LEN(ok); i++) {
        CHECK(cio__ws_close_code_valid(ok[i]));
        CHECK_EQ(cio__ws_close_build(p, ok[i], "bye", 3), 5);
        unsigned code;
        const char *reason;
        size_t rlen;
        CHECK_RC(cio__ws_close_parse(p, 5, &code, &reason, &rlen), 0);
        CHECK(code == ok[i] && rlen == 3 && memcmp(reason, "bye", 3) == 0);
    }
    for (size_t i = 0; i < CIO_ARRAY_LEN(bad); i++) {
        CHECK(!cio__ws_close_code_valid(bad[i]));
        CHECK_RC(cio__ws_close_build(p, bad[i], NULL, 0), bad[i] == 0 ? 0 : -EINVAL);
        uint8_t wire[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        CHECK_RC(cio__ws_close_parse(wire, 2, NULL, NULL, NULL), -EPROTO);
    }
    unsigned code = 0;
    size_t rlen = 9;
    CHECK_RC(cio__ws_close_parse(NULL, 0, &code, NULL, &rlen), 0);
    CHECK(code == CIO__WS_CLOSE_NO_STATUS && rlen == 0);
    CHECK_RC(cio__ws_close_parse((const uint8_t *)"\x03", 1, &code, NULL, NULL), -EPROTO);
    CHECK_RC(cio__ws_close_parse((const uint8_t *)"\x03\xe8\xce\xba", 4, &code, NULL, NULL), 0);
    CHECK_RC(cio__ws_close_parse((const uint8_t *)"\x03\xe8\xce", 3, &code, NULL, NULL), -EILSEQ);
    CHECK_RC(cio__ws_close_parse((const uint8_t *)"\x03\xe8\xed\xa0\x80", 5, &code, NULL, NULL), -EILSEQ);
    char reason[CIO__WS_MAX_REASON + 2];
    memset(reason, 'r', sizeof reason);
    CHECK_EQ(cio__ws_close_build(p, 1000, reason, CIO__WS_MAX_REASON), CIO__WS_MAX_CONTROL);
    CHECK_RC(cio__ws_close_build(p, 1000, reason, CIO__WS_MAX_REASON + 1), -EINVAL);
    CHECK_RC(cio__ws_close_build(p, 1000, "\xc3", 1), -EINVAL);
    CHECK_RC(cio__ws_close_build(p, 0, "x", 1), -EINVAL);
    CHECK_RC(cio__ws_close_build(p, 1000, NULL, 1), -EINVAL);
}

int main(void)
{
    RUN(test_sha1_vectors);
    RUN(test_base64_vectors);
    RUN(test_accept_key);
    RUN(test_rfc6455_examples);
    RUN(test_header_rules);
    RUN(test_fragments_and_controls);
    RUN(test_masking);
    RUN(test_utf8);
    RUN(test_close_payloads);
    return test_finish();
}
