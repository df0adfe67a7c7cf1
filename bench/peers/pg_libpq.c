/*
 * pg_libpq.c - bench-pg's plain libpq peers (no cio), doing the work of
 * bench/pg/cio_pg.c:
 *
 *     peer_pg_libpq sync|pipeline GROUP      (server: CIO_PG_DSN)
 *
 * sync: one query in flight per connection (PQexecPrepared), one thread
 * per connection.  pipeline: libpq's pipeline mode, DEPTH queries in
 * flight per connection (each with its own Sync, as cio sends them), one
 * thread per connection.  Groups as cio_pg.c's: select (64 "tasks" =
 * the depth summed over the connections: 1 connection 64 deep, or 4
 * connections 16 deep; sync has 1 or 4 in flight), fetch (sync only:
 * 10,000 rows in binary, every value decoded and summed) and executemany (pipeline
 * only: the 10,000 INSERTs of cio_pg.c's executemany sent back to back
 * with one Sync at the end, as cio_pg_executemany does, in non-blocking
 * mode so that reading the answers keeps pace with sending; the table
 * checked with the same query).  Client CPU from getrusage(RUSAGE_SELF),
 * which counts every thread.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

static PGconn *connect_or_die(void)
{
    PGconn *c = PQconnectdb(getenv("CIO_PG_DSN"));
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        exit(1);
    }
    PGresult *r = PQprepare(c, "s", "SELECT $1+1", 1, (Oid[]){20});
    PQclear(r);
    return c;
}

static int64_t get_i64(const PGresult *r, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < len; i++)
        v = v << 8 | p[i];
    if (len == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

struct job {
    int pipeline;  /* mode */
    int depth;     /* queries in flight (pipeline) */
    double until;  /* deadline */
    long done;     /* queries answered */
    long errors;   /* wrong or failed */
};

static void param(int64_t i, unsigned char buf[8])
{
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)((uint64_t)i >> (56 - 8 * k));
}

static void *select_thread(void *arg)
{
    struct job *j = arg;
    PGconn *c = connect_or_die();
    int fmt = 1, len = 8;
    if (!j->pipeline) {
        for (int64_t i = 0; wall_now() < j->until; i++) {
            unsigned char b[8];
            param(i, b);
            const char *v = (const char *)b;
            PGresult *r = PQexecPrepared(c, "s", 1, &v, &len, &fmt, 1);
            if (PQresultStatus(r) != PGRES_TUPLES_OK || get_i64(r, 0, 0) != i + 1)
                j->errors++;
            PQclear(r);
            j->done++;
        }
        PQfinish(c);
        return NULL;
    }
    PQenterPipelineMode(c);
    int64_t sent = 0, got = 0;
    int stop = 0;
    for (;;) {
        /* Keep depth queries in flight until the deadline. */
        while (!stop && sent - got < j->depth) {
            unsigned char b[8];
            param(sent, b);
            const char *v = (const char *)b;
            PQsendQueryPrepared(c, "s", 1, &v, &len, &fmt, 1);
            PQpipelineSync(c);
            sent++;
        }
        if (got == sent)
            break;
        PQflush(c);
        /* One answer: its result, the NULL, the Sync. */
        PGresult *r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || get_i64(r, 0, 0) != got + 1)
            j->errors++;
        PQclear(r);
        PQclear(PQgetResult(c));
        r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
            j->errors++;
        PQclear(r);
        got++;
        j->done++;
        if (!stop && wall_now() >= j->until)
            stop = 1;
    }
    PQexitPipelineMode(c);
    PQfinish(c);
    return NULL;
}

static int run_select(int pipeline, int nconn, const char *name)
{
    struct job j[4];
    pthread_t t[4];
    double w0 = wall_now(), c0 = cpu_now();
    for (int i = 0; i < nconn; i++) {
        j[i] = (struct job){pipeline, 64 / nconn, w0 + seconds(), 0, 0};
        pthread_create(&t[i], NULL, select_thread, &j[i]);
    }
    long n = 0, errors = 0;
    for (int i = 0; i < nconn; i++) {
        pthread_join(t[i], NULL);
        n += j[i].done;
        errors += j[i].errors;
    }
    double wall = wall_now() - w0, cpu = cpu_now() - c0;
    if (errors) {
        fprintf(stderr, "%s: %ld errors\n", name, errors);
        return -1;
    }
    printf("%s %.0f\n%s:cpu_us_per_query %.3f\n", name, n / wall, name, cpu / n * 1e6);
    return 0;
}

static int run_fetch(void)
{
    PGconn *c = connect_or_die();
    /* The sum of a + b + length(c) over the 10,000 rows, as cio_pg.c's. */
    int64_t want = 0;
    char buf[32];
    for (int g = 1; g <= 10000; g++)
        want += g + 2 * g + snprintf(buf, sizeof buf, "row %d", g);
    long rows = 0;
    double w0 = wall_now(), c0 = cpu_now(), until = w0 + seconds();
    while (wall_now() < until) {
        PGresult *r = PQexecParams(c, FETCH_SQL, 0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "fetch: %s", PQerrorMessage(c));
            return -1;
        }
        int n = PQntuples(r);
        int64_t sum = 0;
        for (int i = 0; i < n; i++)
            sum += get_i64(r, i, 0) + get_i64(r, i, 1) + (int64_t)strlen(PQgetvalue(r, i, 2));
        if (sum != want) {
            fprintf(stderr, "fetch: wrong rows\n");
            return -1;
        }
        rows += n;
        PQclear(r);
    }
    double wall = wall_now() - w0, cpu = cpu_now() - c0;
    PQfinish(c);
    printf("pg_fetch_10k %.0f\npg_fetch_10k:cpu_ns_per_row %.1f\n", rows / wall, cpu / rows * 1e9);
    return 0;
}

/* ---- executemany (pipeline mode) --------------------------------------------- */

enum { EM_ROWS = 10000 };

/* The table, rows and check of bench/pg/cio_pg.c's executemany. */
#define EM_TABLE "CREATE TEMP TABLE em (a int4, b int8, c text)"
#define EM_INSERT "INSERT INTO em VALUES ($1, $2, $3)"
#define EM_CHECK                                                                         \
    "SELECT count(*) = 10000 AND count(DISTINCT a) = 10000 AND min(a) = 0 AND "           \
    "max(a) = 9999 AND bool_and(b = a + 5000000000 AND c = 'row ' || a) FROM em"

/* One row's parameters: int4 and int8 in binary, the text as text. */
struct em_row {
    unsigned char a[4];  /* int4, network order */
    unsigned char b[8];  /* int8, network order */
    char c[16];          /* "row i" */
};

/* Reads every result already complete without blocking; counts the
 * INSERTs answered in *got (each: its result, then a NULL) and wrong ones
 * in *bad.  *between: the NULL after a result is due next. */
static void em_drain(PGconn *c, long *got, long *bad, int *between)
{
    while (!PQisBusy(c)) {
        PGresult *r = PQgetResult(c);
        if (*between) {
            if (r)
                (*bad)++;
            *between = 0;
        } else if (!r) {
            break;  /* nothing pending (all answered so far) */
        } else {
            if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(r), "1"))
                (*bad)++;
            (*got)++;
            *between = 1;
        }
        PQclear(r);
    }
}

/* Waits until the socket can take more output or has input, then reads
 * what came. */
static int em_wait(PGconn *c)
{
    struct pollfd p = {PQsocket(c), POLLIN | POLLOUT, 0};
    if (poll(&p, 1, -1) < 0 || !PQconsumeInput(c))
        return -1;
    return 0;
}

/* One executemany: every INSERT, one Sync, every answer.  Returns the
 * rows inserted, or -1. */
static long em_round(PGconn *c, const struct em_row *rows)
{
    int fmt[3] = {1, 1, 0}, len[3] = {4, 8, 0};
    long got = 0, bad = 0;
    int between = 0;
    PQenterPipelineMode(c);
    for (int i = 0; i < EM_ROWS; i++) {
        const char *v[3] = {(const char *)rows[i].a, (const char *)rows[i].b, rows[i].c};
        len[2] = (int)strlen(rows[i].c);
        if (!PQsendQueryPrepared(c, "em", 3, v, len, fmt, 0))
            return -1;
        /* Every 64 rows, keep the output moving and read the answers come
         * so far, so neither side's buffers fill up while the other waits
         * (libpq itself sends its buffer 8 KiB at a time). */
        if ((i & 63) == 63) {
            int f;
            while ((f = PQflush(c)) == 1) {
                if (em_wait(c) < 0)
                    return -1;
                em_drain(c, &got, &bad, &between);
            }
            if (f < 0 || !PQconsumeInput(c))
                return -1;
            em_drain(c, &got, &bad, &between);
        }
    }
    if (!PQpipelineSync(c))
        return -1;
    int f;
    while ((f = PQflush(c)) == 1)
        if (em_wait(c) < 0)
            return -1;
    if (f < 0)
        return -1;
    /* The rest, waiting as needed (PQgetResult blocks in either mode). */
    while (got < EM_ROWS && !bad) {
        PGresult *r = PQgetResult(c);
        if (between) {
            if (r)
                bad++;
            between = 0;
        } else {
            if (!r || PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(r), "1"))
                bad++;
            got++;
            between = 1;
        }
        PQclear(r);
    }
    if (between)
        PQclear(PQgetResult(c));
    PGresult *r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        bad++;
    PQclear(r);
    if (!PQexitPipelineMode(c))
        bad++;
    return bad ? -1 : got;
}

static int em_check(PGconn *c)
{
    PGresult *r = PQexec(c, EM_CHECK);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
             !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    r = PQexec(c, "TRUNCATE em");
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static int run_executemany(void)
{
    PGconn *c = connect_or_die();
    static struct em_row rows[EM_ROWS];
    for (int i = 0; i < EM_ROWS; i++) {
        uint32_t a = (uint32_t)i;
        for (int k = 0; k < 4; k++)
            rows[i].a[k] = (unsigned char)(a >> (24 - 8 * k));
        param(i + 5000000000LL, rows[i].b);
        snprintf(rows[i].c, sizeof rows[i].c, "row %d", i);
    }
    PGresult *r = PQexec(c, EM_TABLE);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQprepare(c, "em", EM_INSERT, 3, (Oid[]){23, 20, 25});
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || PQsetnonblocking(c, 1) < 0) {
        fprintf(stderr, "executemany: setup: %s", PQerrorMessage(c));
        return -1;
    }
    long rows_done = 0;
    double wall = 0, cpu = 0, until = wall_now() + seconds();
    /* Round 0 warms up, untimed; the check and TRUNCATE are not timed. */
    for (int round = 0; round == 0 || rows_done == 0 || wall_now() < until; round++) {
        double w0 = wall_now(), c0 = cpu_now();
        long n = em_round(c, rows);
        double w1 = wall_now(), c1 = cpu_now();
        if (n != EM_ROWS || !em_check(c)) {
            fprintf(stderr, "executemany: wrong rows (%ld): %s", n, PQerrorMessage(c));
            return -1;
        }
        if (round > 0) {
            wall += w1 - w0;
            cpu += c1 - c0;
            rows_done += n;
        }
    }
    PQfinish(c);
    printf("pg_executemany_10k %.0f\npg_executemany_10k:cpu_ns_per_row %.1f\n",
           rows_done / wall, cpu / rows_done * 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || !getenv("CIO_PG_DSN")) {
        fprintf(stderr, "usage: CIO_PG_DSN=... %s sync|pipeline select|fetch|executemany\n", argv[0]);
        return 2;
    }
    int pipeline = !strcmp(argv[1], "pipeline");
    if (!strcmp(argv[2], "select")) {
        if (run_select(pipeline, 1, "pg_select_1conn") < 0 ||
            run_select(pipeline, 4, "pg_select_4conn") < 0)
            return 1;
        return 0;
    }
    if (!strcmp(argv[2], "fetch"))
        return run_fetch() < 0 ? 1 : 0;
    if (!strcmp(argv[2], "executemany"))
        return run_executemany() < 0 ? 1 : 0;
    fprintf(stderr, "unknown group %s\n", argv[2]);
    return 2;
}
