# pg_psycopg.py - bench-pg's psycopg 3 peer (Debian's python3-psycopg, its
# pure-Python implementation over libpq, and python3-psycopg-pool), the
# work of bench/pg/cio_pg.c with psycopg's asyncio API (AsyncConnection):
#
#     CIO_PG_DSN=... python3 pg_psycopg.py select|fetch|executemany
#
# Connections are in autocommit mode, as asyncpg's and cio's are (psycopg
# would otherwise open a transaction before the first query).
# select: `SELECT $1+1` from 64 tasks for BENCH_PG_SECONDS: on one shared
# connection, each task with its own cursor (conn.execute), as psycopg's
# "Concurrent operations" docs recommend: the connection serialises the
# tasks' queries with its own lock, one in flight at a time (its pipeline
# mode is for one flow of statements, not for tasks sharing a connection);
# and on an AsyncConnectionPool of 4 (psycopg_pool, a connection per
# query, as its users do).  fetch: 10,000 rows of (int4, int8, text) with
# conn.execute + fetchall in psycopg's default text format, every value
# read.  executemany: the 10,000 INSERTs of cio_pg.c's executemany with
# cursor.executemany, which in psycopg 3.1 sends them in pipeline mode
# with one Sync; the table checked with the same query.  Prints
# "<bench> <value>" and "<bench>:<metric> <value>" lines (bench/lib.py);
# client CPU from getrusage(RUSAGE_SELF).
import asyncio
import os
import resource
import sys
import time

import psycopg

try:
    from psycopg_pool import AsyncConnectionPool
except ImportError:  # python3-psycopg-pool missing: no pg_select_4conn
    AsyncConnectionPool = None

TASKS = 64
ROWS = 10000
SECONDS = float(os.environ.get("BENCH_PG_SECONDS", "1.5"))
FETCH_SQL = ("SELECT g::int4 AS a, (g * 2)::int8 AS b, 'row ' || g AS c "
             "FROM generate_series(1, 10000) g")
FETCH_SUM = sum(g + 2 * g + len("row %d" % g) for g in range(1, ROWS + 1))
EM_TABLE = "CREATE TEMP TABLE em (a int4, b int8, c text)"
EM_INSERT = "INSERT INTO em VALUES (%s, %s, %s)"
EM_CHECK = ("SELECT count(*) = 10000 AND count(DISTINCT a) = 10000 AND min(a) = 0 AND "
            "max(a) = 9999 AND bool_and(b = a + 5000000000 AND c = 'row ' || a) FROM em")


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def connect():
    return psycopg.AsyncConnection.connect(os.environ["CIO_PG_DSN"], autocommit=True)


async def select_one_conn():
    conn = await connect()
    until = time.monotonic() + SECONDS
    done = 0

    async def worker():
        nonlocal done
        i = 0
        while time.monotonic() < until:
            cur = await conn.execute("SELECT %s::int8+1", (i,))
            assert (await cur.fetchone())[0] == i + 1
            i += 1
            done += 1

    w0, c0 = time.monotonic(), cpu()
    await asyncio.gather(*(worker() for _ in range(TASKS)))
    wall, c = time.monotonic() - w0, cpu() - c0
    await conn.close()
    return done / wall, c / done * 1e6


async def select_pool():
    pool = AsyncConnectionPool(os.environ["CIO_PG_DSN"], min_size=4, max_size=4,
                               kwargs={"autocommit": True}, open=False)
    await pool.open(wait=True)
    until = time.monotonic() + SECONDS
    done = 0

    async def worker():
        nonlocal done
        i = 0
        while time.monotonic() < until:
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT %s::int8+1", (i,))
                assert (await cur.fetchone())[0] == i + 1
            i += 1
            done += 1

    w0, c0 = time.monotonic(), cpu()
    await asyncio.gather(*(worker() for _ in range(TASKS)))
    wall, c = time.monotonic() - w0, cpu() - c0
    await pool.close()
    return done / wall, c / done * 1e6


async def fetch():
    conn = await connect()
    rows = 0
    w0, c0 = time.monotonic(), cpu()
    until = w0 + SECONDS
    while time.monotonic() < until:
        s = 0
        cur = await conn.execute(FETCH_SQL)
        for r in await cur.fetchall():
            s += r[0] + r[1] + len(r[2])
            rows += 1
        assert s == FETCH_SUM
    wall, c = time.monotonic() - w0, cpu() - c0
    await conn.close()
    return rows / wall, c / rows * 1e9


async def executemany():
    conn = await connect()
    await conn.execute(EM_TABLE)
    rows = [(i, i + 5000000000, "row %d" % i) for i in range(ROWS)]
    done, wall, c = 0, 0.0, 0.0
    until = time.monotonic() + SECONDS
    # Round 0 warms up, untimed; the check and TRUNCATE are not timed.
    r = 0
    while r == 0 or done == 0 or time.monotonic() < until:
        w0, c0 = time.monotonic(), cpu()
        async with conn.cursor() as cur:
            await cur.executemany(EM_INSERT, rows)
        w1, c1 = time.monotonic(), cpu()
        assert (await (await conn.execute(EM_CHECK)).fetchone())[0] is True
        await conn.execute("TRUNCATE em")
        if r > 0:
            wall += w1 - w0
            c += c1 - c0
            done += ROWS
        r += 1
    await conn.close()
    return done / wall, c / done * 1e9


async def main(group):
    if group == "select":
        q, us = await select_one_conn()
        print("pg_select_1conn %.0f\npg_select_1conn:cpu_us_per_query %.3f" % (q, us))
        if AsyncConnectionPool is None:
            print("pg_psycopg.py: no psycopg_pool (apt-get install python3-psycopg-pool), "
                  "pg_select_4conn skipped", file=sys.stderr)
        else:
            q, us = await select_pool()
            print("pg_select_4conn %.0f\npg_select_4conn:cpu_us_per_query %.3f" % (q, us))
    elif group == "fetch":
        r, ns = await fetch()
        print("pg_fetch_10k %.0f\npg_fetch_10k:cpu_ns_per_row %.1f" % (r, ns))
    elif group == "executemany":
        r, ns = await executemany()
        print("pg_executemany_10k %.0f\npg_executemany_10k:cpu_ns_per_row %.1f" % (r, ns))
    else:
        sys.exit("pg_psycopg.py: unknown group " + group)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
