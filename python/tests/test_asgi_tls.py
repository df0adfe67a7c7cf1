"""test_asgi_tls.py - cio.serve_asgi over TLS (uvicorn's ssl_* options):
https requests with http.client and Python's ssl (ALPN http/1.1, the
scope's scheme "https", bodies both ways), wss:// with the websockets
client (scheme "wss"), client certificates (ssl_cert_reqs), the command
line's --ssl-certfile/--ssl-keyfile, and the clear errors serve_asgi
raises before serving for bad files and options it cannot honour.

Certificates are made by the openssl command in a temporary directory
(skipped without it), as tests/tls_util.h does for the C tests.
"""
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

from asgiutil import ServerThread
import cio  # noqa: E402  (asgiutil puts the build under test on sys.path)

try:
    import websockets
except ImportError:  # python3-websockets
    websockets = None

TMP = None  # the directory holding the certificates


def make_cert(name, cn='localhost', san='DNS:localhost,IP:127.0.0.1'):
    """A self-signed certificate and its key: (cert path, key path)."""
    cert, key = os.path.join(TMP, name + '.pem'), os.path.join(TMP, name + '-key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                    '-subj', '/CN=' + cn, '-addext', 'subjectAltName=' + san,
                    '-keyout', key, '-out', cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def setUpModule():
    global TMP, CERT, KEY, OTHER_CERT, OTHER_KEY, CLIENT_CERT, CLIENT_KEY
    if shutil.which('openssl') is None:
        raise unittest.SkipTest('no openssl command to make a certificate')
    TMP = tempfile.mkdtemp(prefix='cio-asgi-tls-')
    CERT, KEY = make_cert('server')
    OTHER_CERT, OTHER_KEY = make_cert('other')
    CLIENT_CERT, CLIENT_KEY = make_cert('client', cn='client', san='DNS:client')


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def client_ctx(cert=None, key=None):
    """A client context trusting the server's certificate, offering ALPN
    http/1.1 (and a client certificate if given)."""
    ctx = ssl.create_default_context(cafile=CERT)
    ctx.set_alpn_protocols(['http/1.1'])
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            m = await receive()
            await send({'type': m['type'] + '.complete'})
            if m['type'] == 'lifespan.shutdown':
                return
    if scope['type'] == 'websocket':
        m = await receive()
        assert m['type'] == 'websocket.connect', m
        await send({'type': 'websocket.accept'})
        await send({'type': 'websocket.send', 'text': scope['scheme']})
        while True:
            m = await receive()
            if m['type'] == 'websocket.disconnect':
                return
            await send({'type': 'websocket.send', 'text': m.get('text'),
                        'bytes': m.get('bytes')})
    body = b''
    while True:
        m = await receive()
        body += m.get('body', b'')
        if not m.get('more_body'):
            break
    if scope['path'] == '/stream':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        for i in range(50):
            await send({'type': 'http.response.body', 'body': b'%d:' % i + b's' * 5000,
                        'more_body': True})
        await send({'type': 'http.response.body', 'body': b''})
        return
    out = json.dumps({'scheme': scope['scheme'], 'path': scope['path'],
                      'method': scope['method'], 'len': len(body),
                      'sum': sum(body) % 65521}).encode()
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'application/json')]})
    await send({'type': 'http.response.body', 'body': out})


class Https(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = ServerThread(app, ssl_certfile=CERT, ssl_keyfile=KEY).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def conn(self, ctx=None, host='localhost'):
        return http.client.HTTPSConnection(host, self.port, timeout=10,
                                           context=ctx or client_ctx())

    def test_get_scheme_and_alpn(self):
        c = self.conn()
        c.request('GET', '/hello')
        r = c.getresponse()
        data = json.loads(r.read())
        self.assertEqual(r.status, 200)
        self.assertEqual(data['scheme'], 'https')
        self.assertEqual(data['path'], '/hello')
        self.assertEqual(c.sock.selected_alpn_protocol(), 'http/1.1')
        # keep-alive: a second request on the same TLS connection
        sock = c.sock
        c.request('GET', '/again')
        r = c.getresponse()
        self.assertEqual(json.loads(r.read())['path'], '/again')
        self.assertIs(c.sock, sock)
        c.close()

    def test_by_ip_address(self):
        c = self.conn(host='127.0.0.1')
        c.request('GET', '/ip')
        self.assertEqual(json.loads(c.getresponse().read())['scheme'], 'https')
        c.close()

    def test_post_body_and_streamed_response(self):
        body = bytes(range(256)) * 4000  # 1 MB
        c = self.conn()
        c.request('POST', '/up', body=body)
        data = json.loads(c.getresponse().read())
        self.assertEqual((data['len'], data['sum']), (len(body), sum(body) % 65521))
        c.request('GET', '/stream')
        r = c.getresponse()
        out = r.read()
        self.assertEqual(len(out), sum(len(b'%d:' % i) + 5000 for i in range(50)))
        c.close()

    def test_untrusted_client_fails_closed(self):
        ctx = ssl.create_default_context()  # the system CAs only
        c = self.conn(ctx)
        with self.assertRaises(ssl.SSLCertVerificationError):
            c.request('GET', '/')
        c.close()

    def test_plain_http_on_tls_port_is_refused(self):
        with socket.create_connection(('127.0.0.1', self.port), timeout=10) as s:
            s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            got = b''
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
            except OSError:
                pass
        self.assertNotIn(b'HTTP/1.1 200', got)

    @unittest.skipIf(websockets is None, 'python3-websockets is not installed')
    def test_wss(self):
        async def go():
            ctx = ssl.create_default_context(cafile=CERT)
            async with websockets.connect(f'wss://localhost:{self.port}/ws', ssl=ctx) as ws:
                scheme = await ws.recv()
                await ws.send('hello')
                echo = await ws.recv()
                await ws.send(b'\x00bin')
                return scheme, echo, await ws.recv()
        got = asyncio.run(asyncio.wait_for(go(), 30))
        self.assertEqual(got, ('wss', 'hello', b'\x00bin'))


class ClientCertificates(unittest.TestCase):
    def test_required(self):
        with ServerThread(app, lifespan='off', ssl_certfile=CERT, ssl_keyfile=KEY,
                          ssl_ca_certs=CLIENT_CERT, ssl_cert_reqs=ssl.CERT_REQUIRED) as srv:
            c = http.client.HTTPSConnection('localhost', srv.port, timeout=10,
                                            context=client_ctx(CLIENT_CERT, CLIENT_KEY))
            c.request('GET', '/mtls')
            self.assertEqual(json.loads(c.getresponse().read())['scheme'], 'https')
            c.close()
            # without a certificate (or with one the CA file does not
            # hold) the handshake fails
            for ctx in (client_ctx(), client_ctx(OTHER_CERT, OTHER_KEY)):
                c = http.client.HTTPSConnection('localhost', srv.port, timeout=10, context=ctx)
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    c.request('GET', '/mtls')
                    c.getresponse().read()
                c.close()


class Errors(unittest.TestCase):
    def serve(self, **kw):
        async def main():
            stop = asyncio.get_running_loop().create_future()
            stop.set_result(None)  # stops at once if it ever serves
            await cio.serve_asgi(app, '127.0.0.1', 0, handle_signals=False, lifespan='off',
                                 stop=stop, **kw)
        cio.run(main())

    def test_missing_files(self):
        with self.assertRaises(FileNotFoundError) as cm:
            self.serve(ssl_certfile=os.path.join(TMP, 'nope.pem'), ssl_keyfile=KEY)
        self.assertIn('nope.pem', str(cm.exception))
        self.assertIn('ssl_certfile', str(cm.exception))
        with self.assertRaises(FileNotFoundError) as cm:
            self.serve(ssl_certfile=CERT, ssl_keyfile=os.path.join(TMP, 'nokey.pem'))
        self.assertIn('ssl_keyfile', str(cm.exception))

    def test_bad_pem_and_mismatched_key(self):
        junk = os.path.join(TMP, 'junk.pem')
        with open(junk, 'w') as f:
            f.write('not a certificate\n')
        with self.assertRaises(ssl.SSLError) as cm:
            self.serve(ssl_certfile=junk, ssl_keyfile=KEY)
        self.assertIn('certificate', str(cm.exception))
        with self.assertRaises(ssl.SSLError) as cm:
            self.serve(ssl_certfile=CERT, ssl_keyfile=OTHER_KEY)
        self.assertIn('private key', str(cm.exception))

    def test_options_cio_cannot_honour(self):
        with self.assertRaisesRegex(ValueError, 'ssl_keyfile_password'):
            self.serve(ssl_certfile=CERT, ssl_keyfile=KEY, ssl_keyfile_password='pw')
        with self.assertRaisesRegex(ValueError, 'CERT_OPTIONAL'):
            self.serve(ssl_certfile=CERT, ssl_keyfile=KEY, ssl_cert_reqs=ssl.CERT_OPTIONAL)
        with self.assertRaisesRegex(ValueError, 'need ssl_certfile'):
            self.serve(ssl_keyfile=KEY)

    def test_key_in_the_certificate_file(self):
        both = os.path.join(TMP, 'both.pem')
        with open(both, 'w') as f, open(CERT) as c, open(KEY) as k:
            f.write(c.read() + k.read())
        with ServerThread(app, lifespan='off', ssl_certfile=both) as srv:
            c = http.client.HTTPSConnection('localhost', srv.port, timeout=10,
                                            context=client_ctx())
            c.request('GET', '/both')
            self.assertEqual(json.loads(c.getresponse().read())['scheme'], 'https')
            c.close()


class CommandLine(unittest.TestCase):
    def test_ssl_flags(self):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cio.__file__)))
        p = subprocess.Popen([sys.executable, '-m', 'cio.asgi', 'test_asgi_tls:app',
                              '--port', str(port), '--app-dir', os.path.dirname(__file__) or '.',
                              '--ssl-certfile', CERT, '--ssl-keyfile', KEY],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    c = http.client.HTTPSConnection('localhost', port, timeout=5,
                                                    context=client_ctx())
                    c.request('GET', '/cli')
                    r = c.getresponse()
                    break
                except OSError:
                    if time.monotonic() > deadline or p.poll() is not None:
                        raise
                    time.sleep(0.1)
            self.assertEqual(json.loads(r.read())['scheme'], 'https')
            c.close()
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=15)
            self.assertEqual(p.returncode, 0, out)
            self.assertIn(b'https://', out)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        # a bad path: a clear message and exit status 3, nothing served
        out = subprocess.run([sys.executable, '-m', 'cio.asgi', 'test_asgi_tls:app',
                              '--port', str(port), '--app-dir', os.path.dirname(__file__) or '.',
                              '--ssl-certfile', '/nonexistent/cert.pem'],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=20)
        self.assertEqual(out.returncode, 3, out.stdout)
        self.assertIn(b'/nonexistent/cert.pem', out.stdout)
        self.assertNotIn(b'Traceback', out.stdout)


if __name__ == '__main__':
    unittest.main()
