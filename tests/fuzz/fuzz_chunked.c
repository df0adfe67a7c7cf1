/*
 * fuzz_chunked.c - libFuzzer target: chunked bodies.  The input follows a
 * fixed chunked request head.  Besides the split invariant it checks:
 *   - cio__http_decode_body (data moved together in place) gives the same
 *     bytes and the same end as cio__http_parse_body's slices;
 *   - a plain reference decoder (sizes, CRLFs, data, an empty trailer; no
 *     extensions) agrees: whatever it accepts the parser accepts, with the
 *     same data, ending at the same byte.
 */
#include "fuzz_common.h"

static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

/* The reference: returns the body's length in b[0, n) and the data in
 * out/*outn, or 0 if it does not accept the input (or it is incomplete). */
static size_t reference(const uint8_t *b, size_t n, uint64_t max_body, uint8_t *out, size_t *outn)
{
    size_t i = 0;
    *outn = 0;
    for (;;) {
        uint64_t size = 0;
        size_t digits = 0;
        while (i < n && digits < 16) {
            int v = b[i] >= '0' && b[i] <= '9'   ? b[i] - '0'
                    : b[i] >= 'a' && b[i] <= 'f' ? b[i] - 'a' + 10
                    : b[i] >= 'A' && b[i] <= 'F' ? b[i] - 'A' + 10
                                                 : -1;
            if (v < 0)
                break;
            size = size * 16 + (uint64_t)v;
            digits++;
            i++;
        }
        if (digits == 0 || n - i < 2 || b[i] != '\r' || b[i + 1] != '\n')
            return 0;
        i += 2;
        if (size == 0)
            return n - i >= 2 && b[i] == '\r' && b[i + 1] == '\n' ? i + 2 : 0;
        if (size > max_body - *outn || size > n - i || n - i - size < 2)
            return 0;
        memcpy(out + *outn, b + i, size);
        *outn += size;
        i += size;
        if (b[i] != '\r' || b[i + 1] != '\n')
            return 0;
        i += 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const cio__http_limits *lim = fz_limits(data[0]);
    data++;
    size--;
    size_t hl = sizeof(head) - 1;
    uint8_t *msg = malloc(hl + size + 1);
    memcpy(msg, head, hl);
    memcpy(msg + hl, data, size);
    char *t = fz_check_splits(CIO__HTTP_REQUEST, lim, NULL, msg, hl + size);
    free(t);

    /* slices vs in-place decoding, over the whole body at once */
    cio__http_header h1[8], h2[8];
    cio__http_parser a, b;
    HD_CHECK(cio__http_parser_init(&a, CIO__HTTP_REQUEST, lim, h1, 8) == 0);
    HD_CHECK(cio__http_parser_init(&b, CIO__HTTP_REQUEST, lim, h2, 8) == 0);
    HD_CHECK(cio__http_parse_head(&a, (const char *)msg, hl) == (int)hl);
    HD_CHECK(cio__http_parse_head(&b, (const char *)msg, hl) == (int)hl);
    uint8_t *sliced = malloc(size + 1), *inplace = malloc(size + 1);
    size_t ns = 0, used_a = 0;
    int ra = 0;
    while (used_a < size) {
        cio__http_data d;
        ra = cio__http_parse_body(&a, (const char *)data + used_a, size - used_a, &d);
        if (ra <= 0)
            break;
        memcpy(sliced + ns, data + used_a + d.off, d.len);
        ns += d.len;
        used_a += (size_t)ra;
        if (a.phase == CIO__HTTP_PH_DONE)
            break;
    }
    memcpy(inplace, data, size);
    size_t used_b = 0;
    int rb = cio__http_decode_body(&b, (char *)inplace, size, &used_b);
    HD_CHECK((rb < 0) == (ra < 0));
    HD_CHECK(a.phase == b.phase);
    if (rb >= 0) {
        HD_CHECK((size_t)rb == ns && memcmp(sliced, inplace, ns) == 0);
        HD_CHECK(used_a == used_b);
    }

    /* the reference decoder */
    size_t nref = 0;
    size_t end = reference(data, size, lim->max_body, inplace, &nref);
    if (end) {
        HD_CHECK(a.phase == CIO__HTTP_PH_DONE);
        HD_CHECK(used_a == end);
        HD_CHECK(nref == ns && memcmp(inplace, sliced, ns) == 0);
    }
    free(sliced);
    free(inplace);
    free(msg);
    return 0;
}
