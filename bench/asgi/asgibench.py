"""asgibench.py - one ASGI application, three servers: bench-asgi's
contender (bench/asgi.py, run by bench/lib.py).

    /usr/bin/python3 bench/asgi/asgibench.py SERVER GROUP
    /usr/bin/python3 bench/asgi/asgibench.py SERVER serve APP PORT   (internal)

SERVER is cio (cio.serve_asgi: cio's C HTTP server on the cio loop, built
by make python), uvicorn_uvloop (uvicorn with httptools on uvloop) or
uvicorn_h11 (uvicorn with h11 on asyncio's epoll loop).  GROUP is
asgi_raw ("Hello, world!" from a plain ASGI function) or asgi_fastapi
(a FastAPI route returning {"message": "Hello World"}).  The server is
pinned to core 0, wrk to core 1 (50 keep-alive connections); prints
"<group> <req/s>", "<group>:p99_us" and "<group>:cpu_us_per_req" (the
server's user+system CPU over the measured run divided by its requests).
"""
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'bench', 'net'))
import drive  # noqa: E402  (pinning, free ports, /proc CPU)

SECONDS = float(os.environ.get('BENCH_ASGI_SECONDS', '3'))
APPS = {'asgi_raw': 'raw', 'asgi_fastapi': 'fastapi'}


async def hello_asgi(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'13')]})
    await send({'type': 'http.response.body', 'body': b'Hello, world!'})


def fastapi_app():
    from fastapi import FastAPI
    app = FastAPI()

    @app.get('/')
    async def root():
        return {'message': 'Hello World'}
    return app


def serve(server, appname, port):
    app = hello_asgi if appname == 'raw' else fastapi_app()
    if server == 'cio':
        sys.path.insert(0, os.path.join(ROOT, 'python'))
        import cio
        cio.run_asgi(app, '127.0.0.1', port, lifespan='off')
        return
    import uvicorn
    if server == 'uvicorn_uvloop':
        import uvloop
        loop_factory, http = uvloop.new_event_loop, 'httptools'
    else:
        import selectors
        loop_factory = lambda: asyncio.SelectorEventLoop(selectors.EpollSelector())  # noqa: E731
        http = 'h11'
    config = uvicorn.Config(app, host='127.0.0.1', port=port, loop='none', http=http,
                            lifespan='off', access_log=False, log_level='error',
                            backlog=4096)
    with asyncio.Runner(loop_factory=loop_factory) as r:
        r.run(uvicorn.Server(config).serve())


def wrk(port, seconds, conns=50):
    p = subprocess.run(drive.pin(1, ['wrk', '-t1', '-c%d' % conns, '-d%ds' % max(1, round(seconds)),
                                     '--latency', 'http://127.0.0.1:%d/' % port]),
                       capture_output=True, text=True, timeout=seconds + 30)
    if p.returncode != 0:
        sys.exit('asgibench.py: wrk failed: %s %s' % (p.stdout.strip()[-300:], p.stderr.strip()))
    out = p.stdout
    if 'Non-2xx' in out:
        sys.exit('asgibench.py: the server answered errors:\n' + out)
    reqs = int(re.search(r'(\d+) requests in', out).group(1))
    rate = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    m = re.search(r'99%\s+([\d.]+)(us|ms|s)\b', out)
    p99 = float(m.group(1)) * {'us': 1, 'ms': 1e3, 's': 1e6}[m.group(2)] if m else -1
    errors = re.search(r'Socket errors:.*', out)
    return reqs, rate, p99, errors.group(0) if errors else None


def group(server, name):
    if not shutil.which('wrk'):
        sys.exit('asgibench.py: wrk not found (apt-get install wrk)')
    port = drive.free_port()
    err = tempfile.TemporaryFile()  # not a pipe nobody reads during the load
    proc = subprocess.Popen(drive.pin(0, [sys.executable, os.path.abspath(__file__), server,
                                          'serve', APPS[name], str(port)]),
                            stdout=subprocess.DEVNULL, stderr=err)
    try:
        try:
            drive.wait_listening(port, proc)
        except SystemExit:
            err.seek(0)
            sys.exit('asgibench.py: %s did not start: %s' % (server, err.read().decode()[-500:]))
        wrk(port, 1)                                     # warm-up
        c0 = drive.cpu_of(proc.pid)
        reqs, rate, p99, errors = wrk(port, SECONDS)
        c1 = drive.cpu_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if errors:
        print('asgibench.py: %s %s: %s' % (server, name, errors), file=sys.stderr)
    print('%s %.1f' % (name, rate))
    print('%s:p99_us %.1f' % (name, p99))
    print('%s:cpu_us_per_req %.3f' % (name, (c1 - c0) * 1e6 / max(reqs, 1)))


def main():
    if len(sys.argv) == 5 and sys.argv[2] == 'serve':
        serve(sys.argv[1], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[2] in APPS:
        group(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
