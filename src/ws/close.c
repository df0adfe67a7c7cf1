/*
 * close.c - close frame payloads: status code validity (RFC 6455 §7.4),
 * parse and build with a UTF-8 reason.
 */
#include <errno.h>
#include <string.h>

#include "close.h"
#include "frame.h"
#include "utf8.h"

int cio__ws_close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    switch (code) {
    case 1000: case 1001: case 1002: case 1003:
    case 1007: case 1008: case 1009: case 1010: case 1011:
    case 1012: case 1013: case 1014:
        return 1;
    default:
        return 0;
    }
}

int cio__ws_close_parse(const uint8_t *p, size_t n, unsigned *code, const char **reason,
                        size_t *reason_len)
{
    const char *r = "";
    size_t rlen = 0;
    unsigned c = CIO__WS_CLOSE_NO_STATUS;
    if (n == 1 || n > CIO__WS_MAX_CONTROL)
        return -EPROTO;
    if (n >= 2) {
        c = (unsigned)p[0] << 8 | p[1];
        if (!cio__ws_close_code_valid(c))
            return -EPROTO;
        if (cio__ws_utf8_valid(p + 2, n - 2) < 0)
            return -EILSEQ;
        r = (const char *)p + 2;
        rlen = n - 2;
    }
    if (code)
        *code = c;
    if (reason)
        *reason = r;
    if (reason_len)
        *reason_len = rlen;
    return 0;
}

int cio__ws_close_build(uint8_t *out, unsigned code, const char *reason, size_t reason_len)
{
    if (reason_len && !reason)
        return -EINVAL;
    if (code == 0)
        return reason_len ? -EINVAL : 0;
    if (!cio__ws_close_code_valid(code) || reason_len > CIO__WS_MAX_REASON ||
        cio__ws_utf8_valid((const uint8_t *)reason, reason_len) < 0)
        return -EINVAL;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (reason_len)
        memcpy(out + 2, reason, reason_len);
    return (int)(2 + reason_len);
}
