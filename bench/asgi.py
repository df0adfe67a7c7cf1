"""asgi.py - the ASGI server benchmarks (make bench-asgi), read by
bench/lib.py: cio.serve_asgi (cio's C HTTP/1.1 server feeding the
application on the cio loop) against uvicorn with httptools on uvloop and
uvicorn with h11 on asyncio, serving the same raw ASGI hello-world and the
same FastAPI hello route (bench/asgi/asgibench.py), loaded by wrk.  The
table's ratios are cio's over each peer; each line of results.jsonl
carries the server's CPU per request next to the throughput.
"""
import os

from lib import PY, ROOT, Bench

PROG = os.path.join(ROOT, "bench", "asgi", "asgibench.py")
ALL = ["cio", "uvicorn_uvloop", "uvicorn_h11"]
CONTENDERS = {s: [PY, PROG, s] for s in ALL}

BENCHES = [
    Bench("asgi_raw", "req/s", contenders=ALL, better="higher", runs=3, timeout=60),
    Bench("asgi_fastapi", "req/s", contenders=ALL, better="higher", runs=3, timeout=60),
]
