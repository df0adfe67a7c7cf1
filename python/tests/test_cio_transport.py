"""The cio loop's C socket transport (cio._cio.SocketTransport,
python/src/transport.c) behaves as asyncio's selector socket transport:
its class, extra info, callbacks and their order, half-close, flow
control, errors, sendfile, TLS over it, and an unclosed transport's
warning.  Run by python/tests/run.sh (ctest python_loop / _uring)."""
import asyncio
import gc
import os
import socket
import struct
import sys
import tempfile
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cio  # noqa: E402

import tlsutil  # noqa: E402  (this directory)


class Recorder(asyncio.Protocol):
    """Records every callback in order; replies as told."""

    def __init__(self, keep_open=False):
        self.events = []
        self.data = b''
        self.keep_open = keep_open
        self.lost = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, tr):
        self.transport = tr
        self.events.append('made')

    def data_received(self, data):
        self.assert_bytes = type(data) is bytes
        self.data += data
        if 'data' not in self.events:
            self.events.append('data')

    def eof_received(self):
        self.events.append('eof')
        return self.keep_open

    def pause_writing(self):
        self.events.append('pause')

    def resume_writing(self):
        self.events.append('resume')

    def connection_lost(self, exc):
        self.events.append('lost')
        if not self.lost.done():
            self.lost.set_result(exc)


async def pair(proto_factory=Recorder):
    """A server transport (with a Recorder protocol) and a plain client
    socket connected to it."""
    loop = asyncio.get_running_loop()
    made = loop.create_future()

    def factory():
        p = proto_factory()
        made.set_result(p)
        return p
    srv = await loop.create_server(factory, '127.0.0.1', 0)
    c = socket.create_connection(srv.sockets[0].getsockname())
    c.setblocking(False)
    p = await made
    while p.transport is None:
        await asyncio.sleep(0)
    return srv, c, p


class Transport(unittest.TestCase):
    def test_class_extra_and_repr(self):
        async def main():
            srv, c, p = await pair()
            tr = p.transport
            self.assertIs(type(tr), cio.SocketTransport)
            for cls in (asyncio.Transport, asyncio.ReadTransport, asyncio.WriteTransport,
                        asyncio.BaseTransport):
                self.assertIsInstance(tr, cls)
            sock = tr.get_extra_info('socket')
            self.assertEqual(sock.fileno(), tr._sock_fd)
            self.assertEqual(tr.get_extra_info('peername'), c.getsockname())
            self.assertEqual(tr.get_extra_info('sockname'), c.getpeername())
            self.assertIsNone(tr.get_extra_info('sslcontext'))
            self.assertEqual(tr.get_extra_info('nope', 7), 7)
            self.assertRegex(repr(tr), r'<SocketTransport fd=\d+ read=polling '
                                       r'write=<idle, bufsize=0>>')
            self.assertEqual(tr.get_write_buffer_limits(), (16384, 65536))
            tr.set_write_buffer_limits(high=100)
            self.assertEqual(tr.get_write_buffer_limits(), (25, 100))
            with self.assertRaises(ValueError):
                tr.set_write_buffer_limits(high=1, low=2)
            tr.anything = 1  # a __dict__, as asyncio's transports have
            self.assertTrue(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            self.assertTrue(tr.can_write_eof())
            self.assertIs(tr.get_protocol(), p)
            tr.close()
            tr.close()
            self.assertTrue(tr.is_closing())
            self.assertIsNone(await p.lost)
            self.assertRegex(repr(tr), r'<SocketTransport closed fd=\d+>')
            self.assertEqual(sock.fileno(), -1)  # asyncio closes its socket
            c.close()
            srv.close()
            return p.events
        self.assertEqual(cio.run(main()), ['made', 'lost'])

    def test_half_close_and_writes(self):
        async def main():
            loop = asyncio.get_running_loop()
            srv, c, p = await pair(lambda: Recorder(keep_open=True))
            tr = p.transport
            await loop.sock_sendall(c, b'ping')
            c.shutdown(socket.SHUT_WR)
            while 'eof' not in p.events:
                await asyncio.sleep(0.001)
            self.assertTrue(tr.is_reading())  # asyncio's keep_open answer
            with self.assertRaises(TypeError):
                tr.write('str')
            tr.write(b'')
            tr.write(b'po')
            tr.writelines([b'n', bytearray(b'g'), memoryview(b'!')])
            tr.write_eof()
            with self.assertRaises(RuntimeError):
                tr.write(b'more')
            got = b''
            while True:
                d = await loop.sock_recv(c, 100)
                if not d:
                    break
                got += d
            tr.close()
            exc = await p.lost
            c.close()
            srv.close()
            return p.data, got, exc, p.events
        self.assertEqual(cio.run(main()),
                         (b'ping', b'pong!', None, ['made', 'data', 'eof', 'lost']))

    def test_peer_close_closes(self):
        async def main():
            srv, c, p = await pair()
            c.close()
            exc = await p.lost
            srv.close()
            return exc, p.events, p.transport.is_closing()
        self.assertEqual(cio.run(main()), (None, ['made', 'eof', 'lost'], True))

    def test_reset_is_connection_reset_error(self):
        async def main():
            srv, c, p = await pair()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            c.close()
            exc = await p.lost
            srv.close()
            return type(exc)
        self.assertIs(cio.run(main()), ConnectionResetError)

    def test_protocol_exception_is_fatal_error(self):
        class Bad(Recorder):
            def data_received(self, data):
                raise ZeroDivisionError('boom')

        async def main():
            loop = asyncio.get_running_loop()
            seen = []
            loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))
            srv, c, p = await pair(Bad)
            await loop.sock_sendall(c, b'x')
            exc = await p.lost
            c.close()
            srv.close()
            return seen, exc, p
        seen, exc, p = cio.run(main())
        self.assertIsInstance(exc, ZeroDivisionError)
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0]['message'], 'Fatal error: protocol.data_received() call failed.')
        self.assertIs(seen[0]['exception'], exc)
        self.assertIs(seen[0]['transport'], p.transport)
        self.assertIs(seen[0]['protocol'], p)

    def test_keyboard_interrupt_leaves_run_forever(self):
        class Interrupt(Recorder):
            def data_received(self, data):
                raise KeyboardInterrupt

        held = []

        async def main():
            loop = asyncio.get_running_loop()
            srv, c, p = await pair(Interrupt)
            held.extend((srv, c))
            await loop.sock_sendall(c, b'x')
            await asyncio.sleep(5)
        with self.assertRaises(KeyboardInterrupt):
            cio.run(main())
        held[0].close()
        held[1].close()

    def test_flow_control(self):
        async def main():
            loop = asyncio.get_running_loop()
            srv, c, p = await pair()
            tr = p.transport
            tr.set_write_buffer_limits(high=1 << 16)
            chunk = b'x' * (1 << 16)
            while 'pause' not in p.events:
                tr.write(chunk)
            self.assertGreater(tr.get_write_buffer_size(), 1 << 16)
            self.assertTrue(tr._protocol_paused)
            total = 0
            while 'resume' not in p.events:
                try:
                    total += len(c.recv(1 << 20))
                except BlockingIOError:
                    await asyncio.sleep(0.001)
            tr.abort()
            exc = await p.lost
            c.close()
            srv.close()
            return exc, p.events
        self.assertEqual(cio.run(main()), (None, ['made', 'pause', 'resume', 'lost']))

    def test_buffered_protocol_and_set_protocol(self):
        class Buf(asyncio.BufferedProtocol):
            def __init__(self):
                self.buf = bytearray(4)
                self.got = b''
                self.hint = None

            def connection_made(self, tr):
                self.transport = tr

            def get_buffer(self, sizehint):
                self.hint = sizehint
                return memoryview(self.buf)

            def buffer_updated(self, n):
                self.got += bytes(self.buf[:n])
                self.buf.extend(b'')  # not exported any more: resizable
                del self.buf[4:]

            def connection_lost(self, exc):
                pass

        async def main():
            loop = asyncio.get_running_loop()
            srv, c, p = await pair()
            b = Buf()
            p.transport.set_protocol(b)
            self.assertIs(p.transport.get_protocol(), b)
            await loop.sock_sendall(c, b'0123456789')
            while len(b.got) < 10:
                await asyncio.sleep(0.001)
            p.transport.close()
            c.close()
            srv.close()
            return b.got, b.hint
        self.assertEqual(cio.run(main()), (b'0123456789', -1))

    def test_sendfile(self):
        async def main():
            loop = asyncio.get_running_loop()
            srv, c, p = await pair()
            tr = p.transport
            with tempfile.TemporaryFile() as f:
                f.write(b'F' * 300000)
                f.flush()
                tr.write(b'head')
                task = asyncio.ensure_future(loop.sendfile(tr, f, 0))
                await asyncio.sleep(0)
                with self.assertRaisesRegex(RuntimeError, 'sendfile is in progress'):
                    tr.write(b'x')
                got = b''
                while len(got) < 300004:
                    try:
                        got += c.recv(1 << 20)
                    except BlockingIOError:
                        await asyncio.sleep(0.001)
                sent = await task
            tr.write(b'tail')
            while not got.endswith(b'tail'):
                try:
                    got += c.recv(100)
                except BlockingIOError:
                    await asyncio.sleep(0.001)
            tr.close()
            c.close()
            srv.close()
            return sent, len(got), got[:5]
        self.assertEqual(cio.run(main()), (300000, 300008, b'headF'))

    def test_unclosed_warns(self):
        loop = cio.new_event_loop()
        box = []

        async def main():
            srv, c, p = await pair()
            box.extend((c, srv))
            box.append(p)
        loop.run_until_complete(main())
        box[0].close()
        box[1].close()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            loop.close()
            box[2].transport = None
            box.clear()
            gc.collect()
        self.assertTrue(any(issubclass(x.category, ResourceWarning) and
                            'unclosed transport' in str(x.message) for x in w),
                        [str(x.message) for x in w])

    def test_unix(self):
        async def main():
            loop = asyncio.get_running_loop()
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, 's')

                async def echo(r, w):
                    w.write(await r.read(4))
                    await w.drain()
                    w.close()
                srv = await asyncio.start_unix_server(echo, path)
                r, w = await asyncio.open_unix_connection(path)
                w.write(b'unix')
                got = await r.read()
                kind = type(w.transport)
                w.close()
                srv.close()
                return got, kind
        self.assertEqual(cio.run(main()), (b'unix', cio.SocketTransport))

    @unittest.skipUnless(tlsutil.HAVE_CERT, 'needs libpython3.11-testsuite (keycert.pem)')
    def test_tls_runs_over_it(self):
        sctx, cctx = tlsutil.contexts()

        async def main():
            srv = await asyncio.start_server(tlsutil.echo_line, '127.0.0.1', 0, ssl=sctx)
            r, w = await asyncio.open_connection(*srv.sockets[0].getsockname(), ssl=cctx)
            raw = w.transport._ssl_protocol._transport
            w.write(b'tls\n')
            line = await r.readline()
            w.close()
            srv.close()
            return line, type(raw)
        self.assertEqual(cio.run(main()), (b'tls\n', cio.SocketTransport))


if __name__ == '__main__':
    unittest.main()
