"""core_asyncio.py - asyncio's (and, with --uvloop, uvloop's) side of the
core benchmarks (bench/core/cio_core.c).

    /usr/bin/python3 core_asyncio.py [--uvloop] GROUP [N]

prints "<bench> <value>" lines as cio's program does.  Tasks are asyncio
tasks, asyncio.sleep(0) yields, fresh loop futures carry the ping-pong,
loop.call_later sets timers.
"""
import asyncio
import os
import sys
import time

RNG = [88172645463325252]
M64 = (1 << 64) - 1


def rnd01():
    """xorshift64*, the same sequence as the C and Go programs."""
    x = RNG[0]
    x ^= x >> 12
    x ^= (x << 25) & M64
    x ^= x >> 27
    RNG[0] = x
    return (((x * 2685821657736338717) & M64) >> 11) * (1.0 / 9007199254740992.0)


def vm_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def yield_roundtrip(n):
    await asyncio.gather(yielder(1000), yielder(1000))
    t0 = time.perf_counter()
    a = asyncio.ensure_future(yielder(n))
    b = asyncio.ensure_future(yielder(n))
    await a
    await b
    t1 = time.perf_counter()
    print("yield_roundtrip %.3f" % ((t1 - t0) * 1e9 / n))


async def empty():
    pass


async def spawn_join(n):
    async def run(n):
        create = asyncio.get_running_loop().create_task
        for _ in range(n):
            await create(empty())
    await run(1000)
    t0 = time.perf_counter()
    await run(n)
    t1 = time.perf_counter()
    print("spawn_join %.3f" % ((t1 - t0) * 1e9 / n))


async def pingpong(n):
    loop = asyncio.get_running_loop()

    async def run(n):
        box = {"to_b": loop.create_future(), "to_a": None}

        async def ponger():
            for _ in range(n):
                await box["to_b"]
                box["to_b"] = loop.create_future()
                box["to_a"].set_result(None)

        b = loop.create_task(ponger())
        for _ in range(n):
            mine = loop.create_future()
            box["to_a"] = mine
            box["to_b"].set_result(None)
            await mine
        await b

    await run(1000)
    t0 = time.perf_counter()
    await run(n)
    t1 = time.perf_counter()
    print("pingpong_future %.3f" % ((t1 - t0) * 1e9 / (2 * n)))


def timers(loop, n):
    delay = [rnd01() * 1e-3 for _ in range(n)]
    state = {"fired": 0}

    def cb():
        state["fired"] += 1
        if state["fired"] == n:
            loop.stop()

    call_later = loop.call_later
    t0 = time.perf_counter()
    for d in delay:
        call_later(d, cb)
    t1 = time.perf_counter()
    time.sleep(0.002)  # every deadline passes (untimed)
    t2 = time.perf_counter()
    loop.run_forever()
    t3 = time.perf_counter()
    assert state["fired"] == n
    hs = [call_later(10.0 + d, cb) for d in delay]
    t4 = time.perf_counter()
    for h in hs:
        h.cancel()
    t5 = time.perf_counter()
    print("timers_1m_start %.3f" % ((t1 - t0) * 1e9 / n))
    print("timers_1m_fire %.3f" % ((t3 - t2) * 1e9 / n))
    print("timers_1m_cancel %.3f" % ((t5 - t4) * 1e9 / n))


async def sleep_100k(n):
    delay = [rnd01() * 0.1 for _ in range(n)]
    t0 = time.perf_counter()
    await asyncio.gather(*(asyncio.sleep(d) for d in delay))
    t1 = time.perf_counter()
    print("sleep_100k %.4f" % (t1 - t0))


async def tasks_rss(n):
    before = vm_rss()
    create = asyncio.get_running_loop().create_task
    tasks = [create(asyncio.sleep(3600)) for _ in range(n)]
    await asyncio.sleep(0)  # every task runs once and parks
    after = vm_rss()
    print("tasks_1m_rss %.1f" % ((after - before) / n))
    sys.stdout.flush()
    os._exit(0)  # tearing down a million tasks is not what is measured
    return tasks


def main():
    args = sys.argv[1:]
    use_uvloop = "--uvloop" in args
    args = [a for a in args if a != "--uvloop"]
    if not args:
        sys.exit("usage: core_asyncio.py [--uvloop] GROUP [N]")
    group = args[0]
    count = lambda d: int(args[1]) if len(args) > 1 else d
    if use_uvloop:
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if group == "yield_roundtrip":
        loop.run_until_complete(yield_roundtrip(count(200000)))
    elif group == "spawn_join":
        loop.run_until_complete(spawn_join(count(100000)))
    elif group == "pingpong_future":
        loop.run_until_complete(pingpong(count(200000)))
    elif group == "timers":
        timers(loop, count(1000000))
    elif group == "sleep_100k":
        loop.run_until_complete(sleep_100k(count(100000)))
    elif group == "tasks_1m_rss":
        loop.run_until_complete(tasks_rss(count(1000000)))
    else:
        sys.exit("core_asyncio.py: unknown group " + group)


if __name__ == "__main__":
    main()
