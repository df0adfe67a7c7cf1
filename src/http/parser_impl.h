/*
 * parser_impl.h - what the parser's files (parser.c: heads and fields,
 * body.c: bodies and chunked framing) share and the parser's users do
 * not see.  Only cio/common.h (for the error codes) from above: the
 * parser builds alone, as the fuzz targets do (tests/fuzz/build.sh).
 */
#ifndef CIO_HTTP_PARSER_IMPL_H
#define CIO_HTTP_PARSER_IMPL_H

#include <errno.h>
#include <string.h>

#include "cio/common.h"
#include "chars.h"
#include "parser.h"

/* Sub-state of the field scanner where a trailer section starts. */
#define CIO__HTTP_SUB_FIELDS 12

/* Records a failure in p (phase ERROR, the code, the status to answer,
 * 502 instead for a response parser, the reason) and returns code. */
int cio__http_fail(cio__http_parser *p, int code, int status, const char *reason);

/* Scans a trailer section in buf[0, len) from where the last call stopped
 * (p->pos, p->sub; the caller set sub to CIO__HTTP_SUB_FIELDS and pos to 0
 * at its start).  Returns its length once complete (phase DONE), 0 if
 * incomplete, or a negative code. */
int cio__http_scan_trailer(cio__http_parser *p, const unsigned char *buf, size_t len);

#endif
