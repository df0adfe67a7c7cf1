"""PostgreSQL clients on the cio loop (unittest, part of test_frameworks.py's
run): asyncpg (python3-asyncpg) and aiopg (python3-aiopg, psycopg2 driven
through add_reader/add_writer) against a private PostgreSQL 15 cluster
(pgcluster.py, made as the C tests make theirs).
"""
import asyncio
import importlib.util
import time
import unittest

from fwutil import MISSING, need, run
from pgcluster import PgCluster


class Postgres(unittest.TestCase):
    """asyncpg (python3-asyncpg) and aiopg (python3-aiopg, psycopg2 driven
    through add_reader/add_writer) against a private PostgreSQL 15 cluster."""

    cluster = None

    @classmethod
    def setUpClass(cls):
        if all(importlib.util.find_spec(m) is None for m in ('asyncpg', 'aiopg')):
            need(('asyncpg', 'python3-asyncpg'), ('aiopg', 'python3-aiopg'))
        cls.cluster = PgCluster()
        why = cls.cluster.start()
        if why:
            cls.cluster.stop()
            MISSING.append('postgresql-15 (%s)' % why)
            raise unittest.SkipTest(why)

    @classmethod
    def tearDownClass(cls):
        if cls.cluster:
            cls.cluster.stop()

    def connect(self, **kw):
        import asyncpg
        return asyncpg.connect(host=self.cluster.socket_dir, port=self.cluster.port,
                               user='postgres', database='postgres', **kw)

    def test_aiopg(self):
        need(('aiopg', 'python3-aiopg'), ('psycopg2', 'python3-psycopg2'))
        import aiopg

        async def main():
            dsn = 'dbname=postgres user=postgres host=%s port=%d' % (self.cluster.socket_dir,
                                                                    self.cluster.port)
            async with aiopg.create_pool(dsn, minsize=1, maxsize=5) as pool:
                async with pool.acquire() as conn:
                    async with conn.cursor() as cur:
                        await cur.execute('SELECT %s::int + %s::int, %s::text', (2, 3, 'x'))
                        row = await cur.fetchone()
                        await cur.execute('CREATE TEMP TABLE t (id int, name text)')
                        for i in range(20):
                            await cur.execute('INSERT INTO t VALUES (%s, %s)', (i, 'n%d' % i))
                        await cur.execute('SELECT name FROM t WHERE id < 3 ORDER BY id')
                        names = [r[0] for r in await cur.fetchall()]
                        try:
                            await cur.execute('SELECT pg_sleep(5)', timeout=0.2)
                            timed_out = False
                        except asyncio.TimeoutError:
                            timed_out = True

                # 10 queries of 0.2 s over 5 connections: about 0.4 s, not 2.
                async def q(i):
                    async with pool.acquire() as c:
                        async with c.cursor() as cur:
                            await cur.execute('SELECT %s FROM pg_sleep(0.2)', (i,))
                            return (await cur.fetchone())[0]
                t0 = time.monotonic()
                got = await asyncio.gather(*[q(i) for i in range(10)])
                took = time.monotonic() - t0
            return row, names, timed_out, got, took

        row, names, timed_out, got, took = run(main())
        self.assertEqual(row, (5, 'x'))
        self.assertEqual(names, ['n0', 'n1', 'n2'])
        self.assertTrue(timed_out)
        self.assertEqual(got, list(range(10)))
        self.assertLess(took, 1.8)   # 2 s if the pool's connections did not overlap

    def test_queries_unix_and_tcp(self):
        need(('asyncpg', 'python3-asyncpg'))
        import asyncpg

        async def main():
            c = await self.connect()
            one = await c.fetchval('SELECT 1')
            row = await c.fetchrow('SELECT $1::int + $2::int AS s, $3::text AS t', 2, 3, 'x')
            await c.execute('CREATE TEMP TABLE t (id int PRIMARY KEY, name text)')
            await c.executemany('INSERT INTO t VALUES ($1, $2)', [(i, 'n%d' % i) for i in range(100)])
            async with c.transaction():
                names = [r['name'] async for r in c.cursor('SELECT name FROM t WHERE id < 5 ORDER BY id')]
            try:
                async with c.transaction():
                    await c.execute('DELETE FROM t')
                    raise RuntimeError('roll back')
            except RuntimeError:
                pass
            count = await c.fetchval('SELECT count(*) FROM t')
            copied = await c.copy_records_to_table('t', records=[(1000 + i, 'c') for i in range(50)])
            try:
                await c.execute('INSERT INTO t VALUES (1, $1)', 'dup')
                dup = None
            except asyncpg.UniqueViolationError as e:
                dup = type(e).__name__
            await c.close()
            tcp = await asyncpg.connect(self.cluster.dsn_tcp)
            over_tcp = await tcp.fetchval("SELECT inet_client_addr()::text")
            await tcp.close()
            return one, (row['s'], row['t']), names, count, copied, dup, over_tcp

        one, row, names, count, copied, dup, over_tcp = run(main())
        self.assertEqual(one, 1)
        self.assertEqual(row, (5, 'x'))
        self.assertEqual(names, ['n0', 'n1', 'n2', 'n3', 'n4'])
        self.assertEqual(count, 100)
        self.assertEqual(copied, 'COPY 50')
        self.assertEqual(dup, 'UniqueViolationError')
        self.assertEqual(over_tcp, '127.0.0.1/32')

    def test_pool_concurrency_timeout_and_notify(self):
        need(('asyncpg', 'python3-asyncpg'))
        import asyncpg

        async def main():
            pool = await asyncpg.create_pool(host=self.cluster.socket_dir, port=self.cluster.port,
                                             user='postgres', database='postgres',
                                             min_size=2, max_size=5)
            # 20 queries of 0.2 s over 5 connections: about 0.8 s, not 4.
            t0 = time.monotonic()
            got = await asyncio.gather(*[pool.fetchval('SELECT $1::int FROM pg_sleep(0.2)', i)
                                         for i in range(20)])
            took = time.monotonic() - t0
            # A query cut by its timeout; the connection stays usable.
            async with pool.acquire() as c:
                try:
                    await c.fetchval('SELECT pg_sleep(5)', timeout=0.2)
                    timed_out = False
                except asyncio.TimeoutError:
                    timed_out = True
                after = await c.fetchval('SELECT 2')
            # LISTEN/NOTIFY delivered as a callback on the loop.
            heard = asyncio.get_running_loop().create_future()
            listener = await self.connect()
            await listener.add_listener('chan', lambda *a: heard.done() or heard.set_result(a[3]))
            await pool.execute("NOTIFY chan, 'ping'")
            payload = await asyncio.wait_for(heard, 10)
            await listener.close()
            await pool.close()
            return got, took, timed_out, after, payload

        got, took, timed_out, after, payload = run(main())
        self.assertEqual(got, list(range(20)))
        self.assertLess(took, 3.5)   # 4 s if the pool's connections did not overlap
        self.assertTrue(timed_out)
        self.assertEqual(after, 2)
        self.assertEqual(payload, 'ping')
