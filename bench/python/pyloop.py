"""pyloop.py - one Python program, three event loops: bench-python's
contender (bench/python.py, run by bench/lib.py).

    /usr/bin/python3 bench/python/pyloop.py LOOP GROUP
    /usr/bin/python3 bench/python/pyloop.py LOOP serve MODE PORT     (internal)

LOOP is asyncio (the epoll selector loop), uvloop (python3-uvloop) or cio
(python/, built by make python); the program is the same for all three,
only the loop factory differs, so the ratios are the loops'.  Prints
"<bench> <value>" lines and "<bench>:<metric> <value>" extras for lib.py.

Groups:
  loop            in one process: call_soon (100 self-rescheduling chains),
                  call_later (timers over 0..20 ms, a quarter cancelled),
                  future_pingpong (two tasks, a fresh future each way);
                  ops/s and cpu_us_per_op.
  echo_protocol, echo_streams, echo_sock
                  a TCP echo server (asyncio.Protocol / start_server
                  streams / loop.sock_recv+sock_sendall) pinned to core 0,
                  bench/net/loadgen.c pinned to core 1 (100 connections,
                  64-byte messages): msgs/s, p99_us, cpu_us_per_msg.
  pg              asyncpg (python3-asyncpg) against a private PostgreSQL 15
                  cluster (python/tests/pgcluster.py), its server pinned to
                  core 0: SELECT 1 one at a time on one connection
                  (pg_select1) and from 10 tasks over a pool of 10
                  (pg_select1_pool10); queries/s, cpu_us_per_query.
  http_aiohttp, http_uvicorn
                  "hello, world" from aiohttp's web server and from uvicorn
                  (httptools) with a plain ASGI app, loaded by wrk (50
                  keep-alive connections): req/s, p99_us, cpu_us_per_req.
A group whose loop or framework is missing exits 1 saying why (lib.py
leaves that cell empty).
"""
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'bench', 'net'))
import drive  # noqa: E402  (bench-net's helpers: pinning, loadgen, /proc CPU)

SECONDS = float(os.environ.get('BENCH_PY_SECONDS', '2'))
ECHO = {'echo_protocol': 'protocol', 'echo_streams': 'streams', 'echo_sock': 'sock'}
HTTP = {'http_protocol': 'http_protocol', 'http_aiohttp': 'aiohttp', 'http_uvicorn': 'uvicorn'}


def loop_factory(name):
    if name == 'asyncio':
        import selectors
        return lambda: asyncio.SelectorEventLoop(selectors.EpollSelector())
    if name == 'uvloop':
        import uvloop
        return uvloop.new_event_loop
    if name == 'cio':
        sys.path.insert(0, os.path.join(ROOT, 'python'))
        try:
            import cio
        except ImportError as e:
            sys.exit('pyloop.py: the cio extension is not built (make python): %s' % e)
        return cio.new_event_loop
    sys.exit('pyloop.py: unknown loop %r' % name)


def run(name, coro):
    with asyncio.Runner(loop_factory=loop_factory(name)) as r:
        return r.run(coro)


# ---- the loop group: scheduling alone ----

async def call_soon_chains(n, chains=100):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    left = [n]

    def step():
        left[0] -= 1
        if left[0] > 0:
            loop.call_soon(step)
        elif not done.done():
            done.set_result(None)
    for _ in range(chains):
        loop.call_soon(step)
    await done


async def call_later_spread(n):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    rnd = random.Random(7)
    live = [0]

    def fire():
        live[0] -= 1
        if live[0] == 0 and not done.done():
            done.set_result(None)
    handles = []
    for i in range(n):
        handles.append(loop.call_later(rnd.random() * 0.02, fire))
        live[0] += 1
    for h in handles[::4]:
        h.cancel()
        live[0] -= 1
    await done


async def future_pingpong(n):
    loop = asyncio.get_running_loop()
    box = {'to_b': loop.create_future(), 'to_a': None}

    async def ponger():
        for _ in range(n):
            await box['to_b']
            box['to_b'] = loop.create_future()
            box['to_a'].set_result(None)
    b = loop.create_task(ponger())
    for _ in range(n):
        box['to_a'] = loop.create_future()
        box['to_b'].set_result(None)
        await box['to_a']
    await b


def timed(name, fn, n):
    run(name, fn(n // 10))              # warm-up
    c0, t0 = time.process_time(), time.perf_counter()
    run(name, fn(n))
    t1, c1 = time.perf_counter(), time.process_time()
    return n / (t1 - t0), (c1 - c0) * 1e6 / n


def loop_group(name):
    for bench, fn, n in (('call_soon', call_soon_chains, 1000000),
                         ('call_later', call_later_spread, 200000),
                         ('future_pingpong', future_pingpong, 100000)):
        rate, cpu = timed(name, fn, n)
        print('%s %.1f' % (bench, rate))
        print('%s:cpu_us_per_op %.3f' % (bench, cpu))


# ---- servers (run in a child process, pinned to core 0) ----

class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class HttpHello(asyncio.Protocol):
    """The minimal HTTP/1.1 server: every request head (GET, no body) that
    arrives gets the same keep-alive response; pipelined heads get theirs
    in one write."""
    RESPONSE = (b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n'
                b'Content-Length: 13\r\n\r\nHello, world!')

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b''

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        n = buf.count(b'\r\n\r\n')
        if n:
            self.transport.write(self.RESPONSE * n)
            buf = buf[buf.rindex(b'\r\n\r\n') + 4:]
        self.buf = buf


async def stream_echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:    # the load generator's resets at its end
        pass
    finally:
        writer.close()


async def sock_echo(loop, conn):
    try:
        while True:
            data = await loop.sock_recv(conn, 65536)
            if not data:
                break
            await loop.sock_sendall(conn, data)
    except ConnectionError:
        pass
    finally:
        conn.close()


async def hello_asgi(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'13')]})
    await send({'type': 'http.response.body', 'body': b'Hello, world!'})


async def serve(mode, port):
    loop = asyncio.get_running_loop()
    if mode == 'protocol':
        server = await loop.create_server(Echo, '127.0.0.1', port, backlog=4096)
    elif mode == 'http_protocol':
        server = await loop.create_server(HttpHello, '127.0.0.1', port, backlog=4096)
    elif mode == 'streams':
        server = await asyncio.start_server(stream_echo, '127.0.0.1', port, backlog=4096)
    elif mode == 'sock':
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(('127.0.0.1', port))
        lsock.listen(4096)
        lsock.setblocking(False)
        tasks = set()
        while True:
            conn, _ = await loop.sock_accept(lsock)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = loop.create_task(sock_echo(loop, conn))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
    elif mode == 'aiohttp':
        from aiohttp import web

        async def hello(request):
            return web.Response(text='Hello, world!')
        app = web.Application()
        app.router.add_get('/', hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, '127.0.0.1', port, backlog=4096).start()
        await asyncio.Event().wait()
    elif mode == 'uvicorn':
        import uvicorn
        config = uvicorn.Config(hello_asgi, host='127.0.0.1', port=port, loop='none',
                                http='httptools', lifespan='off', access_log=False,
                                log_level='error', backlog=4096)
        await uvicorn.Server(config).serve()
        return
    async with server:
        await server.serve_forever()


# ---- drivers: start the server, load it, read its CPU ----

def start_server(name, mode):
    port = drive.free_port()
    # stderr to a file, not a pipe nobody reads while the load runs: a
    # server logging resets would block on a full pipe and measure 0.
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(drive.pin(0, [sys.executable, os.path.abspath(__file__), name,
                                          'serve', mode, str(port)]),
                            stdout=subprocess.DEVNULL, stderr=err)
    try:
        drive.wait_listening(port, proc)
    except SystemExit:
        proc.kill()
        proc.wait()
        err.seek(0)
        sys.exit('pyloop.py: %s %s server did not start: %s'
                 % (name, mode, err.read().decode()[-500:]))
    return proc, port


def echo_group(name, group, conns=100, size=64):
    proc, port = start_server(name, ECHO[group])
    try:
        drive.loadgen(port, conns, size, 0.3, 0)        # warm-up
        c0 = drive.cpu_of(proc.pid)
        r = drive.loadgen(port, conns, size, SECONDS, 0)
        c1 = drive.cpu_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    msgs = max(r['msgs'], 1)
    print('%s %.1f' % (group, r['msgs_per_s']))
    print('%s:p99_us %.1f' % (group, r['p99_us']))
    print('%s:cpu_us_per_msg %.3f' % (group, (c1 - c0) * 1e6 / msgs))


def wrk(port, seconds, conns=50):
    # wrk takes whole seconds.
    p = subprocess.run(drive.pin(1, ['wrk', '-t1', '-c%d' % conns, '-d%ds' % max(1, round(seconds)),
                                     '--latency', 'http://127.0.0.1:%d/' % port]),
                       capture_output=True, text=True, timeout=seconds + 30)
    if p.returncode != 0:
        sys.exit('pyloop.py: wrk failed: %s %s' % (p.stdout.strip()[-300:], p.stderr.strip()))
    out = p.stdout
    if 'Non-2xx' in out:
        sys.exit('pyloop.py: the server answered errors:\n' + out)
    reqs = int(re.search(r'(\d+) requests in', out).group(1))
    rate = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    m = re.search(r'99%\s+([\d.]+)(us|ms|s)\b', out)
    p99 = float(m.group(1)) * {'us': 1, 'ms': 1e3, 's': 1e6}[m.group(2)] if m else -1
    errors = re.search(r'Socket errors:.*', out)
    return reqs, rate, p99, errors.group(0) if errors else None


def http_group(name, group):
    import shutil
    if not shutil.which('wrk'):
        sys.exit('pyloop.py: wrk not found (apt-get install wrk)')
    proc, port = start_server(name, HTTP[group])
    try:
        wrk(port, 1)                                     # warm-up
        c0 = drive.cpu_of(proc.pid)
        reqs, rate, p99, errors = wrk(port, SECONDS)
        c1 = drive.cpu_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if errors:
        print('pyloop.py: %s %s: %s' % (name, group, errors), file=sys.stderr)
    print('%s %.1f' % (group, rate))
    print('%s:p99_us %.1f' % (group, p99))
    print('%s:cpu_us_per_req %.3f' % (group, (c1 - c0) * 1e6 / max(reqs, 1)))


async def pg_select1(dsn, n):
    import asyncpg
    conn = await asyncpg.connect(dsn)
    for _ in range(n):
        await conn.fetchval('SELECT 1')
    await conn.close()


async def pg_select1_pool(dsn, n, width=10):
    import asyncpg
    pool = await asyncpg.create_pool(dsn, min_size=width, max_size=width)

    async def worker(k):
        for _ in range(k):
            await pool.fetchval('SELECT 1')
    await asyncio.gather(*[worker(n // width) for _ in range(width)])
    await pool.close()


def pg_group(name):
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        sys.exit('pyloop.py: python3-asyncpg is not installed')
    sys.path.insert(0, os.path.join(ROOT, 'python', 'tests'))
    from pgcluster import PgCluster
    cl = PgCluster()
    try:
        why = cl.start()
        if why:
            sys.exit('pyloop.py: no PostgreSQL cluster: ' + why)
        with open(os.path.join(cl.dir, 'data', 'postmaster.pid')) as f:
            os.sched_setaffinity(int(f.readline()), {0})   # backends fork from it
        dsn = 'postgresql://postgres@/postgres?host=%s&port=%d' % (cl.socket_dir, cl.port)
        for bench, fn, n in (('pg_select1', pg_select1, 20000),
                             ('pg_select1_pool10', pg_select1_pool, 20000)):
            run(name, fn(dsn, n // 10))              # warm-up
            c0, t0 = time.process_time(), time.perf_counter()
            run(name, fn(dsn, n))
            t1, c1 = time.perf_counter(), time.process_time()
            print('%s %.1f' % (bench, n / (t1 - t0)))
            print('%s:cpu_us_per_query %.3f' % (bench, (c1 - c0) * 1e6 / n))
    finally:
        cl.stop()


def main():
    name = sys.argv[1]
    if sys.argv[2] == 'serve':
        run(name, serve(sys.argv[3], int(sys.argv[4])))
        return
    group = sys.argv[2]
    loop_factory(name)      # a missing loop fails here, before any server starts
    if group == 'loop':
        loop_group(name)
    elif group in ECHO:
        echo_group(name, group)
    elif group in HTTP:
        http_group(name, group)
    elif group == 'pg':
        pg_group(name)
    else:
        sys.exit('pyloop.py: unknown group %r' % group)


if __name__ == '__main__':
    main()
