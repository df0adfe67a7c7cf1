/*
 * chars.h - byte classes of the HTTP grammar (RFC 9110 §5.6, RFC 9112,
 * RFC 3986 for hosts), one bit each in the table cio__http_class
 * (chars.c), plus the few inline helpers the parser files share.
 */
#ifndef CIO_HTTP_CHARS_H
#define CIO_HTTP_CHARS_H

#include <stddef.h>
#include <stdint.h>

enum {
    CIO__HTTP_TCHAR = 0x01,   /* token character: method, field name, coding */
    CIO__HTTP_TARGET = 0x02,  /* allowed in a request-target: VCHAR but '#' */
    CIO__HTTP_VALUE = 0x04,   /* inside a field value: SP HTAB VCHAR obs-text */
    CIO__HTTP_WS = 0x08,      /* SP or HTAB (OWS, BWS) */
    CIO__HTTP_HEX = 0x10,     /* HEXDIG (chunk-size) */
    CIO__HTTP_REGNAME = 0x20, /* reg-name / IPv4: unreserved, sub-delims, '%' */
    CIO__HTTP_QDTEXT = 0x40,  /* qdtext of a quoted-string (no '"' or '\\') */
    CIO__HTTP_SCHEME = 0x80,  /* after a scheme's first letter: ALPHA DIGIT + - . */
};

extern const uint8_t cio__http_class[256];

/* 1 if byte c is in every class of mask. */
static inline int cio__http_is(unsigned char c, unsigned mask)
{
    return (cio__http_class[c] & mask) == mask;
}

/* Compares s[0, n) with the lower-case ASCII word w (letters, digits and
 * '-' only) ignoring case.  s must hold no control bytes (it is a token
 * or a validated field value): then folding with | 0x20 is exact, since
 * only 'A'-'Z' and the word's own bytes map onto the word's bytes. */
static inline int cio__http_eq_lower(const char *s, size_t n, const char *w, size_t wn)
{
    if (n != wn)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] | 0x20) != (unsigned char)w[i])
            return 0;
    return 1;
}

#endif
