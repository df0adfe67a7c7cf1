/*
 * frame.h - RFC 6455 framing, internal to src/ws: what a WebSocket
 * endpoint needs to read and write frames, independent of any transport.
 *
 *   1. Opcodes, header bits and close codes.
 *   2. Header parsing, in place over the caller's buffer.  The parser is
 *      stateless per call (a header is at most 14 bytes, so parsing again
 *      when more bytes arrive costs nothing) and checks every rule of §5
 *      as soon as the bytes that carry it are there, so a bad frame fails
 *      on its first byte where possible.
 *   3. The receiver's message state (struct cio__ws_recv): fragmentation
 *      and continuation with control frames interleaved (§5.4), the frame
 *      and message size limits, UTF-8 of text messages across fragments.
 *   4. Header building and masking (§5.3), 16 bytes per step at any
 *      alignment, with a running key offset for payloads met in pieces.
 *
 * Errors are negative errno values, each tied to the close code a
 * receiver sends (cio__ws_close_code_for): -EPROTO protocol violation
 * (1002), -EMSGSIZE over a size limit (1009), -EILSEQ invalid UTF-8 in a
 * text message (1007).  No function here allocates or suspends.
 */
#ifndef CIO_WS_FRAME_H
#define CIO_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

/* ---- 1. opcodes, bits, close codes ----------------------------------------- */

enum {
    CIO__WS_OP_CONT = 0x0,   /* continuation of a fragmented data message */
    CIO__WS_OP_TEXT = 0x1,   /* first frame of a text (UTF-8) message */
    CIO__WS_OP_BINARY = 0x2, /* first frame of a binary message */
    CIO__WS_OP_CLOSE = 0x8,  /* close; payload: code and reason (close.h) */
    CIO__WS_OP_PING = 0x9,   /* ping; answered by a pong with its payload */
    CIO__WS_OP_PONG = 0xA,   /* pong */
};

/* Bits of a header's first byte. */
#define CIO__WS_FIN 0x80  /* last frame of its message */
#define CIO__WS_RSV1 0x40 /* permessage-deflate: "compressed" (RFC 7692 §6) */
#define CIO__WS_RSV2 0x20 /* reserved, no extension of ours defines it */
#define CIO__WS_RSV3 0x10 /* reserved, no extension of ours defines it */

#define CIO__WS_MAX_HEADER 14  /* 2 + 8 (64-bit length) + 4 (mask key) */
#define CIO__WS_MAX_CONTROL 125 /* largest control frame payload (§5.5) */

/* Close codes (RFC 6455 §7.4.1; 1012-1014 registered with IANA since). */
enum {
    CIO__WS_CLOSE_NORMAL = 1000,        /* purpose fulfilled */
    CIO__WS_CLOSE_GOING_AWAY = 1001,    /* server going down, page left */
    CIO__WS_CLOSE_PROTOCOL = 1002,      /* protocol error */
    CIO__WS_CLOSE_UNSUPPORTED = 1003,   /* a data type the endpoint cannot take */
    CIO__WS_CLOSE_NO_STATUS = 1005,     /* (never sent) close frame had no code */
    CIO__WS_CLOSE_ABNORMAL = 1006,      /* (never sent) closed without a close frame */
    CIO__WS_CLOSE_INVALID_DATA = 1007,  /* e.g. invalid UTF-8 in a text message */
    CIO__WS_CLOSE_POLICY = 1008,        /* policy violation */
    CIO__WS_CLOSE_TOO_BIG = 1009,       /* message too big to process */
    CIO__WS_CLOSE_EXTENSION = 1010,     /* (client) server refused a needed extension */
    CIO__WS_CLOSE_INTERNAL = 1011,      /* unexpected condition on the server */
    CIO__WS_CLOSE_TLS = 1015,           /* (never sent) TLS handshake failed */
};

/*
 * The close code a receiver sends for an error of this layer: -EPROTO
 * 1002, -EMSGSIZE 1009, -EILSEQ 1007, anything else (-ENOMEM, ...) 1011.
 */
int cio__ws_close_code_for(int err);

/* ---- 2. header parsing ----------------------------------------------------- */

/* A parsed frame header. */
struct cio__ws_frame {
    uint64_t len;     /* payload length, < 2^63 */
    uint8_t fin;      /* 1: last frame of its message (always 1 for control) */
    uint8_t rsv;      /* RSV bits as in the first byte (CIO__WS_RSV1 ...) */
    uint8_t opcode;   /* CIO__WS_OP_* */
    uint8_t masked;   /* 1: payload masked with mask[] */
    uint8_t mask[4];  /* masking key, if masked */
    const char *why;  /* on error: which rule was broken (static string, fit
                         for a close reason); NULL otherwise */
};

/* 3. What a receiver tracks between frames; see cio__ws_recv_init. */
struct cio__ws_recv {
    /* settings */
    uint8_t server;       /* 1: we are the server: frames must be masked
                             (§5.1); 0: we are the client: must not be */
    uint8_t rsv_allowed;  /* RSV bits a negotiated extension defines:
                             CIO__WS_RSV1 with permessage-deflate, else 0 */
    uint64_t max_frame;   /* largest payload of one frame */
    uint64_t max_message; /* largest message (after decompression) */
    /* the data message being received */
    uint8_t msg_opcode;     /* TEXT or BINARY; 0: between messages */
    uint8_t msg_compressed; /* its first frame had RSV1 (permessage-deflate) */
    uint8_t frame_opcode;   /* opcode of the frame whose payload comes now;
                               0xFF before the first frame */
    uint8_t frame_fin;      /* that frame ends its message */
    uint64_t msg_wire;      /* payload bytes of the message on the wire */
    uint64_t msg_len;       /* message bytes given to cio__ws_recv_data */
    struct cio__ws_utf8 utf8; /* validation of a text message so far */
};

/*
 * Sets up r for a new connection.  server: 1 on the server side (expects
 * masked frames), 0 on the client side.  rsv_allowed: CIO__WS_RSV1 when
 * permessage-deflate was negotiated, else 0.  max_frame, max_message: size
 * limits in bytes, 0 for none.  Cannot fail.
 */
void cio__ws_recv_init(struct cio__ws_recv *r, int server, int rsv_allowed,
                       uint64_t max_frame, uint64_t max_message);

/*
 * Parses the frame header at the start of buf[0..len), for the receiver
 * state r (which it does not change).  Returns the header's length (2 to
 * 14) with *f filled in, 0 if more bytes are needed (call again with the
 * same start and more bytes), or an error with f->why set:
 *   -EPROTO: reserved opcode; RSV bit that no extension defined, or RSV1 on
 *     a control or continuation frame; fragmented control frame, or one
 *     longer than 125 bytes; 64-bit length with its top bit set; unmasked
 *     frame to a server or masked frame to a client; continuation with no
 *     message begun, or a new data message before the last one ended.
 *   -EMSGSIZE: payload longer than max_frame, or the message's payload so
 *     far longer than max_message (for compressed messages a bound that
 *     no deflate stream of max_message bytes exceeds).
 * Each check runs as soon as its bytes are there: a header whose first
 * byte is already wrong fails with len == 1.  Non-minimal length encodings
 * are accepted (§5.2 binds senders).  buf is only read.
 */
int cio__ws_frame_parse(const struct cio__ws_recv *r, const uint8_t *buf, size_t len,
                        struct cio__ws_frame *f);

/*
 * Takes a header that cio__ws_frame_parse accepted into r: a first data
 * frame begins a message (and its UTF-8 check), a continuation extends it,
 * a control frame leaves the message alone (it may come between
 * fragments).  Returns 0, or -EINVAL if f was not accepted for r.
 */
int cio__ws_recv_frame(struct cio__ws_recv *r, const struct cio__ws_frame *f);

/*
 * Gives the message bytes of the current data frame, unmasked and (for a
 * compressed message) decompressed, in any pieces: counts them against
 * max_message (-EMSGSIZE) and, in a text message, validates UTF-8 as far
 * as it goes (-EILSEQ as soon as it cannot be valid, even mid-fragment).
 * -EINVAL if the current frame is a control frame.  A control frame's
 * payload is the caller's (close.h parses a close payload).
 */
int cio__ws_recv_data(struct cio__ws_recv *r, const uint8_t *p, size_t n);

/*
 * Marks the end of the current frame's payload.  Returns 1 if that
 * completed a data message (a text message's UTF-8 then checked complete:
 * -EILSEQ if it stopped inside a code point), 0 otherwise (a control frame
 * or a non-final fragment).
 */
int cio__ws_recv_frame_end(struct cio__ws_recv *r);

/* ---- 4. building and masking ----------------------------------------------- */

/*
 * Writes a frame header into out (room for CIO__WS_MAX_HEADER bytes):
 * opcode, flags (CIO__WS_FIN and the RSV bits), payload length (minimal
 * encoding), and the masking key if mask is not NULL (a client must mask,
 * with a fresh unpredictable key per frame; the caller supplies it).
 * Returns the header length, or -EINVAL for a reserved opcode, a control
 * frame without FIN or longer than 125 bytes, a length >= 2^63.
 */
int cio__ws_frame_build(uint8_t *out, int opcode, int flags, uint64_t len,
                        const uint8_t *mask);

/*
 * XORs buf[0..n) in place with the masking key, starting at key byte
 * offset & 3 (the payload's position so far, for data met in pieces).
 * Returns the offset for the next piece, (offset + n) & 3.  Masking and
 * unmasking are the same operation.  buf may have any alignment.
 */
size_t cio__ws_mask(uint8_t *buf, size_t n, const uint8_t key[4], size_t offset);

/*
 * As cio__ws_mask, writing src ^ key into dst (a sender masks while
 * copying the payload behind the header).  dst and src may be the same
 * pointer but must not otherwise overlap.
 */
size_t cio__ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                         size_t offset);

#endif
