"""drive.py SERVER GROUP - one contender of bench-ws (bench/ws.py): starts
the WebSocket server SERVER (cio on epoll, cio-uring on io_uring,
node-ws, websockets, websockets-uvloop, go)
pinned to core 0, runs the load generator (pinned to the other cores) for
the group's load, and prints "<group> <msgs/s>", "<group>:cpu_us_per_msg"
(the server's user+sys CPU over the measured part divided by messages)
and "<group>:loadgen_cpu_us_per_msg", so a client-bound figure shows as
such.

The load generator is BENCH_WS_LOADGEN: "c" (the default) is
bench/ws/loadgen.c (BENCH_BUILD/bench/bench_ws_loadgen: the client side of
RFC 6455 in plain C on epoll, 0.5 s of warm-up, every message checked);
"node" is bench/ws/loadgen.js (node's ws client, the previous default;
it costs as much CPU per message as the servers and caps their msgs/s);
any other value is the path of a bench_ws_loadgen binary (bench/compare.py
drives an older revision's server with the current one).  Both print
"measuring" when the measured part starts, where the server's CPU is
sampled, so the handshakes and the warm-up are not counted.

Groups: echo_32x1 (100 connections, 1 message in flight each),
echo_32x16 (100 connections, 16 in flight), broadcast_1000 (1,000
connections, one of them sends, the message is fanned out to all of
them, the next is sent when all got it; msgs/s counts deliveries).
node's ws is installed into BENCH_BUILD/node by tests/ws/node_setup.sh
(only when the server or the load generator is node's);
the Go server (bench/peers/ws_go.go, gorilla/websocket) is built by
bench/run.sh into BENCH_BUILD/bench/peers/ws_go.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))
PY = "/usr/bin/python3"
SECONDS = float(os.environ.get("BENCH_WS_SECONDS", "3"))
GROUPS = {"echo_32x1": ("echo", 100, 1), "echo_32x16": ("echo", 100, 16),
          "broadcast_1000": ("bcast", 1000, 1)}
TICK = os.sysconf("SC_CLK_TCK")
NODE_DIR = os.path.join(BUILD, "node")
LOADGEN = os.environ.get("BENCH_WS_LOADGEN", "c")
WARMUP = 0.5


def server_argv(name, port):
    peers = os.path.join(ROOT, "bench", "peers")
    return {
        "cio": [os.path.join(BUILD, "bench", "bench_ws"), str(port)],
        "cio-uring": [os.path.join(BUILD, "bench", "bench_ws"), str(port)],
        "node-ws": ["node", os.path.join(peers, "ws_node.js"), str(port)],
        "websockets": [PY, os.path.join(peers, "ws_websockets.py"), str(port)],
        "websockets-uvloop": [PY, os.path.join(peers, "ws_websockets.py"), str(port), "uvloop"],
        "go": [os.path.join(BUILD, "bench", "peers", "ws_go"), str(port)],
    }[name]


def server_env(name, env):
    """cio runs on the backend its name says, as in bench-net: cio-uring on
    io_uring, cio on epoll (cio's default is io_uring where it works, so
    epoll is asked for by name)."""
    env = dict(env)
    if name.startswith("cio"):
        env["CIO_BACKEND"] = "io_uring" if name.endswith("-uring") else "epoll"
    return env


def pin(cpus, argv):
    return (["taskset", "-c", cpus] if shutil.which("taskset") else []) + argv


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_listening(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit("drive.py: the server exited (%s)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("drive.py: the server did not listen")


def loadgen_argv(port, mode, conns, inflight):
    if LOADGEN == "node":
        return ["node", os.path.join(ROOT, "bench", "ws", "loadgen.js"), str(port), mode,
                str(conns), str(inflight), str(SECONDS)]
    exe = os.path.join(BUILD, "bench", "bench_ws_loadgen") if LOADGEN == "c" else LOADGEN
    if not os.access(exe, os.X_OK):
        sys.exit("drive.py: %s is not built (bench/run.sh builds it)" % exe)
    return [exe, str(port), mode, str(conns), str(inflight), str(SECONDS), str(WARMUP)]


def run_loadgen(argv, env, server_pid):
    """Runs the load generator; returns its JSON result and the server's
    CPU seconds from its "measuring" line to its result line."""
    err = tempfile.TemporaryFile(mode="w+")
    lg = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    timer = threading.Timer(SECONDS + WARMUP + 120, lg.kill)
    timer.start()
    c0 = cpu_of(server_pid)
    result = cpu = None
    try:
        for line in lg.stdout:
            line = line.strip()
            if line == "measuring":
                c0 = cpu_of(server_pid)
            elif line.startswith("{"):
                cpu = cpu_of(server_pid) - c0
                result = json.loads(line)
        lg.wait()
    finally:
        timer.cancel()
        if lg.poll() is None:
            lg.kill()
            lg.wait()
    if lg.returncode != 0 or not result or result.get("errors"):
        err.seek(0)
        sys.exit("drive.py: loadgen failed (exit %s): %s" % (lg.returncode, err.read()[-500:]))
    return result, cpu


def main():
    server, group = sys.argv[1], sys.argv[2]
    env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
    if server == "node-ws" or LOADGEN == "node":
        if subprocess.call(["sh", os.path.join(ROOT, "tests", "ws", "node_setup.sh"), NODE_DIR,
                            "ws@8"], stdout=sys.stderr) != 0:
            sys.exit("drive.py: node's ws is not available (node, npm or the registry)")
    mode, conns, inflight = GROUPS[group]
    port = free_port()
    argv = server_argv(server, port)
    if not os.path.exists(argv[0]) and os.sep in argv[0]:
        sys.exit("drive.py: %s is not built (bench/run.sh builds it)" % argv[0])
    lg_argv = loadgen_argv(port, mode, conns, inflight)
    proc = subprocess.Popen(pin("0", argv), env=server_env(server, env),
                            stdout=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        others = "1-%d" % max(1, (os.cpu_count() or 2) - 1)
        r, server_cpu = run_loadgen(pin(others, lg_argv), env, proc.pid)
        msgs = max(1, r["msgs"])
        print("%s %.1f" % (group, r["msgs"] / r["seconds"]))
        print("%s:cpu_us_per_msg %.3f" % (group, server_cpu * 1e6 / msgs))
        print("%s:loadgen_cpu_us_per_msg %.3f" % (group, r["cpu_s"] * 1e6 / msgs))
    finally:
        proc.kill()
        proc.wait()

if __name__ == "__main__":
    main()
