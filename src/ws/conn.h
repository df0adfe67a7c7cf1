/*
 * conn.h - a WebSocket connection's state, shared by conn.c (the
 * transport protocol: receiving, control frames, closing, lifetime),
 * send.c (sending, pings, broadcast), server.c (the server handshake) and
 * client.c (cio_ws_connect).
 *
 * The connection is a buffered protocol over its transport: get_buffer
 * hands out the free end of rbuf, frames are parsed in place there
 * (headers with frame.h, payloads unmasked in place), and data messages
 * are assembled in a queue of struct cio__ws_msg that cio_ws_recv takes
 * from.  Two references keep the struct alive: the user's (cio_ws_free)
 * and the transport's (until connection_lost).
 */
#ifndef CIO_WS_CONN_H
#define CIO_WS_CONN_H

#include "cio.h"
#include "cio/ws.h"
#include "../util/internal.h"
#include "deflate.h"
#include "extension.h"
#include "frame.h"

/* Connection states. */
enum {
    CIO__WS_CONNECTING = 0, /* client: handshake answer awaited */
    CIO__WS_OPEN,           /* messages flow */
    CIO__WS_CLOSING,        /* a close frame was sent or received */
    CIO__WS_CLOSED,         /* connection_lost ran */
};

/* A data message, received whole or in part. */
struct cio__ws_msg {
    struct cio__ws_msg *next; /* next in the queue */
    struct cio__ws_buf data;  /* its bytes so far (decompressed) */
    size_t taken;             /* bytes given out by cio_ws_recv_stream */
    uint8_t type;             /* CIO_WS_TEXT or CIO_WS_BINARY */
    uint8_t complete;         /* its last frame arrived */
    uint8_t streamed;         /* cio_ws_recv_stream has read from it */
};

/* A ping waiting for its pong. */
struct cio__ws_ping {
    struct cio__ws_ping *next; /* later pings */
    cio_future *done;          /* resolved by the pong (NULL: keepalive) */
    uint8_t len;               /* payload length */
    uint8_t data[CIO__WS_MAX_CONTROL]; /* payload */
};

struct cio_ws {
    cio_loop *loop;            /* the loop it runs on */
    cio_transport *t;          /* the transport (a reference of ours) */
    cio_ws_options opts;       /* options, defaults filled in */
    int refs;                  /* user + transport until connection_lost */
    uint8_t server;            /* 1: server side (receives masked frames) */
    uint8_t state;             /* CIO__WS_* */
    uint8_t close_sent;        /* our close frame went out */
    uint8_t close_rcvd;        /* the peer's close frame arrived */
    uint8_t failed;            /* failed: nothing more is parsed */
    uint8_t rpaused;           /* we paused reading (backpressure) */
    uint8_t wpaused;           /* the transport asked us to pause writing */
    uint8_t receiving;         /* a task is inside cio_ws_recv* */
    uint8_t pmd;               /* permessage-deflate in use */
    uint8_t owns_tls;          /* tls context is ours to free */
    unsigned close_code;       /* the peer's code (1005/1006 see ws.h) */
    char close_reason[CIO__WS_MAX_CONTROL + 1]; /* the peer's reason */
    char *subprotocol;         /* agreed subprotocol (cio__malloc'd), or NULL */

    /* receiving */
    uint8_t *rbuf;             /* receive buffer */
    size_t rcap;               /* its size */
    size_t rlen;               /* bytes received into it */
    size_t rpos;               /* first byte not parsed yet */
    size_t rd_off;             /* where get_buffer put the pending read */
    struct cio__ws_recv rx;    /* frame and message rules (frame.h) */
    struct cio__ws_frame fr;   /* the frame whose payload comes now */
    uint8_t in_frame;          /* fr's header was taken, payload pending */
    uint64_t frame_left;       /* its payload bytes still to come */
    size_t mask_off;           /* masking key offset within its payload */
    uint8_t ctl[CIO__WS_MAX_CONTROL]; /* a control frame's payload */
    size_t ctl_len;            /* bytes of it so far */
    struct cio__ws_msg *head, *tail; /* received messages, oldest first */
    size_t ncomplete;          /* complete messages in the queue */
    struct cio__ws_msg *given; /* the message cio_ws_recv gave out last */
    cio_event *readable;       /* set when the reader may have something */
    struct cio__ws_deflate z;  /* permessage-deflate state (if pmd) */
    struct cio__ws_pmd_params pmd_params; /* what was agreed */

    /* sending */
    cio_event *writable;       /* set while the transport takes bytes */
    struct cio__ws_buf sbuf;   /* scratch: a compressed message */
    struct cio__ws_buf mbuf;   /* scratch: a masked frame (client) */
    uint8_t close_timed_out;   /* the close timer aborted the connection */
    uint8_t rnd[256];          /* random bytes for masking keys */
    size_t rnd_pos;            /* next unused byte of rnd */

    /* pings, keepalive and closing */
    struct cio__ws_ping *pings; /* pings awaiting pongs, oldest first */
    cio_handle *keepalive;     /* the keepalive timer, or NULL */
    double ka_sent;            /* loop time the keepalive ping went, or 0 */
    cio_handle *close_timer;   /* aborts a closing handshake that hangs */
    cio_event *closed;         /* set by connection_lost */
    cio_http_shutdown_hook *hook; /* server: our place in the HTTP
                                 server's graceful shutdown, until
                                 connection_lost */

    /* client handshake */
    size_t head_len;           /* the 101 answer's length, once complete */
    int hs_err;                /* why the handshake ended early, or 0 */
    cio_event *hs_done;        /* set when the answer or an error is in */
    cio_tls_context *tls;      /* a context we made for wss:// */
};

/* conn.c */
/* A new connection on the running loop (refs: the user's only); opts
 * copied (NULL: defaults).  0, -EINVAL, -ENOMEM, CIO_ENOLOOP. */
int cio__ws_new(int server, const cio_ws_options *opts, cio_ws **out);
/* The protocol table every ws transport runs. */
extern const cio_protocol cio__ws_protocol;
/* Takes a transport: the caller's reference passes to ws, and the
 * transport holds ws until connection_lost. */
void cio__ws_attach(cio_ws *ws, cio_transport *t);
/* With the agreed parameters, starts: state OPEN, reading, keepalive.  pmd may be
 * NULL.  0 or -ENOMEM. */
int cio__ws_start(cio_ws *ws, const struct cio__ws_pmd_params *pmd);
/* Parses what is in rbuf (the loop's work after each read). */
void cio__ws_process(cio_ws *ws);
/* Fails the connection: a close frame with code and why (if none was
 * sent), then TCP closes.  Nothing more is parsed. */
void cio__ws_fail(cio_ws *ws, unsigned code, const char *why);
/* Drops the user's or the transport's reference. */
void cio__ws_unref(cio_ws *ws);
/* The HTTP server's shutdown began (a cio_http_shutdown_fn, ud = ws):
 * close 1001, going away. */
void cio__ws_going_away(void *ud);

/* send.c */
/* Writes one frame (masking it on the client side).  0 or an error of
 * cio_transport_write / -ENOMEM. */
int cio__ws_write_frame(cio_ws *ws, int opcode, int flags, const void *p, size_t n);
/* Sends a close frame (code 0: none) and marks close_sent.  Starts the
 * close timer.  0 or an error. */
int cio__ws_send_close(cio_ws *ws, unsigned code, const char *reason, size_t rlen);
/* Fills out with n random bytes (masking keys, nonces, ping payloads). */
void cio__ws_random(cio_ws *ws, uint8_t *out, size_t n);
/* A pong arrived: resolves the pings it answers. */
void cio__ws_pong_received(cio_ws *ws, const uint8_t *p, size_t n);
/* Starts (or restarts) the keepalive timer. */
void cio__ws_keepalive_start(cio_ws *ws);
/* Fails every waiting ping (connection lost). */
void cio__ws_pings_fail(cio_ws *ws);

#endif
