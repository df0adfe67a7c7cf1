#!/bin/sh
# build.sh - builds the HTTP parser's libFuzzer targets (fuzz_*.c here)
# with clang -fsanitize=fuzzer,address,undefined, straight from the
# sources (src/http/*.c): no CMake needed.
#
#   tests/fuzz/build.sh [OUTDIR]      (default: build-fuzz/ in the checkout)
#
# Exits 77 ("skipped", as ctest counts it) when $CC (default clang) cannot
# link libFuzzer, so a machine without it skips instead of failing.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build-fuzz}
CC=${CC:-clang}
mkdir -p "$OUT"

probe="$OUT/probe.c"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe" -o "$OUT/probe" >/dev/null 2>&1; then
    echo "skipped: $CC cannot link libFuzzer (install clang)"
    exit 77
fi

CFLAGS="-std=gnu11 -g -O1 -Wall -Wextra -Wshadow -fsanitize=fuzzer,address,undefined \
-fno-sanitize-recover=all -fno-omit-frame-pointer -I$ROOT/include -I$ROOT/src"
for t in request response chunked; do
    src="$ROOT/tests/fuzz/fuzz_$t.c"
    bin="$OUT/fuzz_$t"
    # rebuild only when a source is newer than the binary
    if [ -x "$bin" ] && [ -z "$(find "$src" "$ROOT/tests/fuzz/fuzz_common.h" "$ROOT/tests/http_driver.h" \
            "$ROOT/src/http" -newer "$bin" 2>/dev/null)" ]; then
        continue
    fi
    echo "building $bin"
    # shellcheck disable=SC2086
    # the parser alone: the server files need the whole library
    "$CC" $CFLAGS "$src" "$ROOT"/src/http/parser.c "$ROOT"/src/http/body.c \
        "$ROOT"/src/http/chars.c -o "$bin"
done
