# interop.py - Python's `websockets` (Debian python3-websockets) as a peer
# of cio's WebSocket code, for tests/test_ws_interop.c.
#   interop.py server         echo server; prints its port first
#   interop.py client PORT    checks cio's echo server at ws://127.0.0.1:PORT
# Exit 0 when every check passed.
import asyncio
import os
import sys

import websockets

# 0 when cio was built without zlib: it then never negotiates compression.
CIO_DEFLATE = os.environ.get("CIO_WS_DEFLATE", "1") == "1"


async def echo(ws, path=None):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass  # a close code other than 1000/1001 ends the loop this way


async def server():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=2**22) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)


async def roundtrip(ws, m):
    await ws.send(m)
    r = await asyncio.wait_for(ws.recv(), 5)
    assert r == m, (len(r), len(m))


async def client(port):
    for comp in ("deflate", None):
        url = f"ws://127.0.0.1:{port}/echo"
        async with websockets.connect(url, compression=comp, max_size=2**22,
                                      subprotocols=["chat"]) as ws:
            assert (len(ws.extensions) == 1) == (comp is not None and CIO_DEFLATE), ws.extensions
            assert ws.subprotocol == "chat", ws.subprotocol
            for m in ["hello", "\u03ba\u1f79\u03c3\u03bc\u03b5" * 1000, b"\x00\xff" * 40000, "", b""]:
                await roundtrip(ws, m)
            await ws.send(["frag", "men", "ted"])        # fragmented
            assert await ws.recv() == "fragmented"
            await ws.send([b"ab", b"cd"])
            assert await ws.recv() == b"abcd"
            await asyncio.wait_for(await ws.ping(b"x"), 5)
        # cio's server fragments what it sends on /frag
        async with websockets.connect(f"ws://127.0.0.1:{port}/frag", compression=comp) as ws:
            await roundtrip(ws, "y" * 5000)
            await roundtrip(ws, b"z" * 5001)
            await ws.close(4000, "done")
    print("python websockets client: ok", flush=True)


if sys.argv[1] == "server":
    asyncio.run(server())
else:
    asyncio.run(client(int(sys.argv[2])))
