"""drive_client.py CLIENT GROUP - one contender of bench-http's client
benchmark (bench/http.py).

Starts nginx (the config of bench/http/drive.py: one worker, "/" a fixed
"Hello, World!") pinned to core 0, then runs CLIENT pinned to core 1:
N GETs of http://127.0.0.1:PORT/ with 100 in flight on keep-alive
connections, after a warm-up of 100 requests.  Each client measures
itself and prints one JSON line (requests/s, its own CPU per request by
getrusage over the measured run, errors); this prints for bench/lib.py:

    <group> <requests/s>
    <group>_cpu <client CPU us per request>
    <group>:server_cpu_us_per_req <nginx's CPU us per request>
    <group>:errors

Clients: cio (bench/http_client/cio_http_client.c), go
(bench/peers/http_client_go.go), curl-multi
(bench/peers/http_client_curl.c), aiohttp on uvloop
(bench/peers/http_client_aiohttp.py).  Group: client_get_c100.
Environment: BENCH_HTTP_CLIENT_N (requests, default 100000), BENCH_BUILD.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drive  # noqa: E402  (the server side: nginx's config, pinning, CPU)

N = int(os.environ.get("BENCH_HTTP_CLIENT_N", "100000"))
GROUPS = {"client_get_c100": 100}


def client_argv(name, url, n, conc):
    b = os.path.join(drive.BUILD, "bench")
    argv = {
        "cio": [os.path.join(b, "bench_http_client")],
        "go": [os.path.join(b, "peers", "http_client_go")],
        "curl-multi": [os.path.join(b, "peer_http_client_curl")],
        "aiohttp": [drive.PY, os.path.join(drive.ROOT, "bench", "peers",
                                           "http_client_aiohttp.py")],
    }.get(name)
    if argv is None:
        sys.exit("drive_client.py: unknown client %s" % name)
    if not os.access(argv[0], os.X_OK):
        sys.exit("drive_client.py: %s is not built (%s)" % (name, argv[0]))
    return argv + [url, str(n), str(conc)]


def main():
    name, group = sys.argv[1], sys.argv[2]
    conc = GROUPS[group]
    port = drive.free_port()
    with tempfile.TemporaryDirectory(prefix="cio-bench-http-") as tmp:
        argv, env = drive.server_argv("nginx", port, tmp)
        proc = subprocess.Popen(drive.pin(0, argv), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            drive.wait_ready(port, proc, "/")
            s0 = drive.cpu_of(proc.pid)
            p = subprocess.run(drive.pin(1, client_argv(name, "http://127.0.0.1:%d/" % port,
                                                        N, conc)),
                               capture_output=True, text=True, timeout=600)
            s1 = drive.cpu_of(proc.pid)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    r = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
    if r is None:
        sys.exit("drive_client.py: %s failed (exit %d): %s" % (name, p.returncode,
                                                               p.stderr[-300:]))
    print("%s %.1f" % (group, r["rps"]))
    print("%s_cpu %.3f" % (group, r["cpu_us_per_req"]))
    # nginx's CPU over the whole client run (warm-up included) per request
    print("%s:server_cpu_us_per_req %.3f" % (group, (s1 - s0) * 1e6 / (N + conc)))
    print("%s:errors %d" % (group, r["errors"]))


if __name__ == "__main__":
    main()
