"""drive.py SERVER GROUP - one contender of bench-http's server benchmarks
(bench/http.py).

Writes the config a server needs (nginx, h2o) into a temporary directory,
starts SERVER pinned to core 0 on a free loopback port, waits for it to
answer, runs wrk (one thread, keep-alive, 100 connections) pinned to core
1 - a short warm-up, then the measured run - and prints for bench/lib.py:

    <group> <requests/s>
    <group>_cpu <server CPU us per request>
    <group>:loadgen_cpu_us_per_req <wrk's own CPU us per request>
    <group>:syscalls_per_req <the server's system calls per request>
    <group>:p99_us, <group>:errors

The server's CPU is user+sys from /proc/PID/stat, summed over the process
and its descendants (nginx's worker, uvicorn's) around the measured run;
on a loaded machine requests/s swings but CPU per request much less.
System calls per request come from a separate 1 s run between the
warm-up and the measured run, counted by `perf stat -e
raw_syscalls:sys_enter` attached to the server's processes (the
tracepoint costs a little per call, so the measured run goes without
it); absent when perf is missing or not allowed.

Groups: hello_c100 (GET /, one request in flight per connection),
hello_c100_p16 (16 pipelined), json_c100 (GET /json).  Servers: cio
(epoll), cio-uring (io_uring), nginx (1 worker, `return 200`), h2o (1
thread; "/" a file through file.file, "/json" a mruby handler), go,
uvicorn (uvloop + httptools, raw ASGI), aiohttp (uvloop).  Environment:
BENCH_HTTP_SECONDS (measured seconds, default 3), BENCH_BUILD.

A group named client_* is the client benchmark: drive_client.py runs it
(the same contender names, bench/http.py having one table of them).
"""
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))
PY = "/usr/bin/python3"
SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "3"))
WARMUP = 1
TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
# group: (path, connections, pipelining depth)
GROUPS = {"hello_c100": ("/", 100, 1), "hello_c100_p16": ("/", 100, 16),
          "json_c100": ("/json", 100, 1)}
HELLO = "Hello, World!"
JSON = '{"message":"Hello, World!"}'

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location = / { default_type text/plain; return 200 '%(hello)s'; }
        location = /json { default_type application/json; return 200 '%(json)s'; }
    }
}
"""

H2O_CONF = """
listen:
  host: 127.0.0.1
  port: %(port)d
num-threads: 1
user: %(user)s
error-log: %(dir)s/error.log
hosts:
  default:
    paths:
      /json:
        mruby.handler: |
          Proc.new do |env|
            [200, {"content-type" => "application/json"}, ['%(json)s']]
          end
      /:
        file.file: %(dir)s/hello.txt
        file.mime.addtypes:
          text/plain: .txt
"""


def pin(cpu, argv):
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") else []) + argv


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def server_argv(name, port, tmp):
    """argv and environment of server name listening on port; configs go
    into tmp.  Exits (lib.py leaves the cell empty) if it is not there."""
    peers = os.path.join(BUILD, "bench", "peers")
    src = os.path.join(ROOT, "bench", "peers")
    env = dict(os.environ)
    if name in ("cio", "cio-uring"):
        argv = [os.path.join(BUILD, "bench", "bench_http"), str(port)]
        env["CIO_BACKEND"] = "io_uring" if name == "cio-uring" else "epoll"
    elif name == "go":
        argv = [os.path.join(peers, "http_go"), str(port)]
    elif name == "uvicorn":
        argv = [PY, os.path.join(src, "http_uvicorn.py"), str(port)]
    elif name == "aiohttp":
        argv = [PY, os.path.join(src, "http_aiohttp.py"), str(port)]
    elif name == "nginx":
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"dir": tmp, "port": port, "hello": HELLO, "json": JSON})
        argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", tmp, "-c", conf,
                "-e", os.path.join(tmp, "error.log")]
    elif name == "h2o":
        with open(os.path.join(tmp, "hello.txt"), "w") as f:
            f.write(HELLO)
        conf = os.path.join(tmp, "h2o.conf")
        user = "nobody" if os.getuid() == 0 else os.environ.get("USER", "nobody")
        with open(conf, "w") as f:
            f.write(H2O_CONF % {"dir": tmp, "port": port, "json": JSON, "user": user})
        os.chmod(tmp, 0o755)
        argv = [shutil.which("h2o") or "/usr/bin/h2o", "-c", conf]
    else:
        sys.exit("drive.py: unknown server %s" % name)
    if not os.access(argv[0], os.X_OK):
        sys.exit("drive.py: %s is not installed or built (%s)" % (name, argv[0]))
    if argv[0] == PY:
        mod = "uvicorn" if name == "uvicorn" else "aiohttp"
        if subprocess.call([PY, "-c", "import %s, uvloop" % mod],
                           stderr=subprocess.DEVNULL) != 0:
            sys.exit("drive.py: python3-%s or python3-uvloop is not installed" % mod)
    return argv, env


def tree(pid):
    """pid and its descendants (nginx's worker)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_of(pid):
    """CPU seconds (user+sys) of pid's process tree."""
    cpu = 0.0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return cpu


def wait_ready(port, proc, path):
    """Waits until the server answers path with 200 (nginx listens in its
    master before the worker runs)."""
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode()
    for _ in range(400):
        if proc.poll() is not None:
            sys.exit("drive.py: the server exited (%s): %s" %
                     (proc.returncode, proc.stderr.read().decode(errors="replace")[-300:]))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                got = s.recv(4096)
                if got.startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("drive.py: the server never answered %s" % path)


def wrk(port, path, conns, depth, seconds):
    """Runs wrk pinned to core 1: (its totals, its CPU seconds)."""
    exe = shutil.which("wrk")
    if not exe:
        sys.exit("drive.py: wrk is not installed (scripts/deps.sh bench)")
    argv = pin(1, [exe, "-t1", "-c%d" % conns, "-d%ds" % max(1, round(seconds)), "--timeout", "5s",
                   "-s", os.path.join(HERE, "wrk.lua"),
                   "http://127.0.0.1:%d%s" % (port, path), "--", str(depth)])
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    for line in p.stdout.splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:]), cpu
    sys.exit("drive.py: wrk failed (exit %d): %s %s" % (p.returncode, p.stdout[-300:],
                                                       p.stderr[-300:]))


def count_syscalls(pid, port, path, conns, depth):
    """The server's system calls per request over a 1 s wrk run, counted
    by perf on every process of its tree; None when perf cannot."""
    perf = shutil.which("perf")
    if not perf or os.environ.get("BENCH_HTTP_SYSCALLS", "1") == "0":
        return None
    pids = ",".join(str(p) for p in tree(pid))
    pp = subprocess.Popen([perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", pids],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.2)  # attached before the load starts
    if pp.poll() is not None:
        return None
    r, _ = wrk(port, path, conns, depth, 1)
    pp.send_signal(signal.SIGINT)
    try:
        _, err = pp.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pp.kill()
        return None
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and "raw_syscalls:sys_enter" in f[2] and f[0].strip().isdigit():
            return int(f[0]) / max(r["requests"], 1)
    return None


def main():
    name, group = sys.argv[1], sys.argv[2]
    if group.startswith("client_"):
        # the client benchmark: same contender names, the clients' side
        import drive_client
        return drive_client.main()
    path, conns, depth = GROUPS[group]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cio-bench-http-") as tmp:
        argv, env = server_argv(name, port, tmp)
        proc = subprocess.Popen(pin(0, argv), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            wait_ready(port, proc, path)
            wrk(port, path, conns, depth, WARMUP)
            calls = count_syscalls(proc.pid, port, path, conns, depth)
            c0 = cpu_of(proc.pid)
            r, wrk_cpu = wrk(port, path, conns, depth, SECONDS)
            c1 = cpu_of(proc.pid)
        finally:
            # the whole group: nginx's worker, h2o's helpers
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    n = max(r["requests"], 1)
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    print("%s %.1f" % (group, r["requests"] / r["seconds"]))
    print("%s_cpu %.3f" % (group, (c1 - c0) * 1e6 / n))
    print("%s:loadgen_cpu_us_per_req %.3f" % (group, wrk_cpu * 1e6 / n))
    if calls is not None:
        print("%s:syscalls_per_req %.3f" % (group, calls))
    print("%s:p99_us %d" % (group, r["p99_us"]))
    print("%s:errors %d" % (group, errors))


if __name__ == "__main__":
    main()
