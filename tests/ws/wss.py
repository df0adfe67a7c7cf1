# wss.py - Python's `websockets` (Debian python3-websockets) as a TLS peer
# of cio's WebSocket code, for tests/test_wss.c and tests/test_ws_shutdown.c.
#   wss.py server CERT KEY        wss:// echo server on 127.0.0.1 with that
#                                 certificate; prints its port first
#   wss.py client PORT CA         checks cio's echo server at
#                                 wss://localhost:PORT/echo, trusting CA
#                                 (verification and host name check on)
#   wss.py goaway PORT [CA]       connects to ws://127.0.0.1:PORT/echo (or
#                                 wss://localhost with CA), prints "ready",
#                                 then expects the server to close with
#                                 1001 (its graceful shutdown)
# Exit 0 when every check passed.
import asyncio
import os
import ssl
import sys

import websockets

CIO_DEFLATE = os.environ.get("CIO_WS_DEFLATE", "1") == "1"


async def echo(ws, path=None):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass


async def server(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx, max_size=2**22) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)


def client_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)  # verifies, checks the host name
    return ctx


async def roundtrip(ws, m):
    await ws.send(m)
    r = await asyncio.wait_for(ws.recv(), 5)
    assert r == m, (len(r), len(m))


async def client(port, ca):
    for comp in ("deflate", None):
        async with websockets.connect(f"wss://localhost:{port}/echo", ssl=client_ctx(ca),
                                      compression=comp, max_size=2**22) as ws:
            assert (len(ws.extensions) == 1) == (comp is not None and CIO_DEFLATE), ws.extensions
            for m in ["hello", "\u03ba\u1f79\u03c3\u03bc\u03b5" * 1000, b"\x00\xff" * 100000,
                      "", b""]:
                await roundtrip(ws, m)
            await ws.send(["frag", "men", "ted"])
            assert await ws.recv() == "fragmented"
            await asyncio.wait_for(await ws.ping(b"x"), 5)
            await ws.close(4000, "done")
    # a client that does not trust the certificate is refused
    try:
        async with websockets.connect(f"wss://localhost:{port}/echo",
                                      ssl=ssl.create_default_context()):
            raise AssertionError("connected without trusting the certificate")
    except ssl.SSLCertVerificationError:
        pass
    print("python websockets wss client: ok", flush=True)


async def goaway(port, ca):
    if ca:
        url, kw = f"wss://localhost:{port}/echo", {"ssl": client_ctx(ca)}
    else:
        url, kw = f"ws://127.0.0.1:{port}/echo", {}
    async with websockets.connect(url, **kw) as ws:
        await roundtrip(ws, "before")
        print("ready", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 20)
            raise AssertionError("a message instead of the close")
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            assert code == 1001, (code, e)
    print("python websockets saw 1001", flush=True)


if sys.argv[1] == "server":
    asyncio.run(server(sys.argv[2], sys.argv[3]))
elif sys.argv[1] == "client":
    asyncio.run(client(int(sys.argv[2]), sys.argv[3]))
else:
    asyncio.run(goaway(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
