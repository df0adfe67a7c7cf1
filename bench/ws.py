"""ws.py - the WebSocket benchmarks (make bench-ws), read by bench/lib.py.

Echo of 32-byte messages over 100 connections with 1 and 16 messages in
flight each, and a broadcast (1 sender, 1,000 receivers); cio (on
epoll, and as cio-uring on io_uring, as bench-net names them) against
node's ws, Python's websockets, websockets on uvloop and Go's
gorilla/websocket (bench/peers/ws_go.go), each run by bench/ws/drive.py
(server pinned to one core, the load generator on the others).  The load
generator is bench/ws/loadgen.c (bench_ws_loadgen: the WebSocket client
side in plain C on epoll, no cio; it checks every message's content and
order, so a broken server gets no figure); BENCH_WS_LOADGEN=node runs
node's ws client (bench/ws/loadgen.js) instead, the previous default,
whose own CPU per message equals the servers' and capped their msgs/s.
Reports messages per second ("<bench>") and the server's CPU per
message ("<bench>:cpu_us_per_msg", beside the load generator's own,
"<bench>:loadgen_cpu_us_per_msg") into build/bench/results.jsonl.  The
issue's targets: >= 3x node ws in msgs/s, below Go in CPU per message.
Even the C generator pays the kernel's loopback TCP cost per message,
about what the leanest servers pay, so where its CPU per message is
close to the server's, compare CPU per message, not only msgs/s.
BENCH_WS_SECONDS sets each run's length (3 s, after 0.5 s of warm-up).
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
