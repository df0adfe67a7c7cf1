/*
 * client.h - what the HTTP client's files share (internal to src/http):
 * the client, its per-origin pools, connections and replies.
 *
 *   client.c        the client object, options, sending a request,
 *                   reading the head, redirects, the one-call forms
 *   client_conn.c   a connection: the transport's buffered protocol, the
 *                   receive buffer, waiting for bytes with timeouts
 *   pool.c          origins, the per-host limit, idle connections and
 *                   their timeout
 *   client_reply.c  replies: the head copied out, accessors, the body
 *                   (buffered or streamed, decoded)
 *   inflate.c       gzip / deflate decoding (zlib), stubs without zlib
 *
 * Ownership.  A connection belongs to its origin's pool while idle, and
 * to one request (then to its reply, while a streamed body is read) while
 * busy; a busy connection holds one of the origin's slots (the per-host
 * limit).  A connection is freed only after its transport's
 * connection_lost, because the transport may be receiving into its buffer
 * until then; closing one means aborting the transport (conn_discard),
 * and the callback frees it later.
 */
#ifndef CIO_HTTP_CLIENT_INTERNAL_H
#define CIO_HTTP_CLIENT_INTERNAL_H

#include "../util/internal.h"
#include "parser.h"
#include "url.h"

/* Header fields per answer (more: 502, CIO_ELIMIT). */
#define CIO__HC_HEADERS 100
/* Unread bytes above which a connection stops reading (flow control for
 * a streamed body the user reads slowly). */
#define CIO__HC_HIGH_WATER (256u * 1024u)
/* Receive buffer: first size, and bytes asked of each read. */
#define CIO__HC_BUF_INIT 16384u

typedef struct cio__hc_origin cio__hc_origin;

/* One connection to an origin. */
typedef struct cio__hc_conn {
    cio_transport *t;            /* the transport (our reference) */
    cio__hc_origin *origin;      /* its pool; NULL once detached */
    struct cio__hc_conn *next;   /* the origin's idle list */
    struct cio__hc_conn *prev;
    struct cio__hc_conn *anext;  /* the client's list of attached ones */
    struct cio__hc_conn *aprev;
    cio_event *ev;               /* set by each callback a task may wait
                                    for: data, EOF, loss, write resumed */
    char *buf;                   /* received bytes: buf[start, len) unread */
    size_t start;
    size_t len;
    size_t cap;                  /* bytes allocated */
    size_t rd_off;               /* where the pending read writes (the
                                    offset get_buffer handed out) */
    uint64_t rx;                 /* bytes received since the last request
                                    was written */
    double idle_since;           /* loop time it went idle */
    int err;                     /* code of the loss, 0 for a clean end */
    uint8_t lost;                /* connection_lost ran */
    uint8_t eof;                 /* the peer closed its side */
    uint8_t idle;                /* in the idle list */
    uint8_t discarded;           /* aborted: connection_lost detaches and
                                    frees it */
    uint8_t wpaused;             /* pause_writing: wait before writing more */
    uint8_t rpaused;             /* we paused reading (flow control) */
    uint8_t used;                /* it served a request before this one */
    cio__http_parser p;          /* the answer's parser */
    cio__http_header hdrs[CIO__HC_HEADERS]; /* its fields */
} cio__hc_conn;

/* A pool: the connections to one scheme://host:port. */
struct cio__hc_origin {
    cio_http_client *client;     /* owner */
    struct cio__hc_origin *next; /* the client's list of origins */
    char *key;                   /* origin string (cio__url.origin) */
    char *host;                  /* host to connect to (no brackets) */
    int port;                    /* port */
    int tls;                     /* https (not yet supported) */
    cio_semaphore *slots;        /* max_per_host busy connections */
    cio__hc_conn *idle;          /* idle connections, most recent first */
    size_t nidle;                /* length of that list */
};

/* The client. */
struct cio_http_client {
    cio_loop *loop;              /* the loop it was made on */
    double connect_timeout;      /* options, defaults applied; < 0: none */
    double read_timeout;
    double total_timeout;
    double idle_timeout;
    int max_per_host;
    int max_redirects;           /* < 0: none followed */
    size_t max_body;
    int decompress;              /* decode gzip/deflate (zlib built in) */
    char *user_agent;            /* NULL: none sent */
    char **headers;              /* default headers: name, value, ..., NULL */
    cio__hc_origin *origins;     /* one per origin met */
    size_t nidle;                /* idle connections in all pools */
    cio__hc_conn *conns;         /* attached connections (idle or busy) */
    size_t live;                 /* their count */
    size_t inflight;             /* requests inside cio_http_client_send */
    cio_handle *sweep;           /* the idle-timeout timer, or NULL */
    cio_event *drained;          /* set when live drops to 0 (close) */
    int closing;                 /* cio_http_client_close has begun */
};

/* ---- connections (client_conn.c) ---- */

/* Opens a connection to o's origin within the deadline (loop time,
 * INFINITY: none) and the connect timeout.  Suspends. */
int cio__hc_conn_open(cio__hc_origin *o, double deadline, cio__hc_conn **out);
/* Closes k at once; it stays on the client's list (close waits for it)
 * until connection_lost frees it.  k must be neither idle nor owned. */
void cio__hc_conn_discard(cio__hc_conn *k);
/* Detaches k from its client (origin NULL, off the client's list): it no
 * longer counts against the client, whose close does not wait for it. */
void cio__hc_conn_detach(cio__hc_conn *k);
/* Waits until more bytes arrive, the peer ends, or the connection is lost,
 * at most read_timeout and until deadline.  0 or a negative code.
 * Suspends. */
int cio__hc_conn_wait(cio__hc_conn *k, double read_timeout, double deadline);
/* Waits while the transport's write buffer is above its high mark. */
int cio__hc_conn_drain(cio__hc_conn *k, double read_timeout, double deadline);
/* Marks n bytes at buf[start] consumed; resumes reading if flow control
 * paused it. */
void cio__hc_conn_consume(cio__hc_conn *k, size_t n);
/* A code for a connection that ended: its loss error, or CIO_EINCOMPLETE
 * for a clean close in the middle of something. */
int cio__hc_conn_end_code(const cio__hc_conn *k);

/* ---- pools (pool.c) ---- */

/* The origin of u in c's pools (made on first use).  -ENOMEM. */
int cio__hc_origin_get(cio_http_client *c, const cio__url *u, cio__hc_origin **out);
/* Takes a slot of o (waits while max_per_host are busy, until deadline),
 * then an idle connection (*out, or NULL: open one).  Suspends. */
int cio__hc_pool_acquire(cio__hc_origin *o, double deadline, cio__hc_conn **out);
/* A busy connection is done with: back to the idle list when clean, else
 * discarded; gives its slot back either way.  NULL origin (detached): the
 * connection is discarded. */
void cio__hc_pool_release(cio__hc_conn *k, int clean);
/* Gives back a slot taken by cio__hc_pool_acquire without a connection. */
void cio__hc_pool_give_slot(cio__hc_origin *o);
/* Removes k from its origin's idle list (it was lost or expired). */
void cio__hc_pool_unlink(cio__hc_conn *k);
/* Aborts every idle connection and frees the origins' semaphores and
 * names (client close); busy connections are detached. */
void cio__hc_pool_close_all(cio_http_client *c);
/* Frees the origins (after every connection is gone). */
void cio__hc_pool_free(cio_http_client *c);

/* ---- replies (client_reply.c) ---- */

/* A reply made from the head parsed in k->p over head[0, head_len), for
 * url; the reply copies what it needs.  -ENOMEM. */
int cio__hc_reply_new(cio_http_client *c, cio__hc_conn *k, const char *head, size_t head_len,
                      const char *url, cio_http_reply **out);
/* Attaches the busy connection k to r for the body, with the timeouts. */
void cio__hc_reply_attach(cio_http_reply *r, cio__hc_conn *k, double read_timeout,
                          double deadline, int decode);
/* Reads the whole body into r (bounded by max_body); the connection goes
 * back to the pool.  Suspends. */
int cio__hc_reply_buffer(cio_http_reply *r, size_t max_body);
/* Reads and drops up to limit bytes of body so the connection can be
 * reused (a redirect's body); closes it if more remain.  Suspends. */
void cio__hc_reply_discard_body(cio_http_reply *r, size_t limit);

/* ---- decoding (inflate.c) ---- */

typedef struct cio__hc_inflate cio__hc_inflate;
/* 1 if cio was built with zlib. */
int cio__hc_inflate_available(void);
/* A decoder for the Content-Encoding value v[0, n) ("gzip", "x-gzip",
 * "deflate"), or NULL: *out NULL and 0 when the coding is not one we
 * decode (the body passes through), -ENOMEM. */
int cio__hc_inflate_new(const char *v, size_t n, cio__hc_inflate **out);
/* Decodes from *in (advanced, *in_len decreased) into out[0, cap):
 * returns bytes written (>= 0) or -EPROTO for corrupt data.  *finished is
 * set once the compressed stream ended. */
int cio__hc_inflate_run(cio__hc_inflate *z, const char **in, size_t *in_len, char *out,
                        size_t cap, int *finished);
void cio__hc_inflate_free(cio__hc_inflate *z);

/* Case-insensitive compare of a[0, n) with the NUL-terminated b (ASCII). */
int cio__hc_name_eq(const char *a, size_t n, const char *b);

#endif
