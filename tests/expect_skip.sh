#!/bin/sh
# expect_skip.sh - the skip paths of the tests that need Python: each test
# binary given runs with CIO_TEST_PYTHON pointing at a missing interpreter
# and must exit 77 (skipped) having printed "skipped:" and the reason.  A
# test that prints "skipped" and exits 0 passes without having tested
# anything; this check fails then.  ctest: python_skip_check.
status=0
for bin in "$@"; do
    out=$(CIO_TEST_PYTHON=/nonexistent/python3 "$bin" 2>&1)
    rc=$?
    name=$(basename "$bin")
    if [ "$rc" -ne 77 ]; then
        echo "FAIL $name: exit $rc without python, wanted 77 (skipped)"
        echo "$out" | tail -n 20
        status=1
    elif ! echo "$out" | grep -q "^skipped: .*nonexistent/python3\|^skipped: .*python"; then
        echo "FAIL $name: exit 77 but no \"skipped: <reason>\" line naming python"
        echo "$out" | tail -n 20
        status=1
    else
        echo "ok   $name: $(echo "$out" | grep -m1 '^skipped:')"
    fi
done
exit $status
