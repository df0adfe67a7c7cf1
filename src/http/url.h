/*
 * url.h - absolute http:// and https:// URLs for the client (RFC 3986,
 * with the WHATWG URL standard's habit of percent-encoding what a user
 * may type but HTTP may not carry), and resolving a redirect's Location
 * against the URL it came from.
 *
 * What is accepted: scheme "http" or "https" (any case), "//", a host
 * (a reg-name of unreserved and sub-delim characters, lower-cased; or an
 * IPv6 literal in brackets, checked with inet_pton; an IPv4 literal is a
 * reg-name that DNS resolves), an optional port 1-65535, a path and a
 * query.  The fragment is dropped (it never goes on the wire).
 * What is refused with -EINVAL: a missing or empty host, userinfo
 * ("user@host": credentials go in an Authorization header), a bad port,
 * a bad %XX escape, spaces and control bytes anywhere, a zone id in an
 * IPv6 literal.  Another well-formed scheme gives -ENOTSUP.
 * Bytes >= 0x80 and " < > \ ^ ` { | } in the path or query are
 * percent-encoded; "." and ".." segments of the path are removed.
 */
#ifndef CIO_HTTP_URL_H
#define CIO_HTTP_URL_H

#include <stddef.h>

/* A parsed URL: every string points into one allocation (buf). */
typedef struct cio__url {
    char *buf;             /* the one allocation (cio__free via url_free) */
    const char *href;      /* the whole URL, normalised, no fragment */
    const char *scheme;    /* "http" or "https" */
    const char *host;      /* lower-cased; an IPv6 literal without [] */
    const char *authority; /* host[:port] as the Host header wants it:
                              brackets around IPv6, no default port */
    const char *origin;    /* scheme://host:port, the pool's key */
    const char *target;    /* path and query, starts with '/' */
    int port;              /* 1-65535 (80 / 443 when not given) */
    int tls;               /* 1 for https */
} cio__url;

/* Parses the absolute URL s into *u (see the top of this file).  Returns
 * 0, -EINVAL, -ENOTSUP or -ENOMEM; on failure *u holds nothing to free. */
int cio__url_parse(cio__url *u, const char *s);

/* Resolves the reference ref (a Location value: absolute, "//host/...",
 * "/path", "?query" or a relative path) against base into *u (RFC 3986
 * §5.2).  Errors as cio__url_parse. */
int cio__url_resolve(cio__url *u, const cio__url *base, const char *ref, size_t ref_len);

/* Frees what *u holds (a zeroed *u is fine). */
void cio__url_free(cio__url *u);

/* 1 if a and b are the same origin (scheme, host, port). */
int cio__url_same_origin(const cio__url *a, const cio__url *b);

#endif
