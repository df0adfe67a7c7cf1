"""core.py - the core benchmarks (make bench-core), read by bench/lib.py.

cio's side is bench/core/cio_core.c; the peers are bench/peers/core_go.go,
core_asyncio.py (asyncio, and uvloop with --uvloop) and core_libuv.c
(timers only).  Every program takes the same group names and does the same
work; see the comment at the top of cio_core.c for what each one measures.
Targets are the issue's, for cio; they are reported, never asserted.
"""
import os

from lib import PY, ROOT, Bench

BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))


def exe(path):
    """argv of a built program, or None when it was not built."""
    return [path] if os.access(path, os.X_OK) else None


CONTENDERS = {
    "cio": exe(os.path.join(BUILD, "bench", "bench_core")),
    "go": exe(os.path.join(BUILD, "bench", "peers", "core_go")),
    "asyncio": [PY, os.path.join(ROOT, "bench", "peers", "core_asyncio.py")],
    "uvloop": [PY, os.path.join(ROOT, "bench", "peers", "core_asyncio.py"), "--uvloop"],
    "libuv": exe(os.path.join(BUILD, "bench", "peer_core_libuv")),
}

TASKS = ["cio", "go", "asyncio", "uvloop"]
TIMERS = ["cio", "go", "asyncio", "uvloop", "libuv"]

BENCHES = [
    Bench("raw_switch", "ns/switch", contenders=["cio"], target=3),
    Bench("yield_roundtrip", "ns/roundtrip", contenders=TASKS, target=12),
    Bench("spawn_join", "ns/task", contenders=TASKS, target=25),
    Bench("pingpong_future", "ns/switch", contenders=TASKS, target=20),
    Bench("timers_1m_start", "ns/timer", group="timers", contenders=TIMERS, runs=3, target=50),
    Bench("timers_1m_fire", "ns/timer", group="timers", contenders=TIMERS, runs=3, target=100),
    Bench("timers_1m_cancel", "ns/timer", group="timers", contenders=TIMERS, runs=3, target=50),
    Bench("sleep_100k", "s", contenders=TASKS, runs=3, target=0.2),
    # A memory count, not a timing: one run is enough and a Python run
    # takes ~10 s (a million asyncio tasks).
    Bench("tasks_1m_rss", "bytes/task", contenders=TASKS, runs=1, target=4608),
]
