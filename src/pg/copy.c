/*
 * copy.c - COPY ... FROM STDIN and COPY ... TO STDOUT (asyncpg's
 * copy_to_table / copy_from_query), text, CSV or binary: the bytes are the
 * caller's, cio only carries them.  COPY FROM takes them from a callback,
 * a buffer or an async iterator; COPY TO hands them to a callback or,
 * pulled, through a reader's iterator (the last section).
 *
 * PostgreSQL does not allow COPY in pipeline mode, so a COPY takes the
 * connection for itself:
 *   1. it holds the gate (conn->exclusive): queries other tasks issue from
 *      now on wait in cio__pg_wait_turn instead of entering the pipeline;
 *   2. it sends a bare Sync and waits for it, so every query already in
 *      the pipeline has been answered (again if more slipped in);
 *   3. it leaves pipeline mode, turns the pipeline's reader off and drives
 *      the socket itself: PQputCopyData / PQgetCopyData in non-blocking
 *      mode, waiting for readiness through its own add_reader/add_writer;
 *   4. it re-enters pipeline mode, turns the reader on and opens the gate.
 * Memory stays bounded: COPY FROM waits until libpq's buffer is flushed
 * every FLUSH_EVERY bytes; COPY TO reads the socket only when libpq has no
 * complete row left.
 *
 * Cancellation (or a callback's error) mid-COPY leaves the connection in
 * step, shielded: COPY FROM ends with PQputCopyEnd(errormsg), which makes
 * the server abort the COPY (no row is stored); COPY TO sends a cancel
 * request and reads the rest away.
 */
#include <limits.h>
#include <stdlib.h>

#include "pgint.h"

enum { FLUSH_EVERY = 256 * 1024 };

/* ---- waiting for the socket ---------------------------------------------- */

static void io_ready(void *arg)
{
    cio_future *f = arg;
    if (!cio_future_done(f))
        cio_future_set_result(f, NULL);
}

/* Suspends until the socket is readable (write 0) or writable (1).
 * cio_pg_free wakes it with CIO_ECLOSED (and removes the registration). */
static int wait_io(cio_pg_conn *c, int write)
{
    if (c->closed)
        return CIO_ECLOSED;
    cio_future *f;
    int rc = cio_future_new(c->loop, &f);
    if (rc < 0)
        return rc;
    rc = write ? cio_loop_add_writer(c->loop, c->fd, io_ready, f)
               : cio_loop_add_reader(c->loop, c->fd, io_ready, f);
    if (rc >= 0) {
        c->io_wait = f;
        rc = cio_await(f, NULL);
        if (!c->closed) {
            c->io_wait = NULL;
            if (write)
                cio_loop_remove_writer(c->loop, c->fd);
            else
                cio_loop_remove_reader(c->loop, c->fd);
        }
    }
    cio_future_unref(f);
    return c->closed ? CIO_ECLOSED : rc;
}

/* A libpq call failed: the connection is unusable. */
static int lost(cio_pg_conn *c)
{
    if (c->closed)
        return CIO_ECLOSED;
    cio__pg_set_error_msg("08006", PQerrorMessage(c->pg));
    c->copy_mode = 0; /* nothing to go back to */
    cio__pg_conn_lost(c);
    return -ECONNRESET;
}

/* Flushes libpq's output buffer completely. */
static int flush_all(cio_pg_conn *c)
{
    for (;;) {
        int f = PQflush(c->pg);
        if (f == 0)
            return 0;
        if (f < 0)
            return lost(c);
        int rc = wait_io(c, 1);
        if (rc < 0)
            return rc;
    }
}

/* The next result (NULL: the command is over), waiting for input. */
static int get_result(cio_pg_conn *c, PGresult **out)
{
    while (PQisBusy(c->pg)) {
        int rc = wait_io(c, 0);
        if (rc < 0)
            return rc;
        if (!PQconsumeInput(c->pg))
            return lost(c);
    }
    *out = PQgetResult(c->pg);
    return 0;
}

/* Reads the COPY's final results: rows copied, or CIO_EPG with the error
 * recorded. */
static int finish_results(cio_pg_conn *c)
{
    int64_t rows = 0;
    PGresult *err = NULL;
    for (;;) {
        PGresult *res;
        int rc = get_result(c, &res);
        if (rc < 0) {
            PQclear(err);
            return rc;
        }
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN) {
            /* Only after a failed PQputCopyEnd; end it once more. */
            PQputCopyEnd(c->pg, "COPY abandoned");
            PQclear(res);
            if ((rc = flush_all(c)) < 0) {
                PQclear(err);
                return rc;
            }
            continue;
        }
        if (st == PGRES_COPY_OUT) {
            PQclear(res);
            return lost(c); /* cannot happen after the data ended */
        }
        if (st == PGRES_FATAL_ERROR && !err) {
            err = res;
            continue;
        }
        const char *n = PQcmdTuples(res);
        if (n && *n)
            rows += strtoll(n, NULL, 10);
        PQclear(res);
    }
    if (err) {
        cio__pg_set_error_result(err);
        PQclear(err);
        return CIO_EPG;
    }
    return rows > INT_MAX ? INT_MAX : (int)rows;
}

/* ---- taking the connection and giving it back ----------------------------- */

/* Steps 1-3 of the file comment. */
static int take(cio_pg_conn *c)
{
    int rc = cio__pg_wait_turn(c);
    if (rc < 0)
        return rc;
    c->exclusive = 1;
    c->copy_owner = cio_current_task();
    /* Wait until the pipeline is empty. */
    while (c->head) {
        struct pgreq *req = cio__calloc(1, sizeof *req);
        if (!req)
            return -ENOMEM;
        if ((rc = cio_future_new(c->loop, &req->fut)) < 0) {
            cio__free(req);
            return rc;
        }
        if (!PQpipelineSync(c->pg)) {
            cio__pg_req_free(c, req);
            return lost(c);
        }
        cio__pg_conn_push(c, req);
        cio__pg_conn_schedule_flush(c);
        cio_future *fut = req->fut;
        cio_future_ref(fut);
        rc = cio_await(fut, NULL);
        if (rc < 0 && !cio_future_done(fut))
            cio_future_cancel(fut, NULL); /* cancelled before it parked: as query.c */
        int cancelled = cio_future_cancelled(fut);
        cio_future_unref(fut);
        if (cancelled)
            return rc < 0 ? rc : -ECANCELED; /* the request is the connection's */
        cio__pg_req_free(c, req);
        if (rc < 0)
            return rc;
        if (c->closed)
            return CIO_ECLOSED;
    }
    /* A cancel request still on its way (a task cancelled its query
     * meanwhile) could land on the COPY: wait until it is delivered.
     * Rare, and short, so polling is enough. */
    while (c->cancels && !c->closed)
        if ((rc = cio_sleep(0.002)) < 0)
            return rc;
    if (c->closed)
        return CIO_ECLOSED;
    /* The flush of that Sync may still be pending: finish it first. */
    if ((rc = flush_all(c)) < 0)
        return rc;
    cio__pg_conn_watch(c, 0);
    if (!PQexitPipelineMode(c->pg)) {
        cio__pg_set_error_msg("08000", PQerrorMessage(c->pg));
        cio__pg_conn_watch(c, 1);
        return CIO_EPG;
    }
    c->copy_mode = 1;
    return 0;
}

/* Step 4; also after a failed take. */
static void give_back(cio_pg_conn *c)
{
    if (c->copy_mode) {
        c->copy_mode = 0;
        if (!c->closed && !c->broken &&
            (!PQenterPipelineMode(c->pg) || cio__pg_conn_watch(c, 1) < 0)) {
            cio__pg_set_error_msg("08000", PQerrorMessage(c->pg));
            cio__pg_conn_lost(c);
        }
    }
    c->exclusive = 0;
    c->copy_owner = NULL;
    cio__pg_gate_update(c);
    if (!c->closed && !c->broken)
        cio__pg_conn_schedule_flush(c);
}

/*
 * Brings the connection back to idle after a COPY was abandoned at any
 * point (a cancellation, a callback's error, a statement that was no COPY
 * of the expected kind), shielded so that a cancelled task still does it:
 * a COPY FROM is ended with CopyFail (the server stores nothing), a COPY
 * TO is stopped with a cancel request (cancel_server) and read away.
 */
static void recover(cio_pg_conn *c, int cancel_server)
{
    cio_shield_begin();
    if (cancel_server)
        cio_pg_cancel(c);
    while (!c->closed && !c->broken) {
        PGresult *res;
        if (get_result(c, &res) < 0 || !res)
            break;
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        if (st == PGRES_COPY_IN) {
            int p;
            while ((p = PQputCopyEnd(c->pg, "COPY abandoned by the client")) == 0)
                if (wait_io(c, 1) < 0)
                    break;
            if (p != 1 || flush_all(c) < 0) {
                if (!c->closed && !c->broken)
                    lost(c);
                break;
            }
        } else if (st == PGRES_COPY_OUT) {
            char *buf;
            int n;
            while ((n = PQgetCopyData(c->pg, &buf, 1)) != -1) {
                if (n > 0) {
                    PQfreemem(buf);
                } else if (n == -2 || wait_io(c, 0) < 0 || !PQconsumeInput(c->pg)) {
                    if (!c->closed && !c->broken)
                        lost(c);
                    break;
                }
            }
        }
    }
    cio_shield_end();
    cio__pg_clear_error();
}

/* Sends the COPY statement and waits for the server to switch to COPY
 * mode: 0, or the statement's error (CIO_EPG), or the connection's. */
static int start(cio_pg_conn *c, const char *sql, ExecStatusType want)
{
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
        return lost(c);
    PGresult *res = NULL;
    int rc = flush_all(c);
    if (rc >= 0)
        rc = get_result(c, &res);
    if (rc < 0) {
        /* Cancelled (or timed out) before the COPY began. */
        if (!c->closed && !c->broken)
            recover(c, want == PGRES_COPY_OUT);
        return rc;
    }
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == want) {
        PQclear(res);
        return 0;
    }
    recover(c, st == PGRES_COPY_OUT);
    if (res && st == PGRES_FATAL_ERROR)
        cio__pg_set_error_result(res);
    else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT)
        cio__pg_set_error_msg("42601", want == PGRES_COPY_IN
                                           ? "cio_pg_copy_in needs COPY ... FROM STDIN"
                                           : "cio_pg_copy_out needs COPY ... TO STDOUT");
    else
        cio__pg_set_error_msg("42601", "not a COPY statement");
    PQclear(res);
    if (c->closed)
        return CIO_ECLOSED;
    return c->broken ? -ECONNRESET : CIO_EPG;
}

/* ---- COPY FROM STDIN ---------------------------------------------------------- */

/* Puts one chunk, waiting while libpq's buffer cannot take it. */
static int put(cio_pg_conn *c, const char *d, size_t n)
{
    while (n > 0) {
        int part = n > (1u << 30) ? (1 << 30) : (int)n;
        int p;
        while ((p = PQputCopyData(c->pg, d, part)) == 0) {
            int rc = wait_io(c, 1);
            if (rc < 0)
                return rc;
            if (PQflush(c->pg) < 0)
                return lost(c);
        }
        if (p < 0)
            return lost(c);
        d += part;
        n -= (size_t)part;
    }
    return 0;
}

static int copy_in_body(cio_pg_conn *c, const char *sql, cio_pg_copy_source_fn *source,
                        void *arg)
{
    int rc = start(c, sql, PGRES_COPY_IN);
    if (rc < 0)
        return rc;
    size_t since = 0;
    for (;;) {
        const void *d = NULL;
        size_t n = 0;
        int s = source(arg, &d, &n);
        if (s == 0)
            break;
        if (s < 0 || (n > 0 && !d)) {
            rc = s < 0 ? s : -EINVAL;
            goto abort;
        }
        if ((rc = put(c, d, n)) < 0)
            goto abort;
        /* Bound what waits in libpq's buffer: wait for the socket to take
         * it every FLUSH_EVERY bytes. */
        if ((since += n) >= FLUSH_EVERY) {
            since = 0;
            if ((rc = flush_all(c)) < 0)
                goto abort;
        }
    }
    int p;
    while ((p = PQputCopyEnd(c->pg, NULL)) == 0)
        if ((rc = wait_io(c, 1)) < 0)
            goto abort;
    if (p < 0)
        return lost(c);
    if ((rc = flush_all(c)) < 0)
        goto abort;
    return finish_results(c);
abort:
    if (!c->closed && !c->broken)
        recover(c, 0);
    return rc;
}

/* What both directions do around their body: the connection referenced
 * (a task freeing it meanwhile only closes it) and taken for the COPY
 * alone.  copy_begin: 0, or the error with nothing left to undo. */
static void copy_end(cio_pg_conn *c)
{
    give_back(c);
    cio__pg_conn_unref(c);
}

static int copy_begin(cio_pg_conn *c)
{
    cio__pg_clear_error();
    if (c->closed)
        return CIO_ECLOSED;
    int rc = cio_checkpoint();
    if (rc < 0)
        return rc;
    cio__pg_conn_ref(c);
    rc = take(c);
    if (rc < 0)
        copy_end(c);
    return rc;
}

int cio_pg_copy_in(cio_pg_conn *c, const char *sql, cio_pg_copy_source_fn *source, void *arg)
{
    if (!c || !sql || !source)
        return -EINVAL;
    int rc = copy_begin(c);
    if (rc < 0)
        return rc;
    rc = copy_in_body(c, sql, source, arg);
    copy_end(c);
    return rc;
}

/* The source of cio_pg_copy_in_buffer: the whole buffer, once. */
struct buffer_source {
    const void *data; /* the caller's bytes */
    size_t len;       /* how many */
    int given;        /* 1 once handed out */
};

static int buffer_next(void *arg, const void **data, size_t *len)
{
    struct buffer_source *b = arg;
    if (b->given)
        return 0;
    b->given = 1;
    *data = b->data;
    *len = b->len;
    return 1;
}

int cio_pg_copy_in_buffer(cio_pg_conn *c, const char *sql, const void *data, size_t len)
{
    if (len > 0 && !data)
        return -EINVAL;
    struct buffer_source b = {data, len, 0};
    return cio_pg_copy_in(c, sql, buffer_next, &b);
}

/* The source of cio_pg_copy_in_aiter: the iterator's chunks. */
struct aiter_source {
    cio_aiter *it; /* the caller's */
    int ended;     /* next returned CIO_ITER_END */
};

static int aiter_next_chunk(void *arg, const void **data, size_t *len)
{
    struct aiter_source *a = arg;
    void *item = NULL;
    int rc = cio_aiter_next(a->it, &item);
    if (rc == CIO_ITER_END) {
        a->ended = 1;
        return 0;
    }
    if (rc < 0)
        return rc;
    const cio_pg_copy_chunk *ch = item;
    if (!ch)
        return -EINVAL;
    *data = ch->data;
    *len = ch->len;
    return 1;
}

int cio_pg_copy_in_aiter(cio_pg_conn *c, const char *sql, cio_aiter *it)
{
    if (!c || !sql || !it || !it->ops)
        return -EINVAL;
    struct aiter_source a = {it, 0};
    int rc = cio_pg_copy_in(c, sql, aiter_next_chunk, &a);
    if (!a.ended) {
        /* Left early (an error, a cancellation): the producer's cleanup,
         * as `async for` leaves it to the consumer. */
        cio_shield_begin();
        cio_aiter_aclose(it);
        cio_shield_end();
    }
    return rc;
}

/* ---- COPY TO STDOUT ------------------------------------------------------------ */

static int copy_out_body(cio_pg_conn *c, const char *sql, cio_pg_copy_sink_fn *sink, void *arg)
{
    int rc = start(c, sql, PGRES_COPY_OUT);
    if (rc < 0)
        return rc;
    for (;;) {
        char *buf;
        int n = PQgetCopyData(c->pg, &buf, 1);
        if (n > 0) {
            int s = sink(arg, buf, (size_t)n);
            PQfreemem(buf);
            if (s < 0) {
                rc = s;
                break;
            }
            continue;
        }
        if (n == -1)
            return finish_results(c);
        if (n == -2)
            return lost(c);
        /* No complete row in libpq's buffer: only now read the socket. */
        if ((rc = wait_io(c, 0)) < 0)
            break;
        if (!PQconsumeInput(c->pg))
            return lost(c);
    }
    if (!c->closed && !c->broken)
        recover(c, 1);
    return rc;
}

int cio_pg_copy_out(cio_pg_conn *c, const char *sql, cio_pg_copy_sink_fn *sink, void *arg)
{
    if (!c || !sql || !sink)
        return -EINVAL;
    int rc = copy_begin(c);
    if (rc < 0)
        return rc;
    rc = copy_out_body(c, sql, sink, arg);
    copy_end(c);
    return rc;
}

/* ---- COPY TO STDOUT as an iterator ------------------------------------------------ */

/* A COPY TO whose chunks the caller pulls (cio_pg_copy_out_open). */
struct cio_pg_copy_reader {
    cio_pg_conn *conn;       /* a reference, dropped by _free */
    char *buf;               /* the chunk handed out last (libpq's) */
    cio_pg_copy_chunk chunk; /* what next hands out */
    int open;                /* 1 while the COPY holds the connection */
    int rc;                  /* once over: rows copied, or the error */
    cio_aiter iter;          /* what cio_pg_copy_reader_aiter hands out */
};

/* The COPY is over (or abandoned): give the connection back. */
static void reader_end(cio_pg_copy_reader *rd, int rc)
{
    rd->open = 0;
    rd->rc = rc;
    give_back(rd->conn);
}

static int reader_next(void *self, void **value)
{
    cio_pg_copy_reader *rd = self;
    cio_pg_conn *c = rd->conn;
    PQfreemem(rd->buf);
    rd->buf = NULL;
    while (rd->open) {
        int n = PQgetCopyData(c->pg, &rd->buf, 1);
        if (n > 0) {
            rd->chunk.data = rd->buf;
            rd->chunk.len = (size_t)n;
            *value = &rd->chunk;
            return 0;
        }
        int rc;
        if (n == -1) {
            reader_end(rd, finish_results(c));
            break;
        }
        if (n == -2) {
            reader_end(rd, lost(c));
            break;
        }
        if ((rc = wait_io(c, 0)) < 0) {
            if (c->closed || c->broken)
                reader_end(rd, rc);
            return rc; /* cancelled or timed out: the COPY stays open */
        }
        if (!PQconsumeInput(c->pg)) {
            reader_end(rd, lost(c));
            break;
        }
    }
    return rd->rc < 0 ? rd->rc : CIO_ITER_END;
}

static int reader_aclose(void *self)
{
    int rc = cio_pg_copy_reader_close(self);
    return rc < 0 ? rc : 0;
}

static const cio_aiter_ops reader_ops = {.next = reader_next, .aclose = reader_aclose};

int cio_pg_copy_out_open(cio_pg_conn *c, const char *sql, cio_pg_copy_reader **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!c || !sql)
        return -EINVAL;
    cio__pg_clear_error();
    if (c->closed)
        return CIO_ECLOSED;
    int rc = cio_checkpoint();
    if (rc < 0)
        return rc;
    cio_pg_copy_reader *rd = cio__calloc(1, sizeof *rd);
    if (!rd)
        return -ENOMEM;
    cio__pg_conn_ref(c);
    rd->conn = c;
    rc = take(c);
    if (rc >= 0)
        rc = start(c, sql, PGRES_COPY_OUT);
    if (rc < 0) {
        give_back(c);
        cio__pg_conn_unref(c);
        cio__free(rd);
        return rc;
    }
    rd->open = 1;
    cio_aiter_init(&rd->iter, &reader_ops, rd);
    *out = rd;
    return 0;
}

cio_aiter *cio_pg_copy_reader_aiter(cio_pg_copy_reader *rd)
{
    return rd ? &rd->iter : NULL;
}

int cio_pg_copy_reader_close(cio_pg_copy_reader *rd)
{
    if (!rd)
        return -EINVAL;
    PQfreemem(rd->buf);
    rd->buf = NULL;
    if (rd->open) {
        cio_pg_conn *c = rd->conn;
        if (!c->closed && !c->broken)
            recover(c, 1); /* shielded: works in a cancelled task */
        reader_end(rd, c->closed ? CIO_ECLOSED : c->broken ? -ECONNRESET : 0);
    }
    return rd->rc;
}

void cio_pg_copy_reader_free(cio_pg_copy_reader *rd)
{
    if (!rd)
        return;
    PQfreemem(rd->buf);
    rd->buf = NULL;
    if (rd->open) {
        /* Ending the COPY needs waiting, which free cannot do: the
         * connection is given up rather than left in COPY mode. */
        cio_pg_conn *c = rd->conn;
        cio_log(CIO_LOG_ERROR, "cio_pg_copy_reader_free: the COPY was not closed; the "
                               "connection is dropped");
        reader_end(rd, c->closed ? CIO_ECLOSED : lost(c));
    }
    cio__pg_conn_unref(rd->conn);
    cio__free(rd);
}
