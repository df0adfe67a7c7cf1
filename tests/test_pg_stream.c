/*
 * test_pg_stream.c - the PostgreSQL client's streams against a real server
 * (a private cluster from pg_util.h): cursors (rows as an async iterator,
 * memory bounded by a stalled server, errors mid-stream, closing early,
 * cancellation, other tasks' pipelined queries around a stream, the
 * -EDEADLK guard), COPY in and out (a million rows; text, CSV, binary; from
 * a callback, a buffer and a generator; out to a callback and through an
 * iterator; a source that fails,
 * a sink that stops, cancellation, other tasks' queries during a COPY),
 * and a connection freed while tasks are inside calls on it (run under
 * ASan: no use after free).  CIO_TEST_THREADS (cancel requests run in the
 * thread pool).
 */
#include "test.h"

#ifndef CIO_HAVE_LIBPQ
int main(void)
{
    TEST_SKIP("built without libpq (install libpq-dev)");
}
#else

#include <cio/pg.h>

#include "pg_test.h"

static int64_t row_i64(void *item, int col)
{
    cio_pg_value v;
    int64_t x = -1;
    cio_pg_result_get(item, 0, col, &v);
    cio_pg_value_int64(&v, &x);
    return x;
}

/* ---- cursors ----------------------------------------------------------------- */

static int t_cursor_rows(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo());
    if (!c)
        return 0;
    /* Prefetch 16 on 10,000 rows: the reader pauses and resumes often. */
    cio_pg_param p = cio_pg_pint8(10000);
    cio_pg_cursor *cur;
    CHECK_RC(cio_pg_cursor_open(c, "SELECT g::int8, md5(g::text) FROM generate_series(1, $1) g",
                                &p, 1, 16, &cur), 0);
    int64_t n = 0, inorder = 1;
    void *item;
    int rc;
    CIO_FOR(cio_pg_cursor_aiter(cur), item, rc) {
        CHECK_EQ(cio_pg_result_nrows(item), 1);
        if (row_i64(item, 0) != n + 1)
            inorder = 0;
        n++;
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(n, 10000);
    CHECK(inorder);
    CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(cur), &item), CIO_ITER_END);
    cio_pg_cursor_free(cur);
    /* No rows; default prefetch. */
    CHECK_RC(cio_pg_cursor_open(c, "SELECT 1 WHERE false", NULL, 0, 0, &cur), 0);
    CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(cur), &item), CIO_ITER_END);
    cio_pg_cursor_free(cur);
    /* A bad statement: the error comes from next. */
    CHECK_RC(cio_pg_cursor_open(c, "SELECT nosuchcolumn", NULL, 0, 0, &cur), 0);
    CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(cur), &item), CIO_EPG);
    CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "42703"));
    cio_pg_cursor_free(cur);
    /* An error mid-stream: the rows before it, then the error. */
    CHECK_RC(cio_pg_cursor_open(c, "SELECT 10 / (5000 - g) FROM generate_series(1, 10000) g",
                                NULL, 0, 64, &cur), 0);
    n = 0;
    CIO_FOR(cio_pg_cursor_aiter(cur), item, rc)
        n++;
    CHECK_RC(rc, CIO_EPG);
    CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "22012"));
    CHECK_EQ(n, 4999);
    cio_pg_cursor_free(cur);
    /* Bad arguments. */
    CHECK_RC(cio_pg_cursor_open(c, NULL, NULL, 0, 0, &cur), -EINVAL);
    CHECK_RC(cio_pg_cursor_open(c, "SELECT $1", NULL, 1, 0, &cur), -EINVAL);
    CHECK(cio_pg_cursor_aiter(NULL) == NULL);
    CHECK_RC(cio_pg_cursor_close(NULL), -EINVAL);
    cio_pg_cursor_free(NULL);
    CHECK_EQ(pg_test_val_i64(c, "SELECT 6 * 7", NULL, 0), 42);
    CHECK_EQ(cio_pg_pending(c), 0);
    cio_pg_free(c);
    return 0;
}

/* The consumer stalls: the client stops reading, so the server ends up
 * blocked writing (wait_event ClientWrite) instead of the client
 * buffering 200 MB; closing early cancels the query. */
static int t_cursor_bounded(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo()), *watch = pg_test_connect(pg_conninfo());
    if (!c || !watch)
        return 0;
    cio_pg_cursor *cur;
    CHECK_RC(cio_pg_cursor_open(c, "SELECT g, repeat('x', 200) FROM generate_series(1, 1000000) g",
                                NULL, 0, 32, &cur), 0);
    void *item;
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(cur), &item), 0);
    cio_pg_param pid = cio_pg_pint4(cio_pg_backend_pid(c));
    int blocked = 0;
    for (int i = 0; i < 100 && !blocked; i++) {
        cio_sleep(0.05);
        cio_pg_result *r;
        cio_pg_value v;
        const char *s;
        if (cio_pg_fetchval(watch, "SELECT coalesce(wait_event, '') FROM pg_stat_activity "
                                   "WHERE pid = $1", &pid, 1, &r, &v) == 1) {
            blocked = cio_pg_value_text(&v, &s, NULL) == 0 && !strcmp(s, "ClientWrite");
            cio_pg_result_free(r);
        }
    }
    CHECK(blocked);
    double t0 = test_now();
    CHECK_RC(cio_pg_cursor_close(cur), 0);
    CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(cur), &item), CIO_ITER_END);
    cio_pg_cursor_free(cur);
    /* Cancelled on the server: far sooner than reading 200 MB. */
    CHECK_EQ(pg_test_val_i64(c, "SELECT 5", NULL, 0), 5);
    CHECK(test_now() - t0 < 5.0);
    cio_pg_free(c);
    cio_pg_free(watch);
    return 0;
}

struct side_job {
    cio_pg_conn *c; /* the shared connection */
    int i;          /* its number */
    int ok;         /* 1 if the answer was right */
};

static int side_task(void *arg, void **result)
{
    struct side_job *j = arg;
    cio_pg_param p = cio_pg_pint8(j->i);
    cio_pg_result *r;
    cio_pg_value v;
    int64_t x = -1;
    if (cio_pg_fetchval(j->c, "SELECT $1 + 1000", &p, 1, &r, &v) == 1) {
        cio_pg_value_int64(&v, &x);
        cio_pg_result_free(r);
    }
    j->ok = x == j->i + 1000;
    return 0;
}

/* Other tasks' queries pipelined before and after a stream on the same
 * connection all get their own answers; the streaming task's own query
 * fails with -EDEADLK; a cursor closed with queries queued behind it
 * drains instead of cancelling. */
static int t_cursor_pipeline(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo());
    if (!c)
        return 0;
    enum { N = 20 };
    struct side_job jobs[2 * N];
    cio_task *t[2 * N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct side_job){c, i, 0};
        CHECK_RC(cio_create_task(side_task, &jobs[i], NULL, &t[i]), 0);
    }
    cio_sleep(0); /* they enter the pipeline first */
    cio_pg_cursor *cur;
    CHECK_RC(cio_pg_cursor_open(c, "SELECT g::int8 FROM generate_series(1, 5000) g", NULL, 0, 8,
                                &cur), 0);
    for (int i = N; i < 2 * N; i++) {
        jobs[i] = (struct side_job){c, i, 0};
        CHECK_RC(cio_create_task(side_task, &jobs[i], NULL, &t[i]), 0);
    }
    CHECK_RC(cio_pg_execute(c, "SELECT 1", NULL, 0), -EDEADLK);
    cio_pg_cursor *cur2;
    CHECK_RC(cio_pg_cursor_open(c, "SELECT 1", NULL, 0, 0, &cur2), -EDEADLK);
    int64_t sum = 0;
    void *item;
    int rc;
    CIO_FOR(cio_pg_cursor_aiter(cur), item, rc)
        sum += row_i64(item, 0);
    CHECK_RC(rc, CIO_ITER_END);
    CHECK(sum == 5000LL * 5001 / 2);
    cio_pg_cursor_free(cur);
    for (int i = 0; i < 2 * N; i++) {
        cio_task_await(t[i], NULL);
        cio_task_unref(t[i]);
        CHECK(jobs[i].ok);
    }
    /* Closed early with a query queued behind it: the rest is drained. */
    CHECK_RC(cio_pg_cursor_open(c, "SELECT g::int8 FROM generate_series(1, 100000) g", NULL, 0, 8,
                                &cur), 0);
    jobs[0] = (struct side_job){c, 7, 0};
    CHECK_RC(cio_create_task(side_task, &jobs[0], NULL, &t[0]), 0);
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(cur), &item), 0);
    cio_sleep(0.01);
    CHECK_RC(cio_aiter_aclose(cio_pg_cursor_aiter(cur)), 0);
    cio_pg_cursor_free(cur);
    cio_task_await(t[0], NULL);
    cio_task_unref(t[0]);
    CHECK(jobs[0].ok);
    CHECK_EQ(pg_test_val_i64(c, "SELECT 8", NULL, 0), 8);
    CHECK_EQ(cio_pg_pending(c), 0);
    cio_pg_free(c);
    return 0;
}

struct consumer {
    cio_pg_cursor *cur; /* what it reads */
    long rows;          /* rows read */
    int rc;             /* how the loop ended */
};

static int consume_task(void *arg, void **result)
{
    struct consumer *k = arg;
    void *item;
    CIO_FOR(cio_pg_cursor_aiter(k->cur), item, k->rc)
        k->rows++;
    return 0;
}

/* A consumer cancelled mid-stream gets -ECANCELED; the cursor closed
 * afterwards leaves the connection in step. */
static int t_cursor_cancel(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo());
    if (!c)
        return 0;
    struct consumer k = {NULL, 0, 1};
    CHECK_RC(cio_pg_cursor_open(c, "SELECT g, repeat('x', 100), pg_sleep(0.001) FROM generate_series(1, 100000) g",
                                NULL, 0, 0, &k.cur), 0);
    cio_task *t;
    CHECK_RC(cio_create_task(consume_task, &k, NULL, &t), 0);
    /* The server sends in 8 KiB bursts: wait for the first rows. */
    for (int i = 0; i < 500 && k.rows < 5; i++)
        cio_sleep(0.01);
    cio_task_cancel(t, NULL);
    cio_task_await(t, NULL);
    cio_task_unref(t);
    CHECK_RC(k.rc, -ECANCELED);
    CHECK(k.rows > 0 && k.rows < 100000);
    cio_pg_cursor_free(k.cur);
    CHECK_EQ(pg_test_val_i64(c, "SELECT 11", NULL, 0), 11);
    /* A timeout scope around the iteration: the same path. */
    CHECK_RC(cio_pg_cursor_open(c, "SELECT pg_sleep(30)", NULL, 0, 0, &k.cur), 0);
    cio_timeout *tm;
    cio_timeout_begin(0.2, &tm);
    void *item;
    int nrc = cio_aiter_next(cio_pg_cursor_aiter(k.cur), &item);
    if (nrc == CIO_EPG)
        fprintf(stderr, "  unexpected: %s %s\n", cio_pg_error_sqlstate(cio_pg_last_error()),
                cio_pg_error_message(cio_pg_last_error()));
    CHECK_RC(nrc, -ETIMEDOUT);
    CHECK_RC(cio_timeout_end(tm), -ETIMEDOUT);
    double t0 = test_now();
    cio_pg_cursor_free(k.cur);
    CHECK_EQ(pg_test_val_i64(c, "SELECT 12", NULL, 0), 12);
    CHECK(test_now() - t0 < 5.0);
    cio_pg_free(c);
    return 0;
}

/* ---- COPY ---------------------------------------------------------------------- */

struct gen_rows {
    long next, total; /* rows made, rows wanted */
    char buf[8192];   /* the chunk handed out */
    int fail_at;      /* > 0: return -EPIPE once next passes it */
};

/* Text rows "i\tvalue i\n", several per chunk. */
static int gen_source(void *arg, const void **data, size_t *len)
{
    struct gen_rows *g = arg;
    if (g->fail_at && g->next >= g->fail_at)
        return -EPIPE;
    if (g->next >= g->total)
        return 0;
    size_t n = 0;
    while (g->next < g->total && n + 64 < sizeof g->buf) {
        g->next++;
        n += (size_t)snprintf(g->buf + n, sizeof g->buf - n, "%ld\tvalue %ld\n", g->next, g->next);
    }
    *data = g->buf;
    *len = n;
    return 1;
}

struct sink {
    size_t bytes, chunks; /* received */
    char *buf;            /* everything, if collect */
    size_t cap;           /* of buf */
    int collect;          /* keep the bytes */
    size_t stop_after;    /* > 0: return -EINTR after this many chunks */
};

static int sink_fn(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;
    if (s->stop_after && s->chunks >= s->stop_after)
        return -EINTR;
    if (s->collect) {
        if (s->bytes + len > s->cap) {
            s->cap = (s->bytes + len) * 2;
            s->buf = realloc(s->buf, s->cap);
        }
        memcpy(s->buf + s->bytes, data, len);
    }
    s->bytes += len;
    s->chunks++;
    return 0;
}

static int t_copy(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo());
    if (!c)
        return 0;
    CHECK_RC(cio_pg_execute(c, "CREATE TEMP TABLE ct (id int8, v text)", NULL, 0), 0);
    enum { ROWS = 1000000 };
    struct gen_rows g = {0, ROWS, {0}, 0};
    double t0 = test_now();
    CHECK_EQ(cio_pg_copy_in(c, "COPY ct FROM STDIN", gen_source, &g), ROWS);
    fprintf(stderr, "  COPY FROM of %d rows: %.2f s\n", ROWS, test_now() - t0);
    CHECK_EQ(pg_test_val_i64(c, "SELECT count(*) FROM ct", NULL, 0), ROWS);
    CHECK_EQ(pg_test_val_i64(c, "SELECT sum(id)::int8 FROM ct WHERE v = 'value ' || id", NULL, 0),
             (int64_t)ROWS * (ROWS + 1) / 2);
    /* Out as text: one chunk per row. */
    struct sink s = {0};
    CHECK_EQ(cio_pg_copy_out(c, "COPY ct TO STDOUT", sink_fn, &s), ROWS);
    CHECK_EQ(s.chunks, ROWS);
    /* CSV out of a query, into a buffer, back in through a buffer. */
    struct sink csv = {0};
    csv.collect = 1;
    CHECK_EQ(cio_pg_copy_out(c, "COPY (SELECT id, v || ',\"q\"' FROM ct WHERE id <= 1000) "
                                "TO STDOUT WITH (FORMAT csv)", sink_fn, &csv), 1000);
    CHECK_RC(cio_pg_execute(c, "CREATE TEMP TABLE ct2 (id int8, v text)", NULL, 0), 0);
    CHECK_EQ(cio_pg_copy_in_buffer(c, "COPY ct2 FROM STDIN WITH (FORMAT csv)", csv.buf, csv.bytes),
             1000);
    CHECK_EQ(pg_test_val_i64(c, "SELECT count(*) FROM ct2 WHERE v = 'value ' || id || ',\"q\"'", NULL, 0),
             1000);
    free(csv.buf);
    /* Binary round trip. */
    struct sink bin = {0};
    bin.collect = 1;
    CHECK_EQ(cio_pg_copy_out(c, "COPY ct TO STDOUT WITH (FORMAT binary)", sink_fn, &bin), ROWS);
    CHECK(bin.bytes > 11 && !memcmp(bin.buf, "PGCOPY\n\377\r\n\0", 11));
    CHECK_RC(cio_pg_execute(c, "TRUNCATE ct2", NULL, 0), 0);
    CHECK_EQ(cio_pg_copy_in_buffer(c, "COPY ct2 FROM STDIN WITH (FORMAT binary)", bin.buf,
                                   bin.bytes), ROWS);
    CHECK_EQ(pg_test_val_i64(c, "SELECT count(*) FROM ct2 JOIN ct USING (id, v)", NULL, 0), ROWS);
    free(bin.buf);
    /* A source that fails: nothing stored, the connection in step. */
    struct gen_rows bad = {0, ROWS, {0}, 5000};
    CHECK_RC(cio_pg_copy_in(c, "COPY ct2 FROM STDIN", gen_source, &bad), -EPIPE);
    CHECK_EQ(pg_test_val_i64(c, "SELECT count(*) FROM ct2", NULL, 0), ROWS);
    /* A sink that stops. */
    struct sink stop = {0};
    stop.stop_after = 100;
    CHECK_RC(cio_pg_copy_out(c, "COPY ct TO STDOUT", sink_fn, &stop), -EINTR);
    CHECK_EQ(pg_test_val_i64(c, "SELECT 3", NULL, 0), 3);
    /* Errors: bad data, wrong direction, no COPY at all, no table. */
    CHECK_RC(cio_pg_copy_in_buffer(c, "COPY ct2 FROM STDIN", "x\ty\n", 4), CIO_EPG);
    CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "22P02"));
    CHECK_RC(cio_pg_copy_in_buffer(c, "COPY ct2 TO STDOUT", "", 0), CIO_EPG);
    CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "42601"));
    CHECK_RC(cio_pg_copy_out(c, "COPY ct2 FROM STDIN", sink_fn, &s), CIO_EPG);
    CHECK_RC(cio_pg_copy_out(c, "SELECT 1", sink_fn, &s), CIO_EPG);
    CHECK_RC(cio_pg_copy_out(c, "COPY nosuch TO STDOUT", sink_fn, &s), CIO_EPG);
    CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "42P01"));
    /* COPY TO pulled through an iterator. */
    cio_pg_copy_reader *rd;
    CHECK_RC(cio_pg_copy_out_open(c, "COPY (SELECT g FROM generate_series(1, 10000) g) TO STDOUT",
                                  &rd), 0);
    long chunks = 0, total = 0;
    void *item;
    int rc;
    CIO_FOR(cio_pg_copy_reader_aiter(rd), item, rc) {
        cio_pg_copy_chunk *ch = item;
        total += atol(ch->data); /* "123\n": atol stops at the newline */
        chunks++;
    }
    CHECK_RC(rc, CIO_ITER_END);
    CHECK_EQ(chunks, 10000);
    CHECK(total == 10000L * 10001 / 2);
    CHECK_EQ(cio_pg_copy_reader_close(rd), 10000);
    cio_pg_copy_reader_free(rd);
    /* Stopped early, with another task's query waiting for its turn and
     * this task's own query refused. */
    CHECK_RC(cio_pg_copy_out_open(c, "COPY ct TO STDOUT", &rd), 0);
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_aiter_next(cio_pg_copy_reader_aiter(rd), &item), 0);
    struct side_job sj = {c, 5, 0};
    cio_task *st;
    CHECK_RC(cio_create_task(side_task, &sj, NULL, &st), 0);
    cio_sleep(0.01);
    CHECK(!sj.ok);
    CHECK_RC(cio_pg_execute(c, "SELECT 1", NULL, 0), -EDEADLK);
    CHECK_RC(cio_aiter_aclose(cio_pg_copy_reader_aiter(rd)), 0);
    CHECK_RC(cio_pg_copy_reader_close(rd), 0);
    cio_pg_copy_reader_free(rd);
    cio_task_await(st, NULL);
    cio_task_unref(st);
    CHECK(sj.ok);
    CHECK_RC(cio_pg_copy_out_open(c, "COPY nosuch TO STDOUT", &rd), CIO_EPG);
    CHECK(rd == NULL);
    CHECK(cio_pg_copy_reader_aiter(NULL) == NULL);
    CHECK_RC(cio_pg_copy_reader_close(NULL), -EINVAL);
    cio_pg_copy_reader_free(NULL);
    CHECK_RC(cio_pg_copy_in(c, NULL, gen_source, &g), -EINVAL);
    CHECK_RC(cio_pg_copy_out(c, "COPY ct TO STDOUT", NULL, NULL), -EINVAL);
    CHECK_EQ(pg_test_val_i64(c, "SELECT 4", NULL, 0), 4);
    CHECK_EQ(cio_pg_pending(c), 0);
    /* A reader freed while open cannot end its COPY: the connection goes
     * (an error is logged). */
    CHECK_RC(cio_pg_copy_out_open(c, "COPY ct TO STDOUT", &rd), 0);
    CHECK_RC(cio_aiter_next(cio_pg_copy_reader_aiter(rd), &item), 0);
    cio_pg_copy_reader_free(rd);
    CHECK(cio_pg_is_closed(c));
    CHECK_RC(cio_pg_execute(c, "SELECT 1", NULL, 0), -ECONNRESET);
    cio_pg_free(c);
    return 0;
}

/* A generator yielding n chunks of 100 text rows each; *closed set if it
 * was closed early. */
struct gen_arg {
    int chunks;  /* how many to yield */
    int closed;  /* 1 if aclose reached it */
    int null_at; /* > 0: yield a NULL item as chunk number null_at */
};

static int chunk_gen(cio_gen *gen, void *arg)
{
    struct gen_arg *a = arg;
    char buf[4096];
    cio_pg_copy_chunk ch;
    for (int k = 0; k < a->chunks; k++) {
        size_t n = 0;
        for (int i = 0; i < 100; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%d\tgen\n", k * 100 + i);
        ch.data = buf;
        ch.len = n;
        int rc = cio_gen_yield(gen, a->null_at && k == a->null_at ? NULL : &ch);
        if (rc) {
            a->closed = rc == CIO_ECLOSED;
            return rc == CIO_ECLOSED ? 0 : rc;
        }
    }
    return 0;
}

static int t_copy_aiter(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo());
    if (!c)
        return 0;
    CHECK_RC(cio_pg_execute(c, "CREATE TEMP TABLE cg (id int8, v text)", NULL, 0), 0);
    struct gen_arg a = {50, 0, 0};
    cio_gen *g;
    CHECK_RC(cio_gen_new(chunk_gen, &a, "chunks", &g), 0);
    CHECK_EQ(cio_pg_copy_in_aiter(c, "COPY cg FROM STDIN", cio_gen_aiter(g)), 5000);
    cio_gen_unref(g);
    CHECK_EQ(pg_test_val_i64(c, "SELECT count(DISTINCT id) FROM cg WHERE v = 'gen'", NULL, 0), 5000);
    /* A bad item abandons the COPY (nothing stored) and closes the
     * generator. */
    struct gen_arg b = {50, 0, 10};
    CHECK_RC(cio_gen_new(chunk_gen, &b, "chunks", &g), 0);
    CHECK_RC(cio_pg_copy_in_aiter(c, "COPY cg FROM STDIN", cio_gen_aiter(g)), -EINVAL);
    CHECK(b.closed);
    cio_gen_unref(g);
    /* The server refuses the data (it tells at the end of the COPY). */
    struct gen_arg d = {5, 0, 0};
    CHECK_RC(cio_gen_new(chunk_gen, &d, "chunks", &g), 0);
    CHECK_RC(cio_pg_copy_in_aiter(c, "COPY cg (v) FROM STDIN", cio_gen_aiter(g)), CIO_EPG);
    CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "22P04"));
    cio_gen_unref(g);
    CHECK_RC(cio_pg_copy_in_aiter(c, "COPY cg FROM STDIN", NULL), -EINVAL);
    CHECK_EQ(pg_test_val_i64(c, "SELECT count(*) FROM cg", NULL, 0), 5000);
    cio_pg_free(c);
    return 0;
}

struct copy_job {
    cio_pg_conn *c; /* connection */
    int in;         /* 1: COPY FROM, 0: COPY TO */
    int rc;         /* outcome */
};

static int copy_task(void *arg, void **result)
{
    struct copy_job *j = arg;
    /* Endless for the test's purpose: it is cancelled midway, however
     * fast the machine (2M rows once finished within the 0.3 s). */
    struct gen_rows g = {0, 1000000000000LL, {0}, 0};
    struct sink s = {0};
    j->rc = j->in ? cio_pg_copy_in(j->c, "COPY cc FROM STDIN", gen_source, &g)
                  : cio_pg_copy_out(j->c, "COPY (SELECT g, repeat('y', 100) FROM "
                                          "generate_series(1, 1000000000000) g) TO STDOUT",
                                    sink_fn, &s);
    return 0;
}

/* Other tasks' queries around a COPY wait their turn and succeed; a COPY
 * cancelled midway (both ways) leaves the connection in step and stores
 * nothing. */
static int t_copy_shared(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo());
    if (!c)
        return 0;
    CHECK_RC(cio_pg_execute(c, "CREATE TEMP TABLE cc (id int8, v text)", NULL, 0), 0);
    enum { N = 20 };
    struct side_job jobs[2 * N];
    cio_task *t[2 * N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct side_job){c, i, 0};
        CHECK_RC(cio_create_task(side_task, &jobs[i], NULL, &t[i]), 0);
    }
    struct gen_rows g = {0, 50000, {0}, 0};
    cio_sleep(0);
    for (int i = N; i < 2 * N; i++) {
        jobs[i] = (struct side_job){c, i, 0};
        CHECK_RC(cio_create_task(side_task, &jobs[i], NULL, &t[i]), 0);
    }
    CHECK_EQ(cio_pg_copy_in(c, "COPY cc FROM STDIN", gen_source, &g), 50000);
    for (int i = 0; i < 2 * N; i++) {
        cio_task_await(t[i], NULL);
        cio_task_unref(t[i]);
        CHECK(jobs[i].ok);
    }
    for (int in = 1; in >= 0; in--) {
        struct copy_job j = {c, in, 1};
        cio_task *ct;
        CHECK_RC(cio_create_task(copy_task, &j, NULL, &ct), 0);
        cio_sleep(0.3);
        jobs[0] = (struct side_job){c, 99, 0};
        CHECK_RC(cio_create_task(side_task, &jobs[0], NULL, &t[0]), 0);
        cio_task_cancel(ct, NULL);
        cio_task_await(ct, NULL);
        cio_task_unref(ct);
        CHECK_RC(j.rc, -ECANCELED);
        cio_task_await(t[0], NULL);
        cio_task_unref(t[0]);
        CHECK(jobs[0].ok);
        CHECK_EQ(pg_test_val_i64(c, "SELECT count(*) FROM cc", NULL, 0), 50000);
    }
    cio_pg_free(c);
    return 0;
}

/* ---- a connection freed while tasks use it -------------------------------------- */

static int query_task(void *arg, void **result)
{
    struct copy_job *j = arg;
    j->rc = cio_pg_execute(j->c, "SELECT pg_sleep(5)", NULL, 0);
    return 0;
}

static int notify_task(void *arg, void **result)
{
    struct copy_job *j = arg;
    void *item;
    j->rc = cio_aiter_next(cio_pg_notify_aiter(j->c), &item);
    return 0;
}

static int txn_task(void *arg, void **result)
{
    struct copy_job *j = arg;
    cio_pg_transaction *tx;
    int rc = cio_pg_transaction_begin(j->c, NULL, &tx);
    if (rc < 0) {
        j->rc = 1000 + rc;
        return 0;
    }
    cio_sleep(0.3); /* the connection is freed meanwhile */
    j->rc = cio_pg_transaction_commit(tx);
    return 0;
}

static int t_free_in_use(void *arg, void **result)
{
    cio_pg_conn *c = pg_test_connect(pg_conninfo()), *c2 = pg_test_connect(pg_conninfo());
    if (!c || !c2)
        return 0;
    struct copy_job q = {c, 0, 1}, n = {c, 0, 1}, x = {c2, 0, 1}, cp = {c2, 1, 1};
    struct consumer k = {NULL, 0, 1};
    CHECK_RC(cio_pg_execute(c, "LISTEN nobody", NULL, 0), 0);
    CHECK_RC(cio_pg_cursor_open(c, "SELECT g, pg_sleep(0.01) FROM generate_series(1, 1000) g",
                                NULL, 0, 0, &k.cur), 0);
    cio_task *t[5];
    CHECK_RC(cio_create_task(consume_task, &k, NULL, &t[0]), 0);
    CHECK_RC(cio_create_task(query_task, &q, NULL, &t[1]), 0);
    CHECK_RC(cio_create_task(notify_task, &n, NULL, &t[2]), 0);
    CHECK_RC(cio_create_task(txn_task, &x, NULL, &t[3]), 0);
    CHECK_RC(cio_pg_execute(c2, "CREATE TABLE IF NOT EXISTS cc (id int8, v text)", NULL, 0), 0);
    cio_sleep(0.1);
    CHECK_RC(cio_create_task(copy_task, &cp, NULL, &t[4]), 0);
    cio_sleep(0.1);
    cio_pg_free(c);
    cio_pg_free(c2);
    for (int i = 0; i < 5; i++) {
        cio_task_await(t[i], NULL);
        cio_task_unref(t[i]);
    }
    CHECK_RC(k.rc, CIO_ECLOSED);
    CHECK_RC(q.rc, CIO_ECLOSED);
    CHECK_RC(n.rc, CIO_ITER_END);
    CHECK_RC(x.rc, CIO_ECLOSED);
    CHECK_RC(cp.rc, CIO_ECLOSED);
    /* The cursor outlived its connection: still safe to read and free. */
    void *item;
    CHECK_RC(cio_aiter_next(cio_pg_cursor_aiter(k.cur), &item), CIO_ECLOSED);
    cio_pg_cursor_free(k.cur);
    return 0;
}

/* ---- runner -------------------------------------------------------------------- */

CASE(t_cursor_rows)
CASE(t_cursor_bounded)
CASE(t_cursor_pipeline)
CASE(t_cursor_cancel)
CASE(t_copy)
CASE(t_copy_shared)
CASE(t_copy_aiter)
CASE(t_free_in_use)

int main(void)
{
    const char *why = pg_cluster_start();
    if (why)
        TEST_SKIP(why);
    RUN(t_cursor_rows_case);
    RUN(t_cursor_bounded_case);
    RUN(t_cursor_pipeline_case);
    RUN(t_cursor_cancel_case);
    RUN(t_copy_case);
    RUN(t_copy_shared_case);
    RUN(t_copy_aiter_case);
    RUN(t_free_in_use_case);
    return test_finish();
}
#endif
