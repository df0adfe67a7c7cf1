/*
 * handshake.c - Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455
 * §4.1, §4.2): key syntax, the SHA-1/base64 accept value, client keys.
 */
#include <errno.h>
#include <string.h>

#include "base64.h"
#include "handshake.h"
#include "sha1.h"

/* Skips optional whitespace (RFC 7230 OWS) on both sides of a value. */
static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

int cio__ws_key_check(const char *key, size_t len)
{
    if (!key)
        return -EINVAL;
    trim(&key, &len);
    uint8_t raw[18];
    if (len != CIO__WS_KEY_LEN)
        return -EINVAL;
    int n = cio__base64_decode(raw, sizeof raw, key, len);
    return n == 16 ? 0 : -EINVAL;
}

int cio__ws_accept(const char *key, size_t len, char out[CIO__WS_ACCEPT_LEN + 1])
{
    if (cio__ws_key_check(key, len) < 0)
        return -EINVAL;
    trim(&key, &len);
    struct cio__sha1 s;
    uint8_t digest[CIO__SHA1_LEN];
    cio__sha1_init(&s);
    cio__sha1_update(&s, key, len);
    cio__sha1_update(&s, CIO__WS_GUID, sizeof CIO__WS_GUID - 1);
    cio__sha1_final(&s, digest);
    cio__base64_encode(out, digest, sizeof digest);
    return 0;
}

void cio__ws_key_make(const uint8_t nonce[16], char out[CIO__WS_KEY_LEN + 1])
{
    cio__base64_encode(out, nonce, 16);
}

int cio__ws_accept_check(const char *key, size_t key_len, const char *accept, size_t len)
{
    char want[CIO__WS_ACCEPT_LEN + 1];
    if (cio__ws_accept(key, key_len, want) < 0)
        return -EINVAL;
    if (!accept)
        return -EPROTO;
    trim(&accept, &len);
    /* base64 is case-sensitive: an exact comparison. */
    if (len != CIO__WS_ACCEPT_LEN || memcmp(accept, want, len) != 0)
        return -EPROTO;
    return 0;
}
