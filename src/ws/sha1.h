/*
 * sha1.h - SHA-1 (FIPS 180-4), internal to src/ws, for one purpose: the
 * Sec-WebSocket-Accept value of the opening handshake (RFC 6455 §4.2.2).
 * SHA-1 is broken for signatures; the handshake uses it only to prove the
 * server read the key, so it is fine here and nowhere else.  Our own small
 * implementation keeps the WebSocket layer free of OpenSSL.
 */
#ifndef CIO_WS_SHA1_H
#define CIO_WS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define CIO__SHA1_LEN 20

/* A running hash; plain value, no resources. */
struct cio__sha1 {
    uint32_t h[5];      /* chaining state */
    uint64_t len;       /* bytes hashed so far */
    uint8_t block[64];  /* the incomplete block */
    size_t used;        /* bytes in block */
};

/* Starts a hash.  Cannot fail. */
void cio__sha1_init(struct cio__sha1 *s);
/* Adds n bytes (p may be NULL if n is 0).  Cannot fail. */
void cio__sha1_update(struct cio__sha1 *s, const void *p, size_t n);
/* Writes the 20-byte digest; s must be initialised again before reuse. */
void cio__sha1_final(struct cio__sha1 *s, uint8_t out[CIO__SHA1_LEN]);

#endif
