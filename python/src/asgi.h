/*
 * asgi.h - what asgi.c (the ASGI server's C half), asgi_ws.c (its
 * WebSocket scopes), asgi_scope.c (the ASGI scope of a request) and
 * asgi_tls.c (its TLS options) share.
 */
#ifndef CIO_PY_ASGI_H
#define CIO_PY_ASGI_H

#include "cio_py.h"

#include <cio/http.h>
#include <cio/sync.h>
#include <cio/tls.h>
#include <cio/ws.h>

/* One operation a handler task performs for Python (asgi.c's body reads
 * and writes, asgi_ws.c's sends and close): the head of each kind. */
#define CIO_ASGI_OP_HEAD                                                      \
    struct cio_asgi_op *next;  /* the queue */                                \
    int kind;                  /* the file's own OP_* */                      \
    PyObject *fut;             /* the asyncio future it resolves */           \
    PyObject *data;            /* what it sends, or NULL */

struct cio_asgi_op {
    CIO_ASGI_OP_HEAD
};

/* What a request's handler task shares with Python, counted: the
 * handler, the Python object and each engine callback in flight hold a
 * reference, the last one frees it.  The head of asgi.c's struct xreq
 * and asgi_ws.c's struct xws (as PyObject_HEAD starts every object). */
#define CIO_ASGI_X_HEAD                                                       \
    int refs;                  /* references */                               \
    cio_http_request *req;     /* NULL once the handler has returned */       \
    struct AsgiServer *S;      /* strong (dropped on the loop's stack) */     \
    cio_event *wake;           /* the handler waits on it for work */         \
    struct cio_asgi_op *qhead; /* operations asked, not yet taken (FIFO) */   \
    struct cio_asgi_op **qtail; /* &last->next, or &qhead */                  \
    struct cio_asgi_op *cur;   /* taken: running, or its callback pending */  \
    void (*fini)(void *x);     /* frees what the kind adds (any stack) */

struct cio_asgi_x {
    CIO_ASGI_X_HEAD
};

/* Drops a reference on x; the last frees it (x->fini, then the struct) and
 * the server's reference, through a callback on the loop's stack when it
 * could be the server's last (its dealloc may run any Python).  Any
 * stack. */
void cio_asgi_x_unref(void *x);
/* Schedules fn(x) on the loop's stack with a reference on x; 0, or the
 * error of cio_call_soon. */
int cio_asgi_post(void *x, cio_callback_fn *fn);
/* Frees op (loop stack); its future, if still pending, gets the
 * exception for rc. */
void cio_asgi_op_drop(struct cio_asgi_op *op, int rc);
/* Fails every operation still queued with rc (loop stack). */
void cio_asgi_drop_queue(void *x, int rc);
/* Makes asgi_x.c's interned strings; -1 with an exception set. */
int cio_asgi_x_init(void);

/* One request between the handler task and Python. */
struct xreq {
    CIO_ASGI_X_HEAD
    struct AsgiConn *conn;     /* the Python object, NULL before / after */
    char *rbuf;                /* OP_READ: the bytes read */
    int rc;                    /* cur's result (count read, or error) */
    int read_err;              /* a body read failed (not a disconnect) */
    int started;               /* the application was called */
    int finished;              /* Python is done with the request */
    int abort;                 /* ... and wants the connection aborted */
};

/* A request as the application sees it: its ASGI cycle's state, read
 * and changed by asgi_cycle.c's fast paths and cio/asgi.py's slow ones
 * (as attributes). */
typedef struct AsgiConn {
    PyObject_HEAD
    struct xreq *x;            /* shared state (one reference) */
    PyObject *headers;         /* http.response.start's headers */
    PyObject *disc_fut;        /* receive() waiting for http.disconnect */
    PyObject *left;            /* body bytes still to come (int), or None */
    int status;                /* http.response.start's status */
    char has_body;             /* a body follows the head */
    char body_done;            /* the last http.request was received */
    char disconnected;         /* the client left (or the server dropped it) */
    char started;              /* http.response.start was sent */
    char streaming;            /* a streamed body's head went out */
    char complete;             /* the response is complete */
    char body_error;           /* a body read failed (413, 400, timeout) */
} AsgiConn;

typedef struct AsgiServer {
    PyObject_HEAD
    CioLoop *L;                /* the cio.Loop (strong) */
    cio_http_server *srv;      /* NULL before start / after close */
    cio_http_server_options opts; /* limits and timeouts */
    cio_ws_options ws_opts;    /* WebSocket limits, keepalive, deflate */
    cio_tls_context *tls;      /* HTTPS / WSS (owned), or NULL: plain */
    PyObject *on_request;      /* callable(conn, scope, 0) for a WebSocket */
    /* bind(): the HTTP requests' application and cio/asgi.py's helpers */
    PyObject *app;             /* the ASGI 3 application */
    PyObject *state;           /* lifespan state, copied into each scope */
    PyObject *root_path;       /* str, or NULL (empty) */
    PyObject *tasks;           /* set: the requests' tasks still running */
    PyObject *receive_slow;    /* receive_slow(conn) -> coroutine */
    PyObject *send_slow;       /* send_slow(conn, message) -> coroutine */
    PyObject *failed;          /* failed(conn, exc or None) -> abort */
    PyObject *await_any;       /* await_any(awaitable) -> coroutine */
    PyObject *task_factory;    /* the loop's, or None */
    PyObject *task_type;       /* asyncio.Task */
    PyObject *server_addr;     /* the scopes' "server": (host, port) */
    PyObject *scope_http;      /* what each HTTP scope is a copy of (asgi_scope.c) */
    PyObject *host;            /* str: the address listened on */
    int port;                  /* asked, then the one bound */
    PyObject *fut;             /* start/shutdown: its asyncio future */
    int rc;                    /* start/shutdown: its result */
    double deadline;           /* shutdown's deadline */
    int busy;                  /* a start or shutdown task runs */
} AsgiServer;

/* The ASGI 3 scope of req served by S (a new dict), or NULL with an
 * exception set: "http", or "websocket" when websocket is 1.  *body: -1
 * chunked, else the Content-Length (0: none). */
PyObject *cio_asgi_scope(cio_http_request *req, AsgiServer *S, int websocket, long long *body);
/* Makes the scopes' shared keys and values; -1 with an exception set. */
int cio_asgi_scope_init(void);

/* asgi.c, for asgi_ws.c (loop stack). */
/* The exception for a cio error code (a new reference, or NULL). */
PyObject *cio_asgi_code_error(int rc);
/* Raises the exception for rc; returns NULL. */
PyObject *cio_asgi_raise(int rc);
/* Resolves fut (stolen) with val (stolen) or, val NULL, the exception for
 * rc; a future already done (cancelled) is left alone. */
void cio_asgi_resolve(PyObject *fut, PyObject *val, int rc);
/* Adds the application's [name, value] byte pairs to req's response
 * (the server's own framing headers skipped); -1 with an exception. */
int cio_asgi_add_headers(cio_http_request *req, PyObject *headers);

/* The complete response status/headers/body (headers: the
 * application's [name, value] pairs); 0, or -1 with an exception set
 * (ConnectionResetError: the client is gone). */
int cio_asgi_conn_respond(AsgiConn *c, int status, PyObject *headers, const char *body,
                          Py_ssize_t len);
/* The application is done with c's request; abort cuts the connection. */
void cio_asgi_conn_finish(AsgiConn *c, int abort);
/* Resolves a receive() waiting for http.disconnect; 0, or -1. */
int cio_asgi_conn_wake(AsgiConn *c);

/* asgi_cycle.c */
/* Calls the application for c's request (scope: a new dict; body: its
 * Content-Length, -1 chunked, 0 none) in a new asyncio task; 0 (a failure
 * of the application is answered as it would be in the task), or -1
 * with an exception set.  *first is the task's first step, taken off the
 * ready FIFO for the caller to run at once with cio_loop_run_taken (an
 * eager start), or NULL when it stays queued. */
int cio_asgi_cycle_start(AsgiConn *c, PyObject *scope, long long body, CioHandle **first);
/* Makes the _AsgiRun and _Ready types ready; -1 with an exception set. */
int cio_asgi_cycle_init(PyObject *m);

/* asgi_ws.c */
/* 1 if req asks for a WebSocket upgrade (Upgrade: websocket). */
int cio_asgi_ws_wanted(cio_http_request *req);
/* The route's handler for such a request (a cio task, no Python). */
int cio_asgi_ws_handler(cio_http_request *req, AsgiServer *S);
/* Reads serve_asgi's WebSocket keywords from kw into S->ws_opts. */
int cio_asgi_ws_options(AsgiServer *S, PyObject *kw);

/* kw[k] as a number into *out (None or absent: left alone); 0, or -1
 * with the exception set. */
int cio_asgi_opt_double(PyObject *kw, const char *k, double *out);
/* Makes the _AsgiWs type ready; -1 with an exception set. */
int cio_asgi_ws_init(void);

/* asgi_tls.c */
/* Reads serve_asgi's ssl_* keywords from kw: with ssl_certfile, S->tls
 * becomes a server context (ALPN http/1.1) that S->opts' transport uses;
 * without, S->tls is NULL.  -1 with an exception set (a file that cannot
 * be opened, OpenSSL refusing it, an option cio cannot honour). */
int cio_asgi_tls_options(AsgiServer *S, PyObject *kw);

#endif
