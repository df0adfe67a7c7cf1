"""cio.asgi: an ASGI 3 server whose HTTP/1.1 is cio's C server.

    await cio.serve_asgi(app, host='127.0.0.1', port=8000)   # in a cio loop
    cio.run_asgi(app, port=8000)                              # a new cio loop
    python3 -m cio.asgi module:app --host 0.0.0.0 --port 8000
    python3 -m cio.asgi module:app --ssl-certfile cert.pem --ssl-keyfile key.pem

Parsing, keep-alive, pipelining, limits, timeouts, chunked bodies and
graceful shutdown are the engine's (include/cio/http.h); each request's
application call ``app(scope, receive, send)`` runs as an asyncio task on
the same cio loop.  The C half is cio._cio._AsgiServer (src/asgi.c),
and each request's receive()/send() and task coroutine (src/asgi_cycle.c).
Lifespan events are sent when the application takes them.  A request
asking for a WebSocket upgrade gets a "websocket" scope served by cio's
WebSocket server (include/cio/ws.h; cio/_asgi_ws.py, src/asgi_ws.c).
"""
import argparse
import asyncio
import collections.abc
import importlib
import logging
import signal
import sys

from ._cio import _AsgiRun, _AsgiServer
from ._asgi_ws import ClientDisconnected, run_websocket

__all__ = ('serve_asgi', 'run_asgi', 'main', 'ClientDisconnected')

logger = logging.getLogger('cio.asgi')

async def _receive_slow(conn):
    """receive() when it may wait (asgi_cycle.c answers a bodiless
    request's http.request itself): the body's chunks, then
    http.disconnect once the client leaves or the response is complete."""
    if not conn.body_done and not conn.disconnected:
        if not conn.has_body:
            conn.body_done = True
            return {'type': 'http.request', 'body': b'', 'more_body': False}
        try:
            data = await conn.read()
        except ConnectionError:
            conn.disconnected = True
            return {'type': 'http.disconnect'}
        except OSError:
            # too large (413), bad chunked framing (400), timeout:
            # the server answers for the application
            conn.body_error = True
            conn.disconnected = True
            return {'type': 'http.disconnect'}
        left = conn.left
        if left is not None:
            left -= len(data)
            conn.left = left
            more = left > 0 and bool(data)
        else:
            more = bool(data)
        if not more:
            conn.body_done = True
        return {'type': 'http.request', 'body': data, 'more_body': more}
    if not conn.disconnected and not conn.complete:
        conn.disc_fut = asyncio.get_running_loop().create_future()
        try:
            await conn.disc_fut
        finally:
            conn.disc_fut = None
    return {'type': 'http.disconnect'}


async def _send_slow(conn, message):
    """send() of what asgi_cycle.c leaves: a streamed body, and every
    message out of order (its error)."""
    kind = message['type']
    if not conn.started:
        if kind != 'http.response.start':
            raise RuntimeError(f"expected 'http.response.start', got {kind!r}")
        conn.started = True
        conn.status = message['status']
        conn.headers = message.get('headers', ())
        return
    if kind != 'http.response.body':
        raise RuntimeError(f"expected 'http.response.body', got {kind!r}")
    if conn.complete:
        raise RuntimeError('the response is already complete')
    if conn.disconnected:
        return
    body = message.get('body', b'')
    more = message.get('more_body', False)
    if not isinstance(body, bytes):
        body = bytes(body)
    try:
        if not conn.streaming:
            if not more:
                conn.respond(conn.status, conn.headers, body)
                conn.complete = True
                conn.wake()
                return
            conn.start(conn.status, conn.headers)
            conn.streaming = True
        if body:
            await conn.write(body)
        if not more:
            conn.end()
            conn.complete = True
            conn.wake()
    except ConnectionError:
        conn.disconnected = True
        conn.wake()


def _failed(conn, exc):
    """The application raised exc, or (None) returned without completing
    the response: logs it, answers 500 if nothing went out; True if the
    connection must be cut instead."""
    if exc is None:
        if conn.complete or conn.disconnected:
            return False
        logger.error('ASGI callable returned without completing the response')
    elif not isinstance(exc, asyncio.CancelledError):
        logger.error('Exception in ASGI application', exc_info=exc)
    if conn.disconnected or conn.body_error or conn.complete:
        return False
    if conn.streaming:
        return True
    try:
        conn.respond(500, [(b'content-type', b'text/plain; charset=utf-8')],
                     b'Internal Server Error')
        conn.complete = True
    except (ConnectionError, RuntimeError):
        pass
    return False


async def _await_any(awaitable):
    """An application that returned an awaitable, not a coroutine."""
    return await awaitable


class _Server:
    """serve_asgi's state: the C server, the requests running, lifespan.
    Each HTTP request's application runs as an asyncio task that
    asgi_cycle.c starts (in tasks while it runs); a WebSocket's comes
    through _on_request."""

    def __init__(self, app, loop, host, port, limits, root_path):
        self.app = app
        self.loop = loop
        self.root_path = root_path
        self.tasks = set()
        self.state = {}
        self.c = _AsgiServer(loop, self._on_request, host, port, **limits)
        self.c.bind(app, self.state, root_path, self.tasks, _receive_slow, _send_slow,
                    _failed, _await_any, loop.get_task_factory(), asyncio.Task)

    def _on_request(self, conn, scope, body):
        # a WebSocket's scope, on the loop's stack
        if self.root_path:
            scope['root_path'] = self.root_path
        scope['state'] = self.state.copy()
        task = self.loop.create_task(run_websocket(self.app, conn, scope, self.loop, logger))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


collections.abc.Coroutine.register(_AsgiRun)


class _Lifespan:
    """The lifespan protocol: startup before serving, shutdown after."""

    def __init__(self, app, state, mode):
        self.app = app
        self.state = state
        self.mode = mode            # 'auto', 'on', 'off'
        self.inbox = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.failed = None          # the failure message
        self.unsupported = False
        self.task = None

    async def _receive(self):
        return await self.inbox.get()

    async def _send(self, message):
        kind = message['type']
        if kind == 'lifespan.startup.complete':
            self.started.set()
        elif kind == 'lifespan.startup.failed':
            self.failed = message.get('message', '') or 'startup failed'
            self.started.set()
        elif kind == 'lifespan.shutdown.complete':
            self.stopped.set()
        elif kind == 'lifespan.shutdown.failed':
            logger.error('ASGI lifespan shutdown failed: %s', message.get('message', ''))
            self.stopped.set()

    async def _main(self):
        scope = {'type': 'lifespan', 'asgi': {'version': '3.0', 'spec_version': '2.3'},
                 'state': self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if not self.started.is_set():
                if self.mode == 'on':
                    self.failed = f'lifespan failed: {exc!r}'
                    logger.error('Exception in ASGI lifespan', exc_info=exc)
                else:
                    # 'auto': an application without lifespan support
                    self.unsupported = True
                    logger.info('ASGI lifespan unsupported (%r)', exc)
            elif not isinstance(exc, asyncio.CancelledError):
                logger.error('Exception in ASGI lifespan', exc_info=exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.started.set()
            self.stopped.set()

    async def startup(self):
        """False when the application's startup failed."""
        if self.mode == 'off':
            return True
        self.task = asyncio.get_running_loop().create_task(self._main())
        await self.inbox.put({'type': 'lifespan.startup'})
        await self.started.wait()
        return self.failed is None

    async def shutdown(self, timeout=None):
        """Sends lifespan.shutdown and waits (up to timeout seconds, then
        the lifespan task is cancelled) for the application's answer."""
        if self.mode == 'off' or self.unsupported or self.task is None:
            return
        if not self.task.done():
            await self.inbox.put({'type': 'lifespan.shutdown'})
            try:
                await asyncio.wait_for(self.stopped.wait(), timeout)
            except asyncio.TimeoutError:
                logger.error('ASGI lifespan shutdown took longer than %s s', timeout)
                self.task.cancel()


async def serve_asgi(app, host='127.0.0.1', port=8000, *, lifespan='auto',
                     root_path='', shutdown_timeout=10.0, max_body=16 * 1024 * 1024,
                     header_timeout=None, body_timeout=None, idle_timeout=None,
                     write_timeout=None, log_requests=False, ws_max_message=None,
                     ws_max_queue=None, ws_ping_interval=None, ws_ping_timeout=None,
                     ws_close_timeout=None, ws_compression=True, ssl_certfile=None,
                     ssl_keyfile=None, ssl_keyfile_password=None, ssl_ca_certs=None,
                     ssl_cert_reqs=0, started=None, stop=None, handle_signals=True):
    """Serves the ASGI 3 application app on host:port until SIGINT or
    SIGTERM (handle_signals) or until the future/event stop is set/done.

    The loop must be a cio loop.  lifespan: 'auto' (sent if the
    application takes it), 'on' (its failure is an error), 'off'.  A
    startup failure raises RuntimeError before anything is served.  On
    stop the server stops accepting, idle connections close, requests in
    progress get shutdown_timeout seconds to finish, then are aborted
    (and their application tasks cancelled).  started, if given, is a
    future whose result becomes the port bound (port 0: a free one).
    Limits and timeouts are cio_http_server_options' (None: cio's
    default; max_body: a body larger than this gets 413).

    WebSocket: the ws_* options are cio_ws_options' (None: cio's
    default): ws_max_message (bytes; larger: close 1009, 1 MiB),
    ws_max_queue (messages kept before reading pauses, 16),
    ws_ping_interval / ws_ping_timeout (keepalive, 20 s each),
    ws_close_timeout (the closing handshake, 10 s), ws_compression
    (permessage-deflate when the client offers it).  On stop, open
    WebSockets get close 1001 (going away).

    TLS (uvicorn's names; cio's TLS is OpenSSL driven from C, so these
    are PEM file paths, not an ssl.SSLContext): ssl_certfile (the
    certificate chain) and ssl_keyfile (its unencrypted key; None: in
    the certificate file) serve https:// and wss:// (the scope's scheme
    says so) with ALPN http/1.1.  ssl_cert_reqs=ssl.CERT_REQUIRED (2)
    asks every client for a certificate signed by a CA in ssl_ca_certs;
    ssl.CERT_NONE (0, the default) asks none; CERT_OPTIONAL and
    ssl_keyfile_password (encrypted keys) are refused with ValueError.
    A file that cannot be opened raises its OSError (FileNotFoundError),
    one OpenSSL refuses ssl.SSLError, before anything is served."""
    loop = asyncio.get_running_loop()
    from . import Loop
    if not isinstance(loop, Loop):
        raise RuntimeError('serve_asgi needs a cio loop (cio.run, cio.new_event_loop)')
    limits = dict(max_body=max_body, header_timeout=header_timeout,
                  body_timeout=body_timeout, idle_timeout=idle_timeout,
                  write_timeout=write_timeout, log_requests=1 if log_requests else 0,
                  ws_max_message=ws_max_message, ws_max_queue=ws_max_queue,
                  ws_ping_interval=ws_ping_interval, ws_ping_timeout=ws_ping_timeout,
                  ws_close_timeout=ws_close_timeout, ws_compression=1 if ws_compression else 0,
                  ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                  ssl_keyfile_password=ssl_keyfile_password, ssl_ca_certs=ssl_ca_certs,
                  ssl_cert_reqs=int(ssl_cert_reqs) if ssl_cert_reqs is not None else 0)
    server = _Server(app, loop, host, port, limits, root_path)
    life = _Lifespan(app, server.state, lifespan)
    if not await life.startup():
        await life.shutdown(shutdown_timeout)
        raise RuntimeError(f'ASGI application startup failed: {life.failed}')
    stopping = loop.create_future()
    if stop is not None:
        asyncio.ensure_future(stop).add_done_callback(
            lambda _f: stopping.done() or stopping.set_result(None))
    signals = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, lambda: stopping.done() or stopping.set_result(None))
                signals.append(sig)
            except (ValueError, RuntimeError, NotImplementedError):
                pass  # not the main thread
    try:
        try:
            bound = await server.c.start()
        except BaseException:
            await life.shutdown(shutdown_timeout)
            raise
        logger.info('cio.asgi serving on %s://%s:%d', 'https' if ssl_certfile else 'http',
                    host, bound)
        if started is not None and not started.done():
            started.set_result(bound)
        try:
            await stopping
        finally:
            timed_out = 0
            try:
                await server.c.shutdown(shutdown_timeout)
            except TimeoutError:
                timed_out = 1
            for t in list(server.tasks):
                t.cancel()
            if server.tasks:
                await asyncio.wait(list(server.tasks), timeout=1.0)
            server.c.close()
            await life.shutdown(shutdown_timeout)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return timed_out  # 1: some requests had to be aborted at the deadline


def run_asgi(app, host='127.0.0.1', port=8000, **kwargs):
    """serve_asgi on a new cio loop (cio.run), until SIGINT/SIGTERM."""
    from . import run
    return run(serve_asgi(app, host, port, **kwargs))


def _load(spec):
    module, _, attr = spec.partition(':')
    if not attr:
        raise SystemExit(f'expected module:attribute, got {spec!r}')
    obj = importlib.import_module(module)
    for part in attr.split('.'):
        obj = getattr(obj, part)
    return obj


def main(argv=None):
    """python3 -m cio.asgi module:app [--host H] [--port P] ..."""
    p = argparse.ArgumentParser(prog='python3 -m cio.asgi',
                                description="Serve an ASGI app on cio's C HTTP server.")
    p.add_argument('app', help='module:attribute of the ASGI application')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8000)
    p.add_argument('--lifespan', choices=('auto', 'on', 'off'), default='auto')
    p.add_argument('--root-path', default='')
    p.add_argument('--timeout-graceful-shutdown', type=float, default=10.0)
    p.add_argument('--app-dir', default='.', help='prepended to sys.path (default .)')
    p.add_argument('--access-log', action='store_true', help="log each request (cio_log)")
    p.add_argument('--ws-max-size', type=int, default=None,
                   help="largest WebSocket message received, bytes (cio's default 1 MiB)")
    p.add_argument('--ws-ping-interval', type=float, default=None)
    p.add_argument('--ws-ping-timeout', type=float, default=None)
    p.add_argument('--ws-per-message-deflate', choices=('true', 'false'), default='true')
    p.add_argument('--ssl-certfile', default=None, help='PEM certificate chain: serve HTTPS')
    p.add_argument('--ssl-keyfile', default=None, help="PEM private key (unencrypted)")
    p.add_argument('--ssl-keyfile-password', default=None,
                   help='refused: cio loads unencrypted keys only')
    p.add_argument('--ssl-ca-certs', default=None, help='CA file for client certificates')
    p.add_argument('--ssl-cert-reqs', type=int, default=0,
                   help='0: no client certificate (default), 2: one is required')
    p.add_argument('--log-level', default='info')
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), format='%(levelname)s: %(message)s')
    sys.path.insert(0, a.app_dir)
    app = _load(a.app)
    try:
        run_asgi(app, a.host, a.port, lifespan=a.lifespan, root_path=a.root_path,
                 shutdown_timeout=a.timeout_graceful_shutdown, log_requests=a.access_log,
                 ws_max_message=a.ws_max_size, ws_ping_interval=a.ws_ping_interval,
                 ws_ping_timeout=a.ws_ping_timeout,
                 ws_compression=a.ws_per_message_deflate == 'true',
                 ssl_certfile=a.ssl_certfile, ssl_keyfile=a.ssl_keyfile,
                 ssl_keyfile_password=a.ssl_keyfile_password, ssl_ca_certs=a.ssl_ca_certs,
                 ssl_cert_reqs=a.ssl_cert_reqs)
    except (RuntimeError, ValueError, OSError) as exc:
        logger.error('%s', exc)
        return 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
