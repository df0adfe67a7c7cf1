/*
 * PostgreSQL streams: COPY in, a cursor over the rows, COPY out.
 *
 * The asyncio program it mirrors (asyncpg):
 *
 *     async def rows():
 *         for i in range(1, 100001):
 *             yield f"{i}\tname {i}\n".encode()
 *
 *     async def main():
 *         conn = await asyncpg.connect(dsn)
 *         await conn.execute("CREATE TEMP TABLE people (id int8, name text)")
 *         n = await conn.copy_to_table("people", source=rows())
 *         print(n)
 *         total = 0
 *         async with conn.transaction():
 *             async for r in conn.cursor("SELECT id FROM people", prefetch=100):
 *                 total += r["id"]
 *         print(total)
 *         lines = []
 *         await conn.copy_from_query("SELECT * FROM people WHERE id <= 3",
 *                                    output=lambda b: lines.append(b))
 *         print(lines)
 *         await conn.close()
 *
 * It starts a private PostgreSQL cluster for itself (tests/pg_util.h), or
 * uses the server named by CIO_PG_DSN if set; it exits 77 (skipped) when
 * neither is available.
 *
 * What to observe: 100,000 rows go in through one COPY fed by a callback
 * that makes them chunk by chunk; the cursor hands rows out one at a time
 * with at most 100 of them in memory (no transaction needed: it is
 * libpq's single-row mode, not a server-side cursor); the COPY out hands
 * each row to a callback as the server sends it.
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

/* The COPY source: rows "i\tname i\n", about 8 KiB per chunk. */
struct rows {
    long next, last; /* the next id, the last one */
    char buf[8192];  /* the chunk handed out */
};

static int rows_source(void *arg, const void **data, size_t *len)
{
    struct rows *r = arg;
    size_t n = 0;
    while (r->next <= r->last && n + 64 < sizeof r->buf) {
        n += (size_t)snprintf(r->buf + n, sizeof r->buf - n, "%ld\tname %ld\n", r->next, r->next);
        r->next++;
    }
    if (n == 0)
        return 0; /* the end of the data */
    *data = r->buf;
    *len = n;
    return 1;
}

/* The COPY sink: prints each row as it comes. */
static int print_row(void *arg, const void *data, size_t len)
{
    (void)arg;
    printf("  copied out: %.*s", (int)len, (const char *)data);
    return 0;
}

static int amain(void *arg, void **result)
{
    (void)result;
    cio_pg_conn *conn;
    int rc = cio_pg_connect(arg, NULL, &conn);
    if (rc < 0) {
        printf("connect: %s\n", cio_strerror(rc));
        return rc;
    }
    struct rows src = {1, 100000, {0}};
    if ((rc = cio_pg_execute(conn, "CREATE TEMP TABLE people (id int8, name text)", NULL, 0)) >= 0 &&
        (rc = cio_pg_copy_in(conn, "COPY people FROM STDIN", rows_source, &src)) >= 0)
        printf("copied in: %d rows\n", rc);

    cio_pg_cursor *cur;
    if (rc >= 0 && (rc = cio_pg_cursor_open(conn, "SELECT id FROM people", NULL, 0, 100, &cur)) >= 0) {
        int64_t total = 0;
        void *row;
        CIO_FOR(cio_pg_cursor_aiter(cur), row, rc) {
            cio_pg_value v;
            int64_t id = 0;
            cio_pg_result_get(row, 0, 0, &v);
            cio_pg_value_int64(&v, &id);
            total += id;
        }
        cio_pg_cursor_free(cur);
        if (rc == CIO_ITER_END) {
            printf("sum of ids through the cursor: %lld\n", (long long)total);
            rc = 0;
        }
    }
    if (rc >= 0)
        rc = cio_pg_copy_out(conn, "COPY (SELECT * FROM people WHERE id <= 3) TO STDOUT",
                             print_row, NULL);
    if (rc < 0)
        printf("error: %s %s\n", cio_strerror(rc),
               cio_pg_last_error() ? cio_pg_error_message(cio_pg_last_error()) : "");
    cio_pg_free(conn);
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
