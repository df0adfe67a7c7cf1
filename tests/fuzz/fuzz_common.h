/*
 * fuzz_common.h - what the HTTP parser's fuzz targets share: the driver
 * (../http_driver.h, invariants checked with abort()), limits chosen by
 * the input's first byte so the small-limit paths get explored too, and
 * the central invariant: whatever the splits, the trace is the same.
 */
#ifndef CIO_FUZZ_COMMON_H
#define CIO_FUZZ_COMMON_H

#include "../http_driver.h"

/* Defaults, or small limits that inputs of a few hundred bytes can hit. */
static inline const cio__http_limits *fz_limits(unsigned char sel)
{
    static cio__http_limits def, small;
    cio__http_limits_init(&def);
    cio__http_limits_init(&small);
    small.max_target = 16;
    small.max_head = 160;
    small.max_headers = 4;
    small.max_chunk_ext = 12;
    small.max_body = 40;
    return (sel & 1) ? &small : &def;
}

static inline uint64_t fz_hash(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ULL;
    return h;
}

/*
 * Parses in whole, one byte at a time and in two random splittings; all
 * four traces must be equal (the parser's promise that it resumes exactly
 * where it stopped, with the buffer moved in between).  Returns the whole
 * trace (to free).
 */
static inline char *fz_check_splits(int kind, const cio__http_limits *lim, const char *methods,
                                    const uint8_t *d, size_t n)
{
    const char *in = (const char *)d;
    uint64_t seed = fz_hash(d, n);
    char *whole = hd_run(kind, lim, methods, in, n, 0, 0, 1);
    char *t[3];
    t[0] = hd_run(kind, lim, methods, in, n, 1, 0, 1);
    t[1] = hd_run(kind, lim, methods, in, n, 3, seed, 1);
    t[2] = hd_run(kind, lim, methods, in, n, 64, seed >> 7, 1);
    for (int i = 0; i < 3; i++) {
        if (strcmp(whole, t[i]) != 0) {
            fprintf(stderr, "trace differs (run %d):\n--- whole\n%s\n--- split\n%s\n", i, whole, t[i]);
            abort();
        }
        free(t[i]);
    }
    return whole;
}

#endif
