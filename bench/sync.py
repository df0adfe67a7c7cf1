"""sync.py - the sync benchmarks (make bench-sync), read by bench/lib.py.

cio's side is bench/sync/cio_sync.c; the peers are bench/peers/sync_go.go
(run as "go-unbuffered" and, with -buffered, as "go-buffered" for the
queues; as "go" elsewhere) and bench/peers/sync_asyncio.py (asyncio, and
uvloop with --uvloop).  The comments at the top of each program say what
each group measures and which primitive each peer uses.  Targets are the
issue's, for cio; reported, never asserted.
"""
import os

from lib import PY, ROOT, Bench

BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))


def exe(path):
    """argv of a built program, or None when it was not built."""
    return [path] if os.access(path, os.X_OK) else None


GO = exe(os.path.join(BUILD, "bench", "peers", "sync_go"))

CONTENDERS = {
    "cio": exe(os.path.join(BUILD, "bench", "bench_sync")),
    "go": GO,
    "go-unbuffered": GO,
    "go-buffered": GO and GO + ["-buffered"],
    "asyncio": [PY, os.path.join(ROOT, "bench", "peers", "sync_asyncio.py")],
    "uvloop": [PY, os.path.join(ROOT, "bench", "peers", "sync_asyncio.py"), "--uvloop"],
}

ALL = ["cio", "go", "asyncio", "uvloop"]
QUEUES = ["cio", "go-unbuffered", "go-buffered", "asyncio", "uvloop"]

BENCHES = [
    Bench("queue_handoff", "ns/item", contenders=QUEUES, target=25),
    Bench("queue_unbounded", "ns/item", contenders=QUEUES),
    Bench("gather_10k", "ns/task", contenders=ALL, target=30),
    Bench("lock_handoff", "ns/handoff", contenders=ALL, target=25),
    Bench("cache_hit", "ns/hit", contenders=ALL),
]
