#!/bin/sh
# run.sh - the Python extension's ctest entry (python_loop): its own tests
# (the loop, and the C API with the example extension python/examples/cdemo),
# then a quick conformance subset of CPython's test_asyncio on the cio loop
# (all must pass, no hang).  Needs the extension built in place (make
# python); skipped (77) when it is not, or without Debian's python3.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[ -x $py ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
if ! ls "$here"/cio/_cio*.so >/dev/null 2>&1; then
    echo "skipped: the extension is not built (run: make python)"; exit 77
fi
# Built but not importable (a library missing from its link, say) is a
# failure, never a skip.
PYTHONPATH=$here $py -c 'import cio._cio'
PYTHONPATH=$here:$here/tests $py -m unittest test_cio_loop
# The C socket transport against asyncio's selector transport's behaviour.
PYTHONPATH=$here:$here/tests $py -m unittest test_cio_transport
# The C API for other extensions: builds python/examples/cdemo against it.
PYTHONPATH=$here:$here/tests $py -m unittest test_c_api
# The capsule's engine table lists every public function.
$py "$here/tools/gen_engine_table.py" --check
if [ -d /usr/lib/python3.11/test/test_asyncio ]; then
    # test_events' mixins 73 + futures 155 + locks 70 + queues 44 +
    # timeouts 22 + taskgroups 30 + waitfor 15 + runners 26 = 435, all pass on cio.
    $py "$here/tests/conformance.py" --quick --loops cio --timeout 60 --min-pass 435
else
    # The extension's own tests passed, but not everything ran: a partial
    # run is reported as skipped (77), never as passed.
    echo "skipped: conformance subset not run: no /usr/lib/python3.11/test/test_asyncio (install libpython3.11-testsuite)"
    exit 77
fi
