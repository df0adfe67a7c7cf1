"""ws.py - the WebSocket benchmarks (make bench-ws), read by bench/lib.py.

Echo of 32-byte messages over 100 connections with 1 and 16 messages in
flight each, and a broadcast (1 sender, 1,000 receivers); cio (on
epoll, and as cio-uring on io_uring, as bench-net names them) against
node's ws, Python's websockets, websockets on uvloop and Go's
gorilla/websocket (bench/peers/ws_go.go), each run by bench/ws/drive.py
(server pinned to one core, node's ws client as the load generator on the
others).  Reports messages per second ("<bench>") and the server's CPU
per message ("<bench>:cpu_us_per_msg", beside the load generator's own,
"<bench>:loadgen_cpu_us_per_msg") into build/bench/results.jsonl.  The
issue's targets: >= 3x node ws in msgs/s, below Go in CPU per message.
The load generator is node, which may cap the fast servers: compare
their CPU per message, not only msgs/s.  BENCH_WS_SECONDS sets each
run's length (3 s).
"""
import os

from lib import PY, ROOT, Bench

DRIVE = [PY, os.path.join(ROOT, "bench", "ws", "drive.py")]
PEERS = ["cio", "cio-uring", "node-ws", "websockets", "websockets-uvloop", "go"]
CONTENDERS = {p: DRIVE + [p] for p in PEERS}

BENCHES = [
    Bench("echo_32x1", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=180),
    Bench("echo_32x16", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=180),
    Bench("broadcast_1000", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=300),
]
