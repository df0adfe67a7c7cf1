#!/bin/sh
# asgi.sh - the ctest entry python_asgi: cio.serve_asgi (cio's C HTTP
# server running ASGI 3 applications) with raw ASGI apps (test_asgi.py),
# raw ASGI WebSocket apps on cio's WebSocket server (test_asgi_ws.py, its
# cases skipped without python3-websockets), HTTPS and WSS (test_asgi_tls.py,
# skipped without the openssl command), http.disconnect reaching apps that
# still work when the client leaves (test_asgi_disconnect.py), then
# Starlette and FastAPI apps, HTTP and WebSocket (test_asgi_frameworks.py).
# Skipped (77) when
# the extension is not built (make python), without Debian's python3, or
# when python3-starlette / python3-fastapi / python3-websockets is missing
# (after the raw tests passed); a failure is exit 1.
here=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[ -x $py ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
if ! ls "$here"/cio/_cio*.so >/dev/null 2>&1; then
    echo "skipped: the extension is not built (run: make python)"; exit 77
fi
PYTHONPATH=$here $py -c 'import cio._cio' || exit 1
cd "$here/tests" || exit 1
PYTHONPATH=$here:$here/tests $py -m unittest -v test_asgi test_asgi_ws test_asgi_tls test_asgi_disconnect || exit 1
PYTHONPATH=$here:$here/tests exec $py test_asgi_frameworks.py
