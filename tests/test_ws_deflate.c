/*
 * test_ws_deflate.c - permessage-deflate (src/ws/extension.c, deflate.c):
 *
 *   1. Negotiation tables: the server's choice from offers (declined
 *      offers, duplicates, bad values, quoted values, fallbacks), the
 *      client's check of responses, and offer -> response -> check round
 *      trips agreeing on both sides.
 *   2. The RFC 7692 §7.2.3 examples: "Hello" compressed, fragmented,
 *      context takeover across messages, a stored block, BFINAL, two
 *      blocks, the empty block; our compressor writes the same bytes.
 *   3. Round trips at every window size with and without context
 *      takeover, through the frame receiver fed in small chunks.
 *   4. Limits: a zip bomb stops with -EMSGSIZE (1009) after limit + 1
 *      bytes of output; corrupt data fails with -EPROTO.
 * Skipped (77) when the build has no zlib.
 */
#include "test.h"
#include "ws_util.h"

#include "ws/extension.h"

/* ---- 1. negotiation ------------------------------------------------------ */

struct server_case {
    const char *offer;     /* the client's header value */
    int snct, cnct;        /* server config: no context takeover wanted */
    int smwb, cmwb;        /* server config: window bits */
    int rc;                /* expected return */
    const char *response;  /* expected response when rc == 1 */
};

static void test_server_negotiation(void)
{
    static const struct server_case t[] = {
        {"permessage-deflate", 0, 0, 15, 15, 1, "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits", 0, 0, 15, 15, 1, "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits", 0, 0, 15, 10, 1,
         "permessage-deflate; client_max_window_bits=10"},
        {"permessage-deflate; client_max_window_bits=9", 0, 0, 15, 10, 1,
         "permessage-deflate; client_max_window_bits=9"},
        {"permessage-deflate", 0, 0, 15, 10, 1, "permessage-deflate"},
        {"permessage-deflate; server_max_window_bits=10", 0, 0, 15, 15, 1,
         "permessage-deflate; server_max_window_bits=10"},
        {"permessage-deflate; server_max_window_bits=15", 0, 0, 15, 15, 1,
         "permessage-deflate; server_max_window_bits=15"},
        {"permessage-deflate; server_max_window_bits=12", 0, 0, 11, 15, 1,
         "permessage-deflate; server_max_window_bits=11"},
        {"permessage-deflate", 0, 0, 11, 15, 1, "permessage-deflate; server_max_window_bits=11"},
        {"permessage-deflate; server_max_window_bits=8", 0, 0, 15, 15, 1,
         "permessage-deflate; server_max_window_bits=8"},
        {"permessage-deflate; server_max_window_bits=\"10\"", 0, 0, 15, 15, 1,
         "permessage-deflate; server_max_window_bits=10"},
        {"permessage-deflate;server_no_context_takeover;client_no_context_takeover", 0, 0, 15,
         15, 1, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
        {"permessage-deflate", 1, 1, 15, 15, 1,
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
        {"PerMessage-Deflate", 0, 0, 15, 15, 1, "permessage-deflate"},
        /* Declined offers, then a fallback offer that is fine. */
        {"permessage-deflate; server_max_window_bits", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; server_max_window_bits=16", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; server_max_window_bits=7", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; server_max_window_bits=010", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; client_max_window_bits=0", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", 0, 0,
         15, 15, 0, NULL},
        {"permessage-deflate; client_max_window_bits; client_max_window_bits=10", 0, 0, 15, 15,
         0, NULL},
        {"permessage-deflate; server_no_context_takeover=1", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; foo", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; a; b; c; d; e; f; g; h; i", 0, 0, 15, 15, 0, NULL},
        {"permessage-deflate; client_max_window_bits=16, permessage-deflate", 0, 0, 15, 15, 1,
         "permessage-deflate"},
        {"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits", 0, 0, 15, 15, 1,
         "permessage-deflate"},
        {" , permessage-deflate ,, ", 0, 0, 15, 15, 1, "permessage-deflate"},
        {"foo, bar; baz=1", 0, 0, 15, 15, 0, NULL},
        {"", 0, 0, 15, 15, 0, NULL},
        /* Not an extension list at all. */
        {"permessage-deflate;", 0, 0, 15, 15, -EPROTO, NULL},
        {"permessage-deflate; =1", 0, 0, 15, 15, -EPROTO, NULL},
        {"; permessage-deflate", 0, 0, 15, 15, -EPROTO, NULL},
        {"permessage-deflate; a=\"open", 0, 0, 15, 15, -EPROTO, NULL},
        {"permessage-deflate; a=\"\"", 0, 0, 15, 15, -EPROTO, NULL},
        {"permessage-deflate x", 0, 0, 15, 15, -EPROTO, NULL},
        {"permessage-deflate, x=1", 0, 0, 15, 15, -EPROTO, NULL},
    };
    for (size_t i = 0; i < CIO_ARRAY_LEN(t); i++) {
        test_current = t[i].offer;
        struct cio__ws_pmd_config cfg;
        struct cio__ws_pmd_params p;
        cio__ws_pmd_config_init(&cfg);
        cfg.server_no_context_takeover = (uint8_t)t[i].snct;
        cfg.client_no_context_takeover = (uint8_t)t[i].cnct;
        cfg.server_max_window_bits = (uint8_t)t[i].smwb;
        cfg.client_max_window_bits = (uint8_t)t[i].cmwb;
        int rc = cio__ws_pmd_negotiate(t[i].offer, strlen(t[i].offer), &cfg, &p);
        CHECK_RC(rc, t[i].rc);
        if (rc == 1) {
            char resp[CIO__WS_PMD_MAX_HEADER];
            CHECK_EQ(cio__ws_pmd_response(&p, resp, sizeof resp), strlen(t[i].response));
            if (strcmp(resp, t[i].response) != 0) {
                fprintf(stderr, "  response '%s', wanted '%s'\n", resp, t[i].response);
                CHECK(0);
            }
        }
    }
    test_current = "test_server_negotiation";
    struct cio__ws_pmd_config cfg;
    struct cio__ws_pmd_params p;
    cio__ws_pmd_config_init(&cfg);
    cfg.server_max_window_bits = 16;
    CHECK_RC(cio__ws_pmd_negotiate("permessage-deflate", 18, &cfg, &p), -EINVAL);
    cio__ws_pmd_config_init(&cfg);
    CHECK_EQ(cio__ws_pmd_negotiate("permessage-deflate", 18, &cfg, &p), 1);
    char small[10];
    CHECK_RC(cio__ws_pmd_response(&p, small, sizeof small), -ENOSPC);
}

struct client_case {
    int snct, smwb, cmwb;  /* client config (what we offer) */
    const char *response;  /* the server's header value */
    int rc;                /* expected */
    int r_snct, r_cnct, r_smwb, r_cmwb; /* agreed, when rc == 1 */
};

static void test_client_check(void)
{
    static const struct client_case t[] = {
        {0, 15, 15, "permessage-deflate", 1, 0, 0, 15, 15},
        {0, 15, 15, "permessage-deflate; server_no_context_takeover", 1, 1, 0, 15, 15},
        {0, 15, 15, "permessage-deflate; client_no_context_takeover", 1, 0, 1, 15, 15},
        {0, 15, 15, "permessage-deflate; client_max_window_bits=9", 1, 0, 0, 15, 9},
        {0, 15, 15, "permessage-deflate; server_max_window_bits=12", 1, 0, 0, 12, 15},
        {0, 15, 12, "permessage-deflate", 1, 0, 0, 15, 12},
        {0, 15, 12, "permessage-deflate; client_max_window_bits=10", 1, 0, 0, 15, 10},
        {0, 10, 15, "permessage-deflate; server_max_window_bits=9", 1, 0, 0, 9, 15},
        {0, 10, 15, "permessage-deflate; server_max_window_bits=10", 1, 0, 0, 10, 15},
        {1, 15, 15, "permessage-deflate; server_no_context_takeover", 1, 1, 0, 15, 15},
        {0, 15, 15, "", 0, 0, 0, 0, 0},
        {0, 15, 12, "permessage-deflate; client_max_window_bits=13", -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "permessage-deflate; client_max_window_bits", -EPROTO, 0, 0, 0, 0},
        {0, 10, 15, "permessage-deflate", -EPROTO, 0, 0, 0, 0},
        {0, 10, 15, "permessage-deflate; server_max_window_bits=11", -EPROTO, 0, 0, 0, 0},
        {1, 15, 15, "permessage-deflate", -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "permessage-deflate, permessage-deflate", -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "x-foo", -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "permessage-deflate; bar", -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
         -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "permessage-deflate; server_max_window_bits=20", -EPROTO, 0, 0, 0, 0},
        {0, 15, 15, "permessage-deflate;", -EPROTO, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < CIO_ARRAY_LEN(t); i++) {
        test_current = t[i].response;
        struct cio__ws_pmd_config cfg;
        struct cio__ws_pmd_params p;
        cio__ws_pmd_config_init(&cfg);
        cfg.server_no_context_takeover = (uint8_t)t[i].snct;
        cfg.server_max_window_bits = (uint8_t)t[i].smwb;
        cfg.client_max_window_bits = (uint8_t)t[i].cmwb;
        int rc = cio__ws_pmd_check_response(t[i].response, strlen(t[i].response), &cfg, &p);
        CHECK_RC(rc, t[i].rc);
        if (rc == 1) {
            CHECK_EQ(p.server_no_context_takeover, t[i].r_snct);
            CHECK_EQ(p.client_no_context_takeover, t[i].r_cnct);
            CHECK_EQ(p.server_max_window_bits, t[i].r_smwb);
            CHECK_EQ(p.client_max_window_bits, t[i].r_cmwb);
        }
    }
    test_current = "test_client_check";

    /* Offer -> server -> response -> client: both sides agree. */
    for (int snct = 0; snct < 2; snct++)
        for (int smwb = 8; smwb <= 15; smwb += 7)
            for (int cmwb = 8; cmwb <= 15; cmwb++) {
                struct cio__ws_pmd_config ccfg, scfg;
                cio__ws_pmd_config_init(&ccfg);
                cio__ws_pmd_config_init(&scfg);
                ccfg.server_no_context_takeover = (uint8_t)snct;
                ccfg.server_max_window_bits = (uint8_t)smwb;
                scfg.client_max_window_bits = (uint8_t)cmwb;
                scfg.client_no_context_takeover = (uint8_t)(cmwb & 1);
                char offer[CIO__WS_PMD_MAX_HEADER], resp[CIO__WS_PMD_MAX_HEADER];
                int n = cio__ws_pmd_offer(&ccfg, offer, sizeof offer);
                CHECK(n > 0);
                struct cio__ws_pmd_params sp, cp;
                CHECK_EQ(cio__ws_pmd_negotiate(offer, (size_t)n, &scfg, &sp), 1);
                n = cio__ws_pmd_response(&sp, resp, sizeof resp);
                CHECK(n > 0);
                CHECK_EQ(cio__ws_pmd_check_response(resp, (size_t)n, &ccfg, &cp), 1);
                CHECK_EQ(sp.server_no_context_takeover, cp.server_no_context_takeover);
                CHECK_EQ(sp.client_no_context_takeover, cp.client_no_context_takeover);
                CHECK_EQ(sp.server_max_window_bits, cp.server_max_window_bits);
                CHECK_EQ(sp.client_max_window_bits, cp.client_max_window_bits);
                CHECK_EQ(sp.server_max_window_bits, smwb);
                CHECK_EQ(cp.client_max_window_bits, cmwb);
            }
    char offer[CIO__WS_PMD_MAX_HEADER];
    struct cio__ws_pmd_config cfg;
    cio__ws_pmd_config_init(&cfg);
    CHECK_EQ(cio__ws_pmd_offer(&cfg, offer, sizeof offer), 42);
    CHECK(strcmp(offer, "permessage-deflate; client_max_window_bits") == 0);
}

/* ---- 2. the RFC 7692 examples ---------------------------------------------- */

static int bytes_are(const struct cio__ws_buf *b, const uint8_t *want, size_t n)
{
    return b->len == n && memcmp(b->data, want, n) == 0;
}

static struct cio__ws_pmd_params params(int snct, int cnct, int smwb, int cmwb)
{
    struct cio__ws_pmd_params p;
    memset(&p, 0, sizeof p);
    p.server_no_context_takeover = (uint8_t)snct;
    p.client_no_context_takeover = (uint8_t)cnct;
    p.server_max_window_bits = (uint8_t)smwb;
    p.client_max_window_bits = (uint8_t)cmwb;
    return p;
}

/* Receives wire on the client side with decompression, in chunks. */
static int receive(const uint8_t *wire, size_t n, size_t step, int snct, struct ws_sim *s,
                   struct cio__ws_deflate *z)
{
    struct cio__ws_pmd_params p = params(snct, 0, 15, 15);
    CHECK_RC(cio__ws_deflate_init(z, &p, 0, -1, 1 << 20), 0);
    ws_sim_init(s, 0, CIO__WS_RSV1, 0, 1 << 20);
    s->z = z;
    return ws_sim_feed(s, wire, n, step);
}

static void test_rfc7692_examples(void)
{
    static const uint8_t hello1[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t hello_frag[] = {0x41, 0x03, 0xf2, 0x48, 0xcd,
                                         0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t hello2[] = {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t stored[] = {0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                     0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t bfinal[] = {0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const uint8_t two_blocks[] = {0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                         0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    /* §7.2.3.6: the data flushed whole in the first fragment, then a last
     * fragment holding only an empty stored block (its tail cut off). */
    static const uint8_t empty_tail[] = {0x41, 0x0b, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
                                         0x00, 0x00, 0xff, 0xff, 0x80, 0x01, 0x00};
    const struct {
        const uint8_t *wire;
        size_t len;
        int messages;
    } ex[] = {
        {hello1, sizeof hello1, 1},   {hello_frag, sizeof hello_frag, 1},
        {stored, sizeof stored, 1},   {bfinal, sizeof bfinal, 1},
        {two_blocks, sizeof two_blocks, 1}, {empty_tail, sizeof empty_tail, 1},
    };
    for (size_t i = 0; i < CIO_ARRAY_LEN(ex); i++)
        for (size_t step = 1; step <= ex[i].len; step++) {
            /* Each example, then the takeover message that refers back to
             * it (§7.2.3.2): the window must hold "Hello" after any form,
             * BFINAL included. */
            struct ws_wire w = {0};
            ws_wire_put(&w, ex[i].wire, ex[i].len);
            ws_wire_put(&w, hello2, sizeof hello2);
            struct ws_sim s;
            struct cio__ws_deflate z;
            CHECK_RC(receive(w.data, w.len, step, 0, &s, &z), 0);
            CHECK_EQ(s.messages, 2);
            CHECK(s.first_len == 5 && memcmp(s.first, "Hello", 5) == 0);
            CHECK(s.last_len == 5 && memcmp(s.last, "Hello", 5) == 0);
            ws_sim_free(&s);
            cio__ws_deflate_free(&z);
            ws_wire_free(&w);
        }

    /* Our compressor writes the RFC's bytes: with takeover the second
     * "Hello" is a back-reference; without, the same bytes again. */
    for (int snct = 0; snct < 2; snct++) {
        struct cio__ws_deflate z;
        struct cio__ws_pmd_params p = params(snct, 0, 15, 15);
        CHECK_RC(cio__ws_deflate_init(&z, &p, 1, -1, 0), 0);
        struct cio__ws_buf out = {0};
        CHECK_RC(cio__ws_deflate_compress(&z, (const uint8_t *)"Hello", 5, 1, &out), 0);
        CHECK(bytes_are(&out, hello1 + 2, 7));
        out.len = 0;
        CHECK_RC(cio__ws_deflate_compress(&z, (const uint8_t *)"Hel", 3, 0, &out), 0);
        CHECK_RC(cio__ws_deflate_compress(&z, (const uint8_t *)"lo", 2, 1, &out), 0);
        CHECK(snct ? bytes_are(&out, hello1 + 2, 7) : bytes_are(&out, hello2 + 2, 5));
        /* Empty messages: the single byte 00, also twice in a row (zlib
         * writes nothing for a repeated flush). */
        for (int k = 0; k < 3; k++) {
            out.len = 0;
            CHECK_RC(cio__ws_deflate_compress(&z, NULL, 0, 1, &out), 0);
            CHECK(out.len == 1 && out.data[0] == 0x00);
        }
        cio__ws_buf_free(&out);
        cio__ws_deflate_free(&z);
    }
    /* The receiver without takeover (server_no_context_takeover agreed)
     * cannot decode a back-reference into the last message. */
    struct ws_wire w = {0};
    ws_wire_put(&w, hello1, sizeof hello1);
    ws_wire_put(&w, hello2, sizeof hello2);
    struct ws_sim s;
    struct cio__ws_deflate z;
    CHECK(receive(w.data, w.len, 3, 1, &s, &z) < 0);
    ws_sim_free(&s);
    cio__ws_deflate_free(&z);
    ws_wire_free(&w);
}

/* ---- 3. round trips -------------------------------------------------------- */

static void test_round_trips(void)
{
    /* Text that compresses, at every window size, takeover on and off,
     * client to server, framed and received in 7-byte chunks. */
    size_t n = 5000;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = "the quick brown fox jumps over the lazy dog. "[i % 45] + (char)(i / 997 % 3);
    for (int bits = 8; bits <= 15; bits++)
        for (int cnct = 0; cnct < 2; cnct++) {
            struct cio__ws_pmd_params p = params(0, cnct, 15, bits);
            struct cio__ws_deflate tx, rx;
            CHECK_RC(cio__ws_deflate_init(&tx, &p, 0, 6, 0), 0);
            CHECK_RC(cio__ws_deflate_init(&rx, &p, 1, 6, 0), 0);
            struct ws_wire w = {0};
            static const uint8_t key[4] = {9, 8, 7, 6};
            size_t total = 0;
            for (int m = 0; m < 4; m++) {
                struct cio__ws_buf c = {0};
                /* In three pieces; the message goes out as two fragments. */
                CHECK_RC(cio__ws_deflate_compress(&tx, (const uint8_t *)text, 1000, 0, &c), 0);
                CHECK_RC(cio__ws_deflate_compress(&tx, (const uint8_t *)text + 1000, 3000, 0, &c), 0);
                CHECK_RC(cio__ws_deflate_compress(&tx, (const uint8_t *)text + 4000, n - 4000, 1, &c), 0);
                total += c.len;
                size_t half = c.len / 2;
                ws_wire_frame(&w, CIO__WS_OP_TEXT, CIO__WS_RSV1, c.data, half, key);
                ws_wire_frame(&w, CIO__WS_OP_PING, CIO__WS_FIN, "p", 1, key);
                ws_wire_frame(&w, CIO__WS_OP_CONT, CIO__WS_FIN, c.data + half, c.len - half, key);
                cio__ws_buf_free(&c);
            }
            /* It did compress (less with 8 bits: literals only). */
            CHECK(total < (bits == 8 ? 4 * n * 3 / 4 : 4 * n / 2));
            struct ws_sim s;
            ws_sim_init(&s, 1, CIO__WS_RSV1, 0, n);
            s.z = &rx;
            CHECK_RC(ws_sim_feed(&s, w.data, w.len, 7), 0);
            CHECK_EQ(s.messages, 4);
            CHECK_EQ(s.controls, 4);
            CHECK(s.last_len == n && memcmp(s.last, text, n) == 0);
            ws_sim_free(&s);
            ws_wire_free(&w);
            cio__ws_deflate_free(&tx);
            cio__ws_deflate_free(&rx);
        }
    free(text);
}

/* ---- 4. limits and corrupt data -------------------------------------------- */

static void test_zip_bomb(void)
{
    /* 64 MiB of zeros compress to about 64 KiB. */
    size_t big = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, big);
    struct cio__ws_pmd_params p = params(0, 0, 15, 15);
    struct cio__ws_deflate tx, rx;
    CHECK_RC(cio__ws_deflate_init(&tx, &p, 1, 9, 0), 0);
    struct cio__ws_buf c = {0}, out = {0};
    CHECK_RC(cio__ws_deflate_compress(&tx, zeros, big, 1, &c), 0);
    CHECK(c.len < big / 500);
    free(zeros);

    uint64_t limit = 1 << 20;
    CHECK_RC(cio__ws_deflate_init(&rx, &p, 0, -1, limit), 0);
    CHECK_RC(cio__ws_deflate_decompress(&rx, c.data, c.len, 1, &out), -EMSGSIZE);
    CHECK(out.len <= limit + 1);
    CHECK(out.cap <= 2 * (limit + 1) + 4096); /* memory stayed bounded */
    CHECK_EQ(cio__ws_close_code_for(-EMSGSIZE), CIO__WS_CLOSE_TOO_BIG);
    cio__ws_deflate_free(&rx);

    /* Through the receiver in 1 KiB chunks: the same error, early. */
    struct ws_wire w = {0};
    ws_wire_frame(&w, CIO__WS_OP_BINARY, CIO__WS_FIN | CIO__WS_RSV1, c.data, c.len, NULL);
    CHECK_RC(cio__ws_deflate_init(&rx, &p, 0, -1, limit), 0);
    struct ws_sim s;
    ws_sim_init(&s, 0, CIO__WS_RSV1, 0, limit);
    s.z = &rx;
    CHECK_RC(ws_sim_feed(&s, w.data, w.len, 1024), -EMSGSIZE);
    CHECK(s.payload_bytes <= limit + 1);
    ws_sim_free(&s);
    ws_wire_free(&w);
    cio__ws_deflate_free(&rx);

    /* A message of exactly the limit passes. */
    uint8_t *exact = calloc(1, (size_t)limit);
    struct cio__ws_buf c2 = {0};
    struct cio__ws_deflate tx2;
    CHECK_RC(cio__ws_deflate_init(&tx2, &p, 1, -1, 0), 0);
    CHECK_RC(cio__ws_deflate_compress(&tx2, exact, (size_t)limit, 1, &c2), 0);
    CHECK_RC(cio__ws_deflate_init(&rx, &p, 0, -1, limit), 0);
    out.len = 0;
    CHECK_RC(cio__ws_deflate_decompress(&rx, c2.data, c2.len, 1, &out), 0);
    CHECK_EQ(out.len, limit);
    free(exact);
    cio__ws_deflate_free(&rx);
    cio__ws_deflate_free(&tx2);
    cio__ws_deflate_free(&tx);

    /* Corrupt data, and a message cut inside a block. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    CHECK_RC(cio__ws_deflate_init(&rx, &p, 0, -1, 0), 0);
    out.len = 0;
    CHECK_RC(cio__ws_deflate_decompress(&rx, junk, sizeof junk, 1, &out), -EPROTO);
    cio__ws_deflate_free(&rx);
    static const uint8_t cut[] = {0xf2, 0x48, 0xcd};
    CHECK_RC(cio__ws_deflate_init(&rx, &p, 0, -1, 0), 0);
    CHECK_RC(cio__ws_deflate_decompress(&rx, cut, sizeof cut, 1, &out), -EPROTO);
    cio__ws_deflate_free(&rx);
    cio__ws_buf_free(&c);
    cio__ws_buf_free(&c2);
    cio__ws_buf_free(&out);

    /* Bad arguments. */
    struct cio__ws_pmd_params bad = params(0, 0, 7, 15);
    CHECK_RC(cio__ws_deflate_init(&rx, &bad, 0, -1, 0), -EINVAL);
    CHECK_RC(cio__ws_deflate_init(&rx, &p, 0, 10, 0), -EINVAL);
}

int main(void)
{
    if (!cio__ws_deflate_available())
        TEST_SKIP("built without zlib: permessage-deflate is never negotiated");
    RUN(test_server_negotiation);
    RUN(test_client_check);
    RUN(test_rfc7692_examples);
    RUN(test_round_trips);
    RUN(test_zip_bomb);
    return test_finish();
}
