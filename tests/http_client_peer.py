# http_client_peer.py - the HTTP server that tests/test_http_client.c
# talks to: plain asyncio streams writing HTTP/1.1 by hand, so each case
# controls the exact bytes (chunked framing, gzip, a close in the middle
# of a body, slow answers).  Prints its two ports on its first line
# ("A B": B is a second origin for cross-origin redirects), then serves
# until stdin closes or /quit is asked.
#
# Paths: /hello, /chunked, /close (close-delimited), /gzip, /deflate,
# /rawdeflate, /redirect/N, /to-other (redirect to the other port),
# /r/<code> (a redirect of that code to /echo), /echo (method, headers
# and body back as text), /slow/<s> (head after s seconds),
# /slowbody/<s> (half the body, then s seconds), /cut (a body cut short),
# /reset (a reset in the body), /conns (connections accepted so far),
# /big/<n> (n bytes), /204, /noka (Connection: close), /json,
# /idleclose (keep-alive answer, then the server closes the idle
# connection at once).
import asyncio
import gzip
import sys
import zlib

conns = 0


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    hd = {k.lower(): v for k, v in headers}
    body = b""
    if "content-length" in hd:
        body = await reader.readexactly(int(hd["content-length"]))
    elif hd.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    return method, target, headers, hd, body


def resp(status, body=b"", headers=(), reason="OK"):
    h = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


async def handle(reader, writer, other_port):
    global conns
    conns += 1
    try:
        while True:
            try:
                method, target, headers, hd, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            w = writer.write
            if target == "/hello":
                if method == "HEAD":
                    w(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
                else:
                    w(resp(200, b"hello", [("Content-Type", "text/plain")]))
            elif target == "/chunked":
                w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for part in (b"chunk-one ", b"chunk-two ", b"x" * 5000):
                    w(b"%x\r\n%s\r\n" % (len(part), part))
                    await writer.drain()
                    await asyncio.sleep(0.01)
                w(b"0\r\nX-Trailer: yes\r\n\r\n")
            elif target == "/close":
                w(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                await writer.drain()
                writer.close()
                return
            elif target in ("/gzip", "/deflate", "/rawdeflate"):
                data = b"compressed " * 2000
                if target == "/gzip":
                    z, ce = gzip.compress(data), "gzip"
                elif target == "/deflate":
                    z, ce = zlib.compress(data), "deflate"
                else:
                    c = zlib.compressobj(wbits=-15)
                    z, ce = c.compress(data) + c.flush(), "deflate"
                w(resp(200, z, [("Content-Encoding", ce), ("X-Accept-Encoding", hd.get("accept-encoding", ""))]))
            elif target.startswith("/redirect/"):
                n = int(target.rsplit("/", 1)[1])
                if n == 0:
                    w(resp(200, b"done"))
                else:
                    w(resp(302, b"moving", [("Location", "/redirect/%d" % (n - 1))]))
            elif target == "/to-other":
                w(resp(302, b"", [("Location", "http://127.0.0.1:%d/echo" % other_port)]))
            elif target.startswith("/r/"):
                code = int(target[3:])
                w(resp(code, b"see echo", [("Location", "../echo")]))
            elif target == "/echo":
                text = "%s %s\n" % (method, len(body))
                for k, v in headers:
                    text += "%s: %s\n" % (k.lower(), v)
                text += "\n"
                w(resp(200, text.encode() + body))
            elif target.startswith("/slow/"):
                await asyncio.sleep(float(target[6:]))
                w(resp(200, b"late"))
            elif target.startswith("/slowbody/"):
                w(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf-")
                await writer.drain()
                await asyncio.sleep(float(target[10:]))
                w(b"done!")
            elif target == "/cut":
                w(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
                await writer.drain()
                writer.close()
                return
            elif target == "/cutchunked":
                w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n")
                await writer.drain()
                writer.close()
                return
            elif target == "/reset":
                w(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial")
                await writer.drain()
                sock = writer.get_extra_info("socket")
                import socket, struct
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            elif target == "/conns":
                w(resp(200, str(conns).encode()))
            elif target.startswith("/big/"):
                n = int(target[5:])
                w(resp(200, b"b" * n))
            elif target == "/204":
                w(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif target == "/noka":
                w(resp(200, b"bye", [("Connection", "close")]))
                await writer.drain()
                writer.close()
                return
            elif target == "/idleclose":
                w(resp(200, b"then closed"))
                await writer.drain()
                writer.close()
                return
            elif target == "/json":
                w(resp(200, b'{"got": %s}' % body, [("Content-Type", "application/json; charset=utf-8"),
                                                    ("X-Content-Type", hd.get("content-type", ""))]))
            elif target == "/quit":
                w(resp(200, b"bye"))
                await writer.drain()
                asyncio.get_running_loop().stop()
                return
            else:
                w(resp(404, b"not found", reason="Not Found"))
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main():
    ports = [0, 0]
    servers = []
    for i in range(2):
        srv = await asyncio.start_server(lambda r, w, i=i: handle(r, w, ports[1 - i]), "127.0.0.1", 0)
        ports[i] = srv.sockets[0].getsockname()[1]
        servers.append(srv)
    print(ports[0], ports[1], flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    await done


try:
    asyncio.run(main())
except RuntimeError:
    pass  # /quit stopped the loop
