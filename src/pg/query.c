/*
 * query.c - issuing queries: the prepared-statement cache (an LRU list,
 * as asyncpg's), appending a query to the pipeline (Parse if the statement
 * is new, Execute per parameter row, Sync), waiting for its segment, and
 * the asyncpg-style calls on top: execute, fetch, fetchrow, fetchval,
 * executemany.
 *
 * A query goes into libpq's output buffer at once, in the order tasks
 * issue them, without waiting for the answers of those before it: that
 * is the automatic pipelining.  Each query gets its own Sync, so an error
 * aborts only its own segment.  libpq 15's PQpipelineSync writes to the
 * socket at once (one send per query); conn.c's flush once per loop
 * iteration only finishes what a full socket left over.  (libpq 17's
 * PQsendPipelineSync would let one send carry an iteration's queries.)
 *
 * A big segment (executemany) goes in in chunks, each sent before the
 * next is appended, its task waiting for the socket in between while new
 * queries wait at the gate (send_segment): appended whole, libpq tried a
 * send and a read per message once the socket was full.
 *
 * A statement is marked cached when its Parse is queued, so the queries
 * that follow in the same iteration reuse it without waiting; if the
 * Parse fails, it leaves the cache and the next call prepares again.  On
 * "cached plan must not change result type" (SQLSTATE 0A000: a table
 * changed under the statement) the statement is dropped and the query
 * sent once more with a fresh Parse, as asyncpg does; that retry goes to
 * the end of the pipeline, which is harmless since the failed attempt had
 * no effect.
 */
#include <limits.h>
#include <stdio.h>

#include "pgint.h"

/* ---- the statement cache -------------------------------------------------- */

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static void lru_unlink(cio_pg_conn *c, struct pgstmt *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->lru_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        c->lru_tail = s->prev;
    s->prev = s->next = NULL;
}

static void lru_push_front(cio_pg_conn *c, struct pgstmt *s)
{
    s->prev = NULL;
    s->next = c->lru_head;
    if (c->lru_head)
        c->lru_head->prev = s;
    else
        c->lru_tail = s;
    c->lru_head = s;
}

static void stmt_free(struct pgstmt *s)
{
    cio__free(s->key);
    cio__free(s);
}

void cio__pg_stmt_unref(cio_pg_conn *c, struct pgstmt *s)
{
    (void)c;
    if (--s->refs == 0 && !s->cached)
        stmt_free(s);
}

/* Takes s out of the cache; DEALLOCATEs it on the server if it was
 * prepared there (an internal request nobody waits for). */
static void stmt_uncache(cio_pg_conn *c, struct pgstmt *s, int deallocate)
{
    if (!s->cached)
        return;
    lru_unlink(c, s);
    s->cached = 0;
    c->ncached--;
    if (deallocate && !c->broken) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
        struct pgreq *r = cio__calloc(1, sizeof *r);
        if (r && PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 1) &&
            PQpipelineSync(c->pg)) {
            cio__pg_conn_push(c, r);
            cio__pg_conn_schedule_flush(c);
        } else {
            cio__free(r); /* the server keeps it until the session ends */
        }
    }
    if (s->refs == 0)
        stmt_free(s);
}

void cio__pg_stmt_clear(cio_pg_conn *c)
{
    while (c->lru_head)
        stmt_uncache(c, c->lru_head, 0);
}

void cio__pg_stmt_parsed(cio_pg_conn *c, struct pgreq *req, const PGresult *res)
{
    if (!req->stmt)
        return;
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        req->stmt->prepared = 1;
    else
        stmt_uncache(c, req->stmt, 0); /* never existed on the server */
}

/* Finds or creates the statement for key; *isnew says a Parse is due. */
static struct pgstmt *stmt_get(cio_pg_conn *c, const char *key, size_t klen, int nparams,
                               int *isnew)
{
    uint64_t h = fnv(key, klen);
    for (struct pgstmt *s = c->lru_head; s; s = s->next)
        if (s->hash == h && !memcmp(s->key, key, klen)) {
            if (s != c->lru_head) {
                lru_unlink(c, s);
                lru_push_front(c, s);
            }
            *isnew = 0;
            return s;
        }
    struct pgstmt *s = cio__calloc(1, sizeof *s);
    if (!s || !(s->key = cio__malloc(klen))) {
        cio__free(s);
        return NULL;
    }
    memcpy(s->key, key, klen);
    s->hash = h;
    s->nparams = nparams;
    snprintf(s->name, sizeof s->name, "cio_s%llu", (unsigned long long)++c->stmt_seq);
    s->cached = 1;
    lru_push_front(c, s);
    c->ncached++;
    /* Evict the least recently used statements no query is using. */
    struct pgstmt *v = c->lru_tail;
    while (c->ncached > c->cache_cap && v && v != s) {
        struct pgstmt *prev = v->prev;
        if (v->refs == 0)
            stmt_uncache(c, v, 1);
        v = prev;
    }
    *isnew = 1;
    return s;
}

/* ---- sending and waiting ---------------------------------------------------- */

/* The statement's cache key: the SQL text, a NUL, the parameter types. */
static char *make_key(const char *sql, const Oid *types, int n, size_t *klen)
{
    size_t sl = strlen(sql) + 1;
    *klen = sl + (size_t)n * sizeof(Oid);
    char *k = cio__malloc(*klen);
    if (k) {
        memcpy(k, sql, sl);
        if (n)
            memcpy(k + sl, types, (size_t)n * sizeof(Oid));
    }
    return k;
}

/*
 * A big segment (executemany) is appended in chunks of at most this many
 * bytes of libpq's output buffer, each sent before the next is appended.
 * libpq tries a send whenever a message it appends leaves 8 KiB or more in
 * that buffer, and in non-blocking mode a send that fails (the socket is
 * full) is followed by a read attempt: appended whole, 10,000 rows cost a
 * failed send and read per message once the socket filled.  Kept below
 * that mark, libpq never sends on its own: each chunk goes in one send.
 */
enum { CHUNK_BYTES = 7 * 1024 };

/* What a segment abandoned midway appends before its Sync: a statement
 * that fails, so the segment fails as a whole, nothing of it is kept. */
static const char ABANDON_SQL[] =
    "SELECT 'cio_pg_executemany cancelled midway: the batch fails'::pg_catalog.int4";

/*
 * A segment's task is about to wait midway (cio__pg_conn_drain): from now
 * on new queries wait at the gate, as they must not enter the middle of
 * the segment, and the request is queued, so that the reader hands it the
 * results of the rows already sent while the rest is being appended.
 */
static int wait_midway(cio_pg_conn *c, struct pgreq *req)
{
    if (!c->appending) {
        c->appending = 1;
        cio__pg_conn_push(c, req);
    }
    return cio__pg_conn_drain(c);
}

/*
 * The wait midway failed with code (the task was cancelled or timed out,
 * or had no memory to wait): the half-appended segment cannot be taken
 * back, so it is ended with a statement that fails and its Sync, which
 * leaves the pipeline in step.  The request becomes the connection's (its
 * future cancelled: pgint.h), and if the server is running the segment,
 * it is cancelled there too, as run_ref does.  -EIO if libpq failed.
 */
static int abandon(cio_pg_conn *c, struct pgreq *req, int code)
{
    if (!PQsendQueryParams(c->pg, ABANDON_SQL, 0, NULL, NULL, NULL, NULL, 1) ||
        !PQpipelineSync(c->pg))
        return -EIO;
    cio_future_cancel(req->fut, NULL);
    if (c->head == req)
        cio__pg_cancel_soon(c);
    return code;
}

/*
 * Appends the segment to libpq's pipeline and queues req; 0 or a negative
 * code.  A segment of more than CHUNK_BYTES may suspend between rows until
 * libpq's buffer is sent (other tasks' queries wait at the gate
 * meanwhile); if the connection is closed or lost then, the code says so
 * and req has been failed and unqueued; if the wait fails otherwise, the
 * segment is abandoned and req is the connection's (its future cancelled).
 */
static int send_segment(cio_pg_conn *c, struct pgreq *req, const char *sql,
                        const cio_pg_param *params, int nparams, int nrows)
{
    Oid types_s[16];
    const char *vals_s[16];
    int lens_s[16], fmts_s[16];
    Oid *types = types_s;
    const char **vals = vals_s;
    int *lens = lens_s, *fmts = fmts_s;
    int rc = 0;
    char *key = NULL;
    /* Bytes appended since libpq's buffer was last found empty: an upper
     * bound of libpq's encoding (Bind, Describe, Execute; a Parse per row
     * without the cache). */
    size_t pend = 0;
    if (nparams > 16) {
        types = cio__malloc((size_t)nparams * sizeof *types);
        vals = cio__malloc((size_t)nparams * sizeof *vals);
        lens = cio__malloc((size_t)nparams * sizeof *lens);
        fmts = cio__malloc((size_t)nparams * sizeof *fmts);
        if (!types || !vals || !lens || !fmts) {
            rc = -ENOMEM;
            goto out;
        }
    }
    for (int i = 0; i < nparams; i++)
        types[i] = params[i].type;
    if (c->cache_cap > 0) {
        size_t klen;
        int isnew = 0;
        if (!(key = make_key(sql, types, nparams, &klen))) {
            rc = -ENOMEM;
            goto out;
        }
        struct pgstmt *s = stmt_get(c, key, klen, nparams, &isnew);
        if (!s) {
            rc = -ENOMEM;
            goto out;
        }
        if (isnew && !PQsendPrepare(c->pg, s->name, sql, nparams, types)) {
            stmt_uncache(c, s, 0);
            rc = -EIO;
            goto out;
        }
        s->refs++;
        req->stmt = s;
        req->parse = isnew;
        if (isnew)
            pend = strlen(sql) + 32 + (size_t)nparams * 4;
    }
    size_t per_row = 48 + (size_t)nparams * 10 +
                     (req->stmt ? strlen(req->stmt->name) : strlen(sql) + (size_t)nparams * 4);
    for (int row = 0; row < nrows; row++) {
        const cio_pg_param *p = params + (size_t)row * (size_t)nparams;
        size_t bytes = per_row;
        for (int i = 0; i < nparams; i++) {
            lens[i] = p[i].len < 0 ? 0 : p[i].len;
            fmts[i] = p[i].format;
            vals[i] = p[i].len < 0 ? NULL
                      : p[i].data  ? (const char *)p[i].data
                                   : (const char *)p[i].inline_;
            bytes += (size_t)lens[i];
        }
        if (row > 0 && pend + bytes > CHUNK_BYTES) {
            if ((rc = wait_midway(c, req)) < 0) {
                if (rc != -EIO && !c->closed && !c->broken)
                    rc = abandon(c, req, rc);
                goto out;
            }
            pend = 0;
        }
        pend += bytes;
        int ok = req->stmt ? PQsendQueryPrepared(c->pg, req->stmt->name, nparams, vals, lens,
                                                 fmts, 1)
                           : PQsendQueryParams(c->pg, sql, nparams, types, vals, lens, fmts, 1);
        if (!ok) {
            rc = -EIO;
            goto out;
        }
    }
    if (!PQpipelineSync(c->pg)) {
        rc = -EIO;
        goto out;
    }
    if (!c->appending)
        cio__pg_conn_push(c, req);
out:
    if (c->appending) {
        c->appending = 0;
        cio__pg_gate_update(c);
    }
    cio__free(key);
    if (types != types_s) {
        cio__free(types);
        cio__free(vals);
        cio__free(lens);
        cio__free(fmts);
    }
    return rc;
}

static int check_params(const cio_pg_param *params, int nparams, int nrows)
{
    if (nparams < 0 || nrows < 1 || (nparams > 0 && !params) || nparams > 65535)
        return -EINVAL;
    for (long i = 0; i < (long)nparams * nrows; i++)
        if (params[i].format != 0 && params[i].format != 1)
            return -EINVAL;
    return 0;
}

/* Is anything holding new queries back? */
static int held(const cio_pg_conn *c)
{
    return c->exclusive || c->cancels || c->cancel_holds || c->appending;
}

void cio__pg_gate_update(cio_pg_conn *c)
{
    if (c->gate && (c->closed || !held(c)))
        cio_event_set(c->gate);
}

/*
 * Why a cancel request holds new queries back: libpq 15's PQpipelineSync
 * flushes at once (PQsendPipelineSync, which does not, is libpq 17), so a
 * query issued while the request is on its way reaches the server at
 * once - and the postmaster signals the backend twice (kill(pid) and
 * kill(-pid), PostgreSQL 15's signal_child), so the second SIGINT can land
 * on that next query after the first one cancelled the intended one.  Once
 * PQcancel has returned, both signals are pending on the backend, which
 * handles them before it can read anything new and, being idle then,
 * ignores them.
 */
int cio__pg_wait_turn(cio_pg_conn *c)
{
    cio_task *me = cio_current_task();
    for (;;) {
        if (c->closed)
            return CIO_ECLOSED;
        if (c->broken)
            return -ECONNRESET;
        if (cio__pg_cursor_owned(c)) {
            cio_log(CIO_LOG_DEBUG, "cio_pg: a query on a connection where this task's cursor "
                                   "is still streaming would wait for itself: -EDEADLK");
            return -EDEADLK;
        }
        if (!held(c))
            return 0;
        if (c->exclusive && c->copy_owner == me)
            return -EDEADLK; /* from inside the COPY's own callback */
        int rc = 0;
        if (!c->gate)
            rc = cio_event_new(c->loop, &c->gate);
        if (rc >= 0) {
            cio_event_clear(c->gate);
            rc = cio_event_wait(c->gate);
        }
        if (rc < 0)
            return rc;
    }
}

int cio__pg_send(cio_pg_conn *c, struct pgreq *req, const char *sql, const cio_pg_param *params,
                 int nparams, int nrows)
{
    int rc = send_segment(c, req, sql, params, nparams, nrows);
    if (rc < 0) {
        /* A half-appended segment cannot be taken back: libpq failed only
         * if the connection is unusable (or out of memory), so give up on
         * the connection rather than leave the pipeline out of step (this
         * also fails req if it was queued already). */
        if (rc == -EIO) {
            cio__pg_set_error_msg("08006", PQerrorMessage(c->pg));
            cio__pg_conn_lost(c);
            rc = CIO_EPG;
        }
        if (cio_future_cancelled(req->fut)) {
            cio__pg_conn_schedule_flush(c); /* abandoned: its end goes out */
            return rc;
        }
        /* Queued midway, req was failed with the connection: rc says it. */
        if (cio_future_done(req->fut))
            cio_future_result(req->fut, NULL);
        return rc;
    }
    cio__pg_conn_schedule_flush(c);
    return 0;
}

/* cio__pg_run's body; the caller holds a reference on c. */
static int run_ref(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                   int nrows, struct pgreq **out)
{
    int rc = cio_checkpoint();
    if (rc < 0)
        return rc;
    if ((rc = cio__pg_wait_turn(c)) < 0)
        return rc;
    struct pgreq *req = cio__calloc(1, sizeof *req);
    if (!req)
        return -ENOMEM;
    if ((rc = cio_future_new(c->loop, &req->fut)) < 0) {
        cio__free(req);
        return rc;
    }
    if ((rc = cio__pg_send(c, req, sql, params, nparams, nrows)) < 0) {
        if (!cio_future_cancelled(req->fut)) /* else abandoned midway: the connection's */
            cio__pg_req_free(c, req);
        return rc;
    }

    /* The request is the connection's if the future ends cancelled, so
     * keep a reference of our own to look at it afterwards. */
    cio_future *fut = req->fut;
    cio_future_ref(fut);
    rc = cio_await(fut, NULL);
    /* A cancellation that came while the task was not parked (woken from
     * a wait midway, or at the gate, and cancelled before it ran) is
     * delivered at the await without touching fut: cancel fut here, so the
     * request is the connection's as if it had come during the wait. */
    if (rc < 0 && !cio_future_done(fut))
        cio_future_cancel(fut, NULL);
    if (cio_future_cancelled(fut)) {
        if (!c->closed && c->head && c->head->fut == fut)
            cio__pg_cancel_soon(c); /* the server is running it now */
        cio_future_unref(fut);
        return rc < 0 ? rc : -ECANCELED;
    }
    cio_future_unref(fut);
    if (rc < 0) {
        cio__pg_req_free(c, req);
        return rc;
    }
    *out = req;
    return 0;
}

int cio__pg_run(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                int nrows, struct pgreq **out)
{
    *out = NULL;
    if (!c || !sql)
        return -EINVAL;
    int rc = check_params(params, nparams, nrows);
    if (rc < 0)
        return rc;
    if (c->closed)
        return CIO_ECLOSED;
    /* Another task may free the connection while this one waits: the
     * reference keeps the struct until this call is done with it. */
    cio__pg_conn_ref(c);
    rc = run_ref(c, sql, params, nparams, nrows, out);
    cio__pg_conn_unref(c);
    return rc;
}

static int run_retry(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                     int nrows, struct pgreq **out);

/* Runs the query, re-preparing once on 0A000; the request has no error. */
static int run(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
               int nrows, struct pgreq **out)
{
    cio__pg_clear_error();
    if (!c)
        return -EINVAL;
    /* Held over the retry too (it touches the statement cache). */
    cio__pg_conn_ref(c);
    int rc = run_retry(c, sql, params, nparams, nrows, out);
    cio__pg_conn_unref(c);
    return rc;
}

static int run_retry(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                     int nrows, struct pgreq **out)
{
    for (int attempt = 0;; attempt++) {
        struct pgreq *req;
        int rc = cio__pg_run(c, sql, params, nparams, nrows, &req);
        if (rc < 0)
            return rc;
        if (!req->err) {
            *out = req;
            return 0;
        }
        const char *st = PQresultErrorField(req->err, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(req->err, PG_DIAG_MESSAGE_PRIMARY);
        if (attempt == 0 && req->stmt && st && !strcmp(st, "0A000") && msg &&
            strstr(msg, "cached plan must not change result type")) {
            /* The DEALLOCATE enters the pipeline: not in the middle of
             * another task's segment (the turn), nor on a closed one. */
            rc = cio__pg_wait_turn(c);
            stmt_uncache(c, req->stmt, rc >= 0);
            cio__pg_req_free(c, req);
            if (rc < 0)
                return rc;
            continue;
        }
        cio__pg_set_error_result(req->err);
        cio__pg_req_free(c, req);
        return CIO_EPG;
    }
}

static int clamp(int64_t n)
{
    return n > INT_MAX ? INT_MAX : (int)n;
}

int cio_pg_execute(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams)
{
    struct pgreq *req;
    int rc = run(c, sql, params, nparams, 1, &req);
    if (rc < 0)
        return rc;
    rc = clamp(req->affected);
    cio__pg_req_free(c, req);
    return rc;
}

int cio_pg_executemany(cio_pg_conn *c, const char *sql, const cio_pg_param *params,
                       int nparams, int nrows)
{
    if (nrows == 0 && c && sql)
        return 0;
    struct pgreq *req;
    int rc = run(c, sql, params, nparams, nrows, &req);
    if (rc < 0)
        return rc;
    rc = clamp(req->affected);
    cio__pg_req_free(c, req);
    return rc;
}

int cio_pg_fetch(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                 cio_pg_result **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct pgreq *req;
    int rc = run(c, sql, params, nparams, 1, &req);
    if (rc < 0)
        return rc;
    PGresult *res = req->res;
    req->res = NULL;
    cio__pg_req_free(c, req);
    if (!res && !(res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK)))
        return -ENOMEM;
    *out = (cio_pg_result *)res;
    return 0;
}

int cio_pg_fetchrow(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                    cio_pg_result **out)
{
    int rc = cio_pg_fetch(c, sql, params, nparams, out);
    if (rc < 0)
        return rc;
    if (cio_pg_result_nrows(*out) == 0) {
        cio_pg_result_free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

int cio_pg_fetchval(cio_pg_conn *c, const char *sql, const cio_pg_param *params, int nparams,
                    cio_pg_result **res, cio_pg_value *value)
{
    if (!res || !value)
        return -EINVAL;
    int rc = cio_pg_fetchrow(c, sql, params, nparams, res);
    if (rc <= 0)
        return rc;
    if (cio_pg_result_ncols(*res) < 1) {
        cio_pg_result_free(*res);
        *res = NULL;
        return 0;
    }
    cio_pg_result_get(*res, 0, 0, value);
    return 1;
}
