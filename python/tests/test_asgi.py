"""test_asgi.py - cio.serve_asgi with raw ASGI 3 applications, over real
sockets (http.client, raw sockets, curl): the scope, bodies in and out
(chunked, streamed), errors, disconnects, backpressure, keep-alive and
pipelining, lifespan, graceful shutdown and the command line.
"""
import asyncio
import contextvars
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

from asgiutil import ServerThread, raw_request
import cio  # noqa: E402  (asgiutil puts the build under test on sys.path)


def lifespan_ok(scope):
    return scope['type'] == 'lifespan'


async def read_body(receive):
    body, msgs = b'', 0
    while True:
        m = await receive()
        if m['type'] == 'http.disconnect':  # the body was refused (413)
            return body, -1
        assert m['type'] == 'http.request', m
        body += m.get('body', b'')
        msgs += 1
        if not m.get('more_body', False):
            return body, msgs


async def send_json(send, obj, status=200, headers=()):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'application/json')] + list(headers)})
    await send({'type': 'http.response.body', 'body': json.dumps(obj).encode()})


class Events:
    """What the application saw, for the test's thread to read."""
    def __init__(self):
        self.items = []


def make_app(ev):
    async def app(scope, receive, send):
        if scope['type'] == 'lifespan':
            while True:
                m = await receive()
                ev.items.append(m['type'])
                if m['type'] == 'lifespan.startup':
                    scope['state']['greeting'] = 'hi'
                    await send({'type': 'lifespan.startup.complete'})
                else:
                    await send({'type': 'lifespan.shutdown.complete'})
                    return
        path = scope['path']
        if path.startswith('/echo'):
            body, msgs = await read_body(receive)
            await send_json(send, {
                'type': scope['type'], 'asgi': scope['asgi'],
                'http_version': scope['http_version'], 'method': scope['method'],
                'scheme': scope['scheme'], 'path': scope['path'],
                'raw_path': scope['raw_path'].decode('latin-1'),
                'query_string': scope['query_string'].decode('latin-1'),
                'root_path': scope['root_path'],
                'headers': [[n.decode('latin-1'), v.decode('latin-1')] for n, v in scope['headers']],
                'client': list(scope['client']), 'server': list(scope['server']),
                'state': scope.get('state', {}).get('greeting'),
                'body_len': len(body), 'body_md5': hashlib.md5(body).hexdigest(),
                'messages': msgs}, headers=[(b'x-echo', b'yes')])
        elif path == '/stream':
            await read_body(receive)
            n = int(scope['query_string'] or b'5')
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [(b'content-type', b'text/plain')]})
            for i in range(n):
                await send({'type': 'http.response.body', 'body': b'chunk %d\n' % i,
                            'more_body': True})
            await send({'type': 'http.response.body', 'body': b'', 'more_body': False})
        elif path == '/boom':
            raise ValueError('boom (expected by the test)')
        elif path == '/boom-late':
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'partial', 'more_body': True})
            raise ValueError('boom after the head (expected by the test)')
        elif path == '/incomplete':
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        elif path == '/forever':
            # streams until the client leaves; a concurrent receive() sees
            # http.disconnect (Starlette's StreamingResponse does this)
            await read_body(receive)
            async def watch():
                m = await receive()
                ev.items.append(('watch', m['type']))
            w = asyncio.ensure_future(watch())
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            for i in range(100000):
                await send({'type': 'http.response.body', 'body': b'x' * 1024, 'more_body': True})
                await asyncio.sleep(0.001)
                if w.done():
                    break
            ev.items.append(('sent-after-disconnect-ok', i))
            await w
        elif path == '/big':
            # backpressure: count the chunks send() let through
            await read_body(receive)
            n = 400
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            for i in range(n):
                await send({'type': 'http.response.body', 'body': b'y' * 65536, 'more_body': True})
                ev.items.append(('big', i))
            await send({'type': 'http.response.body', 'body': b''})
        elif path == '/partial':
            # the client leaves in the middle of its body
            m = await receive()
            ev.items.append(('partial', m['type'], len(m.get('body', b''))))
            while m['type'] == 'http.request' and m.get('more_body'):
                m = await receive()
                ev.items.append(('partial', m['type'], len(m.get('body', b''))))
        elif path == '/slow':
            await read_body(receive)
            await asyncio.sleep(float(scope['query_string'] or b'0.5'))
            await send_json(send, {'slept': True})
        else:
            await read_body(receive)
            await send({'type': 'http.response.start', 'status': 404, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'nope'})
    return app


class Raw(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ev = Events()
        cls.srv = ServerThread(make_app(cls.ev), max_body=1 << 20).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        assert cls.ev.items[:1] == ['lifespan.startup'], cls.ev.items
        assert cls.ev.items[-1] == 'lifespan.shutdown', cls.ev.items

    def conn(self):
        return http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)

    def get(self, method, url, body=None, headers=None):
        c = self.conn()
        c.request(method, url, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def test_scope_and_echo(self):
        r, data = self.get('GET', '/echo/a%20b?x=1&y=%20', headers={'X-Custom': 'Val'})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader('x-echo'), 'yes')
        self.assertEqual(r.getheader('content-type'), 'application/json')
        d = json.loads(data)
        self.assertEqual(d['type'], 'http')
        self.assertEqual(d['asgi']['version'], '3.0')
        self.assertEqual(d['http_version'], '1.1')
        self.assertEqual(d['method'], 'GET')
        self.assertEqual(d['scheme'], 'http')
        self.assertEqual(d['path'], '/echo/a b')
        self.assertEqual(d['raw_path'], '/echo/a%20b')
        self.assertEqual(d['query_string'], 'x=1&y=%20')
        self.assertEqual(d['root_path'], '')
        self.assertIn(['x-custom', 'Val'], d['headers'])
        self.assertIn(['host', '127.0.0.1:%d' % self.port], d['headers'])
        self.assertEqual(d['client'][0], '127.0.0.1')
        self.assertEqual(d['server'], ['127.0.0.1', self.port])
        self.assertEqual(d['state'], 'hi')   # lifespan state, copied per request
        self.assertEqual((d['body_len'], d['messages']), (0, 1))

    def test_post_body(self):
        body = os.urandom(200000)
        r, data = self.get('POST', '/echo', body=body,
                           headers={'Content-Type': 'application/octet-stream'})
        d = json.loads(data)
        self.assertEqual(d['method'], 'POST')
        self.assertEqual(d['body_len'], len(body))
        self.assertEqual(d['body_md5'], hashlib.md5(body).hexdigest())
        self.assertGreater(d['messages'], 1)   # streamed with more_body

    def test_chunked_upload(self):
        parts = [os.urandom(50000) for _ in range(6)]
        c = self.conn()
        c.request('PUT', '/echo', body=iter(parts), encode_chunked=True,
                  headers={'Transfer-Encoding': 'chunked'})
        d = json.loads(c.getresponse().read())
        c.close()
        whole = b''.join(parts)
        self.assertEqual(d['body_len'], len(whole))
        self.assertEqual(d['body_md5'], hashlib.md5(whole).hexdigest())
        self.assertIn(['transfer-encoding', 'chunked'], d['headers'])

    @unittest.skipUnless(shutil.which('curl'), 'curl not installed')
    def test_curl_chunked_upload(self):
        data = os.urandom(100000)
        out = subprocess.run(['curl', '-s', '-H', 'Transfer-Encoding: chunked',
                              '--data-binary', '@-', 'http://127.0.0.1:%d/echo' % self.port],
                             input=data, capture_output=True, timeout=20,
                             env={k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'})
        d = json.loads(out.stdout)
        self.assertEqual(d['body_md5'], hashlib.md5(data).hexdigest())

    def test_body_too_large(self):
        # declared too large: refused at the head
        out = raw_request(self.port, b'POST /echo HTTP/1.1\r\nHost: x\r\n'
                          b'Content-Length: %d\r\n\r\n' % ((1 << 20) + 1))
        self.assertTrue(out.startswith(b'HTTP/1.1 413'), out[:60])
        # chunked, found too large while the application reads it
        c = self.conn()
        try:
            c.request('POST', '/echo', body=iter([b'z' * 65536] * 20), encode_chunked=True,
                      headers={'Transfer-Encoding': 'chunked'})
            status = c.getresponse().status
        except (BrokenPipeError, ConnectionResetError):
            status = 413  # the server answered and closed while we sent
        c.close()
        self.assertEqual(status, 413)

    def test_streamed_response(self):
        r, data = self.get('GET', '/stream?7')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader('transfer-encoding'), 'chunked')
        self.assertEqual(data, b''.join(b'chunk %d\n' % i for i in range(7)))

    def test_500_on_exception(self):
        r, data = self.get('GET', '/boom')
        self.assertEqual(r.status, 500)
        self.assertEqual(data, b'Internal Server Error')
        # the connection's server is still fine
        self.assertEqual(self.get('GET', '/stream?1')[0].status, 200)

    def test_500_when_response_incomplete(self):
        r, _ = self.get('GET', '/incomplete')
        self.assertEqual(r.status, 500)

    def test_abort_after_head(self):
        c = self.conn()
        c.request('GET', '/boom-late')
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()

    def test_404_from_app(self):
        r, data = self.get('DELETE', '/nothing/here')
        self.assertEqual((r.status, data), (404, b'nope'))

    def test_keep_alive_many(self):
        c = self.conn()
        ports = set()
        for i in range(300):
            c.request('GET', '/echo?i=%d' % i)
            r = c.getresponse()
            d = json.loads(r.read())
            self.assertEqual(d['query_string'], 'i=%d' % i)
            ports.add(d['client'][1])
        c.close()
        self.assertEqual(len(ports), 1)   # one connection served them all

    def test_pipelining(self):
        req = b'POST /echo?a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'
        req += (b'POST /echo?b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
                b'3\r\nabc\r\n0\r\n\r\n')
        req += b''.join(b'GET /stream?%d HTTP/1.1\r\nHost: x\r\n\r\n' % n for n in (1, 2, 3))
        req += b'GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
        out = raw_request(self.port, req)
        self.assertEqual(out.count(b'HTTP/1.1 200 OK'), 6)
        self.assertLess(out.index(b'"query_string": "a"'), out.index(b'"query_string": "b"'))
        self.assertIn(b'"body_md5": "%s"' % hashlib.md5(b'hello').hexdigest().encode(), out)
        self.assertIn(b'"body_md5": "%s"' % hashlib.md5(b'abc').hexdigest().encode(), out)
        i1, i2, i3 = (out.index(b'chunk %d\n' % k) for k in (0, 1, 2))
        self.assertLess(i1, i2)
        self.assertTrue(out.rstrip().endswith(b'}'))

    def test_head(self):
        r, data = self.get('HEAD', '/echo')
        self.assertEqual(r.status, 200)
        self.assertEqual(data, b'')

    def test_http10(self):
        out = raw_request(self.port, b'GET /echo HTTP/1.0\r\n\r\n')
        self.assertTrue(out.startswith(b'HTTP/1.1 200') or out.startswith(b'HTTP/1.0 200'), out[:40])
        self.assertIn(b'"http_version": "1.0"', out)

    def test_disconnect(self):
        self.ev.items[:] = [i for i in self.ev.items if not isinstance(i, tuple)]
        s = socket.create_connection(('127.0.0.1', self.port))
        s.sendall(b'GET /forever HTTP/1.1\r\nHost: x\r\n\r\n')
        got = s.recv(4096)
        self.assertIn(b'200 OK', got)
        s.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ('watch', 'http.disconnect') in self.ev.items and any(
                    isinstance(i, tuple) and i[0] == 'sent-after-disconnect-ok' for i in self.ev.items):
                break
            time.sleep(0.05)
        self.assertIn(('watch', 'http.disconnect'), self.ev.items)

    def test_disconnect_mid_body(self):
        self.ev.items[:] = [i for i in self.ev.items if not isinstance(i, tuple)]
        with socket.create_connection(('127.0.0.1', self.port)) as s:
            s.sendall(b'POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n'
                      + b'p' * 1000)
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                i[:2] == ('partial', 'http.disconnect') for i in self.ev.items if isinstance(i, tuple)):
            time.sleep(0.05)
        got = [i for i in self.ev.items if isinstance(i, tuple) and i[0] == 'partial']
        self.assertEqual(got[0], ('partial', 'http.request', 1000))
        self.assertEqual(got[-1][:2], ('partial', 'http.disconnect'))

    def test_backpressure(self):
        self.ev.items[:] = [i for i in self.ev.items if not isinstance(i, tuple)]
        s = socket.create_connection(('127.0.0.1', self.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b'GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        time.sleep(0.7)
        sent = sum(1 for i in self.ev.items if isinstance(i, tuple) and i[0] == 'big')
        # 400 chunks of 64 KiB are 25 MiB: send() must have waited long before
        self.assertLess(sent, 200)
        total = 0
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            total += b.count(b'y')
        s.close()
        self.assertEqual(total, 400 * 65536)


REQUEST_ID = contextvars.ContextVar('request_id', default=None)


async def task_app(scope, receive, send):
    """Reports what the request's task sees of itself and its context.
    serve_asgi runs a task's first step at once, in the callback that
    starts the request (an eager start): the step must still see its own
    task, registered in all_tasks(), and a context of its own."""
    if scope['type'] != 'http':
        return
    t = asyncio.current_task()
    seen = {'task': t is not None and isinstance(t, asyncio.Task),
            'registered': t in asyncio.all_tasks(),
            'inherited': REQUEST_ID.get(),
            'task_id': id(t)}
    REQUEST_ID.set(scope['query_string'].decode())
    await asyncio.sleep(0)        # a second step: the same task, the same context
    seen['same_task'] = asyncio.current_task() is t
    seen['kept'] = REQUEST_ID.get()
    await send_json(send, seen)


class Tasks(unittest.TestCase):
    def test_each_request_its_own_task_and_context(self):
        with ServerThread(task_app) as srv:
            req = b''.join(b'GET /?r%d HTTP/1.1\r\nHost: x\r\n\r\n' % i for i in range(20))
            req += b'GET /?last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
            outs = [raw_request(srv.port, req) for _ in range(3)]
        for out in outs:
            bodies = [json.loads(b[:b.index(b'}') + 1])
                      for b in out.split(b'\r\n\r\n')[1:] if b.startswith(b'{')]
            self.assertEqual(len(bodies), 21, out[:300])
            for i, d in enumerate(bodies):
                self.assertTrue(d['task'] and d['registered'] and d['same_task'], d)
                self.assertIsNone(d['inherited'], d)   # nothing leaks from the last request
                self.assertEqual(d['kept'], 'r%d' % i if i < 20 else 'last')

    def test_the_loops_task_factory_makes_the_tasks(self):
        made = []
        def before(loop):
            def factory(loop, coro):
                made.append(1)
                return asyncio.Task(coro, loop=loop)
            loop.set_task_factory(factory)
        with ServerThread(task_app, before=before) as srv:
            for i in range(5):
                out = raw_request(srv.port, b'GET /?f%d HTTP/1.1\r\nHost: x\r\n'
                                            b'Connection: close\r\n\r\n' % i)
                self.assertIn(b'"kept": "f%d"' % i, out)
        self.assertGreaterEqual(len(made), 5)


class Options(unittest.TestCase):
    def test_root_path(self):
        with ServerThread(make_app(Events()), root_path='/api') as srv:
            for _ in range(2):   # the scopes are copies: the first does not change the second
                out = raw_request(srv.port, b'GET /echo HTTP/1.1\r\nHost: x\r\n'
                                            b'Connection: close\r\n\r\n')
                d = json.loads(out[out.index(b'\r\n\r\n') + 4:])
                self.assertEqual((d['root_path'], d['path'], d['scheme']), ('/api', '/echo', 'http'))
                self.assertEqual(d['server'], ['127.0.0.1', srv.port])


class Lifecycle(unittest.TestCase):
    def test_startup_failure_stops_the_server(self):
        async def app(scope, receive, send):
            assert scope['type'] == 'lifespan'
            await receive()
            await send({'type': 'lifespan.startup.failed', 'message': 'no database'})
        srv = ServerThread(app)
        with self.assertRaisesRegex(RuntimeError, 'no database'):
            srv.start()
            srv.stop()

    def test_startup_exception_with_lifespan_on(self):
        async def app(scope, receive, send):
            raise KeyError('nope')
        srv = ServerThread(app, lifespan='on')
        with self.assertRaisesRegex(RuntimeError, 'startup failed'):
            srv.start()
            srv.stop()

    def test_port_in_use(self):
        events = []
        async def app(scope, receive, send):
            m = await receive()
            events.append(m['type'])
            await send({'type': m['type'] + '.complete'})
            if m['type'] == 'lifespan.startup':
                events.append((await receive())['type'])
                await send({'type': 'lifespan.shutdown.complete'})
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            s.listen()
            srv = ServerThread(app, port=s.getsockname()[1])
            with self.assertRaises(OSError) as cm:
                srv.start()
                srv.stop()
        self.assertEqual(cm.exception.errno, 98)   # EADDRINUSE
        # the application was started, then shut down
        self.assertEqual(events, ['lifespan.startup', 'lifespan.shutdown'])

    def test_app_without_lifespan(self):
        # 'auto': an application that raises for lifespan still serves http
        async def app(scope, receive, send):
            if scope['type'] != 'http':
                raise ValueError('http only')
            await send({'type': 'http.response.start', 'status': 204, 'headers': []})
            await send({'type': 'http.response.body'})
        with ServerThread(app) as srv:
            c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=5)
            c.request('GET', '/')
            self.assertEqual(c.getresponse().status, 204)
            c.close()

    def test_graceful_shutdown_finishes_requests(self):
        ev = Events()
        srv = ServerThread(make_app(ev), shutdown_timeout=5).start()
        c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
        c.request('GET', '/slow?0.5')
        time.sleep(0.2)
        t0 = time.monotonic()
        import threading
        stopper = threading.Thread(target=lambda: setattr(self, 'res', srv.stop()))
        stopper.start()
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read()), {'slept': True})
        self.assertEqual(r.getheader('connection'), 'close')
        stopper.join(10)
        self.assertEqual(self.res, 0)
        self.assertLess(time.monotonic() - t0, 4)
        # no longer listening
        with self.assertRaises(OSError):
            socket.create_connection(('127.0.0.1', srv.port), timeout=2).close()

    def test_shutdown_deadline_aborts(self):
        ev = Events()
        srv = ServerThread(make_app(ev), shutdown_timeout=0.3).start()
        c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
        c.request('GET', '/slow?30')
        time.sleep(0.2)
        t0 = time.monotonic()
        self.assertEqual(srv.stop(), 1)   # something had to be aborted
        self.assertLess(time.monotonic() - t0, 5)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            c.getresponse()


class CommandLine(unittest.TestCase):
    def test_module_sigterm_and_sigint(self):
        appdir = os.path.dirname(os.path.abspath(__file__))
        for sig in (signal.SIGTERM, signal.SIGINT):
            with socket.socket() as s:
                s.bind(('127.0.0.1', 0))
                port = s.getsockname()[1]
            # the build under test (the in-place one, or asan.sh's)
            env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cio.__file__)))
            p = subprocess.Popen([sys.executable, '-m', 'cio.asgi', 'test_asgi:cli_app',
                                  '--port', str(port), '--app-dir', appdir],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
                        c.request('GET', '/x')
                        r = c.getresponse()
                        break
                    except OSError:
                        if time.monotonic() > deadline or p.poll() is not None:
                            raise
                        time.sleep(0.1)
                self.assertEqual((r.status, r.read()), (200, b'cli'))
                c.close()
                p.send_signal(sig)
                out, _ = p.communicate(timeout=15)
                self.assertEqual(p.returncode, 0, out)
                self.assertNotIn(b'Traceback', out)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()


async def cli_app(scope, receive, send):
    if scope['type'] == 'http':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'cli'})
    elif scope['type'] == 'lifespan':
        while True:
            m = await receive()
            await send({'type': m['type'] + '.complete'})
            if m['type'] == 'lifespan.shutdown':
                return


if __name__ == '__main__':
    unittest.main()
