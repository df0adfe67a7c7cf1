"""http_aiohttp.py PORT - aiohttp.web on uvloop as a peer of bench-http
(bench/http.py): the same two routes as bench/http/cio_http.c, "/"
answering "Hello, World!" as text/plain and "/json"
{"message":"Hello, World!"} through web.json_response per request.
Access log off."""
import sys

import uvloop
from aiohttp import web


async def hello(request):
    return web.Response(text="Hello, World!")


async def json_route(request):
    return web.json_response({"message": "Hello, World!"})


if __name__ == "__main__":
    uvloop.install()
    app = web.Application()
    app.add_routes([web.get("/", hello), web.get("/json", json_route)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
                print=None)
