/*
 * utf8.h - incremental UTF-8 validation for WebSocket text (RFC 6455 §8.1,
 * RFC 3629), internal to src/ws.
 *
 * A text message may arrive in many frames, and a frame in many reads; a
 * code point can be split anywhere.  The validator is a small DFA whose
 * state (one byte) carries a partial code point from one call to the next.
 * It fails fast: a byte that no valid continuation could follow (C0, C1,
 * F5..FF, an overlong E0/F0 prefix, a surrogate ED A0.., anything above
 * U+10FFFF, a stray continuation byte) is rejected at once, not at the end
 * of the message, so a receiver closes with 1007 as early as the bytes
 * allow.  Runs of ASCII are checked 32 bytes per step.
 */
#ifndef CIO_WS_UTF8_H
#define CIO_WS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The validator's state: a plain value, copied and reset freely. */
struct cio__ws_utf8 {
    uint32_t state; /* DFA state: 0 at a code point boundary, otherwise the
                       bytes still expected and their allowed range */
};

/* Puts v at the start of a message (a code point boundary).  Cannot fail. */
static inline void cio__ws_utf8_init(struct cio__ws_utf8 *v)
{
    v->state = 0;
}

/*
 * Validates the next n bytes of a text.  Returns 0 if the bytes so far are
 * a valid UTF-8 text or the valid beginning of one, -EILSEQ as soon as they
 * can no longer be (the state then stays rejected: later calls fail too).
 * p may be NULL when n is 0.  Does not allocate; never reads past p + n.
 */
int cio__ws_utf8_feed(struct cio__ws_utf8 *v, const uint8_t *p, size_t n);

/*
 * Ends a text: returns 0 if everything fed was complete, valid UTF-8,
 * -EILSEQ if it was invalid or stopped inside a code point.  Leaves v
 * unchanged (call cio__ws_utf8_init to start the next text).
 */
int cio__ws_utf8_finish(const struct cio__ws_utf8 *v);

/* One-shot: 0 if p[0..n) is complete, valid UTF-8, else -EILSEQ. */
int cio__ws_utf8_valid(const uint8_t *p, size_t n);

#endif
