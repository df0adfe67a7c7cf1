"""http.py - the HTTP benchmarks (make bench-http), read by bench/lib.py.

Servers: each contender is bench/http/drive.py SERVER GROUP, which starts
the server pinned to core 0, loads it with wrk (keep-alive, 100
connections, one thread) pinned to core 1, and prints requests/s and the
server's CPU per request (user+sys of its process tree over the measured
run): cio (bench/http/cio_http.c, on epoll and on io_uring), nginx (one
worker), h2o (one thread), Go net/http (bench/peers/http_go.go), uvicorn
with uvloop and httptools (bench/peers/http_uvicorn.py), aiohttp on
uvloop (bench/peers/http_aiohttp.py).  Each server benchmark comes as a
pair: <group> in requests/s and <group>_cpu in server CPU us per request;
wrk's own CPU and the server's system calls per request (perf, in a
separate short run) ride along in the JSON line.

The issue's targets are relative to nginx: hello_c100 at least nginx's
requests/s at <= 0.8x its CPU per request, hello_c100_p16 at <= 0.3x its
CPU per request - read them off the nginx column's ratio.

Client: client_get_c100 (drive.py hands client_* groups to
bench/http/drive_client.py) fetches N URLs (BENCH_HTTP_CLIENT_N, default
100,000) with 100 in flight from nginx: cio's client
(bench/http_client/cio_http_client.c) against Go's net/http, libcurl's
multi interface and aiohttp on uvloop; requests/s and the client's own
CPU per request.  Target: >= 1.5x Go's requests/s at <= 0.5x its CPU per
request.

Quick smoke run (seconds, numbers meaningless on a busy machine):
    BENCH_RUNS=1 BENCH_HTTP_SECONDS=1 BENCH_HTTP_CLIENT_N=5000 make bench-http
"""
import os

from lib import PY, ROOT, Bench

DRIVE = [PY, os.path.join(ROOT, "bench", "http", "drive.py")]
SERVERS = ["cio", "cio-uring", "nginx", "h2o", "go", "uvicorn", "aiohttp"]
CONTENDERS = {s: DRIVE + [s] for s in SERVERS}

BENCHES = []
for g in ("hello_c100", "hello_c100_p16", "json_c100"):
    BENCHES.append(Bench(g, "req/s", group=g, contenders=SERVERS, better="higher", runs=3,
                         timeout=120))
    BENCHES.append(Bench(g + "_cpu", "us/req", group=g, contenders=SERVERS, runs=3,
                         timeout=120))

CLIENTS = ["cio", "go", "curl-multi", "aiohttp"]
CONTENDERS["curl-multi"] = DRIVE + ["curl-multi"]
BENCHES.append(Bench("client_get_c100", "req/s", contenders=CLIENTS, better="higher", runs=3,
                     timeout=600))
BENCHES.append(Bench("client_get_c100_cpu", "us/req", group="client_get_c100",
                     contenders=CLIENTS, runs=3, timeout=600))
