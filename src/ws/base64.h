/*
 * base64.h - base64 (RFC 4648 §4, standard alphabet, '=' padding),
 * internal to src/ws: the handshake's Sec-WebSocket-Key and
 * Sec-WebSocket-Accept values are base64.
 */
#ifndef CIO_WS_BASE64_H
#define CIO_WS_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without a terminating NUL. */
#define CIO__BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Encodes src[0..n) into dst, which needs CIO__BASE64_LEN(n) + 1 bytes;
 * writes a terminating NUL.  Returns the encoded length.  Cannot fail.
 */
size_t cio__base64_encode(char *dst, const uint8_t *src, size_t n);

/*
 * Decodes src[0..n) into dst (room for cap bytes).  Strict: the length
 * must be a multiple of 4, padding only at the end, no whitespace, and
 * the unused bits of the last symbol must be zero (the canonical form
 * every encoder writes).  Returns the decoded length, -EINVAL for input
 * that is not canonical base64, -ENOSPC if cap is too small (dst then
 * holds no meaningful data).
 */
int cio__base64_decode(uint8_t *dst, size_t cap, const char *src, size_t n);

#endif
