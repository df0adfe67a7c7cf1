/*
 * cio_pg.c - bench-pg's cio side (bench/pg.py lists the benchmarks).
 *
 *     bench_pg GROUP            (the server from CIO_PG_DSN, a libpq
 *                                conninfo; without it a private cluster
 *                                is started, tests/pg_util.h)
 *
 * Groups, each printing "<bench> <value>" and "<bench>:<metric> <value>"
 * lines (bench/lib.py):
 *   select  `SELECT $1+1` (an int8 parameter, the answer checked) from 64
 *           tasks for BENCH_PG_SECONDS (default 1.5 s): on one connection
 *           (pg_select_1conn) and on 4 connections, 16 tasks each
 *           (pg_select_4conn).  Queries per second, and the client's CPU
 *           time (user+sys of this process, getrusage) per query in us.
 *   fetch   10,000 rows of (int4, int8, text), every value decoded:
 *           cio_pg_fetch (pg_fetch_10k) and a cursor with the default
 *           prefetch (pg_fetch_10k_cursor, single-row mode).  Rows per
 *           second and client CPU per row in ns.
 *   executemany
 *           an INSERT of 10,000 rows of (int4, int8, text) into a temporary
 *           table with one cio_pg_executemany (one round trip, one Sync)
 *           (pg_executemany_10k).  Rows per second and client CPU per row in
 *           ns, both over the executemany calls alone: after each, the
 *           table's contents are checked (EM_CHECK) and it is truncated,
 *           outside the clock.  The first round warms up, untimed.
 * Automatic pipelining does the work in select: every task's query joins
 * its connection's pipeline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <cio.h>

#ifndef CIO_HAVE_LIBPQ
int main(void)
{
    printf("skipped: built without libpq\n");
    return 77;
}
#else
#include <cio/pg.h>

#include "../../tests/pg_util.h"

enum { TASKS = 64, FETCH_ROWS = 10000 };

#define FETCH_SQL                                                                        \
    "SELECT g::int4 AS a, (g * 2)::int8 AS b, 'row ' || g AS c "                          \
    "FROM generate_series(1, 10000) g"

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double seconds(void)
{
    const char *s = getenv("BENCH_PG_SECONDS");
    return s && atof(s) > 0 ? atof(s) : 1.5;
}

/* ---- select ------------------------------------------------------------------ */

struct worker {
    cio_pg_conn *c;  /* its connection */
    double until;    /* wall-clock deadline */
    long done;       /* queries answered */
    long errors;     /* wrong or failed */
};

static int select_worker(void *arg, void **result)
{
    struct worker *w = arg;
    for (long i = 0; wall_now() < w->until; i++) {
        cio_pg_param p = cio_pg_pint8(i);
        cio_pg_result *r;
        cio_pg_value v;
        int64_t x = -1;
        if (cio_pg_fetchval(w->c, "SELECT $1+1", &p, 1, &r, &v) != 1) {
            w->errors++;
            continue;
        }
        if (cio_pg_value_int64(&v, &x) < 0 || x != i + 1)
            w->errors++;
        cio_pg_result_free(r);
        w->done++;
    }
    return 0;
}

/* 64 tasks over nconn connections; prints the two lines of name. */
static int run_select(const char *dsn, int nconn, const char *name)
{
    cio_pg_conn *c[4] = {0};
    int rc = 0;
    for (int i = 0; i < nconn && rc >= 0; i++)
        rc = cio_pg_connect(dsn, NULL, &c[i]);
    if (rc < 0) {
        fprintf(stderr, "connect: %s\n", cio_strerror(rc));
        goto out;
    }
    /* Warm up: prepare the statement on every connection. */
    for (int i = 0; i < nconn; i++) {
        cio_pg_param p = cio_pg_pint8(1);
        cio_pg_execute(c[i], "SELECT $1+1", &p, 1);
    }
    struct worker w[TASKS];
    cio_task *t[TASKS];
    double w0 = wall_now(), c0 = cpu_now();
    for (int i = 0; i < TASKS; i++) {
        w[i] = (struct worker){c[i % nconn], w0 + seconds(), 0, 0};
        cio_create_task(select_worker, &w[i], NULL, &t[i]);
    }
    long n = 0, errors = 0;
    for (int i = 0; i < TASKS; i++) {
        cio_task_await(t[i], NULL);
        cio_task_unref(t[i]);
        n += w[i].done;
        errors += w[i].errors;
    }
    double wall = wall_now() - w0, cpu = cpu_now() - c0;
    if (errors) {
        fprintf(stderr, "%s: %ld errors\n", name, errors);
        rc = -1;
        goto out;
    }
    printf("%s %.0f\n%s:cpu_us_per_query %.3f\n", name, n / wall, name, cpu / n * 1e6);
out:
    for (int i = 0; i < nconn; i++)
        cio_pg_free(c[i]);
    return rc;
}

/* ---- fetch --------------------------------------------------------------------- */

/* Decodes one row's three values; returns a checksum part. */
static int64_t use_row(const cio_pg_result *r, int row)
{
    cio_pg_value v;
    int64_t a = 0, b = 0;
    const char *s = NULL;
    size_t len = 0;
    cio_pg_result_get(r, row, 0, &v);
    cio_pg_value_int64(&v, &a);
    cio_pg_result_get(r, row, 1, &v);
    cio_pg_value_int64(&v, &b);
    cio_pg_result_get(r, row, 2, &v);
    cio_pg_value_text(&v, &s, &len);
    return a + b + (int64_t)len;
}

static int64_t want_sum(void)
{
    int64_t sum = 0;
    char buf[32];
    for (int g = 1; g <= FETCH_ROWS; g++)
        sum += g + 2 * g + snprintf(buf, sizeof buf, "row %d", g);
    return sum;
}

static int run_fetch(const char *dsn, int cursor, const char *name)
{
    cio_pg_conn *c;
    int rc = cio_pg_connect(dsn, NULL, &c);
    if (rc < 0) {
        fprintf(stderr, "connect: %s\n", cio_strerror(rc));
        return rc;
    }
    int64_t want = want_sum();
    long rows = 0, bad = 0;
    double w0 = wall_now(), c0 = cpu_now(), until = w0 + seconds();
    while (wall_now() < until && !bad) {
        int64_t sum = 0;
        if (!cursor) {
            cio_pg_result *r;
            if (cio_pg_fetch(c, FETCH_SQL, NULL, 0, &r) < 0) {
                bad++;
                break;
            }
            int n = cio_pg_result_nrows(r);
            for (int i = 0; i < n; i++)
                sum += use_row(r, i);
            rows += n;
            cio_pg_result_free(r);
        } else {
            cio_pg_cursor *cur;
            if (cio_pg_cursor_open(c, FETCH_SQL, NULL, 0, 0, &cur) < 0) {
                bad++;
                break;
            }
            void *item;
            int irc;
            CIO_FOR(cio_pg_cursor_aiter(cur), item, irc) {
                sum += use_row(item, 0);
                rows++;
            }
            cio_pg_cursor_free(cur);
            if (irc != CIO_ITER_END)
                bad++;
        }
        if (sum != want)
            bad++;
    }
    double wall = wall_now() - w0, cpu = cpu_now() - c0;
    cio_pg_free(c);
    if (bad || rows == 0) {
        fprintf(stderr, "%s: wrong rows\n", name);
        return -1;
    }
    printf("%s %.0f\n%s:cpu_ns_per_row %.1f\n", name, rows / wall, name, cpu / rows * 1e9);
    return 0;
}

/* ---- executemany ------------------------------------------------------------------ */

#define EM_TABLE "CREATE TEMP TABLE em (a int4, b int8, c text)"
#define EM_INSERT "INSERT INTO em VALUES ($1, $2, $3)"
/* True iff em holds exactly the rows i = 0..9999 as (i, i + 5000000000,
 * 'row i'): every contender inserts these and runs this check. */
#define EM_CHECK                                                                         \
    "SELECT count(*) = 10000 AND count(DISTINCT a) = 10000 AND min(a) = 0 AND "           \
    "max(a) = 9999 AND bool_and(b = a + 5000000000 AND c = 'row ' || a) FROM em"

static int em_check(cio_pg_conn *c)
{
    cio_pg_result *r = NULL;
    cio_pg_value v;
    const char *ok = NULL;
    int good = cio_pg_fetchval(c, EM_CHECK, NULL, 0, &r, &v) == 1 && v.type == CIO_PG_BOOL &&
               v.len == 1 && (ok = v.data) && *ok == 1;
    if (r)
        cio_pg_result_free(r);
    return good && cio_pg_execute(c, "TRUNCATE em", NULL, 0) >= 0;
}

static int run_executemany(const char *dsn, const char *name)
{
    cio_pg_conn *c;
    int rc = cio_pg_connect(dsn, NULL, &c);
    if (rc < 0) {
        fprintf(stderr, "connect: %s\n", cio_strerror(rc));
        return rc;
    }
    /* The rows, built once, as a user would hold them: 3 parameters each,
     * the text ones pointing into text. */
    cio_pg_param *params = malloc(sizeof *params * 3 * FETCH_ROWS);
    char(*text)[16] = malloc(sizeof *text * FETCH_ROWS);
    if (!params || !text || cio_pg_execute(c, EM_TABLE, NULL, 0) < 0) {
        fprintf(stderr, "%s: setup failed\n", name);
        rc = -1;
        goto out;
    }
    for (int i = 0; i < FETCH_ROWS; i++) {
        snprintf(text[i], sizeof text[i], "row %d", i);
        params[3 * i] = cio_pg_pint4(i);
        params[3 * i + 1] = cio_pg_pint8(i + 5000000000LL);
        params[3 * i + 2] = cio_pg_ptext(text[i]);
    }
    long rows = 0;
    double wall = 0, cpu = 0, until = wall_now() + seconds();
    for (int round = 0; round == 0 || rows == 0 || wall_now() < until; round++) {
        double w0 = wall_now(), c0 = cpu_now();
        int n = cio_pg_executemany(c, EM_INSERT, params, 3, FETCH_ROWS);
        double w1 = wall_now(), c1 = cpu_now();
        if (n != FETCH_ROWS || !em_check(c)) {
            fprintf(stderr, "%s: wrong rows (%d: %s)\n", name, n, n < 0 ? cio_strerror(n) : "");
            rc = -1;
            goto out;
        }
        if (round > 0) {
            wall += w1 - w0;
            cpu += c1 - c0;
            rows += n;
        }
    }
    printf("%s %.0f\n%s:cpu_ns_per_row %.1f\n", name, rows / wall, name, cpu / rows * 1e9);
out:
    free(params);
    free(text);
    cio_pg_free(c);
    return rc;
}

/* ---- main ------------------------------------------------------------------------ */

static const char *group;

static int amain(void *arg, void **result)
{
    const char *dsn = arg;
    int rc = 0;
    if (!strcmp(group, "select")) {
        if ((rc = run_select(dsn, 1, "pg_select_1conn")) >= 0)
            rc = run_select(dsn, 4, "pg_select_4conn");
    } else if (!strcmp(group, "fetch")) {
        if ((rc = run_fetch(dsn, 0, "pg_fetch_10k")) >= 0)
            rc = run_fetch(dsn, 1, "pg_fetch_10k_cursor");
    } else if (!strcmp(group, "executemany")) {
        rc = run_executemany(dsn, "pg_executemany_10k");
    } else {
        fprintf(stderr, "bench_pg: unknown group %s\n", group);
        rc = -1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s select|fetch|executemany\n", argv[0]);
        return 2;
    }
    group = argv[1];
    const char *dsn = getenv("CIO_PG_DSN");
    if (!dsn) {
        const char *why = pg_cluster_start();
        if (why) {
            fprintf(stderr, "bench_pg: %s\n", why);
            return 77;
        }
        dsn = pg_conninfo();
    }
    int rc = cio_run(amain, (void *)dsn, NULL);
    return rc < 0 ? 1 : 0;
}
#endif
