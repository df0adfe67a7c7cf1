/*
 * inflate.c - decoding gzip and deflate response bodies with zlib, and
 * the case-insensitive name compare the client's files share.
 *
 * "deflate" in HTTP is meant to be the zlib format (RFC 9110 §8.4.1.2),
 * but some servers send raw deflate: the first two bytes tell (a zlib
 * header is CM 8 with a check that makes it a multiple of 31), as
 * browsers and curl decide.  gzip goes through zlib's gzip wrapper.
 * zlib allocates through cio's hook.  Without zlib every function says
 * "nothing to decode" and the body passes through as sent.
 */
#include <strings.h>

#include "client.h"

int cio__hc_name_eq(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

#ifdef CIO_HAVE_ZLIB
#include <limits.h>
#include <zlib.h>

struct cio__hc_inflate {
    z_stream zs;   /* zlib's state */
    int deflate;   /* Content-Encoding: deflate (format decided at start) */
    int started;   /* inflateInit2 ran */
    int finished;  /* Z_STREAM_END seen */
};

static voidpf z_alloc(voidpf opaque, uInt n, uInt size)
{
    (void)opaque;
    /* zlib needs no zeroed memory: calloc would clear the 32 KiB window
     * of every decoded reply */
    if (size && n > SIZE_MAX / size)
        return NULL;
    return cio__malloc((size_t)n * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    cio__free(p);
}

int cio__hc_inflate_available(void) { return 1; }

int cio__hc_inflate_new(const char *v, size_t n, cio__hc_inflate **out)
{
    *out = NULL;
    int deflate;
    if (cio__hc_name_eq(v, n, "gzip") || cio__hc_name_eq(v, n, "x-gzip"))
        deflate = 0;
    else if (cio__hc_name_eq(v, n, "deflate"))
        deflate = 1;
    else
        return 0;
    cio__hc_inflate *z = cio__calloc(1, sizeof *z);
    if (!z)
        return -ENOMEM;
    z->deflate = deflate;
    z->zs.zalloc = z_alloc;
    z->zs.zfree = z_free;
    *out = z;
    return 0;
}

int cio__hc_inflate_run(cio__hc_inflate *z, const char **in, size_t *in_len, char *out,
                        size_t cap, int *finished)
{
    if (z->finished) {
        *finished = 1;
        *in_len = 0; /* bytes after the end of the stream are ignored */
        return 0;
    }
    if (!z->started) {
        if (*in_len == 0)
            return 0;
        int bits = 15 + 16; /* gzip */
        if (z->deflate) {
            const unsigned char *b = (const unsigned char *)*in;
            int zlib = (b[0] & 0x0f) == 8 && (b[0] >> 4) <= 7 &&
                       (*in_len < 2 || ((b[0] << 8) | b[1]) % 31 == 0);
            bits = zlib ? 15 : -15;
        }
        if (inflateInit2(&z->zs, bits) != Z_OK)
            return -ENOMEM;
        z->started = 1;
    }
    z->zs.next_in = (Bytef *)(uintptr_t)*in;
    z->zs.avail_in = *in_len > UINT_MAX ? UINT_MAX : (uInt)*in_len;
    z->zs.next_out = (Bytef *)out;
    z->zs.avail_out = cap > UINT_MAX ? UINT_MAX : (uInt)cap;
    uInt before_in = z->zs.avail_in;
    int zr = inflate(&z->zs, Z_NO_FLUSH);
    size_t used = before_in - z->zs.avail_in;
    *in += used;
    *in_len -= used;
    if (zr == Z_STREAM_END) {
        z->finished = 1;
        *finished = 1;
    } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
        return -EPROTO;
    }
    return (int)((char *)z->zs.next_out - out);
}

void cio__hc_inflate_free(cio__hc_inflate *z)
{
    if (!z)
        return;
    if (z->started)
        inflateEnd(&z->zs);
    cio__free(z);
}

#else

int cio__hc_inflate_available(void) { return 0; }

int cio__hc_inflate_new(const char *v, size_t n, cio__hc_inflate **out)
{
    (void)v;
    (void)n;
    *out = NULL;
    return 0;
}

int cio__hc_inflate_run(cio__hc_inflate *z, const char **in, size_t *in_len, char *out,
                        size_t cap, int *finished)
{
    (void)z, (void)in, (void)in_len, (void)out, (void)cap, (void)finished;
    return -ENOTSUP;
}

void cio__hc_inflate_free(cio__hc_inflate *z) { (void)z; }

#endif
