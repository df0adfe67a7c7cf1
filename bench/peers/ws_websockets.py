"""ws_websockets.py PORT [uvloop] - Python websockets peer of bench-ws:
echo on /echo, websockets.broadcast to every /bcast connection;
compression off."""
import asyncio
import sys

import websockets

bcast = set()


async def handler(ws, path=None):
    try:
        await serve_one(ws, path)
    except websockets.ConnectionClosed:
        pass  # the load generator exits without closing


async def serve_one(ws, path):
    # websockets < 13 (Debian's 10.x) has ws.path; the new API ws.request
    path = path or getattr(ws, "path", None) or ws.request.path
    if path == "/bcast":
        bcast.add(ws)
        try:
            async for m in ws:
                websockets.broadcast(bcast, m)
        finally:
            bcast.discard(ws)
    else:
        async for m in ws:
            await ws.send(m)


async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None,
                                ping_interval=None, max_size=None):
        await asyncio.Future()


if len(sys.argv) > 2 and sys.argv[2] == "uvloop":
    import uvloop
    uvloop.install()
try:
    asyncio.run(main())
except websockets.ConnectionClosed:
    pass
