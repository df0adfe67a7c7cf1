"""sync_asyncio.py - asyncio's (and, with --uvloop, uvloop's) side of the
sync benchmarks (bench/sync/cio_sync.c).

    /usr/bin/python3 sync_asyncio.py [--uvloop] GROUP [N]

prints "<bench> <value>" lines as cio's program does.  The lock handoff
uses asyncio.Lock, the queue groups asyncio.Queue, with the same task
structure as the C program.
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
    else:
        sys.exit("sync_asyncio.py: unknown group " + group)
    asyncio.run(coro)


if __name__ == "__main__":
    main()
