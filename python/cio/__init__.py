"""cio: the asyncio event loop on cio's C engine (as uvloop is on libuv).

    import cio
    cio.run(main())                                   # like asyncio.run
    asyncio.Runner(loop_factory=cio.new_event_loop)   # 3.11
    asyncio.run(main(), loop_factory=cio.new_event_loop)  # 3.12+
    cio.install()                                     # the default policy

The loop's core is C (cio._cio._LoopCore, src/loop.c): call_soon,
call_later, call_at, call_soon_threadsafe and their handles, time(),
run/stop, and descriptor readiness run on a cio_loop.  Stream socket
transports (TCP and Unix, the ones create_connection, create_server,
connect_accepted_socket and their Unix forms make) are cio's C transports
(cio._cio.SocketTransport, src/transport.c), a subclass of
asyncio.Transport; TLS runs asyncio's sslproto over them.  This module
adds the rest of asyncio.AbstractEventLoop on top of that core by
inheriting asyncio's own Unix selector-loop methods (sockets, servers,
datagrams, pipes, subprocesses, signals) and redirecting their selector
operations to the engine.  Futures and tasks
are CPython's C asyncio.Future and asyncio.Task.
"""
import asyncio
import logging
import selectors
import sys
import threading
import weakref

from asyncio import base_events, constants, events, selector_events, sslproto, unix_events

import os
import socket

from ._cio import CioError, Handle, TimerHandle, _LoopCore, _set_c_task_starter

try:
    # The C socket transport (src/transport.c): absent when this asyncio's
    # Transport is laid out otherwise than the C type mirrors.
    from ._cio import SocketTransport
except ImportError:
    SocketTransport = None

_C_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)

__all__ = ('Loop', 'new_event_loop', 'EventLoopPolicy', 'install', 'run',
           'CioError', 'get_include',
           'Handle', 'TimerHandle', 'SocketTransport', 'serve_asgi', 'run_asgi')

logger = logging.getLogger('asyncio')


def _fd(fileobj):
    """The descriptor number of an int or an object with fileno()."""
    return selectors._fileobj_to_fd(fileobj)


class _SelectorView:
    """What asyncio's transports ask of loop._selector (their __repr__
    looks up whether a descriptor is polled), answered from the engine's
    reader/writer table.  Closing it closes the engine."""

    def __init__(self, loop):
        self._loop = loop

    def get_key(self, fileobj):
        fd = _fd(fileobj)
        reader, writer = self._loop._core_fd_handles(fd)
        if reader is None and writer is None:
            raise KeyError(f'{fileobj!r} is not registered')
        events_ = ((selectors.EVENT_READ if reader is not None else 0) |
                   (selectors.EVENT_WRITE if writer is not None else 0))
        return selectors.SelectorKey(fileobj, fd, events_, (reader, writer))

    def get_map(self):
        return None

    def close(self):
        self._loop._core_close()


class _DatagramTransport(selector_events._SelectorDatagramTransport,
                         asyncio.DatagramTransport):
    """asyncio's selector datagram transport, declared what it is: an
    asyncio.DatagramTransport (3.11's class is only a Transport)."""


def _run_foreign_handle(handle):
    # asyncio.Handle objects made by asyncio's own code (signal handlers)
    if not handle._cancelled:
        handle._run()


class Loop(_LoopCore, unix_events._UnixSelectorEventLoop):
    """An asyncio event loop whose scheduling, clock and I/O readiness run
    on cio's C engine."""

    def __init__(self):
        base_events.BaseEventLoop.__init__(self)
        self._selector = _SelectorView(self)
        self._transports = weakref.WeakValueDictionary()
        self._signal_handlers = {}
        # The self-pipe only carries signals here (call_soon_threadsafe
        # wakes the engine through its eventfd): made on first use.
        self._ssock = self._csock = None
        # The engine's own descriptors (epoll, eventfd) stand where
        # asyncio counts its self-pipe.
        self._internal_fds = 1

    # ---- running ----------------------------------------------------
    def run_forever(self):
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_agen_hooks = sys.get_asyncgen_hooks()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            events._set_running_loop(self)
            self._run_core()
        finally:
            self._stopping = False
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def _run_once(self):
        raise NotImplementedError('cio.Loop runs its iterations in C')

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        # C transports still open let go of the engine before it closes;
        # their sockets are left to their collection (asyncio's
        # ResourceWarning for an unclosed transport).
        for tr in list(self._transports.values()):
            if SocketTransport is not None and isinstance(tr, SocketTransport):
                tr._loop_closing()
        super().close()
        self._internal_fds = 0

    def set_debug(self, enabled):
        super().set_debug(enabled)
        self._core_set_debug(enabled)

    def _log_slow_callback(self, handle, dt):
        if dt >= self.slow_callback_duration:
            logger.warning('Executing %s took %.3f seconds',
                           base_events._format_handle(handle), dt)

    # ---- what asyncio's selector code asks of its loop ----------------
    def _add_callback(self, handle):
        if not handle._cancelled:
            self.call_soon(_run_foreign_handle, handle)

    def _timer_handle_cancelled(self, handle):
        pass

    def _process_events(self, event_list):
        pass

    def _make_self_pipe(self):
        if self._ssock is None:
            super()._make_self_pipe()

    def _close_self_pipe(self):
        if self._ssock is not None:
            super()._close_self_pipe()

    def _write_to_self(self):
        if self._csock is not None:
            super()._write_to_self()

    def _add_reader(self, fd, callback, *args):
        self._check_closed()
        handle = Handle(callback, args, self, None)
        self._core_add_reader(_fd(fd), handle)
        return handle

    def _remove_reader(self, fd):
        if self.is_closed():
            return False
        return self._core_remove_reader(_fd(fd))

    def _add_writer(self, fd, callback, *args):
        self._check_closed()
        handle = Handle(callback, args, self, None)
        self._core_add_writer(_fd(fd), handle)
        return handle

    def _remove_writer(self, fd):
        if self.is_closed():
            return False
        return self._core_remove_writer(_fd(fd))

    def _c_transport_fits(self, sock):
        # The engine's transports belong to the running loop (they are
        # made in its thread, from its callbacks and tasks).
        return (SocketTransport is not None and sock.type == socket.SOCK_STREAM and
                sock.family in _C_FAMILIES and self._core_running() and
                self._thread_id == threading.get_ident())

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        if self._c_transport_fits(sock):
            return SocketTransport(self, sock, protocol, waiter, extra, server)
        return super()._make_socket_transport(sock, protocol, waiter,
                                              extra=extra, server=server)

    def _make_ssl_transport(self, rawsock, protocol, sslcontext, waiter=None,
                            *, server_side=False, server_hostname=None,
                            extra=None, server=None,
                            ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
                            ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT):
        if not self._c_transport_fits(rawsock):
            return super()._make_ssl_transport(
                rawsock, protocol, sslcontext, waiter, server_side=server_side,
                server_hostname=server_hostname, extra=extra, server=server,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout)
        # asyncio's sslproto over the C transport (as selector_events does
        # over its own)
        ssl_protocol = sslproto.SSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        SocketTransport(self, rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport

    def _make_datagram_transport(self, sock, protocol, address=None,
                                 waiter=None, extra=None):
        return _DatagramTransport(self, sock, protocol, address, waiter, extra)

    def add_signal_handler(self, sig, callback, *args):
        self._check_closed()
        self._make_self_pipe()
        return super().add_signal_handler(sig, callback, *args)


def new_event_loop():
    """A new cio event loop (the loop_factory of asyncio.Runner/run)."""
    return Loop()


class EventLoopPolicy(unix_events._UnixDefaultEventLoopPolicy):
    """The asyncio policy whose loops are cio loops (cio.install())."""
    _loop_factory = Loop


def install():
    """Makes cio's loop asyncio's default (sets EventLoopPolicy)."""
    asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, debug=None, **run_kwargs):
    """asyncio.run(main) on a new cio loop."""
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop,
                           **run_kwargs)
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


# ---- C coroutines on this loop (python/include/cio_python.h) ----------

def get_include():
    """The directory holding cio_python.h and the engine's headers, for
    building C extensions that run cio tasks on the cio loop (as
    numpy.get_include())."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'include')


async def _c_task_main(ctask):
    """The coroutine CioPy_StartTask() returns: starts the C task, waits
    for its future (set by capi.c's c_done) and gives its outcome.
    Cancelled, it cancels the C task and waits until that has unwound
    before ending cancelled: asyncio.wait never cancels done, so the
    outcome still arrives."""
    done = ctask._start()
    try:
        await asyncio.wait((done,))
    except asyncio.CancelledError as exc:
        ctask._cancel(exc.args[0] if exc.args else None)
        while not done.done():
            try:
                await asyncio.wait((done,))
            except asyncio.CancelledError:
                pass
        if not done.cancelled():
            done.exception()  # retrieved: the cancellation wins
        raise
    return done.result()


_set_c_task_starter(_c_task_main)
def __getattr__(name):
    # cio.serve_asgi / cio.run_asgi (cio/asgi.py), imported on first use
    # so that `python3 -m cio.asgi` runs the module once
    if name in ('serve_asgi', 'run_asgi'):
        from . import asgi
        return getattr(asgi, name)
    raise AttributeError(f"module 'cio' has no attribute {name!r}")
