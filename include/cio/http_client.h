/*
 * cio/http_client.h - the HTTP/1.1 client: what aiohttp.ClientSession,
 * httpx.AsyncClient and Go's http.Client give an asyncio user.
 *
 * A client (cio_http_client) holds the options and a connection pool: one
 * pool per origin (scheme, host, port) with keep-alive, a per-host limit on
 * connections, and an idle timeout.  A request is described by a
 * cio_http_client_request (method, URL, headers, a body from a buffer or
 * produced piece by piece) and sent with cio_http_client_send; the answer
 * is a cio_http_reply (status, headers looked up case-insensitively, the
 * body buffered up to a limit or streamed with cio_http_reply_read).
 * cio_http_get and cio_http_post_json are the one-call forms.
 *
 * Fetching many URLs at once is a task per URL and cio_gather:
 *
 *     static int fetch(void *arg, void **result)
 *     {
 *         struct job *j = arg;
 *         return cio_http_get(j->client, j->url, &j->reply);
 *     }
 *     ...
 *     for (i = 0; i < n; i++)
 *         cio_create_task(fetch, &jobs[i], NULL, &tasks[i]);   // futs[i] = cio_task_future(tasks[i])
 *     cio_gather(futs, n, CIO_GATHER_RETURN_ERRORS, NULL, statuses);
 *
 * What the client does for you: Content-Length, chunked and close-delimited
 * bodies; redirects (301, 302 and 303 become GET without a body, 307 and
 * 308 keep the method and body; at most max_redirects; Authorization is
 * dropped when a redirect leaves the origin); gzip and deflate bodies are
 * decoded when cio was built with zlib (CIO_HAVE_ZLIB; then
 * "Accept-Encoding: gzip, deflate" is sent unless you set one); a request
 * that meets a keep-alive connection the server had just closed is retried
 * once on a new connection when that is safe (nothing of the answer
 * arrived and the body can be sent again).
 *
 * Connections go back to the pool only when known clean: the answer was
 * read to its end, both sides kept the connection alive, and no byte is
 * left over.  Anything else (an error, a timeout, a cancellation at any
 * suspension point, a reply freed before its body was read) closes the
 * connection, so the pool never hands out a connection in the middle of a
 * message.
 *
 * Timeouts (seconds as double; < 0: none; 0 in an options struct: the
 * default): connect (one connection attempt, DNS included), read (the
 * longest wait for the next bytes of an answer), total (the whole call,
 * redirects included; for a streamed reply, also its body).  A timeout
 * gives -ETIMEDOUT; the caller's own timeout scopes and cancellation work
 * as at any suspension point.
 *
 * https:// goes over a TLS transport (cio/transport.h): the certificate
 * is verified and must name the URL's host (fail closed, as asyncio and
 * aiohttp do); a build without OpenSSL answers https with -ENOTSUP.
 *
 * Errors a request returns: -EINVAL (bad URL, header or argument),
 * -ENOTSUP (a scheme we do not speak), DNS errors (CIO_EGAIERR + EAI_*),
 * connect errors (-ECONNREFUSED, ...), -ETIMEDOUT, -ECANCELED,
 * -ECONNRESET, -EPROTO (a malformed answer), CIO_EINCOMPLETE (the
 * connection ended inside the answer: a truncated body is an error, never
 * a short success), CIO_ELIMIT (an answer larger than the limits), -ENOMEM,
 * and -ELOOP (more redirects than max_redirects).  An HTTP error status
 * (404, 500) is not an error of the call: it is the reply's status.
 *
 * Everything here runs on the loop's thread; the calls marked "Suspends"
 * must run in a task.
 */
#ifndef CIO_HTTP_CLIENT_H
#define CIO_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_http_client cio_http_client;
/* An answer: status, headers, body (aiohttp's ClientResponse). */
typedef struct cio_http_reply cio_http_reply;

/* Options of a client; zeroed fields mean the defaults (fill with
 * cio_http_client_options_init, or zero the struct). */
typedef struct cio_http_client_options {
    double connect_timeout; /* s per connection attempt (default 30) */
    double read_timeout;    /* s of silence while waiting for an answer's
                               bytes (default 300) */
    double total_timeout;   /* s for a whole request (default: none) */
    double idle_timeout;    /* s a pooled connection stays idle (default
                               15; < 0: pooled connections are never kept) */
    int max_per_host;       /* connections per origin, busy or idle
                               (default 100); requests beyond it wait */
    int max_redirects;      /* redirects followed (default 10; < 0: none,
                               the 3xx reply is returned) */
    size_t max_body;        /* bytes of a buffered body after decoding
                               (default 64 MiB); more: CIO_ELIMIT */
    const char *user_agent; /* User-Agent (default "cio/<version>"); "" to
                               send none.  Copied */
    const char *const *headers; /* sent with every request: name, value,
                               name, value, ..., NULL.  Copied */
    int no_decompress;      /* 1: never decode gzip/deflate, send no
                               Accept-Encoding of our own */
    cio_tls_context *tls;   /* https: a client context (borrowed: it must
                               outlive the client); NULL: one made at the
                               first https request with the system's
                               trusted CAs and host names checked, freed
                               with the client */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_http_client_options;

/* A body produced piece by piece (a streamed upload): write up to cap bytes
 * into buf and return their count, 0 at the end, or a negative code that
 * fails the request.  Runs in the requesting task: it may suspend. */
typedef int cio_http_body_fn(void *arg, void *buf, size_t cap);

/* Flags of cio_http_client_request.flags. */
#define CIO_HTTP_STREAM 0x01 /* do not buffer the body: read it with
                                cio_http_reply_read */

/* One request.  Zero it and fill what you need (designated initialisers);
 * only url is required.  Nothing in it needs to outlive the send call. */
typedef struct cio_http_client_request {
    const char *method;         /* "GET" (default; "POST" when a body is
                                   given), "HEAD", "PUT", ...: a token */
    const char *url;            /* absolute http:// URL */
    const char *const *headers; /* name, value, name, value, ..., NULL;
                                   they replace the client's headers of the
                                   same name */
    const void *body;           /* the body, body_len bytes (may be NULL
                                   with body_len 0) */
    size_t body_len;
    cio_http_body_fn *body_fn;  /* or: a streamed body (body is then
                                   ignored); sent chunked unless
                                   body_fn_len >= 0 */
    void *body_arg;             /* body_fn's argument */
    int64_t body_fn_len;        /* exact length of the streamed body, or
                                   -1 (unknown: chunked).  0 with body_fn
                                   set counts as unknown */
    const char *content_type;   /* Content-Type of the body, or NULL */
    int flags;                  /* CIO_HTTP_STREAM */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_http_client_request;

/* ---- the client --------------------------------------------------------- */

/* Fills *opts with the defaults (the values listed in the struct).  Never
 * fails. */
CIO_EXTERN void cio_http_client_options_init(cio_http_client_options *opts);

/*
 * Makes a client on the running loop with the given options (NULL: the
 * defaults; strings are copied).  *out is the caller's: cio_http_client_close,
 * then cio_http_client_free.  Errors: -EINVAL (out NULL, a NaN timeout, a
 * header name or value that is not valid HTTP), CIO_ENOLOOP (no loop is
 * running on this thread), -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_http_client_new(const cio_http_client_options *opts, cio_http_client **out);

/*
 * aiohttp's `await session.close()`: closes every pooled connection and
 * waits until they are closed; later requests fail with -EINVAL.  The
 * client stays until cio_http_client_free.  No request may be in progress
 * (CIO_EINVALSTATE, and nothing changes); replies still held stay valid
 * (their connections are closed when they are freed).  Runs shielded from
 * cancellation.  Returns 0, CIO_EINVALSTATE or -EINVAL (NULL).  Suspends.
 */
CIO_EXTERN int cio_http_client_close(cio_http_client *c);

/*
 * Frees the client, closing its pooled connections without waiting if
 * cio_http_client_close was not called.  Freeing a client with requests
 * in progress is a bug: it is logged as an error and the client is left
 * alone (leaked).  NULL is a no-op.  Does not suspend.
 */
CIO_EXTERN void cio_http_client_free(cio_http_client *c);

/*
 * Sends req and waits for the answer's head, then (unless req->flags has
 * CIO_HTTP_STREAM) for its whole body, following redirects.  On success
 * *out is a reply the caller frees with cio_http_reply_free; on
 * failure *out is NULL.  The errors are listed at the top of this file.
 * Suspends.
 */
CIO_EXTERN int cio_http_client_send(cio_http_client *c, const cio_http_client_request *req,
                                    cio_http_reply **out);

/* GET url with a buffered body: cio_http_client_send with only the url
 * set.  Same errors and ownership.  Suspends. */
CIO_EXTERN int cio_http_get(cio_http_client *c, const char *url, cio_http_reply **out);

/*
 * POST the JSON text json (NUL-terminated; sent as it is, not checked) to
 * url with "Content-Type: application/json" and "Accept:
 * application/json"; the reply's body is buffered (parse it with the JSON
 * library of your choice; cio_http_reply_is_json tells whether it is
 * JSON).  Same errors and ownership as cio_http_client_send.  Suspends.
 */
CIO_EXTERN int cio_http_post_json(cio_http_client *c, const char *url, const char *json,
                                  cio_http_reply **out);

/* Connections the client keeps idle in its pools now (all origins); for
 * tests and monitoring.  0 for NULL. */
CIO_EXTERN size_t cio_http_client_idle_count(const cio_http_client *c);

/* ---- replies ------------------------------------------------------------ */

/* The status code (200, 404, ...); -EINVAL for NULL. */
CIO_EXTERN int cio_http_reply_status(const cio_http_reply *r);

/* The reason phrase as sent ("OK"; may be ""), NUL-terminated, valid until
 * the reply is freed; NULL for NULL. */
CIO_EXTERN const char *cio_http_reply_reason(const cio_http_reply *r);

/* The URL that gave this reply (after redirects); valid until freed. */
CIO_EXTERN const char *cio_http_reply_url(const cio_http_reply *r);

/*
 * The value of the first header named name (case-insensitive), trimmed and
 * NUL-terminated, valid until the reply is freed; NULL if absent (or r
 * or name is NULL).  Headers that appear more than once: walk them with
 * cio_http_reply_header_at.
 */
CIO_EXTERN const char *cio_http_reply_header(const cio_http_reply *r, const char *name);

/* Number of header fields of the reply (0 for NULL). */
CIO_EXTERN size_t cio_http_reply_header_count(const cio_http_reply *r);

/* The i-th header field, in the order received: *name as sent, *value
 * trimmed (both valid until freed).  0, or -EINVAL (i out of range, a
 * NULL argument). */
CIO_EXTERN int cio_http_reply_header_at(const cio_http_reply *r, size_t i, const char **name,
                                        const char **value);

/*
 * The buffered body (decoded), NUL-terminated for convenience (the NUL is
 * not counted); *len (if not NULL) gets its length.  Valid until the reply
 * is freed.  For a reply sent with CIO_HTTP_STREAM it is "" (length 0):
 * read the body with cio_http_reply_read instead.  NULL for NULL.
 */
CIO_EXTERN const char *cio_http_reply_body(const cio_http_reply *r, size_t *len);

/*
 * Reads the next bytes of a streamed body (decoded) into buf[0, cap):
 * returns their count (> 0), 0 at the end of the body (the connection is
 * then back in the pool if it is clean), or a negative code: -ETIMEDOUT
 * (read or total timeout), CIO_EINCOMPLETE (the connection ended inside
 * the body), -EPROTO, -ECONNRESET, -ECANCELED, -EINVAL (NULL, cap 0).
 * After an error the connection is closed and every later call returns the
 * same code.  On a buffered reply it returns 0.  Suspends.
 */
CIO_EXTERN int cio_http_reply_read(cio_http_reply *r, void *buf, size_t cap);

/* 1 if the reply's Content-Type is JSON (application/json or a
 * "+json" type such as application/problem+json), else 0. */
CIO_EXTERN int cio_http_reply_is_json(const cio_http_reply *r);

/*
 * Frees the reply.  A streamed body not read to its end closes the
 * connection (it never goes back to the pool dirty).  NULL is a no-op.
 * Does not suspend.
 */
CIO_EXTERN void cio_http_reply_free(cio_http_reply *r);

#ifdef __cplusplus
}
#endif

#endif
