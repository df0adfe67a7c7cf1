/*
 * server.h - the HTTP server's internals, shared by the files of
 * src/http/server*.c, router.c, response.c, date.c, json.c and file.c.
 *
 * The pieces:
 *   - cio_http_server: options, routes, the listener, the list of
 *     connections and the sweep timer that enforces every timeout.
 *   - struct cio__http_conn: one connection, a buffered protocol over a
 *     transport.  Its buffer receives bytes in place; the parser reads
 *     them there.  One request is in progress at a time (pipelined
 *     requests wait in the buffer), so responses are in order by
 *     construction.
 *   - cio_http_request: the request in progress, embedded in its
 *     connection.  Slices point into the connection's buffer while an
 *     inline handler runs, or into a copy of the head for a task.
 */
#ifndef CIO_HTTP_SERVER_H
#define CIO_HTTP_SERVER_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "cio.h"
#include "cio/http.h"
#include "parser.h"
#include "../util/internal.h"

/* A growable byte buffer (response heads, coalesced output). */
typedef struct cio__http_buf {
    char *data; /* cio__malloc'd; NULL while empty */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} cio__http_buf;

/* Makes room for n more bytes.  0 or -ENOMEM. */
int cio__http_buf_reserve(cio__http_buf *b, size_t n);
/* Appends n bytes.  0 or -ENOMEM. */
int cio__http_buf_add(cio__http_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int cio__http_buf_adds(cio__http_buf *b, const char *s);
/* Appends an unsigned decimal number. */
int cio__http_buf_addu(cio__http_buf *b, uint64_t v);
void cio__http_buf_free(cio__http_buf *b);

/* One route. */
typedef struct cio__http_route {
    char *method;                /* "GET", ... or "*" */
    char *pattern;               /* as given (segments split at '/') */
    cio_http_handler_fn *handler; /* the handler */
    void *ud;                    /* its ud */
    int flags;                   /* CIO_HTTP_INLINE, CIO_HTTP_STREAM_BODY,
                                    CIO_HTTP_WATCH_CLOSE */
} cio__http_route;

/* Where a request's response is. */
enum {
    CIO__RESP_NONE = 0, /* nothing sent yet */
    CIO__RESP_STREAM,   /* head sent, streaming the body */
    CIO__RESP_DONE,     /* complete */
};

/* Path parameters kept per request: names point into the route's
 * pattern, values into req->pbuf (or an allocation when long). */
#define CIO__HTTP_MAX_PARAMS 8

struct cio__http_conn;

struct cio_http_request {
    struct cio__http_conn *conn;   /* the connection it came on */
    const cio__http_route *route;  /* the matched route (NULL: none) */
    char *head;                    /* the head's first byte (slices are
                                      relative to it), NUL-terminated parts */
    char *head_copy;               /* a task's own copy of the head, or NULL */
    const char *method;            /* NUL-terminated method */
    const char *target;            /* NUL-terminated target as sent */
    char *path;                    /* NUL-terminated path (a copy: target
                                      keeps its query) */
    char *query;                   /* the query, decoded in place at first
                                      use into "name\0value\0" pairs */
    size_t query_len;              /* its bytes after decoding */
    int query_decoded;             /* 1 once decoded */
    uint8_t method_id;             /* CIO__HTTP_GET ... */
    uint8_t version;               /* minor version */
    uint8_t is_head;               /* HEAD: no body in the response */
    uint8_t keep_alive;            /* the connection may go on after it */
    uint8_t want_continue;         /* 100-continue asked, not yet sent */
    uint8_t streaming_body;        /* the route streams the body */
    uint8_t in_task;               /* the handler runs in a task */
    uint8_t gzip_ok;               /* the client accepts gzip */
    uint16_t route_status;         /* 0, or 404/405 to answer */
    const char *body;              /* buffered body (or NULL) */
    size_t body_len;               /* its length */
    size_t body_read;              /* bytes given out by request_read */
    int nparams;                   /* parameters set */
    char *pbuf;                    /* storage of path and parameter values
                                      (the connection's: kept and reused
                                      from request to request) */
    size_t pbuf_cap;               /* its size */
    void *json;                    /* parsed body (cJSON *), or NULL */
    int json_err;                  /* the parse's error, once tried */

    /* the response */
    uint8_t resp;                  /* CIO__RESP_* */
    uint8_t chunked;               /* streamed body uses chunked coding */
    uint8_t close_after;           /* close the connection after it */
    int status;                    /* status sent */
    cio__http_buf rh;              /* extra response headers (lines) */
    uint64_t bytes_out;            /* body bytes sent (access log) */
    double t_start;                /* loop time at the head's end */
    cio_task *task;                /* the handler task, or NULL */

    /* Last, and not cleared between requests (nparams says how many are
     * set): clearing the arrays was a third of a request's reset. */
    const char *pnames[CIO__HTTP_MAX_PARAMS]; /* parameter names (in the
                                      route pattern, '}'-terminated) */
    size_t pname_len[CIO__HTTP_MAX_PARAMS]; /* their lengths */
    const char *pvals[CIO__HTTP_MAX_PARAMS]; /* decoded values */
};

/* Connection states (what the sweep timer checks). */
enum {
    CIO__CONN_IDLE = 0, /* between requests, nothing of the next one */
    CIO__CONN_HEAD,     /* part of a head received */
    CIO__CONN_BODY,     /* reading a buffered body */
    CIO__CONN_ACTIVE,   /* a handler is running */
    CIO__CONN_CLOSING,  /* closing: nothing more is read */
};

typedef struct cio__http_conn {
    cio_http_server *srv;          /* the server */
    cio_transport *t;              /* the transport (retained) */
    struct cio__http_conn *prev, *next; /* the server's list */
    int refs;                      /* transport alive (1) + running task (1) */
    uint8_t state;                 /* CIO__CONN_* */
    uint8_t lost;                  /* connection_lost has run */
    uint8_t paused;                /* reading paused by us */
    uint8_t write_paused;          /* the transport asked us to pause */
    uint8_t in_batch;              /* inside buffer_updated: coalesce */
    uint8_t dispatching;           /* inside process(): no re-entry */
    uint8_t now_valid;             /* now holds this process() batch's
                                      loop time */
    double now;                    /* that time (conn_now) */
    double deadline;               /* loop time the current state expires */
    double write_stall;            /* loop time writing was paused, or 0 */
    char *buf;                     /* receive buffer */
    size_t cap;                    /* its size */
    size_t len;                    /* bytes received into it */
    size_t pos;                    /* the current request's first byte */
    size_t head_len;               /* its head's bytes (0: incomplete) */
    size_t body_end;               /* decoded body ends at buf[body_end] */
    size_t raw;                    /* undecoded body bytes start here */
    size_t rd_off;                 /* where get_buffer put the next read */
    cio__http_parser parser;       /* the request parser */
    cio__http_header *hdrs;        /* its field array */
    cio_http_request req;          /* the request in progress */
    uint8_t upgraded;              /* handed to another protocol (detach) */
    uint8_t aborted;               /* cio_http_request_abort ran */
    uint8_t eof_held;              /* the client's end of stream came behind
                                      requests read ahead (server_conn.c) */
    cio__http_buf out;             /* responses waiting for one write */
    cio_future *wake;              /* a task waiting for body or drain */
    int body_err;                  /* a streamed body's error, or 0 */
    struct sockaddr_in6 peer;      /* the peer's address, once asked for
                                      (an IPv4 or IPv6 one fits) */
    socklen_t peer_len;            /* its length, 0 until then */
} cio__http_conn;

struct cio_http_server {
    cio_http_server_options opts;  /* copied options, defaults filled */
    cio__http_limits lim;          /* parser limits from opts */
    size_t name_len;               /* strlen(opts.server_name) (0: none) */
    cio_loop *loop;                /* the loop it runs on */
    cio__http_route *routes;       /* routes in order */
    size_t nroutes, route_cap;     /* count and capacity */
    cio_server *listener;          /* listening sockets, or NULL */
    cio__http_conn *conns;         /* open connections */
    size_t nconns;                 /* their count */
    size_t nlive;                  /* connection structs not yet freed */
    cio_handle *sweep;             /* the timeout sweep timer */
    double sweep_every;            /* its period */
    int shutting_down;             /* shutdown began: no new requests */
    int freed;                     /* cio_http_server_free ran; the last
                                      connection frees the struct */
    cio_http_shutdown_hook *hooks; /* upgraded connections kept in the
                                      graceful shutdown (upgrade.c) */
    size_t nhooks;                 /* their count */
    cio_http_shutdown_hook *notify_next; /* the hook shutdown notifies
                                      next (a hook freed meanwhile moves
                                      it on) */
    cio_future *all_closed;        /* set when nconns and nhooks reach 0
                                      in shutdown */
    cio_future *stopped;           /* serve_forever waits on it */
};

/* server.c: frees srv once cio_http_server_free ran and the last
 * connection struct is gone. */
void cio__http_server_maybe_free(cio_http_server *srv);
/* server.c: sets all_closed when no connection (nor hooked upgraded
 * one) is left. */
void cio__http_server_check_closed(cio_http_server *srv);

/* White-box counter for tests: transport writes made by the server. */
extern unsigned long cio__http_server_writes;
/* White-box counter for tests: times the server paused a connection's
 * reading (server_conn.c). */
extern unsigned long cio__http_read_pauses;
/* White-box counters for tests (file.c): successful sendfile(2) calls,
 * the body bytes they sent, waits for a full socket. */
extern unsigned long cio__http_sendfile_calls;
extern unsigned long cio__http_sendfile_waits;
extern uint64_t cio__http_sendfile_bytes;

/* router.c: finds the route for req (sets req->route and parameters), or
 * returns 404 / 405 (writing the Allow list into allow). */
int cio__http_route_match(cio_http_server *srv, cio_http_request *req, cio__http_buf *allow);
/* Percent-decodes s[0, n) in place ('+' as space if plus); returns the
 * new length. */
size_t cio__http_pct_decode(char *s, size_t n, int plus);

/* response.c */
/* Appends a complete response to the connection's output. */
int cio__http_send_simple(cio__http_conn *c, cio_http_request *req, int status,
                          const char *ctype, const void *body, size_t len);
/* Writes what is in c->out to the transport (one write). */
int cio__http_flush(cio__http_conn *c);
/* Writes bytes now (after c->out), copying them. */
int cio__http_write_now(cio__http_conn *c, const void *p, size_t n);
/* Waits (in a task) while the transport's buffer is above its mark. */
int cio__http_wait_drain(cio__http_conn *c);
/* Appends the status line and the common headers. */
int cio__http_head_start(cio__http_conn *c, cio_http_request *req, int status);

/* server_conn.c */
int cio__http_conn_factory(void *arg, const cio_protocol **proto, void **ud);
void cio__http_conn_check(cio__http_conn *c, double now);
void cio__http_conn_close_idle(cio__http_conn *c);
void cio__http_conn_abort(cio__http_conn *c);
size_t cio__http_body_take(cio__http_conn *c, void *dst, size_t n);
/* server_conn.c: called when the request's response is complete. */
void cio__http_request_done(cio__http_conn *c);
/* request.c: points c's request at the head in base (NUL-terminating its
 * parts in place). */
void cio__http_request_bind(cio__http_conn *c, char *base);
/* request.c: splits the target (tlen bytes) into path and query (the
 * path copied into pbuf, with room for the decoded parameters after it;
 * pbuf is the connection's, kept from request to request).  0, or the
 * status to answer. */
int cio__http_request_split(cio_http_request *req, size_t tlen);
/* request.c: 1 if c's request accepts gzip (Accept-Encoding). */
int cio__http_accepts_gzip(cio__http_conn *c);
/* upgrade: takes c out of the server (the transport is someone else's
 * now); returns the bytes received after the request. */
size_t cio__http_conn_detach(cio__http_conn *c);
/* Wakes a task waiting on the connection. */
void cio__http_conn_wake(cio__http_conn *c, int res);
/* A reference on c (an upgraded connection's shutdown hook holds one). */
void cio__http_conn_ref(cio__http_conn *c);
void cio__http_conn_unref(cio__http_conn *c);

/* upgrade.c: the shutdown hooks of upgraded connections. */
/* Shutdown began: calls every hook's function once. */
void cio__http_hooks_notify(cio_http_server *srv);
/* Deadline or free: aborts every hooked connection, cancelling its
 * handler if it still runs. */
void cio__http_hooks_abort(cio_http_server *srv);

/* date.c: the Date header's value for now, cached per second (29 bytes). */
const char *cio__http_date(void);
/* Formats t as an IMF-fixdate into out (30 bytes). */
void cio__http_format_date(time_t t, char out[30]);
/* Parses an IMF-fixdate; -1 if it is not one. */
time_t cio__http_parse_date(const char *s);

/* json.c: frees the request's parsed JSON. */
void cio__http_json_free(cio_http_request *req);

/* gzip (response.c): 1 if ctype is worth compressing. */
int cio__http_compressible(const char *ctype);

#endif
