/*
 * close.h - the payload of a close frame (RFC 6455 §5.5.1, §7.4),
 * internal to src/ws: an optional 2-byte status code, then an optional
 * UTF-8 reason, 125 bytes in all.
 */
#ifndef CIO_WS_CLOSE_H
#define CIO_WS_CLOSE_H

#include <stddef.h>
#include <stdint.h>

/* Longest reason that fits a control frame beside the code. */
#define CIO__WS_MAX_REASON 123

/*
 * 1 if code may appear in a close frame on the wire: 1000-1003, 1007-1014
 * (1012-1014 as IANA registered them after the RFC), 3000-4999.  Not
 * 1004 (reserved), 1005/1006/1015 (local-only meanings), nor anything
 * below 1000, in 1016-2999 (unassigned protocol range) or from 5000 on.
 */
int cio__ws_close_code_valid(unsigned code);

/*
 * Parses a received close payload p[0..n) (already unmasked).  An empty
 * payload means "no status": *code = 1005 and an empty reason.  Otherwise
 * *code is the status and *reason, *reason_len point into p (not NUL
 * terminated; valid as long as p).  Returns 0, -EPROTO for a 1-byte
 * payload, more than 125 bytes or a code that cio__ws_close_code_valid
 * rejects (answer with 1002), -EILSEQ for a reason that is not UTF-8
 * (answer with 1007).  reason and reason_len may be NULL.
 */
int cio__ws_close_parse(const uint8_t *p, size_t n, unsigned *code, const char **reason,
                        size_t *reason_len);

/*
 * Builds a close payload into out (room for 125 bytes): nothing for code
 * 0 (a close without status; reason must then be empty), else the code
 * and the reason.  Returns the payload length, or -EINVAL for a code that
 * may not be sent, a reason longer than 123 bytes or not valid UTF-8 (no
 * silent truncation).  reason may be NULL when reason_len is 0.
 */
int cio__ws_close_build(uint8_t *out, unsigned code, const char *reason, size_t reason_len);

#endif
