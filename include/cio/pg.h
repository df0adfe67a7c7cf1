/*
 * cio/pg.h - PostgreSQL clients on libpq (asyncpg's model): connections,
 * queries with parameters and binary results, automatic pipelining,
 * prepared statements, streamed rows (cursors), COPY in and out,
 * transactions, a pool, LISTEN/NOTIFY.
 *
 * Built when libpq was found at configure time (CIO_HAVE_LIBPQ); include
 * this header by itself (cio.h does not pull it in, since the library may
 * be built without it).
 *
 * Automatic pipelining: any number of tasks may use one connection at
 * once.  Each query is appended to libpq's pipeline as soon as it is
 * issued, followed by its own Sync, and sent without waiting for the
 * answers of the queries before it; results come back in order and each goes to the task
 * that issued the query.  The Sync after every query makes each query its
 * own implicit transaction, exactly as if it ran alone: an error fails
 * only the query that caused it, and the others (before and after it in
 * the pipeline) are unaffected.  A task cancelled while its query is in
 * flight returns -ECANCELED at once; the connection reads and discards
 * that query's result, so it never gets out of step.  If the query was
 * the one the server was running, a cancel request is sent for it (from
 * the thread pool, as libpq 15's PQcancel blocks); until it is delivered,
 * new queries wait, so that the request cannot reach a later query.
 *
 * A streamed query (cio_pg_cursor_open) keeps its place in the pipeline;
 * queries issued after it are answered once its rows have been read.  A
 * COPY (cio_pg_copy_in / _out) cannot be pipelined (PostgreSQL's rule): it
 * waits for the queries in flight, then holds the connection alone while
 * queries issued meanwhile wait.
 *
 * An explicit transaction (cio_pg_transaction_begin) covers every query
 * sent on the connection until it ends, whichever task sends it: give a
 * transaction a connection of its own (from the pool).
 *
 * Errors: queries return CIO_EPG when the server reported an error; its
 * SQLSTATE, message, detail and hint are then in cio_pg_last_error().  A
 * connection lost while a query is in flight gives -ECONNRESET; a closed
 * connection CIO_ECLOSED.  Calls marked "Suspends" run inside a task and
 * return -ECANCELED / -ETIMEDOUT when the task is cancelled or its timeout
 * scope expires.
 *
 * Values: results come in binary.  A field is a cio_pg_value (type OID,
 * bytes, NULL flag) read with the cio_pg_value_* functions: bool, int2/4/8,
 * float4/8, numeric (as text), text/varchar/name/char, bytea, date,
 * timestamp/timestamptz, uuid, json/jsonb and one-dimensional arrays of
 * these; cio_pg_value_format() renders any of them as PostgreSQL's text.
 */
#ifndef CIO_PG_H
#define CIO_PG_H

#include <stdint.h>
#include <string.h>

#include "iter.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_pg_conn cio_pg_conn;
typedef struct cio_pg_result cio_pg_result;
typedef struct cio_pg_error cio_pg_error;
typedef struct cio_pg_pool cio_pg_pool;
typedef struct cio_pg_transaction cio_pg_transaction;
typedef struct cio_pg_cursor cio_pg_cursor;
typedef struct cio_pg_copy_reader cio_pg_copy_reader;

/* Type OIDs of the types cio decodes. */
enum {
    CIO_PG_BOOL = 16, CIO_PG_BYTEA = 17, CIO_PG_NAME = 19, CIO_PG_INT8 = 20,
    CIO_PG_INT2 = 21, CIO_PG_INT4 = 23, CIO_PG_TEXT = 25, CIO_PG_OID = 26,
    CIO_PG_JSON = 114, CIO_PG_FLOAT4 = 700, CIO_PG_FLOAT8 = 701,
    CIO_PG_BPCHAR = 1042, CIO_PG_VARCHAR = 1043, CIO_PG_DATE = 1082,
    CIO_PG_TIMESTAMP = 1114, CIO_PG_TIMESTAMPTZ = 1184, CIO_PG_NUMERIC = 1700,
    CIO_PG_UUID = 2950, CIO_PG_JSONB = 3802
};

/* ---- connections ------------------------------------------------------ */

/* Connection options; fill with cio_pg_conn_options_init(), then change what
 * you need. */
typedef struct cio_pg_conn_options {
    double connect_timeout;      /* seconds for the whole connect (DNS, TCP,
                                    TLS, authentication); 0: none */
    double statement_timeout;    /* seconds; > 0 sets the session's
                                    statement_timeout; 0: server default */
    size_t statement_cache_size; /* prepared statements kept per connection
                                    (LRU, asyncpg's default 100); 0: none,
                                    every query is parsed again */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_pg_conn_options;

/* Fills *opts with the defaults: no timeouts, a cache of 100 statements.
 * Never fails (NULL is a no-op). */
CIO_EXTERN void cio_pg_conn_options_init(cio_pg_conn_options *opts);

/*
 * asyncpg.connect: opens a connection.  conninfo is libpq's: a URI
 * ("postgresql://user@host:5432/db?sslmode=require") or key=value pairs
 * ("host=/tmp port=5432 dbname=db"); TLS follows its sslmode.  A host name
 * is resolved with cio_getaddrinfo (the loop never blocks on DNS); socket
 * directories and addresses go to libpq as they are.  The handshake is
 * driven by the loop.  Server notices go to cio_log (WARNING as
 * CIO_LOG_WARNING, others as CIO_LOG_INFO).  opts NULL: defaults.  On
 * success *out is the caller's: cio_pg_free().  Errors: CIO_EPG (the
 * server refused or could not be reached: cio_pg_last_error() has libpq's
 * message, SQLSTATE 08001 unless the server sent one), CIO_EGAIERR + EAI_*
 * (name lookup), -ETIMEDOUT (connect_timeout or an enclosing scope),
 * -ECANCELED, -EINVAL (NULL conninfo or out, unparsable conninfo),
 * -ENOMEM, CIO_ENOTASK.  Suspends.
 */
CIO_EXTERN int cio_pg_connect(const char *conninfo, const cio_pg_conn_options *opts,
                              cio_pg_conn **out);

/*
 * Closes the connection and frees it.  Other tasks may be inside calls on
 * conn at that moment (a query, a notification or cursor next, a COPY, a
 * transaction scope): the connection's memory stays until they return,
 * and they fail with CIO_ECLOSED (the notification iterator ends); a
 * cursor or transaction still open may be freed or ended afterwards (its
 * calls give CIO_ECLOSED).  Calls that start after cio_pg_free has
 * returned are a use after free: do not make them.  Freeing twice is
 * logged as an error and ignored while the memory is still held.  NULL is
 * a no-op.  Does not suspend.
 */
CIO_EXTERN void cio_pg_free(cio_pg_conn *conn);

/* 1 if the connection is closed or was lost (server gone, backend
 * terminated), else 0.  1 for NULL. */
CIO_EXTERN int cio_pg_is_closed(const cio_pg_conn *conn);

/* The server process id of the connection's backend (for
 * pg_terminate_backend, pg_cancel_backend), or 0. */
CIO_EXTERN int cio_pg_backend_pid(const cio_pg_conn *conn);

/* Number of queries sent and not yet answered on the connection. */
CIO_EXTERN size_t cio_pg_pending(const cio_pg_conn *conn);

/*
 * Sends PostgreSQL's cancel request for what the server runs now on this
 * connection, from the thread pool.  The cancelled query fails with
 * CIO_EPG, SQLSTATE 57014; the connection stays usable.  Errors: CIO_EPG
 * (the request could not be sent), CIO_ECLOSED, -ECANCELED, -EINVAL.
 * Suspends.
 */
CIO_EXTERN int cio_pg_cancel(cio_pg_conn *conn);

/* ---- parameters --------------------------------------------------------- */

/*
 * A query parameter ($1, $2, ...): text that the server converts to the
 * parameter's type, or a binary value of a given type.  Build them with
 * the cio_pg_p* helpers below.  A text parameter points to the caller's
 * string; binary numbers are stored inside the struct.  Parameters are
 * copied into the connection's output buffer when the query is issued: the
 * caller may free them as soon as the call returns.
 */
typedef struct cio_pg_param {
    uint32_t type;           /* type OID; 0: the server infers it (text) */
    int format;              /* 0 text, 1 binary */
    int len;                 /* bytes at data; -1 for SQL NULL */
    const void *data;        /* the value; NULL: inline below */
    unsigned char inline_[8];/* binary numbers, in network byte order */
} cio_pg_param;

/* A text parameter (NUL-terminated), type inferred by the server. */
static inline cio_pg_param cio_pg_ptext(const char *s)
{
    cio_pg_param p = {0, 0, s ? (int)strlen(s) : -1, s, {0}};
    return p;
}
/* SQL NULL (type inferred). */
static inline cio_pg_param cio_pg_pnull(void)
{
    cio_pg_param p = {0, 0, -1, NULL, {0}};
    return p;
}
/* A binary int8 (bigint). */
static inline cio_pg_param cio_pg_pint8(int64_t v)
{
    cio_pg_param p = {CIO_PG_INT8, 1, 8, NULL, {0}};
    for (int i = 0; i < 8; i++)
        p.inline_[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
    return p;
}
/* A binary int4 (integer). */
static inline cio_pg_param cio_pg_pint4(int32_t v)
{
    cio_pg_param p = {CIO_PG_INT4, 1, 4, NULL, {0}};
    for (int i = 0; i < 4; i++)
        p.inline_[i] = (unsigned char)((uint32_t)v >> (24 - 8 * i));
    return p;
}
/* A binary float8 (double precision). */
static inline cio_pg_param cio_pg_pfloat8(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    cio_pg_param p = {CIO_PG_FLOAT8, 1, 8, NULL, {0}};
    for (int i = 0; i < 8; i++)
        p.inline_[i] = (unsigned char)(u >> (56 - 8 * i));
    return p;
}
/* A binary bool. */
static inline cio_pg_param cio_pg_pbool(int v)
{
    cio_pg_param p = {CIO_PG_BOOL, 1, 1, NULL, {(unsigned char)(v != 0)}};
    return p;
}
/* A binary bytea of len bytes at data (the caller's until the call
 * returns). */
static inline cio_pg_param cio_pg_pbytea(const void *data, size_t len)
{
    cio_pg_param p = {CIO_PG_BYTEA, 1, (int)len, data, {0}};
    return p;
}

/* One field: its type, format and bytes, pointing into a result (valid
 * while the result is). */
typedef struct cio_pg_value {
    uint32_t type;    /* type OID (CIO_PG_INT4, ...) */
    int format;       /* 1 binary (results), 0 text */
    int len;          /* bytes at data; -1 for SQL NULL */
    const char *data; /* the bytes; NULL for SQL NULL */
} cio_pg_value;

/* ---- queries ------------------------------------------------------------ */

/*
 * Connection.execute: runs one SQL statement with nparams parameters
 * (params may be NULL when nparams is 0) and returns the number of rows it
 * affected (INSERT/UPDATE/DELETE/SELECT/COPY; 0 for other commands),
 * capped at INT32_MAX.  The statement is prepared and cached (see
 * cio_pg_conn_options).  One statement per call (the extended protocol).
 * Errors: CIO_EPG (see cio_pg_last_error), -ECONNRESET, CIO_ECLOSED,
 * -ECANCELED, -ETIMEDOUT, -EINVAL, -ENOMEM, CIO_ENOTASK.  Suspends.
 */
CIO_EXTERN int cio_pg_execute(cio_pg_conn *conn, const char *sql,
                              const cio_pg_param *params, int nparams);

/*
 * Connection.fetch: runs a query and returns all its rows in *out, which
 * the caller frees with cio_pg_result_free().  Errors as cio_pg_execute
 * (then *out is NULL).  Suspends.
 */
CIO_EXTERN int cio_pg_fetch(cio_pg_conn *conn, const char *sql,
                            const cio_pg_param *params, int nparams, cio_pg_result **out);

/*
 * Connection.fetchrow: as cio_pg_fetch, returning 1 if the query gave at
 * least one row (read row 0 of *out), 0 if none (*out NULL).  Suspends.
 */
CIO_EXTERN int cio_pg_fetchrow(cio_pg_conn *conn, const char *sql,
                               const cio_pg_param *params, int nparams, cio_pg_result **out);

/*
 * Connection.fetchval: the first column of the first row.  Returns 1 and
 * fills *value (pointing into *res, which the caller frees with
 * cio_pg_result_free; value stays valid until then), or 0 if there was no
 * row (*res NULL).  Errors as cio_pg_execute.  Suspends.
 */
CIO_EXTERN int cio_pg_fetchval(cio_pg_conn *conn, const char *sql,
                               const cio_pg_param *params, int nparams,
                               cio_pg_result **res, cio_pg_value *value);

/*
 * Connection.executemany: runs sql once per row of parameters, all in one
 * round trip (one pipeline segment, one Sync): params holds nrows rows of
 * nparams each.  Atomic as asyncpg's: if one row fails, none takes effect.
 * A batch bigger than the socket takes is sent in chunks of about 7 KiB,
 * the task waiting for the socket between them (the server's answers are
 * read meanwhile); other tasks' queries on the connection wait until the
 * whole batch is in the pipeline.  Cancelled (or timed out) midway, the
 * batch is ended with a statement that fails, so none of it takes effect,
 * and the connection stays usable.  Returns the total rows affected
 * (capped at INT32_MAX).  Errors as cio_pg_execute.  Suspends.
 */
CIO_EXTERN int cio_pg_executemany(cio_pg_conn *conn, const char *sql,
                                  const cio_pg_param *params, int nparams, int nrows);

/* ---- streamed rows (cursors) -------------------------------------------- */

/*
 * Connection.cursor(): starts sql (with nparams parameters, as
 * cio_pg_fetch) and hands its rows out one at a time through
 * cio_pg_cursor_aiter(), as asyncpg's `async for record in
 * conn.cursor(sql)`.  Rows are read in libpq's single-row mode into a
 * buffer of prefetch rows (0: 256); while it is full the connection stops
 * reading, so memory stays bounded whatever the result's size.
 *
 * The query takes its place in the connection's pipeline like any other:
 * queries other tasks sent before it are answered first, those sent after
 * it wait until its last row has been read (or the cursor closed), and
 * while a slow consumer holds the buffer full they wait too.  The task
 * that opened the cursor must not run another query on conn while the
 * cursor's query is in flight (it would wait for rows only this task
 * reads): such a query fails with -EDEADLK.  Use a second connection, or
 * read the cursor to its end (or close it) first.
 *
 * The caller owns *out: cio_pg_cursor_free().  Errors of the query itself
 * (a bad statement, an error after some rows) come from the iterator's
 * next; open fails only with: -EDEADLK (this task already streams on
 * conn), CIO_ECLOSED, -ECONNRESET, CIO_EPG (the connection failed while
 * sending), -ECANCELED / -ETIMEDOUT (while waiting behind a COPY),
 * -EINVAL, -ENOMEM.  Suspends only while a COPY holds the connection.
 */
CIO_EXTERN int cio_pg_cursor_open(cio_pg_conn *conn, const char *sql, const cio_pg_param *params,
                                  int nparams, size_t prefetch, cio_pg_cursor **out);

/*
 * The cursor's rows as an asynchronous iterator (CIO_FOR): each item is a
 * cio_pg_result * holding one row (read row 0 with cio_pg_result_get),
 * owned by the cursor and valid until the next next() or
 * cio_pg_cursor_free() - do not free it.  next returns CIO_ITER_END after
 * the last row; CIO_EPG if the query failed, after the rows that came
 * before the error (cio_pg_last_error() has it); -ECONNRESET / CIO_ECLOSED
 * if the connection was lost or freed; -ECANCELED / -ETIMEDOUT (the
 * cursor stays open: close or free it).  aclose is cio_pg_cursor_close.
 * The iterator lives inside cur; NULL if cur is NULL.  Does not suspend
 * (next does).
 */
CIO_EXTERN cio_aiter *cio_pg_cursor_aiter(cio_pg_cursor *cur);

/*
 * Stops the iteration early (the `break` out of `async for`): the rows
 * not read yet are dropped as they arrive and, if no other query follows
 * this one on the connection, a cancel request stops the server from
 * sending the rest.  Later next calls return CIO_ITER_END.  Returns 0
 * (-EINVAL for NULL); a no-op after the end or a second time.  Does not
 * suspend.
 */
CIO_EXTERN int cio_pg_cursor_close(cio_pg_cursor *cur);

/* Closes the cursor (cio_pg_cursor_close) and frees it, with the row
 * handed out last.  NULL is a no-op.  Does not suspend. */
CIO_EXTERN void cio_pg_cursor_free(cio_pg_cursor *cur);

/* ---- COPY ---------------------------------------------------------------- */

/*
 * A COPY FROM's data source: stores the next chunk in *data / *len (any
 * size, rows may span chunks; valid until the next call) and returns 1;
 * returns 0 at the end of the data, or a negative code to abandon the
 * COPY.  May suspend.
 */
typedef int cio_pg_copy_source_fn(void *arg, const void **data, size_t *len);

/*
 * A COPY TO's sink: gets each chunk PostgreSQL sends (one row in text and
 * CSV formats; in binary, the header comes with the first row), valid
 * only during the call.  Returns >= 0 to go on, a negative code to stop
 * the COPY.  May suspend.
 */
typedef int cio_pg_copy_sink_fn(void *arg, const void *data, size_t len);

/*
 * Connection.copy_to_table: runs sql, a `COPY table [(cols)] FROM STDIN
 * [WITH (FORMAT text|csv|binary)]`, with the data source() gives, and
 * returns the rows copied (capped at INT32_MAX).  The bytes go to the
 * server as they are, in the statement's format.
 *
 * PostgreSQL has no COPY in pipeline mode, so the COPY holds the
 * connection alone: it waits until the queries already in the pipeline
 * are answered, and queries other tasks issue meanwhile wait until it is
 * over (a query from inside source() fails with -EDEADLK).  At most 256
 * KiB wait in libpq's buffer: source is not called again until the socket
 * has taken them.
 *
 * If source returns a negative code, or the task is cancelled or times
 * out, the COPY is abandoned (the server stores none of its rows; the
 * connection stays usable) and that code is returned.  Errors: CIO_EPG
 * (the server refused the statement or the data: cio_pg_last_error(); or
 * sql is not a COPY ... FROM STDIN, SQLSTATE 42601), -ECONNRESET,
 * CIO_ECLOSED (freed meanwhile), -EDEADLK (this task's cursor streams on
 * conn), -ECANCELED, -ETIMEDOUT, -EINVAL, -ENOMEM.  Suspends.
 */
CIO_EXTERN int cio_pg_copy_in(cio_pg_conn *conn, const char *sql, cio_pg_copy_source_fn *source,
                              void *arg);

/* As cio_pg_copy_in with the len bytes at data (the caller's, read
 * during the call). */
CIO_EXTERN int cio_pg_copy_in_buffer(cio_pg_conn *conn, const char *sql, const void *data,
                                     size_t len);

/* A chunk of COPY data, the item of cio_pg_copy_in_aiter's iterator. */
typedef struct cio_pg_copy_chunk {
    const void *data; /* the bytes (the producer's, until its next item) */
    size_t len;       /* how many */
} cio_pg_copy_chunk;

/*
 * As cio_pg_copy_in with the data from an asynchronous iterator whose
 * items are cio_pg_copy_chunk * (a generator yielding chunks, a queue):
 * the COPY ends when it does (CIO_ITER_END); an error from its next
 * abandons the COPY and is returned.  If the COPY ends before the
 * iterator does (an error, a cancellation), the iterator is closed
 * (cio_aiter_aclose, shielded).  Errors as cio_pg_copy_in; -EINVAL for a
 * NULL iterator or item.  Suspends.
 */
CIO_EXTERN int cio_pg_copy_in_aiter(cio_pg_conn *conn, const char *sql, cio_aiter *it);

/*
 * Connection.copy_from_query / copy_from_table: runs sql, a `COPY table
 * TO STDOUT` or `COPY (query) TO STDOUT [WITH (FORMAT ...)]`, and hands
 * the data to sink chunk by chunk; returns the rows copied (capped at
 * INT32_MAX).  Holds the connection as cio_pg_copy_in does; the socket is
 * read only when sink has taken every complete row, so a slow sink bounds
 * the memory.  If sink returns a negative code, or the task is cancelled
 * or times out, a cancel request stops the server, the rest is read away
 * (the connection stays usable) and that code is returned.  Errors as
 * cio_pg_copy_in (42601 for a statement that is not COPY ... TO STDOUT).
 * Suspends.
 */
CIO_EXTERN int cio_pg_copy_out(cio_pg_conn *conn, const char *sql, cio_pg_copy_sink_fn *sink,
                               void *arg);

/*
 * COPY ... TO STDOUT as an asynchronous iterator (the pull side of
 * cio_pg_copy_out): runs sql and returns a reader whose chunks
 * cio_pg_copy_reader_aiter() hands out.  The COPY holds the connection
 * (as cio_pg_copy_out) from this call until the iteration ends or
 * cio_pg_copy_reader_close(); meanwhile the calling task's own queries on
 * conn fail with -EDEADLK and other tasks' wait.  The socket is read only
 * when the consumer asks for more, so a slow consumer bounds the memory.
 * The caller owns *out: cio_pg_copy_reader_close(), then
 * cio_pg_copy_reader_free().  Errors as cio_pg_copy_out.  Suspends.
 */
CIO_EXTERN int cio_pg_copy_out_open(cio_pg_conn *conn, const char *sql,
                                    cio_pg_copy_reader **out);

/*
 * The reader's chunks (CIO_FOR): each item is a cio_pg_copy_chunk * (one
 * row in text and CSV formats), owned by the reader and valid until the
 * next next() or close.  next returns CIO_ITER_END after the last chunk
 * (the connection is given back then), CIO_EPG if the server failed the
 * COPY, -ECONNRESET / CIO_ECLOSED; -ECANCELED / -ETIMEDOUT leave the COPY
 * open (close the reader).  aclose is cio_pg_copy_reader_close.  NULL if
 * rd is NULL.  Does not suspend (next does).
 */
CIO_EXTERN cio_aiter *cio_pg_copy_reader_aiter(cio_pg_copy_reader *rd);

/*
 * Ends the COPY and gives the connection back.  Stopped early, the COPY is
 * cancelled on the server and the rest read away, shielded (it works in a
 * cancelled task).  Returns the COPY's outcome: the rows copied if it ran
 * to its end, 0 if it was stopped early, or the error that ended it; again
 * the same on a second call.  -EINVAL for NULL.  Suspends.
 */
CIO_EXTERN int cio_pg_copy_reader_close(cio_pg_copy_reader *rd);

/* Frees the reader.  One still open (not closed, not at its end) cannot
 * be ended without waiting: its connection is dropped (-ECONNRESET for
 * its users) and an error logged.  NULL is a no-op.  Does not suspend. */
CIO_EXTERN void cio_pg_copy_reader_free(cio_pg_copy_reader *rd);

/* ---- results ------------------------------------------------------------ */

/* Frees a result.  NULL is a no-op. */
CIO_EXTERN void cio_pg_result_free(cio_pg_result *res);
/* Rows / columns of a result (0 for NULL). */
CIO_EXTERN int cio_pg_result_nrows(const cio_pg_result *res);
CIO_EXTERN int cio_pg_result_ncols(const cio_pg_result *res);
/* A column's name (NULL if col is out of range); valid while res is. */
CIO_EXTERN const char *cio_pg_result_column_name(const cio_pg_result *res, int col);
/* The index of the column named name, or -ENOENT (-EINVAL for NULLs). */
CIO_EXTERN int cio_pg_result_column_index(const cio_pg_result *res, const char *name);
/* A column's type OID, or 0 if out of range. */
CIO_EXTERN uint32_t cio_pg_result_column_type(const cio_pg_result *res, int col);

/*
 * Field (row, col) of res into *out (pointing into res).  Errors: -ERANGE
 * (row or col out of range), -EINVAL (NULL).  Never suspends.
 */
CIO_EXTERN int cio_pg_result_get(const cio_pg_result *res, int row, int col, cio_pg_value *out);

/* As cio_pg_result_get for the column named name; -ENOENT if none. */
CIO_EXTERN int cio_pg_result_get_by_name(const cio_pg_result *res, int row, const char *name,
                                         cio_pg_value *out);

/* 1 if the value is SQL NULL (or v is NULL), else 0. */
CIO_EXTERN int cio_pg_value_is_null(const cio_pg_value *v);

/*
 * Decoders.  Each returns 0 and stores the value, or: -ENODATA for SQL
 * NULL, -EPROTOTYPE when the value's type does not convert (e.g. text to
 * cio_pg_value_int64), -EBADMSG for malformed bytes, -EINVAL for NULL
 * arguments.  Text-format values are parsed.
 *
 * cio_pg_value_bool:    bool.
 * cio_pg_value_int64:   int2, int4, int8, oid.
 * cio_pg_value_double:  float4, float8, int2/4/8, numeric.
 * cio_pg_value_text:    text, varchar, name, bpchar, json, jsonb (the JSON
 *                       text), and text-format values of any type: a
 *                       pointer into the result (NUL-terminated) and its
 *                       length (len may be NULL).
 * cio_pg_value_bytes:   bytea (any type's raw bytes).
 * cio_pg_value_uuid:    uuid, 16 bytes.
 * cio_pg_value_date:    date, as days since 1970-01-01 (may be negative).
 * cio_pg_value_timestamp: timestamp / timestamptz, as microseconds since
 *                       1970-01-01 00:00 (UTC for timestamptz).
 */
CIO_EXTERN int cio_pg_value_bool(const cio_pg_value *v, int *out);
CIO_EXTERN int cio_pg_value_int64(const cio_pg_value *v, int64_t *out);
CIO_EXTERN int cio_pg_value_double(const cio_pg_value *v, double *out);
CIO_EXTERN int cio_pg_value_text(const cio_pg_value *v, const char **out, size_t *len);
CIO_EXTERN int cio_pg_value_bytes(const cio_pg_value *v, const void **out, size_t *len);
CIO_EXTERN int cio_pg_value_uuid(const cio_pg_value *v, unsigned char out[16]);
CIO_EXTERN int cio_pg_value_date(const cio_pg_value *v, int32_t *out);
CIO_EXTERN int cio_pg_value_timestamp(const cio_pg_value *v, int64_t *out);

/*
 * Renders the value as PostgreSQL's text output would (numeric digits,
 * "2024-01-31", "2024-01-31 12:00:00.5", uuid, "{1,2,NULL}", bytea as
 * "\x..."), NUL-terminated into buf (cap bytes, truncated to fit), and
 * returns the length the full text needs (as snprintf).  SQL NULL gives
 * "NULL".  Errors: -EPROTOTYPE (a type cio does not decode), -EBADMSG,
 * -EINVAL.
 */
CIO_EXTERN int cio_pg_value_format(const cio_pg_value *v, char *buf, size_t cap);

/*
 * One-dimensional arrays: cio_pg_value_array_len returns the number of
 * elements (0 for an empty array), -EPROTOTYPE if v is not a
 * one-dimensional binary array, -ENODATA for NULL; cio_pg_value_array_get
 * fills *out with element i (its type is the element type; it may be SQL
 * NULL), -ERANGE if i is out of range.
 */
CIO_EXTERN int cio_pg_value_array_len(const cio_pg_value *v);
CIO_EXTERN int cio_pg_value_array_get(const cio_pg_value *v, int i, cio_pg_value *out);

/* ---- errors ------------------------------------------------------------- */

/*
 * The server error (or connection failure) of the calling thread's latest
 * cio_pg call that returned CIO_EPG, or NULL if that call had none.  Owned
 * by cio; valid until the calling task's next cio_pg call or suspension
 * point (tasks switch only there, so read it right after the failing
 * call).
 */
CIO_EXTERN const cio_pg_error *cio_pg_last_error(void);

/* The fields of an error (asyncpg's PostgresError attributes); each "" if
 * the server did not send it, NULL for a NULL error.  The SQLSTATE is five
 * characters ("23505" unique_violation, "57014" query_canceled ...). */
CIO_EXTERN const char *cio_pg_error_sqlstate(const cio_pg_error *e);
CIO_EXTERN const char *cio_pg_error_message(const cio_pg_error *e);
CIO_EXTERN const char *cio_pg_error_detail(const cio_pg_error *e);
CIO_EXTERN const char *cio_pg_error_hint(const cio_pg_error *e);
CIO_EXTERN const char *cio_pg_error_severity(const cio_pg_error *e);

/* ---- transactions ------------------------------------------------------- */

/* Isolation levels (0: the server's default). */
enum {
    CIO_PG_DEFAULT_ISOLATION = 0,
    CIO_PG_READ_COMMITTED = 1,
    CIO_PG_REPEATABLE_READ = 2,
    CIO_PG_SERIALIZABLE = 3
};

/* Options of a transaction (zero-initialise: defaults). */
typedef struct cio_pg_transaction_options {
    int isolation;  /* CIO_PG_*_ISOLATION / _READ_COMMITTED ... */
    int readonly;   /* READ ONLY */
    int deferrable; /* DEFERRABLE (with serializable read-only) */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_pg_transaction_options;

/*
 * Connection.transaction(): starts a transaction (BEGIN with opts) or,
 * inside one already open on conn, a savepoint (opts ignored).  *out is
 * the scope; end it with cio_pg_transaction_commit or
 * cio_pg_transaction_rollback, innermost first.  opts may be NULL.
 * Errors as cio_pg_execute; -EINVAL.  Suspends.
 */
CIO_EXTERN int cio_pg_transaction_begin(cio_pg_conn *conn, const cio_pg_transaction_options *opts,
                                        cio_pg_transaction **out);

/*
 * Commits the transaction (or releases the savepoint) and frees tx.  If
 * the calling task is being cancelled or its timeout expired, it rolls
 * back instead and returns -ECANCELED / -ETIMEDOUT; if COMMIT fails, the
 * transaction is rolled back and the error returned.  Either way tx is
 * freed.  Suspends (shielded: the rollback completes even in a cancelled
 * task).
 */
CIO_EXTERN int cio_pg_transaction_commit(cio_pg_transaction *tx);

/*
 * Rolls the transaction (or to the savepoint) back and frees tx.  Runs
 * shielded, so it works in a task being cancelled: the `async with`'s
 * exit on error or cancellation.  Returns 0 or the rollback's error.
 * Suspends.
 */
CIO_EXTERN int cio_pg_transaction_rollback(cio_pg_transaction *tx);

/*
 * `async with conn.transaction(): fn()`: begins, runs fn(arg, result) in
 * the calling task, commits if it returned >= 0, else rolls back and
 * returns fn's code; a cancellation during fn rolls back.  Suspends.
 */
CIO_EXTERN int cio_pg_transaction_run(cio_pg_conn *conn, const cio_pg_transaction_options *opts,
                                      cio_coro_fn *fn, void *arg, void **result);

/* ---- pool --------------------------------------------------------------- */

/* Pool options; fill with cio_pg_pool_options_init(). */
typedef struct cio_pg_pool_options {
    size_t min_size;        /* connections opened by cio_pg_pool_new and kept
                               (asyncpg: 10) */
    size_t max_size;        /* connections at most (asyncpg: 10) */
    double max_lifetime;    /* seconds a connection serves before it is
                               replaced; 0: forever */
    double max_inactive;    /* seconds an idle connection above min_size
                               stays open; 0: forever */
    cio_pg_conn_options conn;  /* for each connection */
    CIO_OPTIONS_RESERVED /* zeroed: room for later fields */
} cio_pg_pool_options;

/* Fills *opts with the defaults (min 10, max 10, no lifetime limits,
 * connection defaults).  NULL is a no-op. */
CIO_EXTERN void cio_pg_pool_options_init(cio_pg_pool_options *opts);

/*
 * asyncpg.create_pool: a pool of connections to conninfo (copied), opening
 * min_size of them now.  The caller owns *out: cio_pg_pool_close(), then
 * cio_pg_pool_free().
 * Errors: those of cio_pg_connect; -EINVAL (max_size 0 or < min_size).
 * Suspends.
 */
CIO_EXTERN int cio_pg_pool_new(const char *conninfo, const cio_pg_pool_options *opts,
                               cio_pg_pool **out);

/*
 * Pool.acquire: a connection for the calling task, waiting up to timeout
 * seconds (< 0: without limit) while max_size are in use.  An idle
 * connection that was lost (backend terminated, server restarted) or
 * outlived max_lifetime is replaced by a new one.  Give it back with
 * cio_pg_pool_release().  Errors: -ETIMEDOUT, CIO_ECLOSED (pool closing),
 * cio_pg_connect's errors, -ECANCELED.  Suspends.
 */
CIO_EXTERN int cio_pg_pool_acquire(cio_pg_pool *pool, double timeout, cio_pg_conn **out);

/*
 * Pool.release: gives conn back.  Its state is reset: an open transaction
 * is rolled back, LISTENs are dropped (UNLISTEN *); a lost or expired
 * connection, or one whose cursor still streams, is closed instead.  Runs shielded, so a cancelled task still
 * returns its connection.  Returns 0; -EINVAL if conn is not from pool.
 * Suspends.
 */
CIO_EXTERN int cio_pg_pool_release(cio_pg_pool *pool, cio_pg_conn *conn);

/*
 * Pool.close: refuses new acquires (CIO_ECLOSED), waits until every
 * connection in use is released, and closes them all; the pool itself
 * stays until cio_pg_pool_free.  Suspends; if cancelled while waiting it
 * returns -ECANCELED and the pool stays open but refuses acquires (call it
 * again to finish).  Errors: -EINVAL (NULL).
 */
CIO_EXTERN int cio_pg_pool_close(cio_pg_pool *pool);

/*
 * Pool.terminate, then frees the pool: idle connections are closed at
 * once.  Freeing a pool while connections are acquired is a bug: it is
 * logged as an error and the pool is left alone (leaked).  NULL is a
 * no-op.  Does not suspend.
 */
CIO_EXTERN void cio_pg_pool_free(cio_pg_pool *pool);

/* Connections open (idle and in use), and idle ones. */
CIO_EXTERN size_t cio_pg_pool_size(const cio_pg_pool *pool);
CIO_EXTERN size_t cio_pg_pool_idle(const cio_pg_pool *pool);

/* ---- LISTEN / NOTIFY ---------------------------------------------------- */

/* A notification (asyncpg's listener callback arguments). */
typedef struct cio_pg_notify {
    const char *channel; /* the channel */
    const char *payload; /* the payload ("" if none) */
    int pid;             /* the notifying backend's process id */
} cio_pg_notify;

/*
 * The notifications that conn receives (after a LISTEN on it), as an
 * asynchronous iterator: each item is a cio_pg_notify * that the consumer
 * frees with cio_pg_notify_free().  The iteration ends (CIO_ITER_END) when
 * the connection is closed or lost.  Notifications received before the
 * first call are kept.  The pointer lives inside conn (valid while conn
 * is); NULL if conn is NULL.  next's errors: -ENOMEM, -ECANCELED...  Does
 * not suspend (next does).
 */
CIO_EXTERN cio_aiter *cio_pg_notify_aiter(cio_pg_conn *conn);

/* Frees a notification.  NULL is a no-op. */
CIO_EXTERN void cio_pg_notify_free(cio_pg_notify *n);

#ifdef __cplusplus
}
#endif
#endif
