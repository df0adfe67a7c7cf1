/*
 * cursor.c - streamed queries (asyncpg's `async for record in
 * conn.cursor(...)`): the rows of one query handed out one at a time
 * through a cio_aiter, with a bounded buffer between the connection's
 * reader and the consumer.
 *
 * The query is an ordinary pipeline segment (query.c) marked `stream`:
 * the reader (conn.c) switches libpq to single-row mode for its Execute
 * (libpq 15 has no chunked mode, PQsetChunkedRowsMode is libpq 17) and
 * hands each row, a one-row PGresult, to the cursor's ring.  When the ring
 * is full the reader stops (the connection's reader is removed), so the
 * rows wait in the socket and then in the server: memory stays bounded by
 * the prefetch.  The consumer's next() turns the reader back on once the
 * ring is half empty.
 *
 * The segment keeps its place in the pipeline: other tasks' queries sent
 * before it are answered before its first row, those sent after it once
 * its last row is read.  A cursor closed early detaches from its segment,
 * whose remaining rows the reader then drops; if nothing else is queued
 * behind it, a cancel request (cancel.c) also stops the server from
 * producing the rest.  The task that opened a cursor must not run another
 * query on the same connection while the cursor's query is in flight: that
 * query would wait behind rows only this task consumes, so it fails with
 * -EDEADLK (query.c) instead of hanging.
 */
#include "pgint.h"

struct cio_pg_cursor {
    cio_pg_conn *conn;          /* a reference, dropped by cio_pg_cursor_free */
    struct pgreq *req;          /* the segment in flight; NULL once it
                                   finished or the cursor closed early */
    cio_task *owner;            /* the task that opened it (deadlock check) */
    struct cio_pg_cursor *next; /* conn->cursors, while req is set */
    PGresult **ring;            /* rows received and not handed out yet */
    size_t cap;                 /* ring slots (the prefetch) */
    size_t first, count;        /* the oldest row's slot, rows in the ring */
    PGresult *current;          /* the row handed out last, freed by the
                                   next call */
    cio_future *waiter;         /* next() waiting for a row, or NULL */
    int done;                   /* the query ended (rows may remain) */
    int rc;                     /* then: 0, CIO_EPG, -ECONNRESET, CIO_ECLOSED */
    PGresult *err;              /* the server's error when rc is CIO_EPG */
    int closed;                 /* cio_pg_cursor_close ran */
    cio_aiter iter;             /* what cio_pg_cursor_aiter hands out */
};

enum { DEFAULT_PREFETCH = 256 };

static void unlink_cursor(struct cio_pg_cursor *cur)
{
    for (struct cio_pg_cursor **pp = &cur->conn->cursors; *pp; pp = &(*pp)->next)
        if (*pp == cur) {
            *pp = cur->next;
            break;
        }
    cur->next = NULL;
}

static void wake(struct cio_pg_cursor *cur)
{
    if (cur->waiter && !cio_future_done(cur->waiter))
        cio_future_set_result(cur->waiter, NULL);
}

int cio__pg_cursor_full(const struct cio_pg_cursor *cur)
{
    return cur->count >= cur->cap;
}

void cio__pg_cursor_push(struct cio_pg_cursor *cur, PGresult *row)
{
    /* The reader checks for room before it takes a row. */
    cur->ring[(cur->first + cur->count) % cur->cap] = row;
    cur->count++;
    wake(cur);
}

void cio__pg_cursor_finish(struct cio_pg_cursor *cur, struct pgreq *req, int code)
{
    if (code == 0 && req->err) {
        cur->err = req->err; /* an error mid-stream, after the rows before it */
        req->err = NULL;
        code = CIO_EPG;
    }
    cur->rc = code;
    cur->done = 1;
    req->cur = NULL;
    cur->req = NULL;
    unlink_cursor(cur);
    wake(cur);
}

int cio__pg_cursor_owned(cio_pg_conn *c)
{
    if (!c->cursors)
        return 0;
    cio_task *me = cio_current_task();
    for (struct cio_pg_cursor *k = c->cursors; k; k = k->next)
        if (k->owner == me)
            return 1;
    return 0;
}

static void drop_rows(struct cio_pg_cursor *cur)
{
    PQclear(cur->current);
    cur->current = NULL;
    while (cur->count) {
        PQclear(cur->ring[cur->first]);
        cur->first = (cur->first + 1) % cur->cap;
        cur->count--;
    }
}

static int cursor_next(void *self, void **value)
{
    struct cio_pg_cursor *cur = self;
    cio_pg_conn *c = cur->conn;
    PQclear(cur->current);
    cur->current = NULL;
    if (cur->closed)
        return CIO_ITER_END;
    while (cur->count == 0) {
        if (cur->done) {
            if (cur->rc == CIO_EPG && cur->err)
                cio__pg_set_error_result(cur->err);
            return cur->rc < 0 ? cur->rc : CIO_ITER_END;
        }
        int rc = cio_future_new(c->loop, &cur->waiter);
        if (rc < 0)
            return rc;
        rc = cio_await(cur->waiter, NULL);
        cio_future_unref(cur->waiter);
        cur->waiter = NULL;
        if (rc < 0)
            return rc;
    }
    cur->current = cur->ring[cur->first];
    cur->first = (cur->first + 1) % cur->cap;
    cur->count--;
    *value = cur->current;
    /* Half empty: let the reader fill it again in one go rather than
     * row by row. */
    if (c->rd_paused && cur->req && cur->count <= cur->cap / 2)
        cio__pg_conn_resume(c);
    return 0;
}

static int cursor_aclose(void *self)
{
    return cio_pg_cursor_close(self);
}

static const cio_aiter_ops cursor_ops = {.next = cursor_next, .aclose = cursor_aclose};

int cio_pg_cursor_open(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                       size_t prefetch, cio_pg_cursor **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!c || !sql || nparams < 0 || (nparams > 0 && !params) || nparams > 65535 ||
        prefetch > (1u << 24))
        return -EINVAL;
    for (int i = 0; i < nparams; i++)
        if (params[i].format != 0 && params[i].format != 1)
            return -EINVAL;
    cio__pg_clear_error();
    if (c->closed)
        return CIO_ECLOSED;
    cio__pg_conn_ref(c);
    struct cio_pg_cursor *cur = cio__calloc(1, sizeof *cur);
    struct pgreq *req = cio__calloc(1, sizeof *req);
    int rc = -ENOMEM;
    if (!cur || !req)
        goto fail;
    cur->conn = c;
    cur->cap = prefetch ? prefetch : DEFAULT_PREFETCH;
    if (!(cur->ring = cio__malloc(cur->cap * sizeof *cur->ring)))
        goto fail;
    /* The turn can suspend (behind a COPY); nothing is sent before it. */
    if ((rc = cio__pg_wait_turn(c)) < 0)
        goto fail;
    req->stream = 1;
    req->cur = cur;
    if ((rc = cio__pg_send(c, req, sql, params, nparams, 1)) < 0)
        goto fail;
    cur->req = req;
    cur->owner = cio_current_task();
    cur->next = c->cursors;
    c->cursors = cur;
    cio_aiter_init(&cur->iter, &cursor_ops, cur);
    *out = cur;
    return 0;
fail:
    if (req) {
        req->cur = NULL;
        cio__pg_req_free(c, req);
    }
    if (cur)
        cio__free(cur->ring);
    cio__free(cur);
    cio__pg_conn_unref(c);
    return rc;
}

cio_aiter *cio_pg_cursor_aiter(cio_pg_cursor *cur)
{
    return cur ? &cur->iter : NULL;
}

int cio_pg_cursor_close(cio_pg_cursor *cur)
{
    if (!cur)
        return -EINVAL;
    if (cur->closed)
        return 0;
    cur->closed = 1;
    drop_rows(cur);
    cio_pg_conn *c = cur->conn;
    struct pgreq *req = cur->req;
    if (req) {
        /* Detach: the reader drops the rest of the rows (req->stream stays
         * set, so it stays in single-row mode and never buffers them). */
        req->cur = NULL;
        cur->req = NULL;
        unlink_cursor(cur);
        cur->done = 1;
        cur->rc = 0;
        /* Stopping the server is safe only if nothing else follows in the
         * pipeline: a cancel landing after this query would hit the next
         * one.  (The connection holds its flush until the request is
         * delivered, see cancel.c.) */
        if (!c->closed && !c->broken && c->head == req && !req->next)
            cio__pg_cancel_soon(c);
        cio__pg_conn_resume(c);
    }
    wake(cur);
    return 0;
}

void cio_pg_cursor_free(cio_pg_cursor *cur)
{
    if (!cur)
        return;
    cio_pg_cursor_close(cur);
    PQclear(cur->err);
    cio__pg_conn_unref(cur->conn);
    cio__free(cur->ring);
    cio__free(cur);
}
