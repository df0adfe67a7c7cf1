"""test_asgi_frameworks.py - Starlette and FastAPI applications, unchanged,
served by cio.serve_asgi (cio's C HTTP server), over real sockets:
JSON routes, path parameters, a POST with a JSON body, a streaming
response, a long poll on request.is_disconnected(), lifespan handlers,
keep-alive with many requests, concurrent clients, and their WebSocket
endpoints (cio's WebSocket server) with the websockets library as client.  Exit 77 (skipped) when python3-starlette,
python3-fastapi or python3-websockets is missing.
"""
import asyncio
import http.client
import importlib.util
import json
import socket
import sys
import threading
import time
import unittest

from asgiutil import ServerThread

MISSING = [p for m, p in (('starlette', 'python3-starlette'), ('fastapi', 'python3-fastapi'),
                          ('websockets', 'python3-websockets'))
           if importlib.util.find_spec(m) is None]


def ws_run(coro, timeout=30):
    """Runs a websockets client coroutine on a fresh asyncio loop."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def ws_status(url):
    """The HTTP status a refused WebSocket handshake got."""
    import websockets
    try:
        async with websockets.connect(url):
            return 101
    except websockets.exceptions.InvalidStatusCode as exc:
        return exc.status_code


def fetch(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.getheader('content-type'), r.read()


def starlette_app(events):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.endpoints import WebSocketEndpoint
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    async def hello(request):
        return PlainTextResponse('Hello, world!')

    async def user(request):
        return JSONResponse({'id': request.path_params['uid'],
                             'q': request.query_params.get('q'),
                             'greeting': request.state.greeting})

    async def create(request):
        data = await request.json()
        return JSONResponse({'got': data, 'n': len(data['items'])}, status_code=201)

    async def stream(request):
        async def gen():
            for i in range(5):
                yield ('line %d\n' % i).encode()
        return StreamingResponse(gen(), media_type='text/plain')

    async def fail(request):
        raise RuntimeError('starlette handler failed (expected by the test)')

    async def poll(request):
        # a long poll asking Starlette whether its client is still there
        while not await request.is_disconnected():
            await asyncio.sleep(0.02)
        events.append(('poll left', time.monotonic()))
        return PlainTextResponse('nobody reads this')

    async def ws_echo(websocket):
        # the subprotocol the client prefers, uppercase echo, a JSON reply
        await websocket.accept(subprotocol=(websocket.scope['subprotocols'] or [None])[0])
        try:
            while True:
                text = await websocket.receive_text()
                if text == 'json':
                    await websocket.send_json({'path': websocket.url.path,
                                               'q': websocket.query_params.get('q')})
                elif text == 'bye':
                    await websocket.close(code=4000, reason='see you')
                    return
                else:
                    await websocket.send_text(text.upper())
        except WebSocketDisconnect as exc:
            events.append(('ws disconnect', exc.code))

    class Counter(WebSocketEndpoint):
        encoding = 'bytes'

        async def on_receive(self, websocket, data):
            await websocket.send_bytes(str(len(data)).encode())

        async def on_disconnect(self, websocket, close_code):
            events.append(('counter closed', close_code))

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        events.append('startup')
        yield {'greeting': 'hello from lifespan'}
        events.append('shutdown')

    return Starlette(routes=[Route('/', hello), Route('/users/{uid:int}', user),
                             Route('/items', create, methods=['POST']),
                             Route('/stream', stream, methods=['GET', 'POST']),
                             Route('/fail', fail), Route('/poll', poll),
                             WebSocketRoute('/ws', ws_echo),
                             WebSocketRoute('/count', Counter)],
                     lifespan=lifespan)


def fastapi_app(events):
    from typing import List, Optional
    from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect, status
    from fastapi.responses import StreamingResponse
    from pydantic import BaseModel

    app = FastAPI()

    class Item(BaseModel):
        name: str
        price: float
        tags: List[str] = []

    @app.on_event('startup')
    async def startup():
        events.append('startup')

    @app.on_event('shutdown')
    async def shutdown():
        events.append('shutdown')

    @app.get('/')
    async def root():
        return {'message': 'Hello World'}

    @app.get('/items/{item_id}')
    async def read_item(item_id: int, q: Optional[str] = None):
        if item_id == 404:
            raise HTTPException(status_code=404, detail='no such item')
        return {'item_id': item_id, 'q': q}

    @app.post('/items')
    async def create_item(item: Item):
        return {'name': item.name, 'total': item.price * 2, 'tags': item.tags}

    @app.get('/sync')
    def sync_endpoint():
        return {'thread': threading.current_thread() is not threading.main_thread()}

    rooms = {}

    @app.websocket('/chat/{room}')
    async def chat(websocket: WebSocket, room: str, name: Optional[str] = None):
        if not name:   # refused before accept: HTTP 403
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
            return
        await websocket.accept()
        members = rooms.setdefault(room, [])
        members.append(websocket)
        try:
            while True:
                data = await websocket.receive_json()
                for m in list(members):
                    await m.send_json({'from': name, 'msg': data['msg']})
        except WebSocketDisconnect as exc:
            events.append(('left', name, exc.code))
        finally:
            members.remove(websocket)

    @app.get('/stream')
    async def stream():
        async def gen():
            for i in range(4):
                yield b'{"n": %d}\n' % i
        return StreamingResponse(gen(), media_type='application/x-ndjson')

    return app


@unittest.skipIf(MISSING, 'not installed: ' + ' '.join(MISSING))
class StarletteOnCio(unittest.TestCase):
    def test_starlette(self):
        events = []
        with ServerThread(starlette_app(events)) as srv:
            self.assertEqual(events, ['startup'])
            c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
            self.assertEqual(fetch(c, 'GET', '/'),
                             (200, 'text/plain; charset=utf-8', b'Hello, world!'))
            st, ct, body = fetch(c, 'GET', '/users/42?q=x')
            self.assertEqual((st, ct), (200, 'application/json'))
            self.assertEqual(json.loads(body), {'id': 42, 'q': 'x',
                                                'greeting': 'hello from lifespan'})
            st, _, body = fetch(c, 'POST', '/items', json.dumps({'items': [1, 2, 3]}),
                                {'Content-Type': 'application/json'})
            self.assertEqual((st, json.loads(body)), (201, {'got': {'items': [1, 2, 3]}, 'n': 3}))
            st, ct, body = fetch(c, 'GET', '/stream')
            self.assertEqual((st, body), (200, b''.join(b'line %d\n' % i for i in range(5))))
            # a body the endpoint never reads: Starlette's disconnect
            # listener receive()s it while the response streams
            st, ct, body = fetch(c, 'POST', '/stream', b'b' * 300000)
            self.assertEqual((st, body), (200, b''.join(b'line %d\n' % i for i in range(5))))
            self.assertEqual(fetch(c, 'GET', '/nope')[0], 404)
            self.assertEqual(fetch(c, 'PUT', '/')[0], 405)
            self.assertEqual(fetch(c, 'GET', '/fail')[0], 500)
            c.close()
            # request.is_disconnected() turns True as the client leaves
            s = socket.create_connection(('127.0.0.1', srv.port), timeout=10)
            s.sendall(b'GET /poll HTTP/1.1\r\nHost: x\r\n\r\n')
            time.sleep(0.2)
            t0 = time.monotonic()
            s.close()
            while time.monotonic() < t0 + 5 and not any(e[0] == 'poll left' for e in events
                                                        if isinstance(e, tuple)):
                time.sleep(0.01)
            left = [e[1] for e in events if isinstance(e, tuple) and e[0] == 'poll left']
            self.assertEqual(len(left), 1, events)
            self.assertLess(left[0] - t0, 1.0)
            events.remove(('poll left', left[0]))
            c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
            for i in range(200):   # keep-alive: one connection
                st, _, body = fetch(c, 'GET', '/users/%d' % i)
                self.assertEqual((st, json.loads(body)['id']), (200, i))
            c.close()
        self.assertEqual(events, ['startup', 'shutdown'])

    def test_starlette_websocket(self):
        import websockets
        from websockets.exceptions import ConnectionClosed
        events = []
        with ServerThread(starlette_app(events)) as srv:
            base = f'ws://127.0.0.1:{srv.port}'

            async def go():
                async with websockets.connect(base + '/ws?q=7', subprotocols=['chat', 'x']) as c:
                    self.assertEqual(c.subprotocol, 'chat')
                    await c.send('hello')
                    self.assertEqual(await c.recv(), 'HELLO')
                    await c.send('json')
                    self.assertEqual(json.loads(await c.recv()), {'path': '/ws', 'q': '7'})
                    await c.send('bye')
                    with self.assertRaises(ConnectionClosed) as cm:
                        await c.recv()
                    self.assertEqual((cm.exception.rcvd.code, cm.exception.rcvd.reason),
                                     (4000, 'see you'))
                async with websockets.connect(base + '/ws') as c:
                    await c.send('x' * 100000)
                    self.assertEqual(await c.recv(), 'X' * 100000)
                    await c.close(4001)
                async with websockets.connect(base + '/count') as c:
                    for n in (0, 1, 65536):
                        await c.send(b'b' * n)
                        self.assertEqual(await c.recv(), str(n).encode())
                # no such WebSocket route: Starlette closes before accept
                self.assertEqual(await ws_status(base + '/nope'), 403)
            ws_run(go())
            for _ in range(100):
                if len(events) >= 3:
                    break
                threading.Event().wait(0.02)
            self.assertIn(('ws disconnect', 4001), events)
            self.assertIn(('counter closed', 1000), events)
            # HTTP still served on the same port
            c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
            self.assertEqual(fetch(c, 'GET', '/')[0], 200)
            c.close()


@unittest.skipIf(MISSING, 'not installed: ' + ' '.join(MISSING))
class FastAPIOnCio(unittest.TestCase):
    def test_fastapi(self):
        events = []
        with ServerThread(fastapi_app(events)) as srv:
            self.assertEqual(events, ['startup'])
            c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
            st, ct, body = fetch(c, 'GET', '/')
            self.assertEqual((st, ct, json.loads(body)),
                             (200, 'application/json', {'message': 'Hello World'}))
            st, _, body = fetch(c, 'GET', '/items/7?q=abc')
            self.assertEqual((st, json.loads(body)), (200, {'item_id': 7, 'q': 'abc'}))
            self.assertEqual(fetch(c, 'GET', '/items/404')[0], 404)
            self.assertEqual(fetch(c, 'GET', '/items/notanint')[0], 422)
            st, _, body = fetch(c, 'POST', '/items',
                                json.dumps({'name': 'pen', 'price': 1.5, 'tags': ['a']}),
                                {'Content-Type': 'application/json'})
            self.assertEqual((st, json.loads(body)), (200, {'name': 'pen', 'total': 3.0,
                                                            'tags': ['a']}))
            st, _, body = fetch(c, 'POST', '/items', b'{"name": "x"}',
                                {'Content-Type': 'application/json'})
            self.assertEqual(st, 422)
            self.assertEqual(json.loads(fetch(c, 'GET', '/sync')[2]), {'thread': True})
            st, ct, body = fetch(c, 'GET', '/stream')
            self.assertEqual((st, ct), (200, 'application/x-ndjson'))
            self.assertEqual([json.loads(x)['n'] for x in body.splitlines()], [0, 1, 2, 3])
            st, _, body = fetch(c, 'GET', '/openapi.json')
            self.assertEqual(st, 200)
            self.assertIn('/items/{item_id}', json.loads(body)['paths'])
            for i in range(300):   # keep-alive: one connection
                st, _, body = fetch(c, 'GET', '/items/%d' % i)
                self.assertEqual((st, json.loads(body)['item_id']), (200, i))
            c.close()

            errors = []
            def client(k):
                try:
                    cc = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
                    for i in range(50):
                        st, _, b = fetch(cc, 'GET', '/items/%d?q=%d' % (i, k))
                        assert st == 200 and json.loads(b) == {'item_id': i, 'q': str(k)}, b
                    cc.close()
                except Exception as exc:  # reported below
                    errors.append(exc)
            ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
            self.assertEqual(errors, [])
        self.assertEqual(events, ['startup', 'shutdown'])

    def test_fastapi_websocket(self):
        import websockets
        events = []
        with ServerThread(fastapi_app(events)) as srv:
            base = f'ws://127.0.0.1:{srv.port}'

            async def go():
                self.assertEqual(await ws_status(base + '/chat/lobby'), 403)
                async with websockets.connect(base + '/chat/lobby?name=ann') as a, \
                        websockets.connect(base + '/chat/lobby?name=bob') as b:
                    await a.send(json.dumps({'msg': 'hi all'}))
                    for c in (a, b):
                        self.assertEqual(json.loads(await c.recv()),
                                         {'from': 'ann', 'msg': 'hi all'})
                    await b.send(json.dumps({'msg': 'hey'}))
                    for c in (a, b):
                        self.assertEqual(json.loads(await c.recv()),
                                         {'from': 'bob', 'msg': 'hey'})
                    await b.close(4004, 'gone')
                    await asyncio.sleep(0.1)
                    await a.send(json.dumps({'msg': 'alone'}))
                    self.assertEqual(json.loads(await a.recv()), {'from': 'ann', 'msg': 'alone'})
            ws_run(go())
            for _ in range(100):
                if len(events) >= 3:
                    break
                threading.Event().wait(0.02)
            self.assertIn(('left', 'bob', 4004), events)
            self.assertIn(('left', 'ann', 1000), events)


if __name__ == '__main__':
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    if MISSING:
        print('skipped: not installed: ' + ' '.join(MISSING))
        sys.exit(77)
    sys.exit(0)
