"""http_uvicorn.py PORT - uvicorn as a peer of bench-http (bench/http.py):
a raw ASGI application (no framework) with the same two routes as
bench/http/cio_http.c, "/" answering "Hello, World!" as text/plain and
"/json" {"message":"Hello, World!"} serialised with json.dumps per
request.  One worker on uvloop with the httptools parser (the fastest
uvicorn Debian packages), access log off."""
import json
import sys

import uvicorn

HELLO_HEAD = {"type": "http.response.start", "status": 200,
              "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]}
HELLO_BODY = {"type": "http.response.body", "body": b"Hello, World!"}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/":
        await send(HELLO_HEAD)
        await send(HELLO_BODY)
    elif path == "/json":
        body = json.dumps({"message": "Hello, World!"}, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                workers=1, access_log=False, log_level="warning", lifespan="off")
