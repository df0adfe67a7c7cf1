"""test_asgi_disconnect.py - http.disconnect reaches an application that
is still working when its client leaves: a long poll waiting in
receive() after reading the body (no body, Content-Length, chunked), and
an event stream (a chunk every 50 ms) with receive() awaited beside it
as Starlette does; over plain sockets and over TLS, for a close and for
a half-close.  receive() must return {"type": "http.disconnect"} within
a second of the client's close (the server watches the connection:
CIO_HTTP_WATCH_CLOSE), and send() afterwards is a silent no-op, never an
error the server logs; the server serves on afterwards.
"""
import asyncio
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from asgiutil import ServerThread
import cio  # noqa: E402,F401  (asgiutil puts the build under test on sys.path)


class Seen:
    """What the application saw, for the test's thread to read."""
    def __init__(self):
        self.items = {}

    def wait_for(self, key, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if key in self.items:
                return self.items[key]
            time.sleep(0.005)
        raise AssertionError(f'{key!r} not seen; got {self.items!r}')


def make_app(seen):
    async def read_body(receive):
        n = 0
        while True:
            m = await receive()
            assert m['type'] == 'http.request', m
            n += len(m.get('body', b''))
            if not m.get('more_body'):
                return n

    async def app(scope, receive, send):
        if scope['type'] != 'http':
            return
        key = scope['query_string'].decode()
        path = scope['path']
        if path == '/ok':
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'ok'})
            return
        body = await read_body(receive)
        if path == '/longpoll':
            seen.items[key + ':waiting'] = body
            m = await receive()  # nothing to say until the client leaves
            t = time.monotonic()
            errors = []
            for msg in ({'type': 'http.response.start', 'status': 200, 'headers': []},
                        {'type': 'http.response.body', 'body': b'late'}):
                try:
                    await send(msg)
                except Exception as exc:  # must not happen
                    errors.append(repr(exc))
            seen.items[key] = (m, t, body, errors)
        elif path == '/sse':
            got = {}

            async def watch():
                got['m'] = await receive()
                got['t'] = time.monotonic()
            w = asyncio.ensure_future(watch())
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [(b'content-type', b'text/event-stream')]})
            seen.items[key + ':waiting'] = body
            i, errors = 0, []
            while not w.done() and i < 400:  # 20 s at most
                try:
                    await send({'type': 'http.response.body', 'body': b'data: %d\n\n' % i,
                                'more_body': True})
                except Exception as exc:
                    errors.append(repr(exc))
                i += 1
                await asyncio.sleep(0.05)
            await w
            try:  # a send after the disconnect: a no-op
                await send({'type': 'http.response.body', 'body': b'data: late\n\n',
                            'more_body': True})
                await send({'type': 'http.response.body', 'body': b''})
            except Exception as exc:
                errors.append(repr(exc))
            seen.items[key] = (got['m'], got['t'], body, errors)
    return app


REQUESTS = {
    'get': b'GET /%s?%s HTTP/1.1\r\nHost: x\r\n\r\n',
    'length': b'POST /%s?%s HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n' + b'L' * 3000,
    'chunked': (b'POST /%s?%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
                b'bb8\r\n' + b'C' * 3000 + b'\r\n0\r\n\r\n'),
}


class Disconnect(unittest.TestCase):
    tls = None  # TLS: (client context)

    @classmethod
    def setUpClass(cls):
        cls.seen = Seen()
        cls.srv = ServerThread(make_app(cls.seen), lifespan='off', **cls.server_kwargs()).start()
        cls.port = cls.srv.port

    @classmethod
    def server_kwargs(cls):
        return {}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def connect(self):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        if self.tls:
            s = self.tls.wrap_socket(s, server_hostname='localhost')
        return s

    def leave(self, path, kind, half=False):
        """Sends the request, waits until the app waits, leaves; returns
        what the app saw and the seconds from leaving to its receive()."""
        key = f'{path}-{kind}-{"half" if half else "close"}'
        req = REQUESTS[kind].replace(b'/%s?%s', f'{path}?{key}'.encode(), 1)
        s = self.connect()
        s.sendall(req)
        self.seen.wait_for(key + ':waiting')
        time.sleep(0.15 if path == '/sse' else 0.05)
        t0 = time.monotonic()
        if half:
            if self.tls:
                s = s.unwrap()  # close_notify, then the TCP half-close
            s.shutdown(socket.SHUT_WR)
        else:
            s.close()
        m, t, body, errors = self.seen.wait_for(key)
        if half:
            s.close()
        return m, t - t0, body, errors

    def check(self, path, kind, half=False):
        with self.assertNoLogs('cio.asgi', level='ERROR'):
            m, took, body, errors = self.leave(path, kind, half)
        self.assertEqual(m, {'type': 'http.disconnect'})
        self.assertLess(took, 1.0)
        self.assertEqual(body, 0 if kind == 'get' else 3000)
        self.assertEqual(errors, [])

    def test_longpoll(self):
        for kind in REQUESTS:
            with self.subTest(kind=kind):
                self.check('/longpoll', kind)

    def test_longpoll_half_close(self):
        self.check('/longpoll', 'get', half=True)

    def test_event_stream(self):
        for kind in ('get', 'length'):
            with self.subTest(kind=kind):
                self.check('/sse', kind)

    def test_serves_on(self):
        self.check('/longpoll', 'length')
        s = self.connect()
        s.sendall(b'GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        out = b''
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
        s.close()
        self.assertTrue(out.startswith(b'HTTP/1.1 200'), out)
        self.assertTrue(out.endswith(b'ok'), out)


class DisconnectTls(Disconnect):
    TMP = None

    @classmethod
    def server_kwargs(cls):
        if shutil.which('openssl') is None:
            raise unittest.SkipTest('no openssl command to make a certificate')
        cls.TMP = tempfile.mkdtemp(prefix='cio-asgi-disc-')
        cert, key = os.path.join(cls.TMP, 'c.pem'), os.path.join(cls.TMP, 'k.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
                        '-keyout', key, '-out', cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.tls = ssl.create_default_context(cafile=cert)
        return {'ssl_certfile': cert, 'ssl_keyfile': key}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.TMP, ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
