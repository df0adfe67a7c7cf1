/*
 * base64.c - RFC 4648 base64, the standard alphabet with padding.  The
 * decoder is strict (see base64.h) because its one user, the handshake
 * key check, must tell a 16-byte key from anything else.
 */
#include <errno.h>

#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cio__base64_encode(char *dst, const uint8_t *src, size_t n)
{
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o++] = alphabet[v >> 18];
        dst[o++] = alphabet[(v >> 12) & 63];
        dst[o++] = alphabet[(v >> 6) & 63];
        dst[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        dst[o++] = alphabet[v >> 18];
        dst[o++] = alphabet[(v >> 12) & 63];
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[o++] = alphabet[v >> 18];
        dst[o++] = alphabet[(v >> 12) & 63];
        dst[o++] = alphabet[(v >> 6) & 63];
        dst[o++] = '=';
    }
    dst[o] = '\0';
    return o;
}

/* The 6-bit value of a symbol, or -1. */
static int value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int cio__base64_decode(uint8_t *dst, size_t cap, const char *src, size_t n)
{
    if (n % 4 || n / 4 > INT32_MAX / 3)
        return -EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int pad = 0;
        if (last && src[i + 3] == '=')
            pad = src[i + 2] == '=' ? 2 : 1;
        int v[4] = {0, 0, 0, 0};
        for (int j = 0; j < 4 - pad; j++)
            if ((v[j] = value(src[i + (size_t)j])) < 0)
                return -EINVAL;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* Non-canonical: bits below the last byte must be zero. */
        if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF)))
            return -EINVAL;
        size_t out = 3 - (size_t)pad;
        if (cap - o < out)
            return -ENOSPC;
        dst[o++] = (uint8_t)(w >> 16);
        if (out > 1)
            dst[o++] = (uint8_t)(w >> 8);
        if (out > 2)
            dst[o++] = (uint8_t)w;
    }
    return (int)o;
}
