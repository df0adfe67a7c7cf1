"""bench-net peer: TCP echo server on asyncio or uvloop, protocol or streams.

    echo_asyncio.py PORT {protocol|streams} {asyncio|uvloop}
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def main(port, mode):
    loop = asyncio.get_running_loop()
    if mode == "protocol":
        server = await loop.create_server(Echo, "127.0.0.1", port, backlog=4096)
    else:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    port, mode, flavour = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if flavour == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(port, mode))
