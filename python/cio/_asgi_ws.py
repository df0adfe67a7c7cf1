"""cio._asgi_ws: the ASGI "websocket" scope's receive() and send() for
cio.serve_asgi, on cio's WebSocket server (the C half is
cio._cio._AsgiWs, src/asgi_ws.c).

The handshake is answered by the application's first message:
websocket.accept (cio_ws_accept answers 101, with the subprotocol chosen
if the client offered it, permessage-deflate as cio negotiates it, and the
extra headers), websocket.close (HTTP 403), or the denial response
extension's websocket.http.response.start/.body (that HTTP response).
Messages are then received one per receive() (cio keeps up to max_queue
more, then stops reading: the peer is slowed by TCP), and send() returns
once the frame is handed to the transport, waiting first while the peer
does not drain.  ASGI spec 2.4: send() on a connection the client closed
raises ClientDisconnected (an OSError); send() after the application's own
close, or out of order, raises RuntimeError.
"""

import asyncio

__all__ = ('ClientDisconnected', 'WsCycle', 'run_websocket')

_HANDSHAKE, _RESPONSE, _OPEN, _CLOSED = range(4)

# The handshake's own headers: cio writes them, an application's are dropped.
_OURS = (b'upgrade', b'connection', b'sec-websocket-accept', b'sec-websocket-extensions',
         b'content-length', b'transfer-encoding', b'date')


class ClientDisconnected(OSError):
    """send() on a WebSocket whose client is gone (ASGI spec 2.4)."""


def _disconnect(code, reason=''):
    return {'type': 'websocket.disconnect', 'code': code, 'reason': reason}


class WsCycle:
    """One WebSocket connection's receive() and send()."""

    __slots__ = ('conn', 'loop', 'state', 'connect_sent', 'close_sent', 'disconnected',
                 'waiter', 'status', 'headers', 'body', 'kept')

    def __init__(self, conn, loop):
        self.conn = conn
        self.loop = loop
        self.state = _HANDSHAKE
        self.connect_sent = False   # websocket.connect was received
        self.close_sent = False     # the application closed (or denied)
        self.disconnected = None    # the websocket.disconnect, once known
        self.waiter = None          # receive() waiting before accept
        self.status = 0             # denial response: its status
        self.headers = ()           # ... its headers
        self.body = []              # ... its body so far
        self.kept = None            # a message whose receive() was cancelled
                                    # after it arrived
        conn.set_on_lost(self._lost)

    def _lost(self):
        if self.disconnected is None:
            self.disconnected = _disconnect(1006)
        self._wake()

    def _wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    @property
    def handshake_done(self):
        return self.state not in (_HANDSHAKE, _RESPONSE)

    async def receive(self):
        if not self.connect_sent:
            self.connect_sent = True
            return {'type': 'websocket.connect'}
        while True:
            if self.disconnected is not None:
                return dict(self.disconnected)
            if self.state == _OPEN:
                break
            if self.state == _CLOSED:   # denied: the client has its answer
                self.disconnected = _disconnect(1006)
                continue
            # the handshake is not answered yet: only its end can come
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        msg, self.kept = self.kept, None
        if msg is None:
            fut = self.conn.recv()
            try:
                msg = await fut
            except ConnectionError:
                msg = (0, 1006, '')
            except asyncio.CancelledError:
                # The message came, but the task was cancelled before it
                # resumed (wait_for's timeout in the same iteration): it is
                # the next receive()'s.  (One cancelled before it came
                # stays with the engine, asgi_ws.c's deliver.)
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    self.kept = fut.result()
                raise
        if msg[0] == 1:
            return {'type': 'websocket.receive', 'text': msg[1]}
        if msg[0] == 2:
            return {'type': 'websocket.receive', 'bytes': msg[1]}
        self.disconnected = _disconnect(msg[1], msg[2])
        return dict(self.disconnected)

    async def send(self, message):
        kind = message['type']
        if self.state == _HANDSHAKE:
            if kind == 'websocket.accept':
                self._accept(message)
            elif kind == 'websocket.close':
                self._deny(403, (), b'')
            elif kind == 'websocket.http.response.start':
                self.status = message['status']
                self.headers = message.get('headers', ())
                self.state = _RESPONSE
            else:
                raise RuntimeError("expected 'websocket.accept', 'websocket.close' or "
                                   f"'websocket.http.response.start', got {kind!r}")
            return
        if self.state == _RESPONSE:
            if kind != 'websocket.http.response.body':
                raise RuntimeError(f"expected 'websocket.http.response.body', got {kind!r}")
            self.body.append(bytes(message.get('body', b'')))
            if not message.get('more_body', False):
                self._deny(self.status, self.headers, b''.join(self.body))
            return
        if self.close_sent:
            raise RuntimeError(f'{kind!r} after the WebSocket was closed')
        if kind == 'websocket.send':
            text, data = message.get('text'), message.get('bytes')
            if (text is None) == (data is None):
                raise TypeError("websocket.send takes one of 'text' and 'bytes'")
            if text is not None and not isinstance(text, str):
                raise TypeError("websocket.send's 'text' must be str")
            if self.state == _CLOSED:
                raise ClientDisconnected('the WebSocket client is gone')
            try:
                await self.conn.send(text if text is not None else bytes(data))
            except ConnectionError as exc:
                raise ClientDisconnected('the WebSocket client is gone') from exc
        elif kind == 'websocket.close':
            self.close_sent = True
            code = message.get('code') or 1000
            try:
                await self.conn.close(code, message.get('reason') or '')
            except ConnectionError:
                pass   # the client was gone first
        elif kind == 'websocket.accept':
            raise RuntimeError('the WebSocket is already accepted')
        else:
            raise RuntimeError(f"expected 'websocket.send' or 'websocket.close', got {kind!r}")

    def _accept(self, message):
        sub = message.get('subprotocol')
        headers = []
        for name, value in message.get('headers', ()):
            low = bytes(name).lower()
            if low == b'sec-websocket-protocol':
                sub = sub or bytes(value).decode('latin-1')
            elif low not in _OURS:
                headers.append((low, bytes(value)))
        try:
            self.conn.accept(sub, headers)
        except ConnectionError as exc:
            self.state = _CLOSED
            self._lost()
            raise ClientDisconnected('the WebSocket client is gone') from exc
        except OSError as exc:
            # cio_ws_accept refused the handshake (and answered it)
            self.state = _CLOSED
            self._lost()
            raise ClientDisconnected(f'the WebSocket handshake failed: {exc}') from exc
        self.state = _OPEN
        self._wake()

    def _deny(self, status, headers, body):
        self.state = _CLOSED
        self.close_sent = True
        try:
            self.conn.deny(status, headers, body)
        except ConnectionError:
            pass
        self._wake()


async def run_websocket(app, conn, scope, loop, logger):
    """Runs app for one websocket scope; the handshake is answered 500
    if the application fails or returns before answering it, and an
    accepted connection is closed (1000, or 1011 if the application
    failed) if the application left it open."""
    cycle = WsCycle(conn, loop)
    abort = False
    try:
        await app(scope, cycle.receive, cycle.send)
    except BaseException as exc:
        if not isinstance(exc, (asyncio.CancelledError, ClientDisconnected)):
            logger.error('Exception in ASGI application', exc_info=exc)
        abort = True
        if not isinstance(exc, Exception):
            raise
    else:
        if not cycle.handshake_done:
            logger.error('ASGI callable returned without answering the WebSocket handshake')
    finally:
        conn.finish(abort)
