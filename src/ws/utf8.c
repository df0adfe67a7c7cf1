/*
 * utf8.c - the incremental UTF-8 validator (see utf8.h).
 *
 * Two tables: every byte value maps to one of 12 classes, and a
 * transition table maps (state, class) to the next state.  States are
 * stored premultiplied by the number of classes, so a step is two loads
 * and an add.  The states say what the bytes still owed must look like;
 * the ranges that make a sequence overlong (E0 80..9F, F0 80..8F), a
 * surrogate (ED A0..BF) or too large (F4 90..BF) simply have no
 * transition, which is what makes the rejection immediate.
 *
 * At a code point boundary the validator skips ASCII 32 bytes at a time
 * (four 8-byte words tested for a high bit at once), then 8; the rest
 * walks the DFA 16 bytes at a time, tested for rejection once per step
 * (the rejecting state never leaves, so nothing is missed).
 */
#include <errno.h>
#include <string.h>

#include "utf8.h"

enum { NCLASS = 12 };

/* Byte classes: 0 ASCII, 1 80..8F, 2 90..9F, 3 A0..BF, 4 C2..DF (2-byte
 * lead), 5 E0, 6 E1..EC EE EF, 7 ED, 8 F0, 9 F1..F3, 10 F4, 11 never
 * valid (C0 C1 F5..FF). */
static const uint8_t byte_class[256] = {
    [0x00 ... 0x7F] = 0, [0x80 ... 0x8F] = 1, [0x90 ... 0x9F] = 2,
    [0xA0 ... 0xBF] = 3, [0xC0 ... 0xC1] = 11, [0xC2 ... 0xDF] = 4,
    [0xE0] = 5, [0xE1 ... 0xEC] = 6, [0xED] = 7, [0xEE ... 0xEF] = 6,
    [0xF0] = 8, [0xF1 ... 0xF3] = 9, [0xF4] = 10, [0xF5 ... 0xFF] = 11,
};

/* States, premultiplied by NCLASS. */
#define S_OK (0 * NCLASS)     /* at a code point boundary */
#define S_BAD (1 * NCLASS)    /* rejected, for good */
#define S_1 (2 * NCLASS)      /* one continuation byte (80..BF) owed */
#define S_2 (3 * NCLASS)      /* two continuation bytes owed */
#define S_E0 (4 * NCLASS)     /* after E0: A0..BF, then one more */
#define S_ED (5 * NCLASS)     /* after ED: 80..9F (no surrogates), then one more */
#define S_3 (6 * NCLASS)      /* three continuation bytes owed */
#define S_F0 (7 * NCLASS)     /* after F0: 90..BF, then two more */
#define S_F4 (8 * NCLASS)     /* after F4: 80..8F (<= U+10FFFF), then two more */

#define B S_BAD
static const uint8_t transition[9 * NCLASS] = {
    /* class:  0     1     2     3     4     5     6     7     8     9     10    11 */
    /* OK  */ S_OK, B,    B,    B,    S_1,  S_E0, S_2,  S_ED, S_F0, S_3,  S_F4, B,
    /* BAD */ B,    B,    B,    B,    B,    B,    B,    B,    B,    B,    B,    B,
    /* 1   */ B,    S_OK, S_OK, S_OK, B,    B,    B,    B,    B,    B,    B,    B,
    /* 2   */ B,    S_1,  S_1,  S_1,  B,    B,    B,    B,    B,    B,    B,    B,
    /* E0  */ B,    B,    B,    S_1,  B,    B,    B,    B,    B,    B,    B,    B,
    /* ED  */ B,    S_1,  S_1,  B,    B,    B,    B,    B,    B,    B,    B,    B,
    /* 3   */ B,    S_2,  S_2,  S_2,  B,    B,    B,    B,    B,    B,    B,    B,
    /* F0  */ B,    B,    S_2,  S_2,  B,    B,    B,    B,    B,    B,    B,    B,
    /* F4  */ B,    S_2,  B,    B,    B,    B,    B,    B,    B,    B,    B,    B,
};
#undef B

#define HIGH_BITS UINT64_C(0x8080808080808080)

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

int cio__ws_utf8_feed(struct cio__ws_utf8 *v, const uint8_t *p, size_t n)
{
    uint32_t s = v->state;
    if (s == S_BAD)
        return -EILSEQ;
    if (n == 0)
        return 0; /* p may be NULL: no pointer arithmetic on it */
    const uint8_t *end = p + n;
    while (p < end) {
        if (s == S_OK) {
            /* The common case in chat and JSON: long ASCII runs. */
            while (end - p >= 32 &&
                   !((load64(p) | load64(p + 8) | load64(p + 16) | load64(p + 24)) & HIGH_BITS))
                p += 32;
            while (end - p >= 8 && !(load64(p) & HIGH_BITS))
                p += 8;
            if (p == end)
                break;
        }
        /* Up to 16 bytes through the DFA with no test in between: the
         * rejecting state absorbs, so checking once after them fails this
         * call just the same, and saves a branch per byte. */
        const uint8_t *stop = end - p > 16 ? p + 16 : end;
        while (p < stop)
            s = transition[s + byte_class[*p++]];
        if (s == S_BAD) {
            v->state = S_BAD;
            return -EILSEQ;
        }
    }
    v->state = s;
    return 0;
}

int cio__ws_utf8_finish(const struct cio__ws_utf8 *v)
{
    return v->state == S_OK ? 0 : -EILSEQ;
}

int cio__ws_utf8_valid(const uint8_t *p, size_t n)
{
    struct cio__ws_utf8 v;
    cio__ws_utf8_init(&v);
    int rc = cio__ws_utf8_feed(&v, p, n);
    return rc < 0 ? rc : cio__ws_utf8_finish(&v);
}
