"""The frameworks the tutorials use, unchanged, on the cio loop (unittest).

    PYTHONPATH=python /usr/bin/python3 python/tests/test_frameworks.py [-v]

uvicorn serving a plain ASGI app and a FastAPI app (started as the
tutorials do, `uvicorn.run(...)` in a process of its own with cio's policy
installed, and in-process through asyncio.Runner(loop_factory=...)),
aiohttp's server (`web.run_app(..., loop=cio.new_event_loop())`, and an
AppRunner in-process) and client, Tornado's server, client and WebSocket,
asyncpg and aiopg against a private PostgreSQL cluster (pgcluster.py, made
as the C tests make theirs), websockets' client and server.  Servers are driven with real HTTP from outside the
loop (http.client, curl), and every response says which loop served it.

Exit status as ctest reads it: 0 all ran and passed, 1 a failure, 77 a
framework's Debian package is missing (the run is partial; reasons printed).
"""
import asyncio
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fwutil import (CIO_LOOP, MISSING, PYDIR, free_port, get_json, loop_name,  # noqa: E402
                    need, run, wait_listening)
from pgcluster import plain_env  # noqa: E402


class ServerProcess:
    """A server program in a process of its own, the way a tutorial runs it:
    the script gets its port as argv[1] and is stopped with SIGINT (Ctrl-C),
    which it must survive cleanly, printing EXITED after its server returns."""

    def __init__(self, tc, source, modules=None):
        self.tc = tc
        self.dir = tempfile.mkdtemp(prefix='cio-fw-')
        tc.addCleanup(shutil.rmtree, self.dir, True)
        for name, text in (modules or {}).items():
            with open(os.path.join(self.dir, name + '.py'), 'w') as f:
                f.write(textwrap.dedent(text))
        self.script = os.path.join(self.dir, 'server.py')
        with open(self.script, 'w') as f:
            f.write(textwrap.dedent(source))
        self.proc = None

    def start(self):
        env = dict(os.environ, PYTHONPATH=os.environ.get('PYTHONPATH', PYDIR) + ':' + self.dir)
        for _ in range(3):   # a port taken between free_port() and bind: retry
            self.port = free_port()
            self.proc = subprocess.Popen([sys.executable, self.script, str(self.port)], env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                         cwd=self.dir)
            self.tc.addCleanup(self._kill)
            try:
                wait_listening(self.port, self.proc)
                return self.port
            except AssertionError as e:
                if 'address already in use' not in str(e).lower():
                    raise
        raise AssertionError('no free port')

    def stop(self):
        """Ctrl-C: the output, after checking the server exited cleanly."""
        self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            self.tc.fail('server did not stop within 30 s of SIGINT: %s' % out[-2000:])
        self.tc.assertEqual(self.proc.returncode, 0, out[-2000:])
        self.tc.assertIn('EXITED', out)
        self.tc.assertNotIn('Traceback', out)
        return out

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


# A plain ASGI application: lifespan, a JSON echo of the request, a
# streamed response, and the loop that served it.
ASGI_APP = '''
    import asyncio, json

    STATE = {}

    async def app(scope, receive, send):
        if scope['type'] == 'lifespan':
            while True:
                msg = await receive()
                if msg['type'] == 'lifespan.startup':
                    STATE['started'] = type(asyncio.get_running_loop()).__module__
                    await send({'type': 'lifespan.startup.complete'})
                elif msg['type'] == 'lifespan.shutdown':
                    await send({'type': 'lifespan.shutdown.complete'})
                    return
        body = b''
        while True:
            msg = await receive()
            body += msg.get('body', b'')
            if not msg.get('more_body'):
                break
        loop = asyncio.get_running_loop()
        if scope['path'] == '/stream':
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [(b'content-type', b'text/plain')]})
            for i in range(5):
                await asyncio.sleep(0.005)
                await send({'type': 'http.response.body', 'body': b'chunk%d\\n' % i,
                            'more_body': True})
            await send({'type': 'http.response.body', 'body': b''})
            return
        out = json.dumps({'loop': type(loop).__module__ + '.' + type(loop).__qualname__,
                          'method': scope['method'], 'path': scope['path'],
                          'query': scope['query_string'].decode(), 'len': len(body),
                          'lifespan': STATE.get('started')}).encode()
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-type', b'application/json'),
                                (b'content-length', str(len(out)).encode())]})
        await send({'type': 'http.response.body', 'body': out})
'''

# The FastAPI tutorial's shapes: path and query parameters, a dependency,
# a pydantic body (and its 422), HTTPException, a sync endpoint run in
# anyio's worker threads (call_soon_threadsafe), a background task, startup.
FASTAPI_APP = '''
    import asyncio, threading
    from typing import List, Optional
    from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
    from pydantic import BaseModel

    app = FastAPI()
    DONE = []

    def loop_name():
        loop = asyncio.get_running_loop()
        return type(loop).__module__ + '.' + type(loop).__qualname__

    class Item(BaseModel):
        name: str
        price: float
        tags: List[str] = []

    def common(q: Optional[str] = None, limit: int = 10):
        return {'q': q, 'limit': limit}

    @app.on_event('startup')
    async def startup():
        DONE.append('startup on ' + loop_name())

    @app.get('/items/{item_id}')
    async def read_item(item_id: int, params: dict = Depends(common)):
        await asyncio.sleep(0.001)
        return {'item_id': item_id, 'params': params, 'loop': loop_name()}

    @app.post('/items')
    async def create_item(item: Item, background: BackgroundTasks):
        background.add_task(DONE.append, item.name)
        return {'name': item.name, 'double': item.price * 2, 'tags': item.tags,
                'loop': loop_name()}

    @app.get('/missing')
    async def missing():
        raise HTTPException(status_code=404, detail='no such thing')

    @app.get('/sync')
    def sync_endpoint():
        return {'main_thread': threading.current_thread() is threading.main_thread()}

    @app.get('/done')
    async def done():
        return DONE
'''


class Uvicorn(unittest.TestCase):
    """uvicorn (python3-uvicorn) with its httptools and h11 protocols."""

    @classmethod
    def setUpClass(cls):
        need(('uvicorn', 'python3-uvicorn'))

    def _serve_asgi(self, http_impl):
        # As a tutorial's program, with the one line that picks the loop.
        # uvicorn 0.17's loop="asyncio" leaves the installed policy alone
        # ("auto" would install uvloop's).
        srv = ServerProcess(self, '''
            import sys, cio, uvicorn
            cio.install()
            uvicorn.run('asgiapp:app', host='127.0.0.1', port=int(sys.argv[1]),
                        loop='asyncio', http='%s', lifespan='on', log_level='info')
            print('EXITED', flush=True)
        ''' % http_impl, {'asgiapp': ASGI_APP})
        port = srv.start()
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        for i in range(20):   # one kept-alive connection
            st, body = get_json(conn, 'GET', '/hello?i=%d' % i)
            self.assertEqual(st, 200)
            self.assertEqual(body['loop'], CIO_LOOP)
            self.assertEqual(body['query'], 'i=%d' % i)
            self.assertEqual(body['lifespan'], 'cio')
        st, body = get_json(conn, 'POST', '/upload', body={'x': 'y' * 300000})
        self.assertEqual((st, body['method'], body['len']), (200, 'POST', 300009))
        conn.request('GET', '/stream')
        resp = conn.getresponse()
        self.assertEqual(resp.read(), b''.join(b'chunk%d\n' % i for i in range(5)))
        conn.close()
        if shutil.which('curl'):
            out = subprocess.run(['curl', '-sS', '--max-time', '10',
                                  'http://127.0.0.1:%d/via-curl' % port],
                                 capture_output=True, text=True, timeout=20, env=plain_env())
            self.assertEqual(json.loads(out.stdout)['path'], '/via-curl', out.stderr)
        out = srv.stop()
        self.assertIn('Shutting down', out)

    def test_asgi_app_httptools(self):
        need(('httptools', 'python3-httptools'))
        self._serve_asgi('httptools')

    def test_asgi_app_h11(self):
        need(('h11', 'python3-h11'))
        self._serve_asgi('h11')

    def test_fastapi_process(self):
        need(('fastapi', 'python3-fastapi'))
        srv = ServerProcess(self, '''
            import sys, cio, uvicorn
            from fastapiapp import app
            cio.install()
            uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), loop='asyncio',
                        log_level='warning')
            print('EXITED', flush=True)
        ''', {'fastapiapp': FASTAPI_APP})
        port = srv.start()
        self._drive_fastapi(port)
        srv.stop()

    def test_fastapi_in_process_runner(self):
        """uvicorn.Server.serve() under asyncio.Runner(loop_factory=...),
        no policy; requests from threads while the loop serves."""
        need(('fastapi', 'python3-fastapi'))
        import uvicorn
        mod = {}
        exec(compile(textwrap.dedent(FASTAPI_APP), 'fastapiapp', 'exec'), mod)
        port = free_port()
        config = uvicorn.Config(mod['app'], host='127.0.0.1', port=port, loop='none',
                                log_level='warning', lifespan='on')
        server = uvicorn.Server(config)
        errors = []

        def client():
            try:
                wait_listening(port, None)
                self._drive_fastapi(port)
            except BaseException as e:   # reported by the main thread
                errors.append(e)
            finally:
                server.should_exit = True
        t = threading.Thread(target=client)
        t.start()
        run(server.serve(), timeout=120)
        t.join()
        if errors:
            raise errors[0]

    def _drive_fastapi(self, port):
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        st, body = get_json(conn, 'GET', '/items/42?q=abc&limit=3')
        self.assertEqual(st, 200)
        self.assertEqual(body, {'item_id': 42, 'params': {'q': 'abc', 'limit': 3}, 'loop': CIO_LOOP})
        st, body = get_json(conn, 'POST', '/items', body={'name': 'pen', 'price': 1.25, 'tags': ['a']})
        self.assertEqual((st, body['double'], body['tags'], body['loop']), (200, 2.5, ['a'], CIO_LOOP))
        st, body = get_json(conn, 'POST', '/items', body={'name': 'pen'})
        self.assertEqual(st, 422)
        self.assertEqual(body['detail'][0]['loc'], ['body', 'price'])
        st, body = get_json(conn, 'GET', '/items/notanumber')
        self.assertEqual(st, 422)
        st, body = get_json(conn, 'GET', '/missing')
        self.assertEqual((st, body), (404, {'detail': 'no such thing'}))
        st, body = get_json(conn, 'GET', '/sync')
        self.assertEqual((st, body), (200, {'main_thread': False}))
        # The background task runs after its response went out, in anyio's
        # worker thread (a sync function): wait for it, within reason.
        deadline = time.monotonic() + 10
        while True:
            st, body = get_json(conn, 'GET', '/done')
            if len(body) > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(body, ['startup on ' + CIO_LOOP, 'pen'])
        conn.close()
        # Concurrent clients, each on its own connection.
        results, errs = [], []

        def one(i):
            try:
                c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
                for j in range(5):
                    results.append(get_json(c, 'GET', '/items/%d' % (i * 10 + j))[1]['item_id'])
                c.close()
            except Exception as e:
                errs.append(e)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errs, [])
        self.assertEqual(sorted(results), sorted(i * 10 + j for i in range(8) for j in range(5)))


class Aiohttp(unittest.TestCase):
    """aiohttp's server and client (python3-aiohttp)."""

    @classmethod
    def setUpClass(cls):
        need(('aiohttp', 'python3-aiohttp'))

    def test_run_app_process(self):
        srv = ServerProcess(self, '''
            import asyncio, sys, cio
            from aiohttp import web

            async def hello(request):
                loop = asyncio.get_running_loop()
                return web.json_response({'loop': type(loop).__module__ + '.' + type(loop).__qualname__,
                                          'name': request.match_info['name']})

            async def echo(request):
                return web.Response(body=await request.read())

            app = web.Application(client_max_size=8 << 20)
            app.router.add_get('/hello/{name}', hello)
            app.router.add_post('/echo', echo)
            web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), loop=cio.new_event_loop(),
                        print=None)
            print('EXITED', flush=True)
        ''')
        port = srv.start()
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        st, body = get_json(conn, 'GET', '/hello/world')
        self.assertEqual((st, body), (200, {'loop': CIO_LOOP, 'name': 'world'}))
        payload = os.urandom(1 << 20)
        conn.request('POST', '/echo', body=payload)
        self.assertEqual(conn.getresponse().read(), payload)
        conn.close()
        srv.stop()

    def test_server_and_client_in_process(self):
        import aiohttp
        from aiohttp import web

        async def main():
            async def hello(request):
                return web.json_response({'loop': loop_name(), 'q': request.query.get('q')})

            async def echo(request):
                return web.Response(body=await request.read())

            async def stream(request):
                resp = web.StreamResponse()
                await resp.prepare(request)
                for i in range(10):
                    await resp.write(b'part%d;' % i)
                    await asyncio.sleep(0)
                await resp.write_eof()
                return resp

            async def ws(request):
                sock = web.WebSocketResponse()
                await sock.prepare(request)
                async for msg in sock:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await sock.send_str(msg.data.upper())
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await sock.send_bytes(msg.data[::-1])
                return sock

            app = web.Application(client_max_size=8 << 20)
            app.router.add_get('/', hello)
            app.router.add_post('/echo', echo)
            app.router.add_get('/stream', stream)
            app.router.add_get('/ws', ws)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, '127.0.0.1', 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            base = 'http://127.0.0.1:%d' % port
            try:
                async with aiohttp.ClientSession() as s:
                    async def get(i):
                        async with s.get(base + '/', params={'q': str(i)}) as r:
                            return await r.json()
                    bodies = await asyncio.gather(*[get(i) for i in range(50)])
                    big = os.urandom(3 << 20)
                    async with s.post(base + '/echo', data=io.BytesIO(big)) as r:
                        echoed = await r.read()
                    async with s.get(base + '/stream') as r:
                        chunks = [c async for c in r.content.iter_any()]
                    async with s.ws_connect(base + '/ws') as w:
                        await w.send_str('shout')
                        upper = (await w.receive()).data
                        await w.send_bytes(b'abc')
                        rev = (await w.receive()).data
                # A plain HTTP client from outside the loop, meanwhile.
                def outside_get():
                    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
                    try:
                        return get_json(c, 'GET', '/?q=outside')
                    finally:
                        c.close()
                st, outside = await asyncio.get_running_loop().run_in_executor(None, outside_get)
            finally:
                await runner.cleanup()
            return bodies, echoed == big, b''.join(chunks), upper, rev, st, outside

        bodies, same, streamed, upper, rev, st, outside = run(main())
        self.assertEqual([b['q'] for b in bodies], [str(i) for i in range(50)])
        self.assertTrue(all(b['loop'] == CIO_LOOP for b in bodies))
        self.assertTrue(same)
        self.assertEqual(streamed, b''.join(b'part%d;' % i for i in range(10)))
        self.assertEqual((upper, rev), ('SHOUT', b'cba'))
        self.assertEqual((st, outside), (200, {'loop': CIO_LOOP, 'q': 'outside'}))


class Websockets(unittest.TestCase):
    """websockets' (python3-websockets) server and client."""

    @classmethod
    def setUpClass(cls):
        need(('websockets', 'python3-websockets'))

    def test_echo_server_and_clients(self):
        import websockets

        async def main():
            connected = set()

            async def handler(ws, *path):   # 10.x passes path, newer do not
                connected.add(ws)
                try:
                    async for msg in ws:
                        if msg == 'close-4000':
                            await ws.close(4000, 'asked to')
                            return
                        if msg == 'loop':
                            await ws.send(loop_name())
                        else:
                            await ws.send(msg)
                finally:
                    connected.discard(ws)

            async with websockets.serve(handler, '127.0.0.1', 0, max_size=None) as server:
                port = server.sockets[0].getsockname()[1]
                uri = 'ws://127.0.0.1:%d/' % port
                async with websockets.connect(uri, max_size=None) as ws:
                    await ws.send('loop')
                    served_by = await ws.recv()
                    await ws.send('hello')
                    text = await ws.recv()
                    blob = os.urandom(1 << 20)
                    await ws.send(blob)
                    big = await ws.recv()
                    latency = await asyncio.wait_for(await ws.ping(), 10)

                async def client(i):
                    async with websockets.connect(uri) as c:
                        got = []
                        for j in range(20):
                            await c.send('%d:%d' % (i, j))
                            got.append(await c.recv())
                        return got
                many = await asyncio.gather(*[client(i) for i in range(20)])

                async with websockets.connect(uri) as ws:
                    await ws.send('close-4000')
                    try:
                        await ws.recv()
                        closed = None
                    except websockets.ConnectionClosed as e:
                        closed = (e.rcvd.code, e.rcvd.reason)
                # broadcast to several listeners
                listeners = [await websockets.connect(uri) for _ in range(5)]
                for _ in range(100):
                    if len(connected) == 5:
                        break
                    await asyncio.sleep(0.01)
                websockets.broadcast(connected, 'to all')
                heard = [await l.recv() for l in listeners]
                for l in listeners:
                    await l.close()
            return served_by, text, big == blob, latency, many, closed, heard

        served_by, text, same, latency, many, closed, heard = run(main())
        self.assertEqual(served_by, CIO_LOOP)
        self.assertEqual(text, 'hello')
        self.assertTrue(same)
        self.assertIsInstance(latency, (float, type(None)))
        self.assertEqual(many[7], ['7:%d' % j for j in range(20)])
        self.assertEqual(closed, (4000, 'asked to'))
        self.assertEqual(heard, ['to all'] * 5)


class Tornado(unittest.TestCase):
    """Tornado (python3-tornado): its HTTP server, AsyncHTTPClient and
    WebSocket, which run on the asyncio loop through add_reader/add_writer."""

    @classmethod
    def setUpClass(cls):
        need(('tornado', 'python3-tornado'))

    def test_server_client_websocket(self):
        import tornado.httpclient
        import tornado.httpserver
        import tornado.netutil
        import tornado.web
        import tornado.websocket

        class Main(tornado.web.RequestHandler):
            async def get(self):
                await asyncio.sleep(0.001)
                self.write({'loop': loop_name(), 'q': self.get_argument('q', '')})

            async def post(self):
                self.write(self.request.body)

        class Echo(tornado.websocket.WebSocketHandler):
            def on_message(self, message):
                self.write_message(message[::-1] if isinstance(message, bytes) else message.upper(),
                                   binary=isinstance(message, bytes))

        async def main():
            app = tornado.web.Application([(r'/', Main), (r'/ws', Echo)])
            sockets = tornado.netutil.bind_sockets(0, '127.0.0.1')
            port = sockets[0].getsockname()[1]
            server = tornado.httpserver.HTTPServer(app)
            server.add_sockets(sockets)
            base = 'http://127.0.0.1:%d' % port
            client = tornado.httpclient.AsyncHTTPClient()
            try:
                rs = await asyncio.gather(*[client.fetch(base + '/?q=%d' % i) for i in range(20)])
                bodies = [json.loads(r.body) for r in rs]
                big = os.urandom(1 << 20)
                echoed = (await client.fetch(base + '/', method='POST', body=big)).body
                ws = await tornado.websocket.websocket_connect('ws://127.0.0.1:%d/ws' % port)
                await ws.write_message('hi')
                upper = await ws.read_message()
                await ws.write_message(b'abc', binary=True)
                rev = await ws.read_message()
                ws.close()

                def outside_get():
                    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
                    try:
                        return get_json(c, 'GET', '/?q=outside')
                    finally:
                        c.close()
                outside = await asyncio.get_running_loop().run_in_executor(None, outside_get)
            finally:
                client.close()
                server.stop()
                await server.close_all_connections()
            return bodies, echoed == big, upper, rev, outside

        bodies, same, upper, rev, outside = run(main())
        self.assertEqual([b['q'] for b in bodies], [str(i) for i in range(20)])
        self.assertTrue(all(b['loop'] == CIO_LOOP for b in bodies))
        self.assertTrue(same)
        self.assertEqual((upper, rev), ('HI', b'cba'))
        self.assertEqual(outside, (200, {'loop': CIO_LOOP, 'q': 'outside'}))


def main():
    verbosity = 2 if '-v' in sys.argv else 1
    import test_frameworks_pg
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite([loader.loadTestsFromModule(sys.modules[__name__]),
                                loader.loadTestsFromModule(test_frameworks_pg)])
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    if not result.wasSuccessful():
        return 1
    if MISSING:
        print('skipped: not everything ran, missing: %s' % ', '.join(MISSING))
        return 77
    return 0


if __name__ == '__main__':
    sys.exit(main())
