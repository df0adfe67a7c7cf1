# pg_asyncpg.py - bench-pg's asyncpg peer (Debian's python3-asyncpg), the
# work of bench/pg/cio_pg.c:
#
#     CIO_PG_DSN=... python3 pg_asyncpg.py [--uvloop] select|fetch|executemany
#
# select: `SELECT $1+1` from 64 tasks for BENCH_PG_SECONDS: on one
# connection (asyncpg runs one operation per connection at a time, so the
# tasks take turns under a lock) and on a pool of 4 (acquire per query, as
# asyncpg's users do).  fetch: 10,000 rows of (int4, int8, text) with
# conn.fetch, every value read and summed.  executemany: the 10,000 INSERTs
# of cio_pg.c's executemany with conn.executemany (pipelined, one Sync:
# atomic); the table checked with the same query.  Prints "<bench> <value>"
# and "<bench>:<metric> <value>" lines (bench/lib.py); client CPU from
# getrusage(RUSAGE_SELF).
import asyncio
import os
import resource
import sys
import time

import asyncpg

TASKS = 64
ROWS = 10000
SECONDS = float(os.environ.get("BENCH_PG_SECONDS", "1.5"))
FETCH_SQL = ("SELECT g::int4 AS a, (g * 2)::int8 AS b, 'row ' || g AS c "
             "FROM generate_series(1, 10000) g")
FETCH_SUM = sum(g + 2 * g + len("row %d" % g) for g in range(1, ROWS + 1))
EM_TABLE = "CREATE TEMP TABLE em (a int4, b int8, c text)"
EM_INSERT = "INSERT INTO em VALUES ($1, $2, $3)"
EM_CHECK = ("SELECT count(*) = 10000 AND count(DISTINCT a) = 10000 AND min(a) = 0 AND "
            "max(a) = 9999 AND bool_and(b = a + 5000000000 AND c = 'row ' || a) FROM em")


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def connect_args():
    """asyncpg's arguments from a libpq key=value conninfo."""
    kv = dict(p.split("=", 1) for p in os.environ["CIO_PG_DSN"].split())
    return dict(host=kv.get("host"), port=int(kv.get("port", 5432)),
                user=kv.get("user"), database=kv.get("dbname"))


async def select_one_conn():
    conn = await asyncpg.connect(**connect_args())
    lock = asyncio.Lock()
    until = time.monotonic() + SECONDS
    done = 0

    async def worker():
        nonlocal done
        i = 0
        while time.monotonic() < until:
            async with lock:
                assert await conn.fetchval("SELECT $1::int8+1", i) == i + 1
            i += 1
            done += 1

    w0, c0 = time.monotonic(), cpu()
    await asyncio.gather(*(worker() for _ in range(TASKS)))
    wall, c = time.monotonic() - w0, cpu() - c0
    await conn.close()
    return done / wall, c / done * 1e6


async def select_pool():
    pool = await asyncpg.create_pool(min_size=4, max_size=4, **connect_args())
    until = time.monotonic() + SECONDS
    done = 0

    async def worker():
        nonlocal done
        i = 0
        while time.monotonic() < until:
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT $1::int8+1", i) == i + 1
            i += 1
            done += 1

    w0, c0 = time.monotonic(), cpu()
    await asyncio.gather(*(worker() for _ in range(TASKS)))
    wall, c = time.monotonic() - w0, cpu() - c0
    await pool.close()
    return done / wall, c / done * 1e6


async def fetch():
    conn = await asyncpg.connect(**connect_args())
    rows = 0
    w0, c0 = time.monotonic(), cpu()
    until = w0 + SECONDS
    while time.monotonic() < until:
        s = 0
        for r in await conn.fetch(FETCH_SQL):
            s += r[0] + r[1] + len(r[2])
            rows += 1
        assert s == FETCH_SUM
    wall, c = time.monotonic() - w0, cpu() - c0
    await conn.close()
    return rows / wall, c / rows * 1e9


async def executemany():
    conn = await asyncpg.connect(**connect_args())
    await conn.execute(EM_TABLE)
    rows = [(i, i + 5000000000, "row %d" % i) for i in range(ROWS)]
    done, wall, c = 0, 0.0, 0.0
    until = time.monotonic() + SECONDS
    # Round 0 warms up, untimed; the check and TRUNCATE are not timed.
    r = 0
    while r == 0 or done == 0 or time.monotonic() < until:
        w0, c0 = time.monotonic(), cpu()
        await conn.executemany(EM_INSERT, rows)
        w1, c1 = time.monotonic(), cpu()
        assert await conn.fetchval(EM_CHECK) is True
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
        q, us = await select_pool()
        print("pg_select_4conn %.0f\npg_select_4conn:cpu_us_per_query %.3f" % (q, us))
    elif group == "fetch":
        r, ns = await fetch()
        print("pg_fetch_10k %.0f\npg_fetch_10k:cpu_ns_per_row %.1f" % (r, ns))
    elif group == "executemany":
        r, ns = await executemany()
        print("pg_executemany_10k %.0f\npg_executemany_10k:cpu_ns_per_row %.1f" % (r, ns))
    else:
        sys.exit("pg_asyncpg.py: unknown group " + group)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--uvloop":
        import uvloop
        uvloop.install()
        args = args[1:]
    asyncio.run(main(args[0]))
