/*
 * cio/http.h - HTTP/1.1: the server (what aiohttp.web, uvicorn and Go's
 * net/http offer an asyncio user), and the request and response types a
 * client will share.
 *
 * A server is a router plus listeners.  Routes map a method and a path
 * pattern ("/items/{id}", "/static/{path...}") to a handler; each request
 * runs its handler as a task, so a handler may await anything (cio_sleep,
 * a database, another HTTP call).  A route flagged CIO_HTTP_INLINE promises
 * that its handler never suspends: it runs straight from the connection's
 * read callback, without a task, which is the cheap path for handlers that
 * only compute a response.
 *
 * Connections are transports (cio/transport.h) with a buffered protocol:
 * requests are received into a per-connection buffer and parsed there in
 * place (strict RFC 9112 parsing; request smuggling forms, bad framing and
 * oversized parts are refused with 400, 413, 414, 431, 501 or 505 and the
 * connection closed).  Keep-alive and pipelining are supported: responses
 * go out in request order, and the responses that inline handlers produce
 * for one read are sent with one write.  While a task handler runs, the
 * next requests are read ahead, unparsed, up to 16 KiB (unless its
 * request's buffered body is still in the buffer); then reading pauses
 * until the handler returns.  HEAD is answered by the GET
 * route without a body; "Expect: 100-continue" gets its interim response
 * before the body is read; a Date header is added to every response.
 *
 * Timeouts are on by default (Go's ReadHeaderTimeout lesson): a head must
 * arrive within header_timeout of its first byte (slowloris), a buffered
 * body within body_timeout, an idle keep-alive connection is closed after
 * idle_timeout, and a response whose bytes the peer stops taking for
 * write_timeout aborts the connection.
 *
 * Pointers that request accessors return (method, path, header values,
 * parameters, the body) stay valid until the handler returns; strings are
 * NUL-terminated unless a length is returned.  Every call in this header
 * runs on the server's loop thread.
 */
#ifndef CIO_HTTP_H
#define CIO_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_http_server cio_http_server;
/* One request and the response being made for it (a handler's handle). */
typedef struct cio_http_request cio_http_request;

/*
 * A request handler: answer req with one of the cio_http_respond* calls
 * (or a streaming response) and return 0.  Returning without a response
 * sends "200" with an empty body; returning a negative code before
 * responding sends "500".  ud is the pointer given with the route.  Runs
 * in a task of its own unless the route is CIO_HTTP_INLINE.
 */
typedef int cio_http_handler_fn(cio_http_request *req, void *ud);

/* Route flags (cio_http_server_route). */
enum {
    CIO_HTTP_INLINE = 0x01,      /* the handler never suspends: run it from
                                    the read callback, without a task */
    CIO_HTTP_STREAM_BODY = 0x02, /* do not buffer the body: the handler
                                    starts at the head and reads the body
                                    with cio_http_request_read */
    CIO_HTTP_WATCH_CLOSE = 0x04, /* with CIO_HTTP_STREAM_BODY (ignored
                                    without it): once the body is read,
                                    keep reading while the handler runs,
                                    so a client that closes its side is
                                    noticed at once (see below) */
};

/*
 * CIO_HTTP_WATCH_CLOSE: the client going away while a handler still
 * works (a long poll, an event stream between events).  By default the
 * server stops reading a connection once the request's body is read, so
 * a client that closes is noticed only when a write fails or the
 * handler returns.  With the flag, a task handler's connection is still
 * read after the body: the client's end of stream (it closed, or
 * half-closed, its side) closes the connection at once, and the handler
 * is then cancelled as for a lost client: the call it is suspended in
 * (or its next) returns -ECANCELED and cio_http_request_disconnected()
 * says 1.  A half-closing client therefore gets no response on such a
 * route, as with uvicorn.  Bytes of a pipelined next request arriving
 * meanwhile stop the watch (they wait, unread further, for this
 * response), so a pipelining client is watched no more.  Inline routes
 * are never watched.
 */

/* One line of the access log, given to cio_http_server_options.access_log. */
typedef struct cio_http_access_entry {
    const char *method;      /* request method */
    const char *target;      /* request-target as sent (path and query) */
    const char *peer;        /* client address "ip:port" */
    int status;              /* response status sent */
    uint64_t bytes;          /* response body bytes sent */
    double duration;         /* seconds from the head's arrival to the end
                                of the response */
} cio_http_access_entry;

/* An access log callback (runs on the loop, must not suspend). */
typedef void cio_http_access_log_fn(void *ud, const cio_http_access_entry *e);

/*
 * Server options.  cio_http_server_options_init fills the defaults; a
 * zeroed field also means its default.  Timeouts are seconds; a negative
 * timeout turns that timeout off.
 */
typedef struct cio_http_server_options {
    uint32_t max_target;      /* request-target bytes (8 KiB; more: 414) */
    uint32_t max_head;        /* head bytes (16 KiB; more: 431) */
    uint32_t max_headers;     /* header fields (100; more: 431) */
    uint64_t max_body;        /* buffered or streamed body bytes (1 MiB;
                                 more: 413) */
    double header_timeout;    /* a head's first byte to its end (10 s) */
    double body_timeout;      /* a buffered body from its head's end; a
                                 streamed body: each read's wait (30 s) */
    double idle_timeout;      /* an idle keep-alive connection (60 s) */
    double write_timeout;     /* a response the peer does not drain (30 s) */
    int gzip;                 /* 1: gzip responses of at least gzip_min
                                 bytes with a compressible type when the
                                 client accepts it (needs zlib) */
    size_t gzip_min;          /* smallest body to compress (1024) */
    const char *server_name;  /* "Server" header; NULL: "cio"; "": none */
    int log_requests;         /* 1: log each request with cio_log (INFO) */
    cio_http_access_log_fn *access_log; /* called after each response */
    void *access_log_ud;      /* its ud */
    cio_transport_options transport; /* listening and connection options */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_http_server_options;

/* Fills *opts with the defaults (the values in the comments above). */
CIO_EXTERN void cio_http_server_options_init(cio_http_server_options *opts);

/* ---- the server ------------------------------------------------------------ */

/*
 * Creates a server with no routes and no listener, bound to the running
 * loop.  opts is copied (NULL: defaults).  *out is the caller's
 * (cio_http_server_free).  Errors: -EINVAL, -ENOMEM, CIO_ENOLOOP.  Does
 * not suspend.
 */
CIO_EXTERN int cio_http_server_new(const cio_http_server_options *opts, cio_http_server **out);

/*
 * Adds a route: method ("GET", "POST", ...; "*" for any) and a path
 * pattern of segments, where "{name}" matches one non-empty segment and a
 * last "{name...}" matches the rest of the path (possibly empty).  Routes
 * are tried in the order they were added.  A GET route answers HEAD too.
 * A request whose path matches routes of other methods only gets 405 with
 * an Allow header; no match at all gets 404.  flags: CIO_HTTP_INLINE,
 * CIO_HTTP_STREAM_BODY, CIO_HTTP_WATCH_CLOSE.  method and pattern are
 * copied.  Errors: -EINVAL (NULL, pattern not starting with '/', a bad
 * "{...}", an unknown flag), -ENOMEM.
 */
CIO_EXTERN int cio_http_server_route(cio_http_server *srv, const char *method,
                                     const char *pattern, cio_http_handler_fn *handler,
                                     void *ud, int flags);

/*
 * Listens on host:port (NULL: every address; port 0: a free port, see
 * cio_http_server_port) and serves connections from now on.  May be
 * called once per server.  Errors: -EINVAL, -EBUSY (already listening),
 * DNS and bind errors (-EADDRINUSE), -ENOMEM, CIO_ENOTASK.  Suspends (DNS).
 */
CIO_EXTERN int cio_http_server_listen(cio_http_server *srv, const char *host, int port);

/* The port listened on, or -EINVAL (not listening). */
CIO_EXTERN int cio_http_server_port(const cio_http_server *srv);

/* Connections open now. */
CIO_EXTERN size_t cio_http_server_connections(const cio_http_server *srv);

/*
 * Waits until cio_http_server_shutdown has finished (asyncio's
 * serve_forever).  Returns 0, -ECANCELED or -ETIMEDOUT.  Suspends.
 */
CIO_EXTERN int cio_http_server_serve_forever(cio_http_server *srv);

/*
 * Graceful shutdown: stops accepting, closes idle connections at once,
 * lets requests in progress finish (their responses say "Connection:
 * close"), tells upgraded connections registered with
 * cio_http_request_on_shutdown to end (a WebSocket gets close 1001),
 * then waits until every connection has closed.  Connections still open
 * deadline seconds from now (< 0 or INFINITY: no limit; 0: at once) are
 * aborted and their handlers cancelled, as cio_server_shutdown does for
 * stream servers.  Returns 0 when everything ended by itself, -ETIMEDOUT when
 * some had to be aborted, -ECANCELED if the caller was cancelled (then
 * everything is aborted too).  Calling it again waits again.  Suspends.
 */
CIO_EXTERN int cio_http_server_shutdown(cio_http_server *srv, double deadline);

/*
 * Frees the server: aborts what is still open (use
 * cio_http_server_shutdown first for a graceful end) and frees the routes.
 * Handlers still running keep their requests valid until they return.
 * NULL is a no-op.
 */
CIO_EXTERN void cio_http_server_free(cio_http_server *srv);

/* ---- the request ----------------------------------------------------------- */

/* The method ("GET", ...). */
CIO_EXTERN const char *cio_http_request_method(const cio_http_request *req);

/* The request-target as sent, query included ("/a%20b?x=1"). */
CIO_EXTERN const char *cio_http_request_target(const cio_http_request *req);

/* The path, not decoded, without the query ("/a%20b"). */
CIO_EXTERN const char *cio_http_request_path(const cio_http_request *req);

/* The HTTP minor version: 0 or 1. */
CIO_EXTERN int cio_http_request_version(const cio_http_request *req);

/*
 * The value of the first header field called name (case-insensitive), or
 * NULL.  Repeated fields: cio_http_request_header_at.
 */
CIO_EXTERN const char *cio_http_request_header(const cio_http_request *req, const char *name);

/* Header fields received. */
CIO_EXTERN size_t cio_http_request_header_count(const cio_http_request *req);

/* The i-th field: *name and *value (as sent).  0, or -ENOENT past the
 * end, -EINVAL. */
CIO_EXTERN int cio_http_request_header_at(const cio_http_request *req, size_t i,
                                          const char **name, const char **value);

/*
 * The path parameter called name in the matched route's pattern,
 * percent-decoded ("{id}" of "/items/{id}"), or NULL.
 */
CIO_EXTERN const char *cio_http_request_param(const cio_http_request *req, const char *name);

/*
 * The first query parameter called name, decoded ("+" is a space, %XX a
 * byte), or NULL.  "?flag" gives "" for flag.  The query is decoded in
 * place at the first call.
 */
CIO_EXTERN const char *cio_http_request_query(cio_http_request *req, const char *name);

/*
 * The buffered body and its length in *len (NULL with *len 0 if there is
 * none, or if the route streams bodies).  Not NUL-terminated.
 */
CIO_EXTERN const char *cio_http_request_body(const cio_http_request *req, size_t *len);

/*
 * Reads up to len bytes of the body into buf (streamed routes: as they
 * arrive; buffered routes: from the buffer).  Returns the count read, 0
 * at the end of the body, or: -ETIMEDOUT (nothing arrived within
 * body_timeout), CIO_ELIMIT (more than max_body: the response becomes
 * 413), -EPROTO (bad chunked framing: 400), CIO_EINCOMPLETE (the client
 * went away), -ECANCELED, -EINVAL.  Sends "100 Continue" first when the
 * client asked for it.  Suspends (streamed routes, in a task).
 */
CIO_EXTERN int cio_http_request_read(cio_http_request *req, void *buf, size_t len);

/* The client's address into addr (*len in: its size; out: the length;
 * truncated to *len as getpeername(2) does).  The connection asks the
 * kernel once and keeps the answer for its later requests.  0, or
 * CIO_ECLOSED, -EINVAL, or getpeername's error.  Never suspends. */
CIO_EXTERN int cio_http_request_peer(const cio_http_request *req, struct sockaddr *addr,
                                     socklen_t *len);

/* 1 if the client is gone (the connection was lost), else 0. */
CIO_EXTERN int cio_http_request_disconnected(const cio_http_request *req);

/*
 * Aborts the request's connection: buffered output is dropped and the
 * socket closed at once, so a response in progress is cut short and the
 * client sees it incomplete (how a server tells a client that a streamed
 * response failed after its head went out).  The handler is cancelled
 * as for a lost client (its next suspension returns -ECANCELED) and
 * should return.  Returns 0, CIO_ECLOSED (already gone), -EINVAL.  Does
 * not suspend.
 */
CIO_EXTERN int cio_http_request_abort(cio_http_request *req);

/* ---- the response ---------------------------------------------------------- */

/*
 * Adds a response header field (copied) to the response not yet started.
 * Content-Length, Transfer-Encoding, Date and Connection are the server's
 * own and refused.  Errors: -EINVAL (bad name or a value with CR/LF),
 * CIO_EINVALSTATE (the response has started), -ENOMEM.
 */
CIO_EXTERN int cio_http_response_header(cio_http_request *req, const char *name,
                                        const char *value);

/*
 * Sends a complete response: status (100 < status < 600), Content-Type
 * content_type (NULL: none), and the body (len bytes, copied; may be
 * NULL with len 0) with its Content-Length.  The body is gzipped when the
 * server's gzip option and the request allow.  Errors: -EINVAL,
 * CIO_EINVALSTATE (already responded), CIO_ECLOSED (the client is gone),
 * -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_http_respond(cio_http_request *req, int status, const char *content_type,
                                const void *body, size_t len);

/* cio_http_respond with a NUL-terminated text/plain (UTF-8) body. */
CIO_EXTERN int cio_http_respond_text(cio_http_request *req, int status, const char *text);

/*
 * Starts a streamed response: the status line and the headers go out now,
 * the body follows with cio_http_response_write and ends with
 * cio_http_response_end (chunked on HTTP/1.1; on HTTP/1.0 the connection
 * closes after it).  Errors as cio_http_respond.  Does not suspend.
 */
CIO_EXTERN int cio_http_response_start(cio_http_request *req, int status,
                                       const char *content_type);

/*
 * Sends len bytes of a streamed response's body (copied).  When the
 * client is slow to take bytes, the call waits (in a task) until the
 * connection's buffer drains, up to write_timeout.  Returns 0, or
 * CIO_ECLOSED (the client is gone), -ETIMEDOUT, -ECANCELED,
 * CIO_EINVALSTATE (not started or ended).  May suspend (in a task).
 */
CIO_EXTERN int cio_http_response_write(cio_http_request *req, const void *data, size_t len);

/* Ends a streamed response (the last chunk).  0, CIO_EINVALSTATE or
 * CIO_ECLOSED.  Does not suspend.  A handler that returns without it gets
 * it called for it. */
CIO_EXTERN int cio_http_response_end(cio_http_request *req);

/*
 * Server-Sent Events: starts a text/event-stream response (no caching, no
 * compression).  Then cio_http_sse_send for each event and
 * cio_http_response_end.  Errors as cio_http_response_start.
 */
CIO_EXTERN int cio_http_sse_start(cio_http_request *req);

/*
 * Sends one event: "event: <event>" if event is non-NULL, "id: <id>" if id
 * is non-NULL, and data as "data:" lines (one per line of data), then the
 * blank line that dispatches it.  Errors and suspension as
 * cio_http_response_write (-EINVAL: event or id holding CR or LF).
 */
CIO_EXTERN int cio_http_sse_send(cio_http_request *req, const char *event, const char *id,
                                 const char *data);

/*
 * Sends a file: Content-Type content_type (NULL: guessed from the
 * extension), Last-Modified and an ETag, "304 Not Modified" for a
 * matching If-None-Match or If-Modified-Since, "206 Partial Content" for
 * a single "Range: bytes=..." (416 if it cannot be satisfied), and the
 * body: by sendfile(2) from the file to the socket on a plain TCP
 * connection (the file's bytes never pass through user space), read and
 * written through the transport over TLS.  A missing file is answered
 * 404, an unreadable one 403 (and 0 returned).  Errors: CIO_EINVALSTATE,
 * CIO_ECLOSED, -ETIMEDOUT (the peer read nothing for the write timeout),
 * -ECANCELED, -ENOMEM, -EPIPE / -ECONNRESET (the peer left mid-file),
 * -EIO (the file shrank while sent); an error after the head aborts the
 * connection.  Suspends while the file is sent (in a task; an inline
 * handler cannot wait: what the socket does not take at once is queued
 * in the connection's buffer).
 */
CIO_EXTERN int cio_http_respond_file(cio_http_request *req, const char *path,
                                     const char *content_type);

/* The status of the response started or sent, 0 before. */
CIO_EXTERN int cio_http_response_status(const cio_http_request *req);

/* The reason phrase of a status code ("Not Found"), "" if unknown. */
CIO_EXTERN const char *cio_http_reason(int status);

/*
 * Switches the connection to another protocol (RFC 9110 §15.2.2, the
 * WebSocket handshake's "101 Switching Protocols"): sends the 101 with
 * "Upgrade: <protocol>", "Connection: Upgrade" and the headers added with
 * cio_http_response_header, then hands the transport over: from now on
 * proto (with ud) gets its callbacks - there is no connection_made; *out
 * gets a reference owned by the caller (cio_transport_unref).  The
 * connection leaves the server: no timeout or access log applies to it
 * any more, nor shutdown unless cio_http_request_on_shutdown keeps it
 * there.  Reading is paused: call
 * cio_transport_resume_reading when the new protocol is ready.  Bytes
 * the client sent after the request, before it could have seen the 101,
 * are dropped; the return value counts them (a WebSocket server fails
 * such a connection: the client spoke before the handshake completed).
 * Only from a task handler (not CIO_HTTP_INLINE), for a request whose
 * body (if any) was buffered.  Returns that count (>= 0), or -EINVAL
 * (NULL, a protocol token with CR/LF or empty, an inline or streamed-body
 * route), CIO_EINVALSTATE (already responded), CIO_ECLOSED (the client is
 * gone or the server shuts down), -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_http_request_upgrade(cio_http_request *req, const char *protocol,
                                        const cio_protocol *proto, void *ud,
                                        cio_transport **out);

/* An upgraded connection's place in its server's graceful shutdown
 * (cio_http_request_on_shutdown). */
typedef struct cio_http_shutdown_hook cio_http_shutdown_hook;

/* Called once when the server's graceful shutdown begins, on the loop;
 * must not suspend. */
typedef void cio_http_shutdown_fn(void *ud);

/*
 * Keeps a connection taken over with cio_http_request_upgrade in its
 * server's graceful shutdown (Go's Server.RegisterOnShutdown, for one
 * connection): call it from the same handler right after the upgrade.
 * When cio_http_server_shutdown begins, fn(ud) runs once so the new
 * protocol can end the connection politely (cio_ws_accept registers a
 * hook that sends close 1001, going away); the shutdown waits for the
 * connection like any other until cio_http_shutdown_hook_free, and at
 * its deadline aborts the transport and cancels the handler if it still
 * runs.  cio_http_server_free aborts it too.  *out is the protocol's: it
 * frees it when its connection has ended (from connection_lost), which
 * tells the shutdown.  Errors: -EINVAL (NULL, a request that was not
 * upgraded), CIO_ECLOSED (the shutdown has begun), -ENOMEM.  Does not
 * suspend.
 */
CIO_EXTERN int cio_http_request_on_shutdown(cio_http_request *req, cio_http_shutdown_fn *fn,
                                            void *ud, cio_http_shutdown_hook **out);

/* Ends the hook: the connection has ended (or no longer wants the
 * server's shutdown); fn will not be called any more.  NULL is a no-op. */
CIO_EXTERN void cio_http_shutdown_hook_free(cio_http_shutdown_hook *hook);

/* ---- JSON ------------------------------------------------------------------ */

/* 1 if cio was built with its JSON library (cJSON), else 0: the calls
 * below that parse or build JSON return -ENOTSUP without it. */
CIO_EXTERN int cio_http_json_available(void);

/*
 * Sends json, a NUL-terminated JSON text, as application/json with status.
 * The text is sent as given (no validation).  Errors as cio_http_respond.
 */
CIO_EXTERN int cio_http_respond_json(cio_http_request *req, int status, const char *json);

/*
 * Sends a JSON value built by the JSON library (a cJSON *, for users who
 * include <cjson/cJSON.h>), serialised compactly; value stays the
 * caller's.  Errors as cio_http_respond, and -ENOTSUP (no JSON library),
 * -EINVAL (value NULL).
 */
CIO_EXTERN int cio_http_respond_json_value(cio_http_request *req, int status,
                                           const void *value);

/*
 * Parses the buffered body as JSON: *out gets the library's value (a
 * cJSON *), owned by the request and freed when the handler returns.
 * Errors: -EPROTO (not JSON: answer 400), -ENOTSUP, -ENOMEM, -EINVAL.
 */
CIO_EXTERN int cio_http_request_json(cio_http_request *req, void **out);

/*
 * Looks up a member of the body's JSON object by a dotted path ("a.b.c";
 * array indexes as numbers, "items.0.id") and copies it, as JSON text
 * (strings without their quotes), into buf (cap bytes, NUL-terminated).
 * Returns the text's length, or -ENOENT (no such member), -EPROTO (the
 * body is not JSON), CIO_ELIMIT (buf too small), -ENOTSUP, -EINVAL.
 */
CIO_EXTERN int cio_http_request_json_get(cio_http_request *req, const char *path, char *buf,
                                         size_t cap);

#ifdef __cplusplus
}
#endif

#endif
