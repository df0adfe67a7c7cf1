/*
 * deflate.c - permessage-deflate on zlib (see deflate.h).
 *
 *   1. The byte buffer and zlib's allocation through cio's hook.
 *   2. Compression: deflate with Z_NO_FLUSH for the pieces of a message,
 *      Z_SYNC_FLUSH at its end, then the 00 00 ff ff tail cut off.
 *   3. Decompression: inflate with the tail added back, output bounded by
 *      the message limit, the window kept across a BFINAL block.
 *
 * Window bits 8 on our compressing side: raw deflate in zlib refuses a
 * 256-byte window (deflateInit2 returns Z_STREAM_ERROR for -8), and using
 * 9 instead would let back-references reach past what the peer keeps.
 * Z_HUFFMAN_ONLY emits literals only, so its output fits any window.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "../util/internal.h"
#include "deflate.h"

/* ---- 1. buffer, allocation -------------------------------------------------- */

void cio__ws_buf_free(struct cio__ws_buf *b)
{
    if (!b)
        return;
    cio__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#ifdef CIO_HAVE_ZLIB
#include <zlib.h>

/* Makes room for at least want more bytes (doubling, so appends are
 * amortised O(1)).  -ENOMEM leaves b as it was.  (Only the compressor and
 * decompressor append: without zlib nothing does.) */
static int buf_reserve(struct cio__ws_buf *b, size_t want)
{
    if (b->cap - b->len >= want)
        return 0;
    if (want > SIZE_MAX - b->len)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < want)
        cap = cap > SIZE_MAX / 2 ? b->len + want : cap * 2;
    uint8_t *p = cio__realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return cio__malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    cio__free(p);
}

static z_stream *stream_new(void)
{
    z_stream *z = cio__calloc(1, sizeof *z);
    if (z) {
        z->zalloc = z_alloc;
        z->zfree = z_free;
    }
    return z;
}

int cio__ws_deflate_available(void)
{
    return 1;
}

int cio__ws_deflate_init(struct cio__ws_deflate *d, const struct cio__ws_pmd_params *p,
                         int server, int level, uint64_t max_message)
{
    if (!d || !p || level < -1 || level > 9 || p->server_max_window_bits < 8 ||
        p->server_max_window_bits > 15 || p->client_max_window_bits < 8 ||
        p->client_max_window_bits > 15)
        return -EINVAL;
    memset(d, 0, sizeof *d);
    d->tx_reset = server ? p->server_no_context_takeover : p->client_no_context_takeover;
    d->rx_reset = server ? p->client_no_context_takeover : p->server_no_context_takeover;
    d->tx_bits = server ? p->server_max_window_bits : p->client_max_window_bits;
    d->rx_bits = server ? p->client_max_window_bits : p->server_max_window_bits;
    d->level = level;
    d->max_message = max_message ? max_message : UINT64_MAX;
    return 0;
}

void cio__ws_deflate_free(struct cio__ws_deflate *d)
{
    if (!d)
        return;
    if (d->tx) {
        deflateEnd(d->tx);
        cio__free(d->tx);
        d->tx = NULL;
    }
    if (d->rx) {
        inflateEnd(d->rx);
        cio__free(d->rx);
        d->rx = NULL;
    }
}

/* ---- 2. compression ---------------------------------------------------------- */

static int tx_open(struct cio__ws_deflate *d)
{
    z_stream *z = stream_new();
    if (!z)
        return -ENOMEM;
    int bits = d->tx_bits == 8 ? 9 : d->tx_bits;
    int strategy = d->tx_bits == 8 ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY;
    int rc = deflateInit2(z, d->level, Z_DEFLATED, -bits, 8, strategy);
    if (rc != Z_OK) {
        cio__free(z);
        return rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
    }
    d->tx = z;
    return 0;
}

static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};

int cio__ws_deflate_compress(struct cio__ws_deflate *d, const uint8_t *in, size_t n, int fin,
                             struct cio__ws_buf *out)
{
    if (!d || !out || (!in && n))
        return -EINVAL;
    if (!d->tx) {
        int rc = tx_open(d);
        if (rc < 0)
            return rc;
    }
    z_stream *z = d->tx;
    size_t start = out->len;
    int flush = fin ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    z->next_in = (Bytef *)(uintptr_t)in;
    for (;;) {
        /* avail_in is a uInt: feed a huge piece in slices. */
        size_t slice = n > UINT_MAX ? UINT_MAX : n;
        z->avail_in = (uInt)slice;
        int last = slice == n;
        for (;;) {
            size_t want = z->avail_in / 2 + 64;
            if (buf_reserve(out, want) < 0)
                return -ENOMEM;
            size_t room = out->cap - out->len;
            z->next_out = out->data + out->len;
            z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
            uInt before = z->avail_out;
            int rc = deflate(z, last ? flush : Z_NO_FLUSH);
            out->len += before - z->avail_out;
            if (rc == Z_STREAM_ERROR)
                return -EINVAL;
            /* Done when all input is taken and zlib did not fill the
             * buffer (Z_BUF_ERROR: nothing left to do). */
            if (z->avail_in == 0 && (z->avail_out != 0 || rc == Z_BUF_ERROR))
                break;
        }
        n -= slice;
        if (last)
            break;
    }
    if (!fin)
        return 0;
    size_t made = out->len - start;
    if (made >= 4 && memcmp(out->data + out->len - 4, tail, 4) == 0) {
        out->len -= 4;
    } else if (made == 0) {
        /* A second flush with no new input makes zlib write nothing; the
         * peer still needs a whole (empty) block to stay in step, and
         * our stream is byte-aligned after the last flush: write the
         * empty stored block, minus the tail (§7.2.3.6). */
        if (buf_reserve(out, 1) < 0)
            return -ENOMEM;
        out->data[out->len++] = 0x00;
    }
    if (d->tx_reset && deflateReset(z) != Z_OK)
        return -EINVAL;
    return 0;
}

/* ---- 3. decompression -------------------------------------------------------- */

static int rx_open(struct cio__ws_deflate *d)
{
    z_stream *z = stream_new();
    if (!z)
        return -ENOMEM;
    int rc = inflateInit2(z, -(int)d->rx_bits);
    if (rc != Z_OK) {
        cio__free(z);
        return rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
    }
    d->rx = z;
    return 0;
}

/* Inflates in[0..n) into out within the message limit. */
static int inflate_piece(struct cio__ws_deflate *d, const uint8_t *in, size_t n,
                         struct cio__ws_buf *out)
{
    z_stream *z = d->rx;
    while (n) {
        size_t slice = n > UINT_MAX ? UINT_MAX : n;
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)slice;
        in += slice;
        n -= slice;
        for (;;) {
            if (d->rx_ended) {
                /* After a BFINAL block: the rest of the message (at least
                 * the tail we add) carries nothing. */
                z->avail_in = 0;
                break;
            }
            /* Output room: never more than one byte past the limit, so a
             * bomb stops there. */
            uint64_t left = d->max_message - d->rx_produced;
            size_t want = (size_t)z->avail_in * 4 + 1024;
            if (left < UINT64_MAX && want > left + 1)
                want = (size_t)(left + 1);
            if (buf_reserve(out, want) < 0)
                return -ENOMEM;
            size_t room = out->cap - out->len;
            if (left < UINT64_MAX && room > left + 1)
                room = (size_t)(left + 1);
            z->next_out = out->data + out->len;
            z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
            uInt before = z->avail_out;
            int rc = inflate(z, Z_SYNC_FLUSH);
            size_t got = before - z->avail_out;
            out->len += got;
            d->rx_produced += got;
            if (d->rx_produced > d->max_message)
                return -EMSGSIZE;
            if (rc == Z_STREAM_END) {
                d->rx_ended = 1;
                continue;
            }
            if (rc == Z_MEM_ERROR)
                return -ENOMEM;
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return -EPROTO; /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
            if (z->avail_in == 0 && z->avail_out != 0)
                break;
            if (rc == Z_BUF_ERROR && z->avail_in == 0)
                break;
        }
    }
    return 0;
}

/* Restarts the stream after BFINAL, keeping its window for the next
 * message (context takeover). */
static int rx_restart_keep_window(struct cio__ws_deflate *d)
{
    z_stream *z = d->rx;
    uInt len = 0;
    Bytef *win = cio__malloc((size_t)1 << 15);
    if (!win)
        return -ENOMEM;
    if (inflateGetDictionary(z, win, &len) != Z_OK || inflateReset(z) != Z_OK ||
        (len && inflateSetDictionary(z, win, len) != Z_OK)) {
        cio__free(win);
        return -EPROTO;
    }
    cio__free(win);
    return 0;
}

int cio__ws_deflate_decompress(struct cio__ws_deflate *d, const uint8_t *in, size_t n,
                               int fin, struct cio__ws_buf *out)
{
    if (!d || !out || (!in && n))
        return -EINVAL;
    if (!d->rx) {
        int rc = rx_open(d);
        if (rc < 0)
            return rc;
    }
    int rc = inflate_piece(d, in, n, out);
    if (rc < 0 || !fin)
        return rc;
    if ((rc = inflate_piece(d, tail, sizeof tail, out)) < 0)
        return rc;
    z_stream *z = d->rx;
    /* data_type & 128: inflate stopped between blocks, as the tail's empty
     * stored block leaves it.  Otherwise the message was cut mid-block. */
    if (!d->rx_ended && !(z->data_type & 128))
        return -EPROTO;
    if (d->rx_reset)
        rc = inflateReset(z) == Z_OK ? 0 : -EPROTO;
    else if (d->rx_ended)
        rc = rx_restart_keep_window(d);
    d->rx_ended = 0;
    d->rx_produced = 0;
    return rc;
}

#else /* !CIO_HAVE_ZLIB */

int cio__ws_deflate_available(void)
{
    return 0;
}

int cio__ws_deflate_init(struct cio__ws_deflate *d, const struct cio__ws_pmd_params *p,
                         int server, int level, uint64_t max_message)
{
    if (d)
        memset(d, 0, sizeof *d);
    return -ENOTSUP;
}

void cio__ws_deflate_free(struct cio__ws_deflate *d)
{
}

int cio__ws_deflate_compress(struct cio__ws_deflate *d, const uint8_t *in, size_t n, int fin,
                             struct cio__ws_buf *out)
{
    return -ENOTSUP;
}

int cio__ws_deflate_decompress(struct cio__ws_deflate *d, const uint8_t *in, size_t n,
                               int fin, struct cio__ws_buf *out)
{
    return -ENOTSUP;
}

#endif
