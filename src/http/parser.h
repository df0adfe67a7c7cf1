/*
 * parser.h - cio's HTTP/1.1 message parser (RFC 9110, RFC 9112), internal
 * to src/http: the server and the client build on it.
 *
 * What it is:
 *   - Strict.  Everything RFC 9112 lets a recipient reject is rejected,
 *     and the framing rules that request smuggling exploits are enforced
 *     the way nginx and llhttp do (Content-Length with Transfer-Encoding,
 *     duplicate or malformed Content-Length, codings other than exactly
 *     "chunked", obs-fold, bare CR or LF, whitespace before the colon).
 *   - In place.  It never copies or allocates: the head's parts and the
 *     header fields come back as (offset, length) slices into the caller's
 *     buffer; body data comes back as slices too (or is compacted in place
 *     by cio__http_decode_body).
 *   - Incremental.  Each call scans only the bytes it has not seen before
 *     and keeps its position in a small state struct, so a message that
 *     arrives one byte at a time costs O(n) in total, never a rescan
 *     (picohttpparser's last_len, done for every state).
 *
 * The buffer contract.  A message is parsed in two phases, the head
 * (cio__http_parse_head) and then the body (cio__http_parse_body).  While
 * the head (or a chunked body's trailer section) is incomplete, every call
 * passes the SAME bytes from the same first byte, with possibly more
 * appended: (buf, len) then (buf', len' >= len) where buf'[0, len) equals
 * buf[0, len).  buf' may be a different address - the transport may grow or
 * compact its buffer between calls - because the parser saves offsets
 * only, never pointers.  Every offset the parser returns is relative to the
 * buf of the call that returned it (for the head: to the head's first
 * byte, which includes any empty lines skipped before the request line).
 * Body calls consume what they return and start afresh at the next byte.
 *
 * Return values.  Parsing calls return >= 0 on progress and a negative
 * code on failure; after a failure the parser is stuck in the error (every
 * later call returns the same code) and p->err_status / p->err_reason tell
 * what to answer: the HTTP status code for the response to a bad request
 * (400, 413, 414, 417, 431, 501, 505) and a short constant reason string
 * for a log line.  For the client side (response parsing) the status is
 * 502 (a bad upstream answer), the reason as for requests.  Codes:
 *   -EPROTO        malformed or forbidden message (400 / 502)
 *   CIO_ELIMIT     a limit of cio__http_limits was crossed (413, 414, 431)
 *   -ENOTSUP       valid HTTP that we do not implement (417, 501, 505)
 *   CIO_EINCOMPLETE  the stream ended inside a message (cio__http_parse_eof)
 *   -EINVAL        a broken call (NULL, a buffer shorter than last time)
 *
 * Nothing here suspends, allocates, or keeps a pointer into the buffer.
 * The caller owns the parser, the header array and the buffer.  One parser
 * serves one connection's messages in turn (cio__http_parser_reset between
 * them, which pipelined requests need: parse the next head from the bytes
 * that follow the finished message).
 */
#ifndef CIO_HTTP_PARSER_H
#define CIO_HTTP_PARSER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/common.h" /* CIO_ELIMIT, CIO_EINCOMPLETE */

/*
 * Limits.  Defaults (cio__http_limits_init) are those of common servers:
 * nginx's 8 KiB URI buffer, Node's 16 KiB head, Go's and uvicorn's 100
 * fields, nginx's 1 MiB client_max_body_size, and Node's 16 KiB bound on
 * chunk extensions (CVE-2024-22019: extensions that cost the server CPU
 * while carrying no data).
 */
typedef struct cio__http_limits {
    uint32_t max_target;    /* request-target bytes; more: 414 */
    uint32_t max_head;      /* bytes of a head (start line, fields, the
                               empty line, empty lines before it) and of a
                               trailer section; more: 431.  At most 1 GiB */
    uint32_t max_headers;   /* field lines of a head, and of a trailer
                               section; more: 431 (also capped by the
                               header array the parser was given) */
    uint32_t max_chunk_ext; /* chunk-extension bytes of one message (all
                               its chunk lines together); more: 400 */
    uint64_t max_body;      /* body bytes after chunked decoding; a larger
                               Content-Length or more data: 413 */
} cio__http_limits;

#define CIO__HTTP_DEFAULT_MAX_TARGET 8192u
#define CIO__HTTP_DEFAULT_MAX_HEAD 16384u
#define CIO__HTTP_DEFAULT_MAX_HEADERS 100u
#define CIO__HTTP_DEFAULT_MAX_CHUNK_EXT 16384u
#define CIO__HTTP_DEFAULT_MAX_BODY (1024u * 1024u)

/* Fills *l with the defaults above.  Never fails. */
void cio__http_limits_init(cio__http_limits *l);

/* A part of the buffer: buf[off, off + len). */
typedef struct cio__http_slice {
    uint32_t off; /* offset from the buf of the call that returned it */
    uint32_t len; /* length in bytes */
} cio__http_slice;

/* One field line.  The name is a token (case kept as sent); the value has
 * its leading and trailing whitespace removed and holds no CR, LF or NUL
 * (it may hold obs-text, bytes >= 0x80, which RFC 9110 allows). */
typedef struct cio__http_header {
    cio__http_slice name;  /* field name */
    cio__http_slice value; /* field value, OWS trimmed; may be empty */
} cio__http_header;

/* Which messages a parser reads. */
enum { CIO__HTTP_REQUEST = 0, CIO__HTTP_RESPONSE = 1 };

/* Well-known methods (p->method); others are CIO__HTTP_OTHER, the method
 * slice names them.  Methods are case-sensitive: "get" is OTHER. */
enum {
    CIO__HTTP_OTHER = 0,
    CIO__HTTP_GET,
    CIO__HTTP_HEAD,
    CIO__HTTP_POST,
    CIO__HTTP_PUT,
    CIO__HTTP_DELETE,
    CIO__HTTP_CONNECT,
    CIO__HTTP_OPTIONS,
    CIO__HTTP_TRACE,
    CIO__HTTP_PATCH,
};

/* How the body is framed (p->body), decided when the head completes
 * (RFC 9112 §6.3). */
enum {
    CIO__HTTP_BODY_NONE = 0,  /* no body: the message ends with its head */
    CIO__HTTP_BODY_LENGTH,    /* Content-Length bytes (p->content_length) */
    CIO__HTTP_BODY_CHUNKED,   /* chunked, ending with the trailer section */
    CIO__HTTP_BODY_CLOSE,     /* response read until the connection closes */
    CIO__HTTP_BODY_TUNNEL,    /* response 2xx to CONNECT or 101: the
                                 connection now carries another protocol;
                                 the parser takes no more bytes */
};

/* Flags of p->flags, set while the head is parsed. */
enum {
    CIO__HTTP_F_KEEP_ALIVE = 0x01, /* the connection may carry another
                                      message after this one (version and
                                      Connection rules, RFC 9112 §9.3) */
    CIO__HTTP_F_CONTINUE = 0x02,   /* request: "Expect: 100-continue" on
                                      HTTP/1.1; answer 100 before reading
                                      the body (or a final status instead) */
    CIO__HTTP_F_UPGRADE = 0x04,    /* request: Upgrade field named in
                                      Connection (HTTP/1.1); p->upgrade is
                                      its index.  Response: 101 */
    CIO__HTTP_F_CONN_CLOSE = 0x08, /* Connection: close was sent */
    CIO__HTTP_F_CONN_KEEP = 0x10,  /* Connection: keep-alive was sent */
    CIO__HTTP_F_CONN_UPGRADE = 0x20, /* Connection: upgrade was sent */
    CIO__HTTP_F_HAS_LENGTH = 0x40, /* a Content-Length field was seen */
    CIO__HTTP_F_HAS_TE = 0x80,     /* a Transfer-Encoding field was seen */
};

/* Phases of p->phase. */
enum {
    CIO__HTTP_PH_HEAD = 0, /* reading the head */
    CIO__HTTP_PH_BODY,     /* reading the body (framing in p->body) */
    CIO__HTTP_PH_TRAILER,  /* reading a chunked body's trailer section */
    CIO__HTTP_PH_DONE,     /* the message is complete */
    CIO__HTTP_PH_ERROR,    /* failed; p->err and p->err_status say why */
};

/*
 * The parser.  All of it lives in the caller's memory (a connection
 * struct, a stack frame); cio__http_parser_init sets it up.  The fields
 * under "results" are for reading; the rest is the parser's own.
 */
typedef struct cio__http_parser {
    /* configuration (kept by cio__http_parser_reset) */
    cio__http_limits lim;      /* the limits this parser enforces */
    cio__http_header *headers; /* the caller's array for the fields */
    uint32_t cap;              /* min(its length, lim.max_headers) */
    uint8_t kind;              /* CIO__HTTP_REQUEST or CIO__HTTP_RESPONSE */
    uint8_t req_method;        /* response parser: the request's method
                                  (CIO__HTTP_HEAD: no body; CONNECT: 2xx
                                  is a tunnel); set with
                                  cio__http_parser_set_request_method */

    /* results: the head (valid once cio__http_parse_head returned > 0) */
    uint8_t phase;             /* CIO__HTTP_PH_* */
    uint8_t body;              /* CIO__HTTP_BODY_* */
    uint8_t method;            /* request: CIO__HTTP_GET, ... or OTHER */
    uint8_t version_minor;     /* 0 or 1 (HTTP/1.2..1.9 count as 1) */
    uint16_t status;           /* response: status code, 100-599 */
    uint16_t flags;            /* CIO__HTTP_F_* */
    cio__http_slice method_s;  /* request: the method */
    cio__http_slice target;    /* request: the request-target as sent */
    cio__http_slice reason;    /* response: the reason phrase (may be empty) */
    uint32_t nheaders;         /* fields in headers[0, nheaders) */
    uint32_t ntrailers;        /* trailer fields, in headers[nheaders, +n),
                                  offsets relative to the buf of the
                                  cio__http_parse_body call that ended the
                                  message */
    int32_t upgrade;           /* index of the Upgrade field, -1 if none */
    int32_t host;              /* request: index of the Host field, -1 */
    uint64_t content_length;   /* Content-Length value (when HAS_LENGTH) */
    uint64_t body_seen;        /* body data bytes delivered so far */

    /* errors */
    int err;                   /* the negative code, 0 while all is well */
    uint16_t err_status;       /* HTTP status to answer with */
    const char *err_reason;    /* short constant text, e.g. "bare LF" */

    /* scanner state: offsets, never pointers (the buffer may move) */
    uint32_t pos;              /* bytes of the head / trailer scanned */
    uint32_t mark;             /* start of the token being scanned */
    uint32_t name_off;         /* current field's name offset */
    uint32_t name_len;         /* and its length */
    uint8_t sub;               /* sub-state within the phase */
    uint8_t vi;                /* index into "HTTP/x.y" while scanning it */
    uint8_t hex_digits;        /* digits in the current chunk-size */
    uint8_t host_count;        /* Host fields seen (more than 1: 400) */
    uint32_t ext_bytes;        /* chunk-extension bytes of this message */
    uint64_t chunk_left;       /* chunk-size being read, then its data bytes
                                  left; Content-Length bytes left */
} cio__http_parser;

/*
 * Sets up p for messages of the given kind (CIO__HTTP_REQUEST or
 * CIO__HTTP_RESPONSE) with the limits *lim (copied; NULL: defaults) and
 * the caller's array headers[0, cap) for the fields of each message (the
 * array must outlive the parser's use; it is only written).  Returns 0, or
 * -EINVAL if p or headers is NULL, cap is 0, kind is unknown or
 * lim->max_head exceeds 1 GiB.
 */
int cio__http_parser_init(cio__http_parser *p, int kind, const cio__http_limits *lim,
                          cio__http_header *headers, uint32_t cap);

/* Makes p ready for the next message on the same connection: keeps the
 * configuration (kind, limits, header array, req_method), clears the rest
 * (an error too).  Never fails. */
void cio__http_parser_reset(cio__http_parser *p);

/* Response parser: the method of the request the next response answers
 * (CIO__HTTP_HEAD, CIO__HTTP_CONNECT, anything else for the others).  Set it
 * before each response; reset keeps it, so 1xx responses need nothing. */
void cio__http_parser_set_request_method(cio__http_parser *p, int method);

/*
 * Parses the head in buf[0, len) (see the buffer contract above: until it
 * completes, each call passes the same first bytes, maybe moved, maybe
 * more).  Returns:
 *   > 0  the head is complete: the count of bytes it took (body bytes
 *        start there); p's results are filled, p->phase is BODY, or DONE
 *        when there is no body (p->body NONE or TUNNEL)
 *   0    incomplete: call again with more bytes
 *   < 0  error (p->err_status, p->err_reason; see the top of this file)
 *
 * A request head: empty lines before the request line are skipped (RFC
 * 9112 §2.2); method SP request-target SP HTTP-version CRLF; field lines;
 * CRLF.  HTTP/1.1 needs exactly one valid Host.  Content-Length must be
 * one field of digits only; Transfer-Encoding must be exactly "chunked"
 * (501 for codings we do not implement, 400 otherwise) and never comes
 * with Content-Length or on HTTP/1.0.  "Expect" other than 100-continue:
 * 417.  Versions other than 1.x: 505.  A request without Content-Length
 * or Transfer-Encoding has no body (CONNECT included: whether the
 * connection then becomes a tunnel is the server's decision).
 *
 * A response head: HTTP-version SP 3DIGIT SP reason CRLF (a missing
 * " reason" is accepted), fields, CRLF.  A 1xx other than 101 is a
 * complete message with no body: reset and parse the next head from the
 * bytes after it.  101 and 2xx to CONNECT end the parser's part (TUNNEL).
 * HEAD requests, 204 and 304 have no body; without Content-Length or
 * chunked the body runs until the connection closes (BODY_CLOSE).
 *
 * For a 1xx response on a response parser, the flags and framing of the
 * final response come with the final response.
 */
int cio__http_parse_head(cio__http_parser *p, const char *buf, size_t len);

/* A piece of body data: buf[off, off + len) of the call's buf. */
typedef struct cio__http_data {
    size_t off; /* offset of the data in the call's buf */
    size_t len; /* bytes of data; 0 if the call found none */
} cio__http_data;

/*
 * Frames body bytes in buf[0, len) (len is capped at INT_MAX per call).
 * Returns the count of bytes consumed (the caller drops them and passes
 * what follows next time), and in *data the one piece of body data found
 * among them (len 0 if none).  When p->phase becomes DONE the message is
 * complete and bytes after the consumed count belong to the next message.
 *
 * Call it in a loop while it consumes bytes; it stops after each data
 * piece.  It may return 0 with bytes left: a chunked body's trailer
 * section is incomplete, and, as for heads, the next call must pass the
 * same first bytes with more appended.  Chunked bodies are checked
 * strictly: hex sizes without sign or overflow, extensions that follow the
 * grammar and fit max_chunk_ext, CRLF after each chunk's data, trailer
 * fields as strict as header fields (Content-Length, Transfer-Encoding and
 * Host are refused there).  In phase DONE or TUNNEL it returns 0.  Errors
 * are negative codes, as for heads.
 */
int cio__http_parse_body(cio__http_parser *p, const char *buf, size_t len,
                         cio__http_data *data);

/*
 * cio__http_parse_body in a loop with the data moved down in place: the
 * body data found in buf[0, len) ends up in buf[0, result) (the framing
 * between pieces is overwritten), *consumed says how many input bytes
 * were used.  Returns the byte count of data (>= 0) or a negative code.
 * Bytes buf[result, *consumed) are garbage; buf[*consumed, len) untouched.
 */
int cio__http_decode_body(cio__http_parser *p, char *buf, size_t len, size_t *consumed);

/*
 * Tells the parser the connection has ended (EOF from the peer).  Returns
 * 0 if that ends the stream cleanly: between messages (nothing of a head
 * but empty lines seen), after a complete message, or for a body framed by
 * the close (BODY_CLOSE becomes DONE).  Otherwise CIO_EINCOMPLETE (a
 * truncated head or body; err_status 400 or 502).
 */
int cio__http_parse_eof(cio__http_parser *p);

/* Returns the index of the first field named name (case-insensitive) in
 * headers[from, nheaders), or -1.  buf is the head's buffer. */
int cio__http_find_header(const cio__http_parser *p, const char *buf, const char *name,
                          uint32_t from);

#endif
