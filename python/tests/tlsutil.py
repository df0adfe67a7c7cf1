"""tlsutil.py - what the loop and transport tests share for TLS: CPython's
test certificate (Debian's libpython3.11-testsuite), a server context
with it and a client context that trusts anything, and a line-echo
handler for asyncio.start_server."""
import os
import ssl

CERT = '/usr/lib/python3.11/test/keycert.pem'
HAVE_CERT = os.path.exists(CERT)


def contexts():
    """(server context with CERT, client context that verifies nothing)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(CERT)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    return sctx, cctx


async def echo_line(r, w):
    """Echoes one line, then closes."""
    w.write(await r.readline())
    await w.drain()
    w.close()
