"""fwutil.py - what the frameworks tests share (test_frameworks.py,
test_frameworks_pg.py): the build of cio under test, the skip bookkeeping
behind exit 77, a cio loop runner, and small HTTP helpers.
"""
import asyncio
import importlib.util
import json
import os
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
# The in-place build (python/), unless PYTHONPATH names the build to test.
if not os.environ.get('PYTHONPATH'):
    sys.path.insert(0, PYDIR)
sys.path.insert(0, HERE)
import cio  # noqa: E402

CIO_LOOP = 'cio.Loop'
MISSING = []   # Debian packages whose tests were skipped (exit 77)


def need(*pairs):
    """Skips the caller's tests unless every (module, package) imports."""
    for module, package in pairs:
        if importlib.util.find_spec(module) is None:
            if package not in MISSING:
                MISSING.append(package)
            raise unittest.SkipTest('%s not installed (import %s)' % (package, module))


def loop_name():
    loop = asyncio.get_running_loop()
    return type(loop).__module__ + '.' + type(loop).__qualname__


def run(coro, timeout=60):
    """Runs coro on a fresh cio loop (no policy involved), with a deadline."""
    with asyncio.Runner(loop_factory=cio.new_event_loop) as r:
        return r.run(asyncio.wait_for(coro, timeout))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError('server exited early (%s): %s' % (proc.returncode, proc.stdout.read()))
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError('server never listened on %d' % port)


def get_json(conn, method, path, body=None, headers=None):
    """One request on a kept-alive http.client connection: (status, json)."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs['Content-Type'] = 'application/json'
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, (json.loads(raw) if raw else None)


