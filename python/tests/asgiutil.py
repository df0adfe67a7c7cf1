"""asgiutil.py - what the cio.serve_asgi tests share (test_asgi.py,
test_asgi_frameworks.py): a server on a cio loop in a thread of its own,
driven from the test's thread by blocking clients over real sockets.
"""
import asyncio
import os
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
if not os.environ.get('PYTHONPATH'):
    sys.path.insert(0, PYDIR)
import cio  # noqa: E402


class ServerThread:
    """cio.serve_asgi(app, port=0) on a cio loop in a thread.  .port once
    started; .stop() ends it gracefully and returns serve_asgi's result
    (or raises its exception).  before(loop), if given, runs on the loop
    just before serve_asgi."""

    def __init__(self, app, port=0, before=None, **kwargs):
        self.app = app
        self.before = before
        self.want_port = port
        self.kwargs = kwargs
        self.port = None
        self.result = None
        self.error = None
        self.loop = None
        self._ready = threading.Event()
        self._stop = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self):
        async def serve():
            self.loop = asyncio.get_running_loop()
            if self.before:
                self.before(self.loop)
            self._stop = self.loop.create_future()
            started = self.loop.create_future()
            started.add_done_callback(lambda f: self._started(f.result()))
            return await cio.serve_asgi(self.app, '127.0.0.1', self.want_port, started=started,
                                        stop=self._stop, handle_signals=False,
                                        **self.kwargs)
        try:
            self.result = cio.run(serve())
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self._ready.set()

    def _started(self, port):
        self.port = port
        self._ready.set()

    def start(self):
        self.thread.start()
        if not self._ready.wait(20):
            raise AssertionError('the server did not start')
        if self.error is not None:
            raise self.error
        return self

    def stop(self, timeout=30):
        if self.thread.is_alive() and self._stop is not None:
            self.loop.call_soon_threadsafe(
                lambda: self._stop.done() or self._stop.set_result(None))
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError('the server did not stop')
        if self.error is not None:
            raise self.error
        return self.result

    def call(self, fn, *args):
        """Runs fn(*args) on the server's loop; returns its result."""
        done = threading.Event()
        box = []
        def run():
            try:
                box.append((True, fn(*args)))
            except BaseException as exc:
                box.append((False, exc))
            done.set()
        self.loop.call_soon_threadsafe(run)
        done.wait(10)
        ok, val = box[0]
        if not ok:
            raise val
        return val

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def raw_request(port, data, read_until_close=True, timeout=10):
    """Sends data on a new connection and returns all it gets back."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
        return b''.join(chunks)
