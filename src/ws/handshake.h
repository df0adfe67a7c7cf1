/*
 * handshake.h - the pure parts of the WebSocket opening handshake (RFC
 * 6455 §4), internal to src/ws: checking a client's Sec-WebSocket-Key,
 * computing and checking Sec-WebSocket-Accept, making a client key.  The
 * HTTP exchange around them belongs to the connection layer; the
 * Sec-WebSocket-Extensions negotiation is in extension.h.
 *
 * Header values are passed as (pointer, length) exactly as the HTTP parser
 * found them; optional whitespace around a value is skipped here.
 */
#ifndef CIO_WS_HANDSHAKE_H
#define CIO_WS_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

/* The GUID of RFC 6455 §1.3 that the accept value hashes after the key. */
#define CIO__WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define CIO__WS_KEY_LEN 24    /* base64 of 16 bytes */
#define CIO__WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */

/*
 * Checks a Sec-WebSocket-Key value (§4.2.1 item 5): base64 that decodes
 * to exactly 16 bytes (24 characters, canonical form).  Returns 0, or
 * -EINVAL (the server then answers 400 Bad Request).
 */
int cio__ws_key_check(const char *key, size_t len);

/*
 * Computes the Sec-WebSocket-Accept value for a key: base64(SHA-1(key ++
 * GUID)), written to out with a terminating NUL (CIO__WS_ACCEPT_LEN + 1
 * bytes).  The key is checked first: -EINVAL if cio__ws_key_check rejects
 * it (out untouched).  Returns 0.
 */
int cio__ws_accept(const char *key, size_t len, char out[CIO__WS_ACCEPT_LEN + 1]);

/*
 * Makes a client key from 16 bytes the caller drew from a strong random
 * source (§4.1: a fresh random nonce per connection): their base64, with
 * a terminating NUL, in out (CIO__WS_KEY_LEN + 1 bytes).  Cannot fail.
 */
void cio__ws_key_make(const uint8_t nonce[16], char out[CIO__WS_KEY_LEN + 1]);

/*
 * The client's check of the server's answer (§4.1, item 4 of the
 * response rules): returns 0 if accept[0..len) is the accept value for
 * the key the client sent, -EPROTO otherwise (the client then fails the
 * connection), -EINVAL if key itself is not a valid key.
 */
int cio__ws_accept_check(const char *key, size_t key_len, const char *accept, size_t len);

#endif
