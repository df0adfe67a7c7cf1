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
    double created;           /* loop time of the connect (pool lifetime) */
    double last_used;         /* loop time of the last release (pool) */
    cio_pg_conn *pool_next;   /* the pool's idle list */
    struct cio__pg_cancel *cancels; /* background cancel requests in flight
                                 (cancel.c); nothing is flushed meanwhile */
    void *pool;               /* the pool it belongs to, or NULL */
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

/* cancel.c: close forgets the connection's cancel requests in flight. */
void cio__pg_cancels_forget(cio_pg_conn *c);

/* conn.c: starts the reader and the pipeline after the handshake. */
int cio__pg_conn_start(cio_pg_conn *c);
/* conn.c: the pipeline got commands: flush them once this iteration. */
void cio__pg_conn_schedule_flush(cio_pg_conn *c);
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
