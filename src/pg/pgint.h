/*
 * pgint.h - what the files of src/pg share: the connection, its queue of
 * requests in flight, the prepared-statement cache, and the error record.
 *
 * A request is one pipeline segment: one or more libpq commands (a Parse
 * of a new statement, then one Execute per parameter row) closed by a
 * Sync.  Requests are answered in the order they were sent; the
 * connection's reader (an add_reader callback) collects each request's
 * results until its PGRES_PIPELINE_SYNC and then completes the request's
 * future.  Who frees a request: the task that issued it, if the future
 * completed (its await returned); the connection, if the future was
 * cancelled (the task has gone and never touches the request again).
 */
#ifndef CIO_PG_INT_H
#define CIO_PG_INT_H

#include <libpq-fe.h>

#include "../util/internal.h"
#include "cio/pg.h"

/* A prepared statement in the connection's cache. */
struct pgstmt {
    struct pgstmt *prev, *next; /* LRU list: head most recently used */
    uint64_t hash;              /* of key, compared first */
    char *key;                  /* sql, then the parameter type OIDs */
    char name[24];              /* "cio_s<N>" on the server */
    int nparams;                /* parameters the statement was prepared for */
    int refs;                   /* requests in flight using it */
    int cached;                 /* 1 while in the cache list */
    int prepared;               /* 1 once the server confirmed the Parse */
};

/* One pipeline segment: see the file comment. */
struct pgreq {
    struct pgreq *next;    /* in the connection's in-flight FIFO */
    cio_future *fut;       /* completed with this request; NULL: internal,
                              nobody waits (DEALLOCATE) */
    PGresult *res;         /* the last command's result */
    PGresult *err;         /* the first error result, if any */
    struct pgstmt *stmt;   /* the statement used (a reference), or NULL */
    int parse;             /* 1 if the segment starts with its Parse */
    int nres;              /* results received so far */
    int64_t affected;      /* rows affected, summed over the commands */
    struct cio_pg_cursor *cur; /* a streamed query's cursor (rows go there,
                              one at a time), or NULL */
    int stream;            /* streamed: single-row mode, rows handed to cur
                              or, once the cursor closed early, dropped */
    int single;            /* single-row mode was set for its Execute */
};

struct cio_pg_conn {
    PGconn *pg;               /* libpq's connection */
    cio_loop *loop;           /* the loop it lives on */
    int fd;                   /* PQsocket, watched by the reader */
    int broken;               /* the connection was lost */
    int closed;               /* cio_pg_free ran (the struct is going) */
    int writer_on;            /* an add_writer flush is registered */
    int flush_soon;           /* a call_soon flush is scheduled */
    cio_handle *flush_handle; /* that call_soon, to cancel on close */
    struct pgreq *head, *tail;/* requests in flight, oldest first */
    size_t pending;           /* how many */
    struct pgstmt *lru_head, *lru_tail; /* the statement cache */
    size_t ncached;           /* statements in the cache */
    size_t cache_cap;         /* its capacity (0: no cache) */
    uint64_t stmt_seq;        /* names statements */
    int txn_depth;            /* open transaction scopes (savepoints) */
    int listened;             /* a LISTEN ran (the pool resets it) */
    cio_queue *notifies;      /* notifications for the iterator, or NULL */
    cio_aiter notify_iter;    /* what cio_pg_notify_aiter hands out */
    double created;           /* loop time of the connect (pool lifetime) */
    double last_used;         /* loop time of the last release (pool) */
    cio_pg_conn *pool_next;   /* the pool's idle list */
    struct cio__pg_cancel *cancels; /* background cancel requests in flight
                                 (cancel.c); nothing is flushed meanwhile */
    void *pool;               /* the pool it belongs to, or NULL */
    int refs;                 /* the owner's reference (until cio_pg_free)
                                 plus one per call in progress, cursor and
                                 transaction: the struct outlives
                                 cio_pg_free until the last one is dropped */
    int rd_paused;            /* the reader is off: a cursor's buffer is
                                 full (flow control), see cursor.c */
    struct cio_pg_cursor *cursors; /* open cursors with a query in flight */
    int exclusive;            /* a COPY holds the connection: new queries
                                 wait at the gate (copy.c) */
    int cancel_holds;         /* cio_pg_cancel calls under way: new queries
                                 wait at the gate, as for c->cancels */
    int copy_mode;            /* out of pipeline mode for a COPY: the
                                 pipeline's flush and reader stand still */
    cio_event *gate;          /* set while nothing holds new queries back
                                 (a COPY, a cancel request in flight); made
                                 by the first query that has to wait */
    cio_task *copy_owner;     /* the task whose COPY holds it (deadlock
                                 check), or NULL */
    cio_future *io_wait;      /* the COPY's wait for the socket, failed by
                                 cio_pg_free so the COPY task wakes */
    int appending;            /* a big segment is being appended and its
                                 task waits for libpq's buffer to drain:
                                 new queries wait at the gate (query.c) */
    cio_future *drain_wait;   /* that task's wait (cio__pg_conn_drain),
                                 completed by the flush once libpq's buffer
                                 is empty, or by loss and close */
};

/* An error's fields (cio_pg_error); strings owned by the record. */
struct cio_pg_error {
    char sqlstate[6]; /* "" if none */
    char *message;    /* never NULL */
    char *detail;     /* never NULL */
    char *hint;       /* never NULL */
    char *severity;   /* never NULL */
};

/* Records res (an error result) as the thread's last error. */
void cio__pg_set_error_result(const PGresult *res);
/* Records a client-side message (connection failure) with sqlstate. */
void cio__pg_set_error_msg(const char *sqlstate, const char *msg);
/* Clears the thread's last error. */
void cio__pg_clear_error(void);

/* conn.c: references that keep the struct alive (see refs). */
void cio__pg_conn_ref(cio_pg_conn *c);
void cio__pg_conn_unref(cio_pg_conn *c);
/* conn.c: a cursor consumed rows: turn the reader back on and take what
 * libpq has buffered meanwhile. */
void cio__pg_conn_resume(cio_pg_conn *c);
/* conn.c: watch (on 1) or stop watching (0) the socket with the pipeline's
 * reader; COPY turns it off while it drives the socket itself. */
int cio__pg_conn_watch(cio_pg_conn *c, int on);
/* query.c: opens the gate if nothing holds new queries back any more. */
void cio__pg_gate_update(cio_pg_conn *c);
/* query.c: waits while a COPY or a cancel request holds new queries back
 * (cio__pg_gate_update), then checks that the
 * calling task does not hold a cursor in flight on it (-EDEADLK). */
int cio__pg_wait_turn(cio_pg_conn *c);
/* query.c: appends a segment to the pipeline and queues req; 0 or a
 * negative code (CIO_EPG: the connection gave up).  A segment of many rows
 * may suspend midway (query.c's send_segment); if it fails then, req is
 * the connection's when its future is cancelled, else the caller's. */
int cio__pg_send(cio_pg_conn *c, struct pgreq *req, const char *sql,
                 const cio_pg_param *params, int nparams, int nrows);
/* cursor.c: the reader's side of a streamed query. */
int cio__pg_cursor_full(const struct cio_pg_cursor *cur);
void cio__pg_cursor_push(struct cio_pg_cursor *cur, PGresult *row);
void cio__pg_cursor_finish(struct cio_pg_cursor *cur, struct pgreq *req, int code);
/* cursor.c: 1 if the calling task opened a cursor on c whose query is
 * still in flight (a query of its own now would wait behind it forever). */
int cio__pg_cursor_owned(cio_pg_conn *c);

/* cancel.c: close forgets the connection's cancel requests in flight. */
void cio__pg_cancels_forget(cio_pg_conn *c);

/* conn.c: starts the reader and the pipeline after the handshake. */
int cio__pg_conn_start(cio_pg_conn *c);
/* conn.c: the pipeline got commands: flush them once this iteration. */
void cio__pg_conn_schedule_flush(cio_pg_conn *c);
/* conn.c: sends all of libpq's output buffer, suspending (the reader
 * reads meanwhile) while the socket is full: 0; -EIO if libpq failed
 * (the caller gives the connection up); CIO_ECLOSED or -ECONNRESET if it
 * was closed or lost meanwhile; the wait's codes (-ECANCELED, ...). */
int cio__pg_conn_drain(cio_pg_conn *c);
/* conn.c: the connection is unusable: fail what is in flight. */
void cio__pg_conn_lost(cio_pg_conn *c);
/* conn.c: append req to the in-flight FIFO. */
void cio__pg_conn_push(cio_pg_conn *c, struct pgreq *req);
/* conn.c: frees a request and drops its statement reference. */
void cio__pg_req_free(cio_pg_conn *c, struct pgreq *req);
/* query.c: drops a statement reference (frees it once uncached, unused). */
void cio__pg_stmt_unref(cio_pg_conn *c, struct pgstmt *s);
/* query.c: frees the whole cache (close). */
void cio__pg_stmt_clear(cio_pg_conn *c);
/* query.c: a segment with a Parse got its first result. */
void cio__pg_stmt_parsed(cio_pg_conn *c, struct pgreq *req, const PGresult *res);
/* query.c: runs one query and returns its request (caller frees it) or a
 * negative code; the request may carry an error result. */
int cio__pg_run(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                int nrows, struct pgreq **out);
/* cancel.c: sends a cancel request from a background task. */
void cio__pg_cancel_soon(cio_pg_conn *c);
/* notify.c: hands a notification to the iterator's queue (or frees it). */
void cio__pg_notify_push(cio_pg_conn *c, PGnotify *n);
/* notify.c: the connection is gone: end the iteration. */
void cio__pg_notify_end(cio_pg_conn *c);

#endif
