#!/bin/sh
# frameworks.sh - the ctest entry python_frameworks: uvicorn (ASGI and
# FastAPI), aiohttp, Tornado, websockets, asyncpg and aiopg, unchanged, on
# the cio loop (test_frameworks.py, test_frameworks_pg.py).  Skipped (77) when the extension is not built (make
# python), without Debian's python3, or when a framework's package is
# missing (test_frameworks.py says which); a failure is exit 1.
here=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[ -x $py ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
if ! ls "$here"/cio/_cio*.so >/dev/null 2>&1; then
    echo "skipped: the extension is not built (run: make python)"; exit 77
fi
PYTHONPATH=$here $py -c 'import cio._cio' || exit 1
exec $py "$here/tests/test_frameworks.py" -v
