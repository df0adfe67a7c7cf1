"""test_asgi_ws.py - cio.serve_asgi's "websocket" scopes (cio's WebSocket
server under raw ASGI applications), with Python's websockets library as
the client over real sockets (and raw sockets for the HTTP answers): the
scope, echo of text and bytes, subprotocols, permessage-deflate, closing
from either side with code and reason, rejection (403) and the denial
response extension, large and too large messages, backpressure both
ways, sends while a receive() waits, errors, and the server's shutdown.
"""
import asyncio
import os
import socket
import sys
import time
import unittest

from asgiutil import ServerThread, raw_request
import cio  # noqa: E402,F401  (asgiutil puts the build under test on sys.path)

try:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidStatusCode
except ImportError:  # python3-websockets
    websockets = None


def run(coro, timeout=30):
    """Runs a client coroutine on a fresh asyncio loop in this thread."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Seen:
    """What the application saw, for the test's thread to read."""
    def __init__(self):
        self.items = []

    def wait_for(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for it in self.items:
                if pred(it):
                    return it
            time.sleep(0.01)
        raise AssertionError(f'not seen; got {self.items!r}')


def make_app(seen):
    async def app(scope, receive, send):
        if scope['type'] != 'websocket':
            if scope['type'] == 'http':
                await send({'type': 'http.response.start', 'status': 200, 'headers': []})
                await send({'type': 'http.response.body', 'body': b'plain http'})
            return
        path = scope['path']
        m = await receive()
        assert m == {'type': 'websocket.connect'}, m
        if path == '/reject':
            await send({'type': 'websocket.close', 'code': 1008})
            seen.items.append(('rejected', await receive()))
            return
        if path == '/deny':
            await send({'type': 'websocket.http.response.start', 'status': 401,
                        'headers': [(b'content-type', b'text/plain'), (b'x-why', b'token')]})
            await send({'type': 'websocket.http.response.body', 'body': b'no ', 'more_body': True})
            await send({'type': 'websocket.http.response.body', 'body': b'entry'})
            return
        if path == '/fail-early':
            raise ValueError('before accept (expected in this test)')
        if path == '/return-early':
            return
        sub = scope['subprotocols'][-1] if scope['subprotocols'] else None
        await send({'type': 'websocket.accept', 'subprotocol': sub,
                    'headers': [(b'x-hello', b'world')]})
        if path == '/scope':
            await send({'type': 'websocket.send', 'text': repr({
                k: scope[k] for k in ('type', 'asgi', 'http_version', 'scheme', 'path',
                                      'raw_path', 'query_string', 'root_path', 'client',
                                      'server', 'subprotocols', 'extensions')})})
            await send({'type': 'websocket.send',
                        'text': repr([(n, v) for n, v in scope['headers']])})
        elif path == '/close-me':
            await send({'type': 'websocket.close', 'code': 4001, 'reason': 'bye now'})
            try:
                await send({'type': 'websocket.send', 'text': 'too late'})
            except RuntimeError as exc:
                seen.items.append(('after-close', str(exc)))
            seen.items.append(('closed', await receive()))
        elif path == '/fail':
            raise ValueError('after accept (expected in this test)')
        elif path == '/leave':
            return  # accepted, left open: the server closes with 1000
        elif path == '/ticks':
            # sends while a receive() waits (a background task)
            async def ticks():
                for i in range(3):
                    await send({'type': 'websocket.send', 'text': f'tick {i}'})
            t = asyncio.get_running_loop().create_task(ticks())
            m = await receive()
            await t
            seen.items.append(('ticks-then', m))
        elif path == '/flood':
            # 64 MiB at the client that does not read: send() must wait
            blob = os.urandom(1 << 20)
            n = 0
            try:
                for n in range(1, 65):
                    await send({'type': 'websocket.send', 'bytes': blob})
                    seen.items.append(('sent', n))
            except OSError as exc:
                seen.items.append(('send-error', type(exc).__name__, isinstance(exc, OSError)))
            await receive()
        elif path == '/slow-reader':
            # takes nothing until told: the client's sends must wait
            # query: "<seconds>:<MiB to expect>"
            pause, mib = scope['query_string'].split(b':')
            await asyncio.sleep(float(pause))
            got = 0
            while True:
                m = await receive()
                if m['type'] == 'websocket.disconnect':
                    break
                got += len(m['bytes'])
                if got >= int(mib) << 20:
                    await send({'type': 'websocket.send', 'text': str(got)})
            seen.items.append(('slow-total', got))
        elif path == '/cancel':
            # receive() cancelled by timeouts must not lose a message
            misses = 0
            while True:
                try:
                    m = await asyncio.wait_for(receive(), 0.02)
                    break
                except asyncio.TimeoutError:
                    misses += 1
            await send({'type': 'websocket.send', 'text': f"{m['text']} after {misses > 0}"})
            await receive()
        elif path == '/after-gone':
            m = await receive()
            seen.items.append(('gone', m))
            try:
                await send({'type': 'websocket.send', 'text': 'anyone?'})
            except OSError as exc:
                seen.items.append(('send-after-gone', type(exc).__name__))
        else:  # /echo
            while True:
                m = await receive()
                if m['type'] == 'websocket.disconnect':
                    seen.items.append(('disconnect', path, m))
                    return
                await send({'type': 'websocket.send', 'text': m.get('text'),
                            'bytes': m.get('bytes')})
    return app


@unittest.skipIf(websockets is None, 'python3-websockets is not installed')
class WebSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.seen = Seen()
        cls.srv = ServerThread(make_app(cls.seen), lifespan='off',
                               ws_max_message=8 << 20).start()
        cls.port = cls.srv.port
        cls.url = f'ws://127.0.0.1:{cls.port}'

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_scope(self):
        async def go():
            async with websockets.connect(self.url + '/scope?a=1&b=%20',
                                          subprotocols=['one', 'two'],
                                          extra_headers={'X-Custom': 'Val'}) as c:
                self.assertEqual(c.subprotocol, 'two')
                self.assertEqual(c.response_headers['x-hello'], 'world')
                return eval(await c.recv()), eval(await c.recv()), c.local_address
        scope, headers, local = run(go())
        self.assertEqual(scope['type'], 'websocket')
        self.assertEqual(scope['asgi'], {'version': '3.0', 'spec_version': '2.4'})
        self.assertEqual((scope['http_version'], scope['scheme']), ('1.1', 'ws'))
        self.assertEqual((scope['path'], scope['raw_path']), ('/scope', b'/scope'))
        self.assertEqual((scope['query_string'], scope['root_path']), (b'a=1&b=%20', ''))
        self.assertEqual(scope['client'], local[:2])
        self.assertEqual(scope['server'], ('127.0.0.1', self.port))
        self.assertEqual(scope['subprotocols'], ['one', 'two'])
        self.assertEqual(scope['extensions'], {'websocket.http.response': {}})
        names = [n for n, _ in headers]
        self.assertIn((b'x-custom', b'Val'), headers)
        self.assertIn(b'sec-websocket-key', names)
        self.assertTrue(all(n == n.lower() for n in names))

    def test_echo_text_and_bytes_compressed(self):
        async def go():
            async with websockets.connect(self.url + '/echo') as c:
                self.assertIn('permessage-deflate',
                              c.response_headers.get('sec-websocket-extensions', ''))
                self.assertIsNone(c.subprotocol)
                out = []
                for m in ('hello', b'\x00\xffbin', 'h\u00e9llo \u2603', b'', ''):
                    await c.send(m)
                    out.append(await c.recv())
                return out
        self.assertEqual(run(go()), ['hello', b'\x00\xffbin', 'h\u00e9llo \u2603', b'', ''])

    def test_uncompressed_when_not_offered(self):
        async def go():
            async with websockets.connect(self.url + '/echo', compression=None) as c:
                self.assertNotIn('sec-websocket-extensions', c.response_headers)
                await c.send('plain')
                return await c.recv()
        self.assertEqual(run(go()), 'plain')

    def test_large_messages(self):
        big = os.urandom(6 << 20)
        text = 'caf\u00e9 ' * (1 << 19)   # 3 MiB of UTF-8, compressible
        async def go():
            async with websockets.connect(self.url + '/echo', max_size=None) as c:
                await c.send(big)
                a = await c.recv()
                await c.send(text)
                return a, await c.recv()
        a, b = run(go())
        self.assertEqual((len(a), a == big), (len(big), True))
        self.assertEqual(b, text)

    def test_too_large_closes_1009(self):
        async def go():
            async with websockets.connect(self.url + '/echo?big', max_size=None) as c:
                await c.send(b'x' * ((8 << 20) + 1))
                with self.assertRaises(ConnectionClosed) as cm:
                    await c.recv()
                return cm.exception.rcvd.code
        self.assertEqual(run(go()), 1009)
        # cio failed the connection (close 1009, then TCP closed at once):
        # no close frame came back, so the application sees 1006, as
        # uvicorn's websockets backend reports it
        it = self.seen.wait_for(lambda i: i[0] == 'disconnect' and i[1] == '/echo' and
                                i[2]['code'] == 1006)
        self.assertEqual(it[2]['type'], 'websocket.disconnect')

    def test_server_closes_with_code_and_reason(self):
        async def go():
            async with websockets.connect(self.url + '/close-me') as c:
                with self.assertRaises(ConnectionClosed) as cm:
                    await c.recv()
                return cm.exception.rcvd.code, cm.exception.rcvd.reason
        self.assertEqual(run(go()), (4001, 'bye now'))
        self.assertIn('after the WebSocket was closed',
                      self.seen.wait_for(lambda i: i[0] == 'after-close')[1])
        m = self.seen.wait_for(lambda i: i[0] == 'closed')[1]
        self.assertEqual(m['type'], 'websocket.disconnect')

    def test_client_closes_with_code_and_reason(self):
        async def go():
            async with websockets.connect(self.url + '/echo/client-close') as c:
                await c.send('x')
                await c.recv()
                await c.close(4002, 'done here')
        run(go())
        it = self.seen.wait_for(lambda i: i[0] == 'disconnect' and i[1] == '/echo/client-close')
        self.assertEqual(it[2], {'type': 'websocket.disconnect', 'code': 4002,
                                 'reason': 'done here'})

    def test_connection_drop_is_1006(self):
        s = socket.create_connection(('127.0.0.1', self.port))
        s.sendall(b'GET /echo/drop HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                  b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                  b'Sec-WebSocket-Version: 13\r\n\r\n')
        self.assertIn(b' 101 ', s.recv(4096))
        s.close()
        it = self.seen.wait_for(lambda i: i[0] == 'disconnect' and i[1] == '/echo/drop')
        self.assertEqual(it[2]['code'], 1006)

    def test_reject_before_accept_is_403(self):
        async def go():
            with self.assertRaises(InvalidStatusCode) as cm:
                async with websockets.connect(self.url + '/reject'):
                    pass
            return cm.exception.status_code
        self.assertEqual(run(go()), 403)
        m = self.seen.wait_for(lambda i: i[0] == 'rejected')[1]
        self.assertEqual(m['type'], 'websocket.disconnect')

    def test_denial_response(self):
        async def go():
            with self.assertRaises(InvalidStatusCode) as cm:
                async with websockets.connect(self.url + '/deny'):
                    pass
            return cm.exception.status_code
        self.assertEqual(run(go()), 401)
        raw = raw_request(self.port, b'GET /deny HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                          b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                          b'Sec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n')
        self.assertTrue(raw.startswith(b'HTTP/1.1 401 '), raw)
        self.assertIn(b'x-why: token', raw.lower())
        self.assertTrue(raw.endswith(b'\r\n\r\nno entry'), raw)

    def test_app_failure_before_accept_is_500(self):
        for path in ('/fail-early', '/return-early'):
            async def go():
                with self.assertRaises(InvalidStatusCode) as cm:
                    async with websockets.connect(self.url + path):
                        pass
                return cm.exception.status_code
            self.assertEqual(run(go()), 500, path)

    def test_app_failure_after_accept_is_1011(self):
        async def go(path):
            async with websockets.connect(self.url + path) as c:
                with self.assertRaises(ConnectionClosed) as cm:
                    await c.recv()
                return cm.exception.rcvd.code
        self.assertEqual(run(go('/fail')), 1011)
        self.assertEqual(run(go('/leave')), 1000)

    def test_bad_handshake_answered_without_the_app(self):
        raw = raw_request(self.port, b'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                          b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                          b'Sec-WebSocket-Version: 8\r\n\r\n', read_until_close=False)
        self.assertTrue(raw.startswith(b'HTTP/1.1 426 '), raw)
        self.assertIn(b'sec-websocket-version: 13', raw.lower())
        raw = raw_request(self.port, b'GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        self.assertTrue(raw.startswith(b'HTTP/1.1 200 ') and raw.endswith(b'plain http'), raw)

    def test_send_while_receive_waits(self):
        async def go():
            async with websockets.connect(self.url + '/ticks') as c:
                got = [await c.recv() for _ in range(3)]
                await c.send('now')
                return got
        self.assertEqual(run(go()), ['tick 0', 'tick 1', 'tick 2'])
        m = self.seen.wait_for(lambda i: i[0] == 'ticks-then')[1]
        self.assertEqual(m, {'type': 'websocket.receive', 'text': 'now'})

    def test_cancelled_receive_loses_nothing(self):
        async def go():
            async with websockets.connect(self.url + '/cancel') as c:
                await asyncio.sleep(0.3)
                await c.send('kept')
                return await c.recv()
        self.assertEqual(run(go()), 'kept after True')

    def test_send_waits_for_a_slow_client(self):
        async def go():
            async with websockets.connect(self.url + '/flood', max_size=None,
                                          max_queue=1, compression=None) as c:
                await asyncio.sleep(1.0)
                stalled = max([i[1] for i in self.seen.items if i[0] == 'sent'], default=0)
                total = 0
                for _ in range(64):
                    total += len(await c.recv())
                return stalled, total
        stalled, total = run(go(), 60)
        self.assertLess(stalled, 40)      # the application's send() waited
        self.assertEqual(total, 64 << 20)  # and everything came once read

    def test_client_waits_for_a_slow_app(self):
        # What may go out before the application reads: the server's
        # queue (16 messages of 1 MiB), the kernel's receive and send
        # buffers at their autotuned maximum (tcp_rmem is 32 MiB on some
        # machines), one message being assembled, one in the client.
        def kernel_max_mib(name):
            with open(f'/proc/sys/net/ipv4/{name}') as f:
                return int(f.read().split()[2]) >> 20
        bound = 16 + kernel_max_mib('tcp_rmem') + kernel_max_mib('tcp_wmem') + 2
        count = bound + 16
        blob = os.urandom(1 << 20)
        async def go():
            async with websockets.connect(self.url + f'/slow-reader?1.5:{count}', max_size=None,
                                          compression=None) as c:
                t0 = time.monotonic()
                sent_early = 0
                for _ in range(count):
                    await c.send(blob)
                    if time.monotonic() - t0 < 1.0:
                        sent_early += 1
                return sent_early, await c.recv()
        early, total = run(go(), 60)
        self.assertLessEqual(early, bound)  # cio stopped reading: TCP slowed us
        self.assertEqual(total, str(count << 20))

    def test_send_after_client_gone_raises_oserror(self):
        async def go():
            async with websockets.connect(self.url + '/after-gone') as c:
                await c.close(1000)
        run(go())
        self.assertEqual(self.seen.wait_for(lambda i: i[0] == 'gone')[1]['code'], 1000)
        self.assertEqual(self.seen.wait_for(lambda i: i[0] == 'send-after-gone')[1],
                         'ClientDisconnected')

    def test_many_clients(self):
        async def one(k):
            async with websockets.connect(self.url + f'/echo/many{k}') as c:
                for i in range(20):
                    await c.send(f'{k}:{i}')
                    assert await c.recv() == f'{k}:{i}'
        async def go():
            await asyncio.gather(*(one(k) for k in range(20)))
        run(go())


@unittest.skipIf(websockets is None, 'python3-websockets is not installed')
class Options(unittest.TestCase):
    def test_compression_off_and_small_limit(self):
        seen = Seen()
        with ServerThread(make_app(seen), lifespan='off', ws_compression=False,
                          ws_max_message=1000) as srv:
            async def go():
                async with websockets.connect(f'ws://127.0.0.1:{srv.port}/echo') as c:
                    self.assertNotIn('sec-websocket-extensions', c.response_headers)
                    await c.send('a' * 1000)
                    self.assertEqual(len(await c.recv()), 1000)
                    await c.send('a' * 1001)
                    with self.assertRaises(ConnectionClosed) as cm:
                        await c.recv()
                    return cm.exception.rcvd.code
            self.assertEqual(run(go()), 1009)

    def test_shutdown_sends_going_away(self):
        seen = Seen()
        srv = ServerThread(make_app(seen), lifespan='off', shutdown_timeout=5).start()
        async def go():
            async with websockets.connect(f'ws://127.0.0.1:{srv.port}/echo/stay') as c:
                await c.send('x')
                await c.recv()
                loop = asyncio.get_running_loop()
                stopping = loop.run_in_executor(None, srv.stop)
                with self.assertRaises(ConnectionClosed) as cm:
                    await c.recv()
                self.assertEqual(await stopping, 0)  # nobody had to be aborted
                return cm.exception.rcvd.code
        self.assertEqual(run(go()), 1001)
        it = seen.wait_for(lambda i: i[0] == 'disconnect')
        self.assertEqual(it[2]['code'], 1001)

    def test_shutdown_with_apps_that_do_not_end(self):
        # one application ignores its disconnect, one never answers the
        # handshake: the shutdown closes the first (1001), aborts the
        # second at the deadline, and cancels both tasks
        events = []
        async def app(scope, receive, send):
            if scope['type'] != 'websocket':
                return
            await receive()
            if scope['path'] == '/accepted':
                await send({'type': 'websocket.accept'})
            try:
                await asyncio.sleep(3600)
            finally:
                events.append(scope['path'])
        srv = ServerThread(app, lifespan='off', shutdown_timeout=1).start()
        url = f'ws://127.0.0.1:{srv.port}'
        async def go():
            c = await websockets.connect(url + '/accepted')
            async def pending():
                try:
                    async with websockets.connect(url + '/pending', open_timeout=20):
                        return 'opened'
                except Exception as exc:
                    return type(exc).__name__
            p = asyncio.ensure_future(pending())
            await asyncio.sleep(0.3)
            res = await asyncio.get_running_loop().run_in_executor(None, srv.stop)
            with self.assertRaises(ConnectionClosed) as cm:
                await c.recv()
            return res, cm.exception.rcvd.code, await p
        res, code, pend = run(go())
        self.assertEqual((res, code), (1, 1001))   # 1: one had to be aborted
        self.assertNotEqual(pend, 'opened')
        self.assertEqual(sorted(events), ['/accepted', '/pending'])


if __name__ == '__main__':
    unittest.main(verbosity=2)
