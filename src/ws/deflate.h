/*
 * deflate.h - permessage-deflate (RFC 7692 §7.2) over zlib, internal to
 * src/ws: compress an outgoing message, decompress an incoming one.
 *
 * Each message is raw DEFLATE data ended by a sync flush whose 4-byte
 * tail 00 00 ff ff is left off on the wire (§7.2.1) and added back before
 * inflating (§7.2.2).  With context takeover the LZ77 window carries over
 * from message to message; with no_context_takeover a side resets its
 * stream after every message.  Decompression is bounded by the message
 * size limit, so a small frame that inflates to gigabytes (a zip bomb)
 * fails with -EMSGSIZE (close code 1009) after at most limit + 1 bytes.
 *
 * zlib is optional (CIO_HAVE_ZLIB at build time).  Without it
 * cio__ws_deflate_available() is 0, extension.c never negotiates the
 * extension, and the functions below return -ENOTSUP.
 *
 * The zlib streams are created on first use and allocated through cio's
 * allocator hook; a compressor costs about 256 KiB with 15-bit windows, a
 * decompressor about 40 KiB.  Nothing here suspends.
 */
#ifndef CIO_WS_DEFLATE_H
#define CIO_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "extension.h"

/* A growable byte buffer the codec appends to (memory from cio__realloc). */
struct cio__ws_buf {
    uint8_t *data; /* the bytes; NULL until the first append */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
};

/* Frees b's memory and empties it.  NULL-safe. */
void cio__ws_buf_free(struct cio__ws_buf *b);

/* One connection's compression state, both directions. */
struct cio__ws_deflate {
    void *tx;              /* z_stream of our compressor, NULL until used */
    void *rx;              /* z_stream of our decompressor, NULL until used */
    uint8_t tx_reset;      /* reset the compressor after each message */
    uint8_t rx_reset;      /* reset the decompressor after each message */
    uint8_t tx_bits;       /* our compression window, 8..15 */
    uint8_t rx_bits;       /* the peer's window, 8..15 */
    uint8_t rx_ended;      /* the peer's stream ended (BFINAL) in this message */
    int level;             /* zlib level 0..9, or -1 for zlib's default */
    uint64_t max_message;  /* limit of a decompressed message, bytes */
    uint64_t rx_produced;  /* bytes decompressed in the current message */
};

/* 1 if this build has zlib (permessage-deflate can be negotiated). */
int cio__ws_deflate_available(void);

/*
 * Sets up d for a connection that agreed to p.  server: 1 if we are the
 * server (we compress with the server_* parameters and decompress with
 * the client_* ones), 0 for the client.  level: zlib level 1..9, 0 for
 * none, -1 for zlib's default (6).  max_message: decompressed size limit
 * per message, 0 for none.  Allocates nothing (streams come on first
 * use).  Returns 0, -EINVAL for bad arguments, -ENOTSUP without zlib.
 */
int cio__ws_deflate_init(struct cio__ws_deflate *d, const struct cio__ws_pmd_params *p,
                         int server, int level, uint64_t max_message);

/* Frees d's streams.  d may be initialised again after.  NULL-safe. */
void cio__ws_deflate_free(struct cio__ws_deflate *d);

/*
 * Compresses in[0..n), the next piece of an outgoing message, appending
 * the compressed bytes to out.  fin: this piece ends the message: the
 * stream is flushed and the 00 00 ff ff tail removed, so the bytes
 * appended since the message's first piece are exactly the payload to
 * send with RSV1 on its first frame (an empty message gives the single
 * byte 00, §7.2.3.6).  Pieces before fin may append nothing (zlib holds
 * data back); what they append is final and may be sent at once, in
 * frames of its own.  Returns 0, -ENOMEM
 * (out keeps what it had; the stream is then unusable: close the
 * connection with 1011), -ENOTSUP without zlib.
 */
int cio__ws_deflate_compress(struct cio__ws_deflate *d, const uint8_t *in, size_t n, int fin,
                             struct cio__ws_buf *out);

/*
 * Decompresses in[0..n), the next piece of a received compressed
 * message's payload (unmasked), appending to out.  fin: the message's
 * last piece (the tail is added back and the stream flushed).  Returns 0,
 * -EMSGSIZE when the message would exceed max_message (1009),
 * -EPROTO for data that is not valid DEFLATE or a message that does not
 * end on a block boundary (1002); bytes after a final (BFINAL) block are
 * ignored and the window still carries over (§7.2.3.4), -ENOMEM (1011), -ENOTSUP without zlib.  After an error the
 * receive side is unusable; the connection closes.
 */
int cio__ws_deflate_decompress(struct cio__ws_deflate *d, const uint8_t *in, size_t n,
                               int fin, struct cio__ws_buf *out);

#endif
