"""drive.py SERVER GROUP - runs one bench-net measurement (see bench/net.py).

Starts SERVER pinned to core 0 on a free loopback port, waits for it to
listen, runs the load generator pinned to core 1 (a short warm-up, then the
measured run), samples the server's CPU time from /proc around the measured
run, stops the server and prints "<bench> <value>" lines for bench/lib.py.
The load generator is BENCH_LOADGEN when set (bench/compare.py drives an
older revision's server with the current load generator), else the one in
BENCH_BUILD.  Exits non-zero, printing why, if the server cannot be started
(e.g. cio's streams server is not built yet): lib.py then leaves that cell
empty.
"""
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))
PY = "/usr/bin/python3"
SECONDS = float(os.environ.get("BENCH_NET_SECONDS", "2"))
CONFIGS = {"echo_64x1": (1, 64), "echo_64x100": (100, 64), "echo_16kx10": (10, 16384)}
TICK = os.sysconf("SC_CLK_TCK")
LOADGEN = os.environ.get("BENCH_LOADGEN", os.path.join(BUILD, "bench", "bench_loadgen"))


def server_argv(name, port):
    peers = os.path.join(BUILD, "bench", "peers")
    table = {
        "cio-sock": [os.path.join(BUILD, "bench", "bench_net"), str(port), "sock"],
        "cio": [os.path.join(BUILD, "bench", "bench_net"), str(port), "sock"],
        "cio-streams": [os.path.join(BUILD, "bench", "bench_net"), str(port), "streams"],
        "cio-transport": [os.path.join(BUILD, "bench", "bench_net"), str(port), "transport"],
        "libuv": [os.path.join(BUILD, "bench", "peer_net_libuv"), str(port)],
        "go": [os.path.join(peers, "net_go"), str(port)],
    }
    for loop in ("asyncio", "uvloop"):
        for mode in ("protocol", "streams"):
            table["%s-%s" % (loop, mode)] = [
                PY, os.path.join(ROOT, "bench", "peers", "net_asyncio.py"), str(port), mode, loop]
    argv = table[name[:-len("-uring")] if name.endswith("-uring") else name]
    if not (argv[0] == PY or os.access(argv[0], os.X_OK)):
        sys.exit("drive.py: %s is not built (%s)" % (name, argv[0]))
    return argv


def server_env(name):
    """cio's servers run on the backend their name says: NAME-uring (and
    cio-uring) on io_uring, the others on epoll (cio's default is io_uring
    where it works, so epoll is asked for by name)."""
    env = dict(os.environ)
    if name.startswith("cio"):
        env["CIO_BACKEND"] = "io_uring" if name.endswith("-uring") else "epoll"
    return env


def pin(cpu, argv):
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") else []) + argv


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_listening(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit("drive.py: server exited early (%s)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.025)
    sys.exit("drive.py: server never listened")


def loadgen(port, conns, size, seconds, warmup):
    p = subprocess.run(pin(1, [LOADGEN, "127.0.0.1", str(port), str(conns), str(size),
                               str(seconds), str(warmup)]),
                       capture_output=True, text=True, timeout=seconds + warmup + 30)
    if p.returncode != 0:
        sys.exit("drive.py: loadgen failed: %s %s" % (p.stdout.strip(), p.stderr.strip()))
    return json.loads(p.stdout)


def echo(name, group):
    conns, size = CONFIGS[group]
    port = free_port()
    proc = subprocess.Popen(pin(0, server_argv(name, port)), env=server_env(name),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_listening(port, proc)
        loadgen(port, conns, size, 0.3, 0)          # warm-up: caches, JITs, pools
        c0 = cpu_of(proc.pid)
        r = loadgen(port, conns, size, SECONDS, 0)
        c1 = cpu_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    msgs = max(r["msgs"], 1)
    print("%s %.1f" % (group, r["msgs_per_s"]))
    print("%s:p99_us %.1f" % (group, r["p99_us"]))
    print("%s:p50_us %.1f" % (group, r["p50_us"]))
    print("%s:cpu_us_per_msg %.3f" % (group, (c1 - c0) * 1e6 / msgs))
    print("%s:loadgen_cpu_us_per_msg %.3f" % (group, r["cpu_s"] * 1e6 / msgs))
    print("%s:mib_per_s %.1f" % (group, r["msgs_per_s"] * size / (1 << 20)))


def idle(name, group, n=10000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 1000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the server
    if want < n + 100:
        sys.exit("drive.py: RLIMIT_NOFILE hard limit %d is below %d" % (hard, n + 100))
    port = free_port()
    proc = subprocess.Popen(pin(0, server_argv(name, port)), env=server_env(name),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    socks = []
    try:
        wait_listening(port, proc)
        time.sleep(0.3)
        before = rss_of(proc.pid)
        for _ in range(n):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            socks.append(s)
        # Each connection echoes one byte, so the server really accepted and
        # set up every one of them before RSS is read.
        for s in socks:
            s.sendall(b"x")
        for s in socks:
            if s.recv(1) != b"x":
                sys.exit("drive.py: a connection was not echoed")
        time.sleep(0.5)
        after = rss_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for s in socks:
            s.close()
    print("%s %.1f" % (group, (after - before) / n))


if __name__ == "__main__":
    server, group = sys.argv[1], sys.argv[2]
    if group == "idle_conns_10k_rss":
        idle(server, group)
    else:
        echo(server, group)
