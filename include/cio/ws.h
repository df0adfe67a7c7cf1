/*
 * cio/ws.h - WebSocket (RFC 6455) with permessage-deflate (RFC 7692),
 * both sides, as Python's `websockets` library offers them to an asyncio
 * user: a server handler gets a connection and loops over cio_ws_recv /
 * cio_ws_send_text; a client calls cio_ws_connect("ws://...") and does
 * the same.
 *
 * Server.  The opening handshake is an HTTP request on a route of a
 * cio_http_server (the same port as the rest of the application): a
 * handler (a task route, not CIO_HTTP_INLINE) calls cio_ws_accept, which
 * checks every requirement of RFC 6455 §4.2.1 (GET, HTTP/1.1, Host,
 * "Upgrade: websocket", "Connection: Upgrade", a key of 16 bytes, version
 * 13 - anything else is answered 426 with "Sec-WebSocket-Version: 13"),
 * selects a subprotocol and negotiates permessage-deflate, answers 101 and
 * takes the connection over (cio_http_request_upgrade).  Bytes the client
 * sent before it could have seen the 101 are not taken as data: the
 * connection is failed with 1002.  cio_ws_serve does accept, handler,
 * close and free in one call.  The connection stays in the HTTP server's
 * graceful shutdown: cio_http_server_shutdown sends it close 1001 (going
 * away), waits for the closing handshake until its deadline, then aborts
 * it.  Over TLS (the server's transport options carry a context) the
 * same route serves wss://.
 *
 * Client.  cio_ws_connect opens its own transport (TLS for "wss://", with
 * the system's CAs unless opts->tls gives a context; the certificate is
 * verified and must name the URL's host), sends the handshake
 * with a fresh random key, and checks the answer strictly: status 101, the
 * Upgrade and Connection tokens, the Sec-WebSocket-Accept value, the
 * extension response (only what was offered, parameters within the
 * offer) and the subprotocol.  Client frames are masked with a fresh key
 * each.
 *
 * The connection.  No task runs per connection: frames are parsed as the
 * transport delivers them, on the loop.  Pings are answered at once; a
 * close frame is answered and the TCP connection closed as §7 says (the
 * server closes first; a client waits for that at most close_timeout).
 * Data frames are assembled into messages (control frames may come
 * between fragments), text is checked as UTF-8 as it arrives - across
 * fragment boundaries, failing (1007) on the first byte that cannot be
 * valid - and a frame or message over the size limits fails the
 * connection with 1009.  Any protocol violation fails it with 1002.
 * Messages wait in the connection until cio_ws_recv takes them; when
 * max_queue whole messages wait, reading pauses (TCP then slows the
 * peer).  Sending never buffers without bound: cio_ws_send_* returns once
 * the bytes are handed to the transport, but first waits while the
 * transport's buffer is above its high-water mark (a slow peer makes the
 * sender wait, as `await ws.send()` / drain does).
 *
 * Errors.  Once the connection is closed (by either side, cleanly or not)
 * the calls return CIO_ECLOSED; cio_ws_close_code and cio_ws_close_reason
 * say how it ended (1006 when no close frame was received).
 *
 * Every call runs on the connection's loop thread; calls marked
 * "Suspends" must run in a task.
 */
#ifndef CIO_WS_H
#define CIO_WS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "http.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A WebSocket connection (websockets' ServerConnection / ClientConnection). */
typedef struct cio_ws cio_ws;

/* Message types (the opcodes of their first frames). */
enum {
    CIO_WS_TEXT = 1,   /* UTF-8 text */
    CIO_WS_BINARY = 2, /* bytes */
};

/*
 * Options of a connection, server or client.  cio_ws_options_init fills
 * the defaults; a zeroed field also means its default.  Sizes in bytes,
 * times in seconds; a negative time turns that timer off.
 */
typedef struct cio_ws_options {
    uint64_t max_message;     /* largest message received, after
                                 decompression (1 MiB; more: close 1009) */
    uint64_t max_frame;       /* largest frame payload received (0, the
                                 default: max_message, whatever it is set
                                 to; more: close 1009) */
    size_t max_queue;         /* whole messages waiting for cio_ws_recv
                                 before reading pauses (16) */
    size_t fragment_size;     /* sent messages longer than this go out in
                                 frames of at most this payload (0: one
                                 frame per message) */
    size_t send_buffer_limit; /* cio_ws_broadcast fails a connection whose
                                 unsent bytes exceed this (1 MiB) */
    double ping_interval;     /* keepalive: a ping after this long (20 s) */
    double ping_timeout;      /* ... answered within this, else the
                                 connection fails with 1011 (20 s) */
    double close_timeout;     /* the closing handshake, and a client's
                                 wait for the server to close TCP (10 s) */
    double open_timeout;      /* client: connect and handshake (10 s) */
    int no_compression;       /* 1: neither offer nor accept
                                 permessage-deflate (default: both, when
                                 zlib is built in) */
    int compression_level;    /* zlib level 1..9 (default 6; also
                                 CIO_WS_LEVEL_NONE: deflate stored blocks) */
    int server_no_context_takeover; /* 1: the server resets its compressor
                                 per message (server: do so; client: ask
                                 for it).  Lets cio_ws_broadcast compress
                                 a message once for many connections */
    int client_no_context_takeover; /* 1: likewise the client's compressor */
    int server_max_window_bits; /* 8..15: the server's LZ77 window
                                 (server: use it; client: ask for it);
                                 0: 15 */
    int client_max_window_bits; /* 8..15: the client's window (client:
                                 use it; server: ask for it when offered) */
    const char *const *subprotocols; /* NULL-terminated names in order of
                                 preference: a server picks the first of
                                 these that the client offered (none in
                                 common: no subprotocol); a client offers
                                 them and fails if the server picks
                                 another.  Borrowed for the call */
    const char *origin;       /* client: the Origin header (NULL: none) */
    const char *const *headers; /* client: extra request header lines
                                 "Name: value", NULL-terminated (borrowed) */
    cio_tls_context *tls;     /* client "wss://": the context (NULL: a
                                 verifying one with the system's CAs);
                                 borrowed, must outlive the connection */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_ws_options;

/* For cio_ws_options.compression_level: compress with zlib level 0. */
#define CIO_WS_LEVEL_NONE (-2)

/* Fills *opts with the defaults (the values in the comments above). */
CIO_EXTERN void cio_ws_options_init(cio_ws_options *opts);

/* ---- opening ----------------------------------------------------------------- */

/*
 * Server side of the opening handshake, from an HTTP handler (run as a
 * task): checks req as RFC 6455 §4.2.1 requires and either answers it
 * with an error status and returns the error - 405 (not GET), 400
 * (HTTP/1.0, no Host, a bad or repeated Sec-WebSocket-Key, a malformed
 * extension header), 426 with "Upgrade: websocket" (no websocket Upgrade
 * or Connection token) or 426 with "Sec-WebSocket-Version: 13" (another
 * version) - or answers 101 and takes the connection over: *out is the
 * caller's (cio_ws_free).  opts is copied (NULL: defaults).  After it the
 * request's response is done; the handler keeps running as the
 * connection's task and should return after the connection ends.
 * Errors: -EPROTO (the handshake was refused; the answer was sent),
 * -EINVAL (NULL, bad opts, an inline route), CIO_EINVALSTATE (already
 * responded), CIO_ECLOSED (the client is gone), -ENOMEM.  Does not
 * suspend.
 */
CIO_EXTERN int cio_ws_accept(cio_http_request *req, const cio_ws_options *opts, cio_ws **out);

/* A connection handler for cio_ws_serve: runs the conversation. */
typedef int cio_ws_handler_fn(cio_ws *ws, void *ud);

/*
 * websockets.serve's handler in one call, for an HTTP route handler:
 * cio_ws_accept, then handler(ws, ud), then cio_ws_close(ws, 1000, "")
 * if the connection is still open (1011 if the handler failed), then
 * cio_ws_free.  Returns the handler's result, or cio_ws_accept's error.
 * Suspends.
 *
 *     static int route(cio_http_request *req, void *ud) {
 *         return cio_ws_serve(req, NULL, echo, ud);
 *     }
 */
CIO_EXTERN int cio_ws_serve(cio_http_request *req, const cio_ws_options *opts,
                            cio_ws_handler_fn *handler, void *ud);

/*
 * websockets.connect: opens a connection to url ("ws://host[:port]/path"
 * or "wss://...", IPv6 hosts in brackets) and runs the opening handshake,
 * within opts->open_timeout.  *out is the caller's (cio_ws_free).  opts
 * is copied (NULL: defaults).  Errors: -EINVAL (NULL, not a ws/wss URL,
 * bad opts), -EPROTO (the server's answer is not a valid 101 for our
 * request: other status, missing tokens, wrong accept value, extension
 * or subprotocol we did not offer), -ETIMEDOUT, -ENOTSUP (wss without
 * OpenSSL), DNS, connect and TLS errors (CIO_ETLS), -ENOMEM, -ECANCELED.
 * Nothing is left open on failure.  Suspends.
 */
CIO_EXTERN int cio_ws_connect(const char *url, const cio_ws_options *opts, cio_ws **out);

/* ---- messages ---------------------------------------------------------------- */

/*
 * Receives the next whole message: *type CIO_WS_TEXT or CIO_WS_BINARY,
 * *data its bytes (text is valid UTF-8, and NUL-terminated for
 * convenience; the NUL is not counted in *len).  The bytes belong to ws
 * and stay valid until the next cio_ws_recv / cio_ws_recv_stream on it
 * or cio_ws_free.  Messages received before the peer's close frame are
 * still delivered; then CIO_ECLOSED.  Errors: CIO_ECLOSED, -EBUSY
 * (another task is receiving), CIO_EINVALSTATE (the message at hand was
 * partly read with cio_ws_recv_stream), -EINVAL, -ECANCELED, -ETIMEDOUT.
 * Suspends.
 */
CIO_EXTERN int cio_ws_recv(cio_ws *ws, int *type, const void **data, size_t *len);

/*
 * Receives the next piece of the current message into buf (cap bytes),
 * as its frames arrive, without waiting for the whole message (large
 * messages; websockets' recv_streaming).  Returns the bytes copied, with
 * *type the message's type and *fin 1 when this piece ends the message
 * (then the return may be 0).  Reading pauses while 64 KiB of a streamed
 * message wait.  Text is validated as it arrives: an invalid byte fails
 * the connection before the piece holding it is given out.  Errors as
 * cio_ws_recv.  Suspends.
 */
CIO_EXTERN int cio_ws_recv_stream(cio_ws *ws, void *buf, size_t cap, int *type, int *fin);

/*
 * Sends a text message: data (len bytes of UTF-8, copied as needed;
 * checked: -EILSEQ if not valid UTF-8) in one frame, or in frames of
 * opts->fragment_size, compressed when permessage-deflate is in use.
 * Waits first while the transport's write buffer is above its high-water
 * mark.  Returns 0 once the frames are handed to the transport, or:
 * CIO_ECLOSED (a close frame was sent or received, or the connection is
 * gone), -EILSEQ, -EINVAL, -ENOMEM, -ECANCELED, -ETIMEDOUT.  Suspends
 * (only to wait for the buffer to drain).
 */
CIO_EXTERN int cio_ws_send_text(cio_ws *ws, const char *data, size_t len);

/* As cio_ws_send_text for a binary message (any bytes). */
CIO_EXTERN int cio_ws_send_binary(cio_ws *ws, const void *data, size_t len);

/*
 * Sends one message to many connections (websockets.broadcast), encoding
 * it once: the frame is built once for every connection without
 * compression, compressed once per window size for the connections whose
 * server resets its compressor per message (server_no_context_takeover),
 * and compressed per connection only where context takeover is in use.
 * Never waits: a connection that is not open is skipped, and one whose
 * unsent bytes exceed its send_buffer_limit is failed with 1008 (a slow
 * peer cannot make the sender buffer without bound).  type: CIO_WS_TEXT
 * (checked UTF-8) or CIO_WS_BINARY.  Client connections (which mask)
 * get a frame each.  Returns the number of connections the message went
 * to, or -EINVAL, -EILSEQ, -ENOMEM.  Does not suspend.
 */
CIO_EXTERN int cio_ws_broadcast(cio_ws *const *conns, size_t n, int type, const void *data,
                                size_t len);

/* ---- control ----------------------------------------------------------------- */

/*
 * Sends a ping with payload data (0..125 bytes; NULL with len 0: a
 * 4-byte random payload) and waits for its pong, at most timeout seconds
 * (< 0: no limit).  A pong answers its ping and every ping sent before
 * it.  Returns 0, -ETIMEDOUT, CIO_ECLOSED, -EINVAL, -ENOMEM, -ECANCELED.
 * Suspends.
 */
CIO_EXTERN int cio_ws_ping(cio_ws *ws, const void *data, size_t len, double timeout);

/* Sends an unsolicited pong (a one-way heartbeat).  0, CIO_ECLOSED,
 * -EINVAL (more than 125 bytes).  Does not suspend. */
CIO_EXTERN int cio_ws_pong(cio_ws *ws, const void *data, size_t len);

/*
 * The closing handshake (websockets' close): sends a close frame with
 * code (1000 normal, 1001 going away, 3000-4999 the application's; 0: a
 * close frame without a status) and reason (UTF-8, at most 123 bytes;
 * NULL: none), then waits until the peer's close frame has come and the
 * TCP connection is closed - at most close_timeout, then the connection
 * is aborted.  Messages still arriving meanwhile are dropped.  Calling it
 * on a connection already closing or closed just waits for the end.
 * Returns 0, -ETIMEDOUT (aborted), -EINVAL (a code that may not be sent,
 * a bad reason), -ECANCELED (the connection is aborted).  Suspends.
 */
CIO_EXTERN int cio_ws_close(cio_ws *ws, unsigned code, const char *reason);

/* Waits until the connection is closed (websockets' wait_closed).
 * 0, -ECANCELED, -ETIMEDOUT.  Suspends. */
CIO_EXTERN int cio_ws_wait_closed(cio_ws *ws);

/*
 * Frees ws: aborts the connection if it is still open (use cio_ws_close
 * first for a clean end).  No task may be using ws.  NULL is a no-op.
 */
CIO_EXTERN void cio_ws_free(cio_ws *ws);

/* ---- state ------------------------------------------------------------------- */

/* 1 while messages may be sent (no close frame sent or received), else 0. */
CIO_EXTERN int cio_ws_is_open(const cio_ws *ws);

/*
 * The close code received from the peer (1005: a close frame without
 * status), 1006 when the connection ended without a close frame, 0 while
 * it is open.
 */
CIO_EXTERN unsigned cio_ws_close_code(const cio_ws *ws);

/* The reason received with the peer's close frame ("" if none). */
CIO_EXTERN const char *cio_ws_close_reason(const cio_ws *ws);

/* The subprotocol agreed on, or NULL. */
CIO_EXTERN const char *cio_ws_subprotocol(const cio_ws *ws);

/* 1 if permessage-deflate is in use, else 0. */
CIO_EXTERN int cio_ws_compressed(const cio_ws *ws);

/* The transport under ws (for its addresses: cio_transport_peername);
 * borrowed, valid while ws is. */
CIO_EXTERN cio_transport *cio_ws_transport(const cio_ws *ws);

#ifdef __cplusplus
}
#endif

#endif
