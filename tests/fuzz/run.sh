#!/bin/sh
# run.sh - builds (build.sh) and runs each HTTP parser fuzz target for a
# while, starting from the seeds in seeds/<target>/ plus the corpus kept
# from earlier runs in OUTDIR/corpus/<target>/.
#
#   tests/fuzz/run.sh [SECONDS] [OUTDIR]    (default 60 s each, build-fuzz/)
#
# `make fuzz` runs it for 60 s a target; ctest's fuzz_http_parser for 10 s.
# Exits 77 when libFuzzer is unavailable, non-zero when a target fails (its
# crash input is left in OUTDIR as crash-*; replay with OUTDIR/fuzz_<t> FILE).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-60}
OUT=${2:-$ROOT/build-fuzz}
sh "$ROOT/tests/fuzz/build.sh" "$OUT" || exit $?
for t in request response chunked; do
    corpus="$OUT/corpus/$t"
    mkdir -p "$corpus"
    echo "fuzzing $t for ${SECONDS_EACH}s"
    (cd "$OUT" && "./fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
        -dict="$ROOT/tests/fuzz/http.dict" -print_final_stats=1 \
        "$corpus" "$ROOT/tests/fuzz/seeds/$t" 2>&1 | grep -v -E '^(#[0-9]|"|###|MS: )' || true)
    # libFuzzer's status is lost in the pipe: a failure leaves its input
    for f in "$OUT"/crash-* "$OUT"/leak-* "$OUT"/timeout-* "$OUT"/oom-*; do
        if [ -e "$f" ]; then
            echo "fuzz_$t failed: replay with $OUT/fuzz_$t $f"
            exit 1
        fi
    done
done
echo "fuzzing: no failures"
