"""Tests of the cio event loop as a user meets it (unittest).

    PYTHONPATH=python /usr/bin/python3 -m unittest python/tests/test_cio_loop.py -v

The entry points, handles, the C core's ordering and error paths, sockets,
servers, datagrams, pipes, subprocesses, signals, TLS with an
ssl.SSLContext, and aiohttp's server and client (python3-aiohttp) on the
loop.  CPython's own test_asyncio runs through tests/conformance.py.
"""
import asyncio
import contextvars
import io
import logging
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest

# The in-place build (python/), unless PYTHONPATH names the build to test
# (python/tests/asan.sh points it at the sanitizer build).
if not os.environ.get('PYTHONPATH'):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cio  # noqa: E402

import tlsutil  # noqa: E402  (this directory)


class EntryPoints(unittest.TestCase):
    def test_run(self):
        async def main():
            return type(asyncio.get_running_loop())
        self.assertIs(cio.run(main()), cio.Loop)

    def test_runner_loop_factory(self):
        with asyncio.Runner(loop_factory=cio.new_event_loop) as r:
            self.assertIsInstance(r.get_loop(), cio.Loop)
            self.assertEqual(r.run(asyncio.sleep(0, 7)), 7)

    def test_policy(self):
        old = asyncio.get_event_loop_policy()
        try:
            cio.install()
            loop = asyncio.new_event_loop()
            self.assertIsInstance(loop, cio.Loop)
            loop.close()
            self.assertIsInstance(asyncio.run(self._loop_type()), type)
        finally:
            asyncio.set_event_loop_policy(old)

    async def _loop_type(self):
        return type(asyncio.get_running_loop())

    def test_is_asyncio_loop(self):
        loop = cio.new_event_loop()
        self.assertIsInstance(loop, asyncio.AbstractEventLoop)
        loop.close()
        self.assertTrue(loop.is_closed())
        with self.assertRaisesRegex(RuntimeError, 'closed'):
            loop.call_soon(print)


class Core(unittest.TestCase):
    def setUp(self):
        self.loop = cio.new_event_loop()

    def tearDown(self):
        self.loop.close()

    def test_order_soon_and_timers(self):
        out = []
        self.loop.call_later(0.02, out.append, 'late')
        self.loop.call_later(0.01, out.append, 'early')
        h = self.loop.call_later(0.015, out.append, 'cancelled')
        self.loop.call_soon(out.append, 1)
        self.loop.call_soon(out.append, 2)
        self.assertGreater(h.when(), self.loop.time())
        h.cancel()
        self.assertTrue(h.cancelled())
        self.loop.call_later(0.03, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(out, [1, 2, 'early', 'late'])

    def test_batches(self):
        # callbacks scheduled by a callback run in the next iteration
        out = []

        def a():
            out.append('a')
            self.loop.call_soon(out.append, 'c')
        self.loop.call_soon(a)
        self.loop.call_soon(out.append, 'b')
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(out, ['a', 'b'])
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(out, ['a', 'b', 'c'])

    def test_context(self):
        var = contextvars.ContextVar('v', default='none')
        ctx = contextvars.copy_context()
        ctx.run(var.set, 'mine')
        seen = []
        self.loop.call_soon(lambda: seen.append(var.get()), context=ctx)
        self.loop.call_soon(lambda: seen.append(var.get()))
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(seen, ['mine', 'none'])

    def test_exception_handler(self):
        got = []
        self.loop.set_exception_handler(lambda loop, ctx: got.append(ctx))

        def boom():
            raise ValueError('x')
        self.loop.call_soon(boom)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(len(got), 1)
        self.assertIsInstance(got[0]['exception'], ValueError)
        self.assertIn('Exception in callback', got[0]['message'])

    def test_keyboard_interrupt_propagates_and_keeps_the_rest(self):
        out = []

        def stop_now():
            raise KeyboardInterrupt
        self.loop.call_soon(stop_now)
        self.loop.call_soon(out.append, 'after')
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        self.assertEqual(out, [])
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(out, ['after'])

    def test_threadsafe_wakes_a_sleeping_loop(self):
        fut = self.loop.create_future()

        def other():
            time.sleep(0.05)
            self.loop.call_soon_threadsafe(fut.set_result, threading.get_ident())
        threading.Thread(target=other).start()
        tid = self.loop.run_until_complete(fut)
        self.assertNotEqual(tid, threading.get_ident())

    def test_executor_and_gil(self):
        # a blocking wait must release the GIL: the worker thread runs
        async def main():
            return await asyncio.gather(*[
                self.loop.run_in_executor(None, time.sleep, 0.05) for _ in range(4)])
        t0 = time.monotonic()
        self.loop.run_until_complete(main())
        self.assertLess(time.monotonic() - t0, 1.0)
        self.loop.run_until_complete(self.loop.shutdown_default_executor())

    def test_debug_slow_callback(self):
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = 0.01
        with self.assertLogs('asyncio', logging.WARNING) as cm:
            self.loop.call_soon(time.sleep, 0.03)
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()
        self.assertIn('took', cm.output[0])

    def test_reader_writer(self):
        a, b = socket.socketpair()
        a.setblocking(False)
        got = []

        def on_read():
            got.append(a.recv(100))
            self.loop.remove_reader(a)
            self.loop.stop()
        self.loop.add_reader(a, on_read)
        self.loop.add_writer(b, lambda: (b.send(b'hi'), self.loop.remove_writer(b)))
        self.loop.run_forever()
        self.assertEqual(got, [b'hi'])
        self.assertFalse(self.loop.remove_reader(a))
        a.close()
        b.close()

    def test_signal_handler(self):
        got = []
        self.loop.add_signal_handler(signal.SIGUSR1, lambda: (got.append(1), self.loop.stop()))
        self.loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR1)
        self.loop.run_forever()
        self.assertEqual(got, [1])
        self.assertTrue(self.loop.remove_signal_handler(signal.SIGUSR1))


class Network(unittest.TestCase):
    def run_main(self, coro):
        return cio.run(coro)

    def test_sock_methods(self):
        async def main():
            loop = asyncio.get_running_loop()
            srv = socket.socket()
            srv.bind(('127.0.0.1', 0))
            srv.listen()
            srv.setblocking(False)
            c = socket.socket()
            c.setblocking(False)
            await loop.sock_connect(c, srv.getsockname())
            s, _ = await loop.sock_accept(srv)
            await loop.sock_sendall(c, b'x' * 100000)
            got = b''
            while len(got) < 100000:
                got += await loop.sock_recv(s, 65536)
            buf = bytearray(10)
            await loop.sock_sendall(s, b'0123456789')
            n = await loop.sock_recv_into(c, buf)
            with tempfile.TemporaryFile() as f:
                f.write(b'file data')
                f.flush()
                sent = await loop.sock_sendfile(s, f, 0)
            rest = await loop.sock_recv(c, 100)
            u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for u in (u1, u2):
                u.bind(('127.0.0.1', 0))
                u.setblocking(False)
            await loop.sock_sendto(u1, b'dgram', u2.getsockname())
            data, addr = await loop.sock_recvfrom(u2, 100)
            same = addr == u1.getsockname()
            for x in (srv, c, s, u1, u2):
                x.close()
            return len(got), bytes(buf[:n]), sent, rest, data, same
        self.assertEqual(self.run_main(main()),
                         (100000, b'0123456789', 9, b'file data', b'dgram', True))

    def test_streams_and_transport_types(self):
        async def main():
            async def echo(r, w):
                w.write(await r.readline())
                await w.drain()
                w.close()
            srv = await asyncio.start_server(echo, '127.0.0.1', 0)
            r, w = await asyncio.open_connection(*srv.sockets[0].getsockname())
            self.assertIsInstance(w.transport, asyncio.Transport)
            self.assertIsNotNone(w.get_extra_info('socket'))
            self.assertEqual(w.get_extra_info('peername'), srv.sockets[0].getsockname())
            w.write(b'line\n')
            line = await r.readline()
            w.close()
            srv.close()
            await srv.wait_closed()
            return line
        self.assertEqual(self.run_main(main()), b'line\n')

    def test_unix_datagram_pipes_subprocess(self):
        async def main():
            loop = asyncio.get_running_loop()
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, 's')

                async def h(r, w):
                    w.write(await r.read(3))
                    w.close()
                srv = await asyncio.start_unix_server(h, path)
                r, w = await asyncio.open_unix_connection(path)
                w.write(b'abc')
                unix = await r.read()
                w.close()
                srv.close()

            class P(asyncio.DatagramProtocol):
                def __init__(self):
                    self.fut = loop.create_future()

                def datagram_received(self, data, addr):
                    self.fut.set_result(data)
            t1, p1 = await loop.create_datagram_endpoint(P, local_addr=('127.0.0.1', 0))
            t2, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=t1.get_extra_info('sockname'))
            self.assertIsInstance(t1, asyncio.DatagramTransport)
            t2.sendto(b'udp')
            udp = await p1.fut
            t1.close()
            t2.close()
            rfd, wfd = os.pipe()
            rt, rp = await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(rfd, 'rb'))
            wt, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, os.fdopen(wfd, 'wb'))
            self.assertIsInstance(rt, asyncio.ReadTransport)
            self.assertIsInstance(wt, asyncio.WriteTransport)
            rt.close()
            wt.close()
            p = await asyncio.create_subprocess_shell(
                'read x; echo got $x', stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE)
            out, _ = await p.communicate(b'hi\n')
            return unix, udp, out
        self.assertEqual(self.run_main(main()), (b'abc', b'udp', b'got hi\n'))

    @unittest.skipUnless(tlsutil.HAVE_CERT, 'needs libpython3.11-testsuite (keycert.pem)')
    def test_tls_and_start_tls(self):
        sctx, cctx = tlsutil.contexts()

        async def main():
            srv = await asyncio.start_server(tlsutil.echo_line, '127.0.0.1', 0, ssl=sctx)
            host, port = srv.sockets[0].getsockname()
            r, w = await asyncio.open_connection(host, port, ssl=cctx)
            self.assertIsNotNone(w.get_extra_info('ssl_object'))
            self.assertIs(w.get_extra_info('sslcontext'), cctx)
            w.write(b'secret\n')
            a = await r.readline()
            w.close()
            # start_tls upgrades a plain connection
            plain = await asyncio.start_server(
                lambda r, w: w.start_tls(sctx) and None, '127.0.0.1', 0)
            srv.close()
            plain.close()
            return a
        self.assertEqual(self.run_main(main()), b'secret\n')


class Aiohttp(unittest.TestCase):
    def test_server_and_client(self):
        try:
            import aiohttp
            from aiohttp import web
        except ImportError:
            self.skipTest('python3-aiohttp not installed')

        async def main():
            async def hello(request):
                return web.json_response({'hello': request.query.get('name', '?')})
            app = web.Application()
            app.router.add_get('/', hello)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, '127.0.0.1', 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            async with aiohttp.ClientSession() as s:
                bodies = await asyncio.gather(*[
                    (await s.get(f'http://127.0.0.1:{port}/?name=n{i}')).json()
                    for i in range(20)])
            await runner.cleanup()
            return bodies
        bodies = cio.run(main())
        self.assertEqual(bodies[7], {'hello': 'n7'})
        self.assertEqual(len(bodies), 20)


if __name__ == '__main__':
    unittest.main()
