"""http_client_aiohttp.py URL N C - aiohttp's client on uvloop as a peer of
bench-http's client benchmark (bench/http/drive_client.py): N GETs of URL
with C in flight (C tasks sharing one ClientSession, connector limit C,
each taking the next request until N are done), after a warm-up of C
requests that opens the connections.  Prints one JSON line like
bench/http_client/cio_http_client.c: requests/s and the process's own CPU
(getrusage) per request over the measured run."""
import asyncio
import json
import resource
import sys
import time

import aiohttp
import uvloop


def cpu_now():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run(session, url, total, conc):
    state = {"next": 0, "errors": 0}

    async def worker():
        while state["next"] < total:
            state["next"] += 1
            try:
                async with session.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        state["errors"] += 1
            except aiohttp.ClientError:
                state["errors"] += 1

    await asyncio.gather(*(worker() for _ in range(conc)))
    return state["errors"]


async def main(url, total, conc):
    conn = aiohttp.TCPConnector(limit=conc, limit_per_host=conc)
    async with aiohttp.ClientSession(connector=conn, auto_decompress=False) as session:
        await run(session, url, conc, conc)
        w0, c0 = time.monotonic(), cpu_now()
        errors = await run(session, url, total, conc)
        secs, cpu = time.monotonic() - w0, cpu_now() - c0
    print(json.dumps({"bench": "http_client_get", "client": "aiohttp", "requests": total,
                      "concurrency": conc, "rps": round(total / secs),
                      "cpu_us_per_req": round(cpu * 1e6 / total, 2), "errors": errors}))


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
