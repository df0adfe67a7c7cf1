"""sync_asyncio.py - asyncio's (and, with --uvloop, uvloop's) side of the
sync benchmarks (bench/sync/cio_sync.c).

    /usr/bin/python3 sync_asyncio.py [--uvloop] GROUP [N]

prints "<bench> <value>" lines as cio's program does.  The lock handoff
uses asyncio.Lock, the queue groups asyncio.Queue, with the same task
structure as the C program.  gather_10k creates 10,000 tasks of a
coroutine returning its index (loop.create_task), awaits asyncio.gather of
them and drops them (counted: create, gather, release).  cache_hit awaits
an async memo function whose hit path is a dict lookup (the same 1,000
keys "key:0".."key:999", cycled): what an async-lru style cache does at
the least.  Python caches a str's hash in the object, so the key is not
hashed again per lookup, unlike cio's byte-string keys.
"""
import asyncio
import sys
import time


async def lock_handoff(n):
    lock = asyncio.Lock()

    async def side():
        await lock.acquire()
        for _ in range(n):
            lock.release()
            await lock.acquire()
        lock.release()

    await lock.acquire()
    a = asyncio.create_task(side())
    b = asyncio.create_task(side())
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    lock.release()
    await a
    await b
    t1 = time.perf_counter()
    print("lock_handoff %.2f" % ((t1 - t0) * 1e9 / (2 * n)))


async def queue_run(name, maxsize, n):
    q = asyncio.Queue(maxsize)

    async def producer():
        for i in range(n):
            await q.put(i)

    async def consumer():
        for i in range(n):
            if await q.get() != i:
                raise RuntimeError("out of order")

    t0 = time.perf_counter()
    c = asyncio.create_task(consumer())
    p = asyncio.create_task(producer())
    await p
    await c
    t1 = time.perf_counter()
    print("%s %.2f" % (name, (t1 - t0) * 1e9 / n))


async def gather_10k(n):
    async def value(i):
        return i

    async def run(rounds):
        create = asyncio.get_running_loop().create_task
        res = None
        for _ in range(rounds):
            res = await asyncio.gather(*[create(value(i)) for i in range(10000)])
        return res

    rounds = max(1, n // 10000)
    await run(1)
    t0 = time.perf_counter()
    res = await run(rounds)
    t1 = time.perf_counter()
    if res[9999] != 9999:
        raise RuntimeError("wrong results")
    print("gather_10k %.3f" % ((t1 - t0) * 1e9 / (rounds * 10000)))


async def cache_hit(n):
    keys = ["key:%d" % i for i in range(1000)]
    cache = {}

    async def compute(key):
        return int(key[4:])

    async def memo(key):
        try:
            return cache[key]
        except KeyError:
            v = cache[key] = await compute(key)
            return v

    for k in keys:
        await memo(k)
    total = 0
    t0 = time.perf_counter()
    for i in range(n // 1000):
        for k in keys:
            total += await memo(k)
    t1 = time.perf_counter()
    if total < 0:
        raise RuntimeError("wrong results")
    print("cache_hit %.2f" % ((t1 - t0) * 1e9 / (n // 1000 * 1000)))


def main():
    args = sys.argv[1:]
    if args and args[0] == "--uvloop":
        import uvloop
        uvloop.install()
        args = args[1:]
    group = args[0]
    n = int(args[1]) if len(args) > 1 else 200000
    if group == "lock_handoff":
        coro = lock_handoff(n)
    elif group == "queue_handoff":
        coro = queue_run("queue_handoff", 1, n)
    elif group == "queue_unbounded":
        coro = queue_run("queue_unbounded", 0, n)
    elif group == "gather_10k":
        coro = gather_10k(int(args[1]) if len(args) > 1 else 100000)
    elif group == "cache_hit":
        coro = cache_hit(int(args[1]) if len(args) > 1 else 2000000)
    else:
        sys.exit("sync_asyncio.py: unknown group " + group)
    asyncio.run(coro)


if __name__ == "__main__":
    main()
