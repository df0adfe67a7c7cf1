/*
 * cio_pg.c - bench-pg's cio side: `SELECT $1+1` from 64 tasks on one
 * connection (automatic pipelining), queries per second and the client's
 * CPU time per query (user+sys of this process over the run).  Uses the
 * server named by CIO_PG_DSN, else starts a private cluster
 * (tests/pg_util.h); then runs the asyncpg peer (bench/peers/pg_asyncpg.py)
 * against the same server when python3-asyncpg is installed.
 */
#include <stdio.h>
#include <stdlib.h>
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

enum { TASKS = 64 };

struct bench {
    cio_pg_conn *c; /* the shared connection */
    long per_task;  /* queries per task */
    long errors;    /* failed queries */
};

static int worker(void *arg, void **result)
{
    struct bench *b = arg;
    for (long i = 0; i < b->per_task; i++) {
        cio_pg_param p = cio_pg_pint8(i);
        cio_pg_result *r;
        cio_pg_value v;
        int64_t x;
        if (cio_pg_fetchval(b->c, "SELECT $1+1", &p, 1, &r, &v) != 1) {
            b->errors++;
            continue;
        }
        if (cio_pg_value_int64(&v, &x) < 0 || x != i + 1)
            b->errors++;
        cio_pg_result_free(r);
    }
    return 0;
}

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

static int amain(void *arg, void **result)
{
    const char *dsn = arg;
    struct bench b = {NULL, 2000, 0};
    int rc = cio_pg_connect(dsn, NULL, &b.c);
    if (rc < 0) {
        fprintf(stderr, "connect: %s\n", cio_strerror(rc));
        return rc;
    }
    for (int run = 0; run < 3; run++) {
        cio_task *t[TASKS];
        double w0 = wall_now(), c0 = cpu_now();
        for (int i = 0; i < TASKS; i++)
            cio_create_task(worker, &b, NULL, &t[i]);
        for (int i = 0; i < TASKS; i++) {
            cio_task_await(t[i], NULL);
            cio_task_unref(t[i]);
        }
        double wall = wall_now() - w0, cpu = cpu_now() - c0;
        double n = (double)TASKS * b.per_task;
        printf("cio      64 tasks, 1 connection: %9.0f queries/s, %6.2f us client CPU/query%s\n",
               n / wall, cpu / n * 1e6, b.errors ? " (ERRORS)" : "");
    }
    cio_pg_free(b.c);
    return 0;
}

int main(void)
{
    const char *dsn = getenv("CIO_PG_DSN");
    if (!dsn) {
        const char *why = pg_cluster_start();
        if (why) {
            printf("skipped: %s\n", why);
            return 77;
        }
        dsn = pg_conninfo();
    }
    int rc = cio_run(amain, (void *)dsn, NULL);
    fflush(stdout);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "CIO_PG_DSN='%s' /usr/bin/python3 %s/../peers/pg_asyncpg.py",
             dsn, BENCH_PG_DIR);
    if (system(cmd) != 0)
        printf("asyncpg peer did not run (apt-get install python3-asyncpg)\n");
    return rc < 0 ? 1 : 0;
}
#endif
