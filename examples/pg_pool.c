/*
 * PostgreSQL pool: concurrent queries through a pool, then a transaction.
 *
 * The asyncio program it mirrors (asyncpg):
 *
 *     async def worker(pool, n):
 *         async with pool.acquire() as conn:
 *             return await conn.fetchval("SELECT $1::int8 * $1", n)
 *
 *     async def main():
 *         pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
 *         squares = await asyncio.gather(*(worker(pool, n) for n in range(10)))
 *         print(squares)
 *         async with pool.acquire() as conn:
 *             await conn.execute("CREATE TEMP TABLE acct (id int, balance int)")
 *             await conn.execute("INSERT INTO acct VALUES (1, 100), (2, 0)")
 *             async with conn.transaction():
 *                 await conn.execute("UPDATE acct SET balance = balance - 30 WHERE id = 1")
 *                 await conn.execute("UPDATE acct SET balance = balance + 30 WHERE id = 2")
 *             for row in await conn.fetch("SELECT id, balance FROM acct ORDER BY id"):
 *                 print(row["id"], row["balance"])
 *         await pool.close()
 *
 * It starts a private PostgreSQL cluster for itself (tests/pg_util.h), or
 * uses the server named by CIO_PG_DSN if set; it exits 77 (skipped) when
 * neither is available.
 *
 * What to observe: ten queries run at once through four connections, and
 * the results come back in the order asked; the loop never blocks on the
 * database.  The transfer is one transaction: both updates or neither.
 */
#include <stdio.h>
#include <stdlib.h>
#include <cio.h>

#ifndef CIO_HAVE_LIBPQ
int main(void)
{
    printf("skipped: cio was built without libpq\n");
    return 77;
}
#else
#include <cio/pg.h>

#include "pg_util.h"

struct job {
    cio_pg_pool *pool; /* shared pool */
    int n;             /* what to square */
    int64_t square;    /* the answer */
};

static int worker(void *arg, void **result)
{
    struct job *j = arg;
    cio_pg_conn *conn;
    int rc = cio_pg_pool_acquire(j->pool, 10.0, &conn);
    if (rc < 0)
        return rc;
    cio_pg_param n = cio_pg_pint8(j->n);
    cio_pg_result *res;
    cio_pg_value v;
    rc = cio_pg_fetchval(conn, "SELECT $1::int8 * $1", &n, 1, &res, &v);
    if (rc == 1) {
        cio_pg_value_int64(&v, &j->square);
        cio_pg_result_free(res);
    }
    cio_pg_pool_release(j->pool, conn);
    return rc < 0 ? rc : 0;
}

static int transfer(void *arg, void **result)
{
    cio_pg_conn *conn = arg;
    int rc = cio_pg_execute(conn, "UPDATE acct SET balance = balance - 30 WHERE id = 1", NULL, 0);
    if (rc >= 0)
        rc = cio_pg_execute(conn, "UPDATE acct SET balance = balance + 30 WHERE id = 2", NULL, 0);
    return rc < 0 ? rc : 0;
}

static int amain(void *arg, void **result)
{
    const char *dsn = arg;
    cio_pg_pool_options opts;
    cio_pg_pool_options_init(&opts);
    opts.min_size = 2;
    opts.max_size = 4;
    cio_pg_pool *pool;
    int rc = cio_pg_pool_new(dsn, &opts, &pool);
    if (rc < 0) {
        printf("create_pool: %s\n", cio_strerror(rc));
        return rc;
    }
    struct job jobs[10];
    cio_future *futs[10];
    cio_task *tasks[10];
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct job){pool, i, 0};
        cio_create_task(worker, &jobs[i], NULL, &tasks[i]);
        futs[i] = cio_task_future(tasks[i]);
    }
    rc = cio_gather(futs, 10, 0, NULL, NULL);
    printf("squares:");
    for (int i = 0; i < 10; i++) {
        printf(" %lld", (long long)jobs[i].square);
        cio_task_unref(tasks[i]);
    }
    printf("  (pool of %zu connections)\n", cio_pg_pool_size(pool));

    cio_pg_conn *conn;
    if (rc >= 0)
        rc = cio_pg_pool_acquire(pool, 10.0, &conn);
    if (rc >= 0) {
        cio_pg_execute(conn, "CREATE TEMP TABLE acct (id int, balance int)", NULL, 0);
        cio_pg_execute(conn, "INSERT INTO acct VALUES (1, 100), (2, 0)", NULL, 0);
        rc = cio_pg_transaction_run(conn, NULL, transfer, conn, NULL);
        cio_pg_result *rows;
        if (rc >= 0 && (rc = cio_pg_fetch(conn, "SELECT id, balance FROM acct ORDER BY id",
                                          NULL, 0, &rows)) >= 0) {
            for (int r = 0; r < cio_pg_result_nrows(rows); r++) {
                cio_pg_value id, bal;
                int64_t a = 0, b = 0;
                cio_pg_result_get_by_name(rows, r, "id", &id);
                cio_pg_result_get_by_name(rows, r, "balance", &bal);
                cio_pg_value_int64(&id, &a);
                cio_pg_value_int64(&bal, &b);
                printf("account %lld: %lld\n", (long long)a, (long long)b);
            }
            cio_pg_result_free(rows);
        }
        cio_pg_execute(conn, "DROP TABLE acct", NULL, 0);
        cio_pg_pool_release(pool, conn);
    }
    if (rc < 0 && cio_pg_last_error())
        printf("error: %s\n", cio_pg_error_message(cio_pg_last_error()));
    cio_pg_pool_close(pool);
    return rc < 0 ? rc : 0;
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
    return rc < 0 ? 1 : 0;
}
#endif
