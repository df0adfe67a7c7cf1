/*
 * test_pg_batch.c - big cio_pg_executemany batches against a real server
 * (a private cluster from pg_util.h): batches of tens of thousands of rows
 * are appended in chunks, their task waiting midway while the socket is
 * full (src/pg/query.c, send_segment).  What must hold: the rows all
 * arrive; other tasks' queries issued meanwhile neither enter the middle
 * of the batch nor get a wrong answer; an error row anywhere fails the
 * whole batch; cancellation, a timeout or a close midway leave the table
 * all-or-nothing and the connection in step (or, closed, no crash); rows
 * bigger than a chunk; without the statement cache.  The cases peek at
 * the connection's internals (pgint.h) only to see that the midway wait
 * happened, so that they test the path they mean to.
 * CIO_TEST_THREADS (the cancel request runs in the thread pool).
 */
#include "test.h"

#ifndef CIO_HAVE_LIBPQ
int main(void)
{
    TEST_SKIP("built without libpq (install libpq-dev)");
}
#else

#include <cio/pg.h>

#include "../src/pg/pgint.h"
#include "pg_test.h"

enum { BIG = 50000, NPARAM = 3 };

/* BIG rows (i + base, i + base + 5000000000, 'row <i + base>'), filled by
 * fill_rows. */
static cio_pg_param rows_p[BIG * NPARAM];
static char rows_txt[BIG][24];

static void fill_rows(int n, int base)
{
    for (int i = 0; i < n; i++) {
        snprintf(rows_txt[i], sizeof rows_txt[i], "row %d", i + base);
        rows_p[NPARAM * i] = cio_pg_pint4(i + base);
        rows_p[NPARAM * i + 1] = cio_pg_pint8(i + base + 5000000000LL);
        rows_p[NPARAM * i + 2] = cio_pg_ptext(rows_txt[i]);
    }
}

#define TABLE "CREATE TEMP TABLE bt (a int4 PRIMARY KEY, b int8, c text)"
#define INSERT "INSERT INTO bt VALUES ($1, $2, $3)"

/* Rows in bt that are exactly what fill_rows made (any base). */
static int64_t good_rows(cio_pg_conn *c)
{
    return pg_test_val_i64(c,
                           "SELECT count(*) FROM bt WHERE b = a + 5000000000 AND c = 'row ' || a",
                           NULL, 0);
}

static int64_t all_rows(cio_pg_conn *c)
{
    return pg_test_val_i64(c, "SELECT count(*) FROM bt", NULL, 0);
}

static cio_pg_conn *connect_with_table(const cio_pg_conn_options *opts)
{
    cio_pg_conn *c = NULL;
    int rc = cio_pg_connect(pg_conninfo(), opts, &c);
    CHECK_RC(rc, 0);
    if (rc < 0)
        return NULL;
    CHECK_RC(cio_pg_execute(c, TABLE, NULL, 0), 0);
    return c;
}

/* ---- a batch task and a watcher ---------------------------------------------- */

struct batch {
    cio_pg_conn *c; /* connection */
    int nrows;      /* rows of rows_p to insert */
    int rc;         /* cio_pg_executemany's result */
    int done;       /* the call returned */
};

static int batch_task(void *arg, void **result)
{
    struct batch *b = arg;
    b->rc = cio_pg_executemany(b->c, INSERT, rows_p, NPARAM, b->nrows);
    b->done = 1;
    return 0;
}

/* Loops until *done, one loop iteration at a time; returns 1 if it saw
 * the connection's batch waiting midway. */
static int watch_midway(cio_pg_conn *c, const int *done)
{
    int seen = 0;
    while (!*done) {
        if (c->appending)
            seen = 1;
        if (cio_sleep(0) < 0)
            break;
    }
    return seen;
}

/* Waits (bounded) until the connection's batch is waiting midway. */
static int wait_midway(cio_pg_conn *c, const int *done)
{
    double t0 = test_now();
    while (!c->appending && !*done && test_now() - t0 < 10)
        if (cio_sleep(0) < 0)
            return 0;
    return c->appending;
}

/* Other tasks' queries meanwhile: each checks its answers. */
struct asker {
    cio_pg_conn *c;    /* connection */
    const int *done;   /* stop once the batch returned */
    int id;            /* distinguishes the answers */
    int asked, wrong;  /* queries made, wrong answers or failures */
};

static int asker_task(void *arg, void **result)
{
    struct asker *a = arg;
    for (int k = 0; !*a->done || k < 3; k++) {
        cio_pg_param p = cio_pg_pint8((int64_t)a->id * 1000000 + k);
        cio_pg_result *r;
        cio_pg_value v;
        int64_t x = -1;
        int rc = cio_pg_fetchval(a->c, "SELECT $1::int8 * 10", &p, 1, &r, &v);
        if (rc == 1) {
            cio_pg_value_int64(&v, &x);
            cio_pg_result_free(r);
        }
        if (rc != 1 || x != ((int64_t)a->id * 1000000 + k) * 10)
            a->wrong++;
        a->asked++;
        if (rc == CIO_ECLOSED)
            break; /* fails at once from now on */
    }
    return 0;
}

/* ---- cases ----------------------------------------------------------------------- */

/* BIG rows arrive; queries from 4 other tasks meanwhile wait their turn
 * and get their own answers; the batch did wait midway. */
static int t_big_batch(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    fill_rows(BIG, 0);
    struct batch b = {c, BIG, 0, 0};
    struct asker as[4];
    cio_task *bt, *at[4];
    CHECK_RC(cio_create_task(batch_task, &b, NULL, &bt), 0);
    for (int i = 0; i < 4; i++) {
        as[i] = (struct asker){c, &b.done, i + 1, 0, 0};
        CHECK_RC(cio_create_task(asker_task, &as[i], NULL, &at[i]), 0);
    }
    CHECK(watch_midway(c, &b.done));
    cio_task_await(bt, NULL);
    cio_task_unref(bt);
    for (int i = 0; i < 4; i++) {
        cio_task_await(at[i], NULL);
        cio_task_unref(at[i]);
        CHECK(as[i].asked >= 3);
        CHECK_EQ(as[i].wrong, 0);
    }
    CHECK_RC(b.rc, BIG);
    CHECK_EQ(good_rows(c), BIG);
    CHECK_EQ(all_rows(c), BIG);
    CHECK_EQ(cio_pg_pending(c), 0);
    CHECK(!c->appending);
    cio_pg_free(c);
    return 0;
}

/* An error row at the start, in the middle or last: the batch fails with
 * its error, nothing of it stays, the connection goes on. */
static int t_error_row(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    fill_rows(10, -10); /* rows -10..-1 already there */
    CHECK_RC(cio_pg_executemany(c, INSERT, rows_p, NPARAM, 10), 10);
    const int bad[] = {1, BIG / 2, BIG - 1};
    for (int k = 0; k < 3; k++) {
        fill_rows(BIG, 0);
        rows_p[NPARAM * bad[k]] = cio_pg_pint4(-5); /* a duplicate key */
        CHECK_RC(cio_pg_executemany(c, INSERT, rows_p, NPARAM, BIG), CIO_EPG);
        CHECK(!strcmp(cio_pg_error_sqlstate(cio_pg_last_error()), "23505"));
        CHECK_EQ(all_rows(c), 10);
        CHECK_EQ(cio_pg_pending(c), 0);
    }
    /* And the statement still works for a good batch. */
    fill_rows(BIG, 0);
    CHECK_RC(cio_pg_executemany(c, INSERT, rows_p, NPARAM, BIG), BIG);
    CHECK_EQ(good_rows(c), BIG + 10);
    cio_pg_free(c);
    return 0;
}

/* Cancelled while waiting midway: -ECANCELED, no row of it stays, the
 * next queries get their own answers; a second batch then succeeds. */
static int t_cancel_midway(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    fill_rows(BIG, 0);
    struct batch b = {c, BIG, 0, 0};
    cio_task *bt;
    CHECK_RC(cio_create_task(batch_task, &b, NULL, &bt), 0);
    CHECK(wait_midway(c, &b.done));
    cio_task_cancel(bt, NULL);
    cio_task_await(bt, NULL);
    cio_task_unref(bt);
    CHECK_RC(b.rc, -ECANCELED);
    CHECK(!c->appending);
    cio_pg_param p = cio_pg_pint8(7);
    CHECK_EQ(pg_test_val_i64(c, "SELECT $1 * 10", &p, 1), 70);
    CHECK_EQ(all_rows(c), 0);
    CHECK_EQ(cio_pg_pending(c), 0);
    CHECK_RC(cio_pg_executemany(c, INSERT, rows_p, NPARAM, BIG), BIG);
    CHECK_EQ(good_rows(c), BIG);
    cio_pg_free(c);
    return 0;
}

/* Cancelled ever later, until the batch finishes first: at every point the table holds all of it or nothing, and the
 * connection stays in step. */
static int t_cancel_every_point(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    enum { N = 20000 };
    fill_rows(N, 0);
    int finished = 0, cancelled = 0, midway = 0;
    /* Steps: k loop iterations (k*k for the first 40: the midway waits),
     * then k-40 times 5 ms (the server running it). */
    for (int k = 0; k < 400 && !finished; k++) {
        struct batch b = {c, N, 1, 0};
        cio_task *bt;
        CHECK_RC(cio_create_task(batch_task, &b, NULL, &bt), 0);
        if (k < 40)
            for (int s = 0; s < k * k; s++)
                cio_sleep(0);
        else
            cio_sleep(0.005 * (k - 40));
        midway += c->appending;
        int was = cio_task_cancel(bt, NULL);
        cio_task_await(bt, NULL);
        cio_task_unref(bt);
        if (!b.done) {
            CHECK(was); /* cancelled before it ran */
        } else if (!was || b.rc >= 0) {
            finished = 1;
            CHECK_RC(b.rc, N);
        } else {
            CHECK_RC(b.rc, -ECANCELED);
            cancelled++;
        }
        cio_pg_param p = cio_pg_pint8(k);
        CHECK_EQ(pg_test_val_i64(c, "SELECT $1 * 10", &p, 1), k * 10);
        int64_t n = all_rows(c);
        CHECK(n == 0 || n == N);
        CHECK_EQ(good_rows(c), n);
        CHECK_RC(cio_pg_execute(c, "TRUNCATE bt", NULL, 0), 0);
        CHECK_EQ(cio_pg_pending(c), 0);
    }
    CHECK(finished);
    CHECK(cancelled > 0);
    CHECK(midway > 0);
    cio_pg_free(c);
    return 0;
}

/* A timeout scope around a big batch: -ETIMEDOUT, nothing stays. */
static int t_timeout_midway(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    fill_rows(BIG, 0);
    cio_timeout *tm;
    CHECK_RC(cio_timeout_begin(0.005, &tm), 0);
    int rc = cio_pg_executemany(c, INSERT, rows_p, NPARAM, BIG);
    int trc = cio_timeout_end(tm);
    if (rc == BIG) {
        /* A machine fast enough to send it all in 5 ms: nothing to test. */
        CHECK_RC(trc, 0);
        CHECK_EQ(all_rows(c), BIG);
    } else {
        CHECK_RC(rc, -ETIMEDOUT);
        CHECK_RC(trc, -ETIMEDOUT);
        CHECK_EQ(pg_test_val_i64(c, "SELECT 5", NULL, 0), 5);
        CHECK_EQ(all_rows(c), 0);
    }
    CHECK_EQ(cio_pg_pending(c), 0);
    cio_pg_free(c);
    return 0;
}

/* The connection freed by another task while the batch waits midway: the
 * batch fails with CIO_ECLOSED (nothing touches the freed libpq
 * connection; ASan checks), a query waiting at the gate too. */
static int t_close_midway(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    fill_rows(BIG, 0);
    struct batch b = {c, BIG, 0, 0};
    struct asker a = {c, &b.done, 1, 0, 0};
    cio_task *bt, *at;
    CHECK_RC(cio_create_task(batch_task, &b, NULL, &bt), 0);
    CHECK(wait_midway(c, &b.done));
    CHECK_RC(cio_create_task(asker_task, &a, NULL, &at), 0);
    cio_sleep(0);
    cio_pg_free(c);
    cio_task_await(bt, NULL);
    cio_task_unref(bt);
    cio_task_await(at, NULL);
    cio_task_unref(at);
    CHECK_RC(b.rc, CIO_ECLOSED);
    CHECK_EQ(a.asked, 1); /* its first query waited at the gate, then failed */
    CHECK_EQ(a.wrong, 1);
    return 0;
}

/* Rows bigger than a chunk (64 KiB of text each), and a batch without
 * the statement cache (a Parse per row). */
static int t_big_rows_no_cache(void *arg, void **result)
{
    cio_pg_conn *c = connect_with_table(NULL);
    if (!c)
        return 0;
    enum { NB = 60, LEN = 64 * 1024 };
    char *big = malloc(LEN + 1);
    CHECK(big != NULL);
    if (!big) {
        cio_pg_free(c);
        return 0;
    }
    memset(big, 'x', LEN);
    big[LEN] = 0;
    cio_pg_param p[NB * 2];
    for (int i = 0; i < NB; i++) {
        p[2 * i] = cio_pg_pint4(i);
        p[2 * i + 1] = cio_pg_ptext(big);
    }
    CHECK_RC(cio_pg_executemany(c, "INSERT INTO bt (a, c) VALUES ($1, $2)", p, 2, NB), NB);
    CHECK_EQ(pg_test_val_i64(c, "SELECT sum(length(c)) FROM bt", NULL, 0), (int64_t)NB * LEN);
    free(big);
    cio_pg_free(c);

    cio_pg_conn_options o;
    cio_pg_conn_options_init(&o);
    o.statement_cache_size = 0;
    if (!(c = connect_with_table(&o)))
        return 0;
    fill_rows(BIG, 0);
    struct batch b = {c, BIG, 0, 0};
    cio_task *bt;
    CHECK_RC(cio_create_task(batch_task, &b, NULL, &bt), 0);
    CHECK(watch_midway(c, &b.done));
    cio_task_await(bt, NULL);
    cio_task_unref(bt);
    CHECK_RC(b.rc, BIG);
    CHECK_EQ(good_rows(c), BIG);
    cio_pg_free(c);
    return 0;
}

/* ---- runner -------------------------------------------------------------------- */

CASE(t_big_batch)
CASE(t_error_row)
CASE(t_cancel_midway)
CASE(t_cancel_every_point)
CASE(t_timeout_midway)
CASE(t_close_midway)
CASE(t_big_rows_no_cache)

int main(void)
{
    const char *why = pg_cluster_start();
    if (why)
        TEST_SKIP(why);
    RUN(t_big_batch_case);
    RUN(t_error_row_case);
    RUN(t_cancel_midway_case);
    RUN(t_cancel_every_point_case);
    RUN(t_timeout_midway_case);
    RUN(t_close_midway_case);
    RUN(t_big_rows_no_cache_case);
    return test_finish();
}
#endif
