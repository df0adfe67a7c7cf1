"""python.py - the Python event-loop benchmarks (make bench-python), read by
bench/lib.py: the same Python programs (bench/python/pyloop.py) on
asyncio's epoll loop, uvloop (python3-uvloop) and cio's loop (python/,
built by make python).  The table's ratios are cio's over each peer.

Scheduling (call_soon, call_later, Future ping-pong, one process), TCP echo
with protocols, streams and sock_* (the server pinned to core 0,
bench/net/loadgen.c on core 1, 100 connections of 64-byte messages),
asyncpg's SELECT 1 against a private PostgreSQL cluster, and HTTP
hello-world from a minimal asyncio.Protocol server, aiohttp and uvicorn,
loaded by wrk.  Each line of
results.jsonl carries CPU per operation next to the throughput.  Issue
13's target, cio >= 1.3x uvloop's throughput at <= 0.8x its CPU per
operation on echo and HTTP, is read off the ratios (lib.py's targets are
absolute numbers, so none is set here).
"""
import os

from lib import PY, ROOT, Bench

PROG = os.path.join(ROOT, "bench", "python", "pyloop.py")
CONTENDERS = {loop: [PY, PROG, loop] for loop in ("cio", "uvloop", "asyncio")}
ALL = ["cio", "uvloop", "asyncio"]

BENCHES = [
    Bench("call_soon", "ops/s", group="loop", contenders=ALL, better="higher", runs=3, timeout=120),
    Bench("call_later", "ops/s", group="loop", contenders=ALL, better="higher", runs=3, timeout=120),
    Bench("future_pingpong", "roundtrips/s", group="loop", contenders=ALL, better="higher", runs=3,
          timeout=120),
    Bench("echo_protocol", "msgs/s", contenders=ALL, better="higher", runs=3, timeout=60),
    Bench("echo_streams", "msgs/s", contenders=ALL, better="higher", runs=3, timeout=60),
    Bench("echo_sock", "msgs/s", contenders=ALL, better="higher", runs=3, timeout=60),
    Bench("pg_select1", "queries/s", group="pg", contenders=ALL, better="higher", runs=3,
          timeout=120),
    Bench("pg_select1_pool10", "queries/s", group="pg", contenders=ALL, better="higher", runs=3,
          timeout=120),
    Bench("http_protocol", "req/s", contenders=ALL, better="higher", runs=3, timeout=60),
    Bench("http_aiohttp", "req/s", contenders=ALL, better="higher", runs=3, timeout=60),
    Bench("http_uvicorn", "req/s", contenders=ALL, better="higher", runs=3, timeout=60),
]
