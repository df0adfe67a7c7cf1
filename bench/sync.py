"""sync.py - the sync benchmarks (make bench-sync), read by bench/lib.py.

cio's side is bench/sync/cio_sync.c; the peer is bench/peers/sync_asyncio.py
(asyncio, and uvloop with --uvloop), doing the same work with asyncio.Lock
and asyncio.Queue.  See the comment at the top of cio_sync.c for what each
group measures.  Targets are the issue's, for cio; reported, never asserted.
"""
import os

from lib import PY, ROOT, Bench

BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))


def exe(path):
    """argv of a built program, or None when it was not built."""
    return [path] if os.access(path, os.X_OK) else None


CONTENDERS = {
    "cio": exe(os.path.join(BUILD, "bench", "bench_sync")),
    "asyncio": [PY, os.path.join(ROOT, "bench", "peers", "sync_asyncio.py")],
    "uvloop": [PY, os.path.join(ROOT, "bench", "peers", "sync_asyncio.py"), "--uvloop"],
}

ALL = ["cio", "asyncio", "uvloop"]

BENCHES = [
    Bench("lock_handoff", "ns/handoff", contenders=ALL, target=25),
    Bench("queue_handoff", "ns/item", contenders=ALL, target=25),
    Bench("queue_unbounded", "ns/item", contenders=ALL, target=25),
]
