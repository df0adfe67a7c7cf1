#!/bin/sh
# asan.sh [unittest args] - the extension and its engine built with
# AddressSanitizer (+UBSan; CIO_SANITIZE to change) into python/build/asan/
# (the in-place build of make python is left alone), then run by Debian's
# python3 with libasan preloaded: test_cio_loop.py, test_cio_transport.py,
# test_frameworks.py, test_asgi.py, test_asgi_ws.py, test_asgi_tls.py,
# test_asgi_disconnect.py, test_asgi_frameworks.py and
# the quick conformance subset (or only the unittest names given).
# PYTHONMALLOC=malloc so Python objects come from ASan's allocator too.
# Leak checking is off by default: CPython does not free everything at
# exit (ASAN_OPTIONS=detect_leaks=1 to see it all anyway).
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
san=${CIO_SANITIZE:-address,undefined}
base=$here/build/asan
cd "$here"
CIO_SANITIZE=$san $py setup.py -q build --build-base "$base" --force >"$base.log" 2>&1 ||
    { tail -30 "$base.log"; exit 1; }
lib=$(ls -d "$base"/lib.*)
preload=$(gcc -print-file-name=libasan.so)
case $san in *undefined*) preload="$preload $(gcc -print-file-name=libubsan.so)";; esac
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$here/tests"
export LD_PRELOAD="$preload" PYTHONMALLOC=malloc PYTHONPATH="$lib"
$py -c 'import cio._cio as m, sys; print("asan.sh: testing", m.__file__, file=sys.stderr)'
if [ $# -gt 0 ]; then
    exec $py -X dev -m unittest "$@"
fi
$py -X dev -m unittest test_cio_loop test_cio_transport
$py test_frameworks.py
$py -X dev -m unittest test_asgi test_asgi_ws test_asgi_tls test_asgi_disconnect test_asgi_frameworks
# The conformance workers' stderr is not kept: a sanitizer report aborts
# the worker (halt_on_error, -fno-sanitize-recover) and shows as a crash.
$py conformance.py --quick --loops cio --timeout 120 --min-pass 435
