/*
 * fuzz_request.c - libFuzzer target: requests (heads, bodies, pipelining)
 * through the server-side parser.  Byte 0 picks the limits; the rest is
 * what a client sent.  Checks: no crash or over-read (ASan, UBSan), the
 * driver's invariants (slices inside what was consumed, names are tokens,
 * values trimmed and free of CR/LF/NUL, only the documented statuses),
 * and equal traces for every way of splitting the input.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *t = fz_check_splits(CIO__HTTP_REQUEST, fz_limits(data[0]), NULL, data + 1, size - 1);
    free(t);
    return 0;
}
