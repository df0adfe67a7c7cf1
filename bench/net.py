"""net.py - the network benchmarks (make bench-net), read by bench/lib.py.

TCP echo: a server pinned to one core, bench/net/loadgen.c pinned to the
other, one message in flight per connection, every echoed byte checked.
Each contender is bench/net/drive.py SERVER GROUP, which starts the server,
warms up, runs the load, and prints msgs/s plus "<bench>:p99_us" and
"<bench>:cpu_us_per_msg" (the server's user+sys CPU over the measured
window divided by messages) and the load generator's own CPU, so a
client-bound figure shows as such.  idle_conns_10k_rss holds 10,000 idle
connections and reports the server's RSS growth per connection.

Servers: cio (raw socket operations, streams, and transports with a
protocol; bench/net/cio_net.c when built), libuv (bench/peers/net_libuv.c), asyncio and uvloop with protocols
and with streams (bench/peers/net_asyncio.py), Go (bench/peers/net_go.go).
cio's servers run on epoll by name; cio-uring (sockets) and
cio-transport-uring are the same servers on the io_uring backend
(CIO_BACKEND, set by drive.py).
"""
import os

from lib import PY, ROOT, Bench

DRIVE = [PY, os.path.join(ROOT, "bench", "net", "drive.py")]
SERVERS = ["cio-sock", "cio-streams", "cio-transport", "cio-uring", "cio-transport-uring",
           "libuv", "asyncio-protocol", "asyncio-streams",
           "uvloop-protocol", "uvloop-streams", "go"]

CONTENDERS = {s: DRIVE + [s] for s in SERVERS}
# lib.py's ratios compare every peer with the contender named "cio".
CONTENDERS["cio"] = DRIVE + ["cio-sock"]
CONTENDERS.pop("cio-sock")
PEERS = ["cio", "cio-streams", "cio-transport", "cio-uring", "cio-transport-uring", "libuv", "asyncio-protocol", "asyncio-streams",
         "uvloop-protocol", "uvloop-streams", "go"]

BENCHES = [
    Bench("echo_64x1", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=60),
    Bench("echo_64x100", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=60),
    Bench("echo_16kx10", "msgs/s", contenders=PEERS, better="higher", runs=3, timeout=60),
    Bench("idle_conns_10k_rss", "bytes/conn", contenders=PEERS, runs=1, target=6144,
          timeout=120),
]
