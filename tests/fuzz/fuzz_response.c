/*
 * fuzz_response.c - libFuzzer target: responses through the client-side
 * parser (1xx, 101 and CONNECT tunnels, HEAD/204/304 without bodies,
 * close-delimited bodies).  Byte 0 picks the limits and the methods of
 * the requests the responses answer; the rest is what a server sent.
 * Same invariants as fuzz_request.c.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"G", "H", "C", "GH", "HG", "GGC", "HHG", "GC"};
    if (size < 1)
        return 0;
    const char *m = methods[(data[0] >> 1) & 7];
    char *t = fz_check_splits(CIO__HTTP_RESPONSE, fz_limits(data[0]), m, data + 1, size - 1);
    free(t);
    return 0;
}
