"""ws.py - the WebSocket benchmarks (make bench-ws), read by bench/lib.py.

Echo of 32-byte messages over 100 connections with 1 and 16 messages in
flight each, and a broadcast to 1,000 connections; cio against node's ws,
Python's websockets and websockets on uvloop, each run by
bench/ws/drive.py (server pinned to one core, node's ws client as the load
generator on the others).  Reports messages per second and the server's
CPU per message.  The issue's targets: >= 3x node ws in msgs/s, below Go
in CPU per message (the Go peer, gorilla/websocket, is not written yet).
This is a skeleton: the load generator is node, which may cap the fast
servers (its CPU per message is reported beside).
"""
import os

from lib import PY, ROOT, Bench

DRIVE = [PY, os.path.join(ROOT, "bench", "ws", "drive.py")]
PEERS = ["cio", "node-ws", "websockets", "websockets-uvloop"]
CONTENDERS = {p: DRIVE + [p] for p in PEERS}

BENCHES = [
    Bench("echo_32x1", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=180),
    Bench("echo_32x16", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=180),
    Bench("broadcast_1000", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=300),
]
