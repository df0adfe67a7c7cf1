# pg_asyncpg.py - bench-pg's asyncpg peer: `SELECT $1+1` from 64 tasks on
# one connection (asyncpg serialises them: one query in flight), queries
# per second and client CPU per query; the same work as bench/pg/cio_pg.c.
import asyncio, os, resource, time
import asyncpg

TASKS, PER_TASK = 64, 300

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def dsn_from_conninfo(ci):
    kv = dict(p.split("=", 1) for p in ci.split())
    return dict(host=kv.get("host"), port=int(kv.get("port", 5432)),
                user=kv.get("user"), database=kv.get("dbname"))

async def main():
    conn = await asyncpg.connect(**dsn_from_conninfo(os.environ["CIO_PG_DSN"]))
    lock = asyncio.Lock()   # one connection: asyncpg allows one operation at a time
    async def worker():
        for i in range(PER_TASK):
            async with lock:
                assert await conn.fetchval("SELECT $1::int8+1", i) == i + 1
    for _ in range(3):
        w0, c0 = time.monotonic(), cpu()
        await asyncio.gather(*(worker() for _ in range(TASKS)))
        wall, c = time.monotonic() - w0, cpu() - c0
        n = TASKS * PER_TASK
        print(f"asyncpg  64 tasks, 1 connection: {n / wall:9.0f} queries/s, {c / n * 1e6:6.2f} us client CPU/query")
    await conn.close()

asyncio.run(main())
