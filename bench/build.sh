#!/usr/bin/env bash
# build.sh SRC BUILD [TARGET...] - the benchmark build of one source tree:
# configures SRC into BUILD as a release build with -g (what perf and
# callgrind read) and -DCIO_BUILD_BENCH=ON, then builds TARGETs (every
# target when none is given).  Shared by run.sh, compare.sh (which builds a
# second tree, an older revision) and callgrind.sh, so all of them measure
# the same kind of build.  The output goes to BUILD/bench-build.log; on a
# failure its tail is printed and the exit status is 1.
set -euo pipefail
src=${1:?usage: bench/build.sh SRC BUILD [TARGET...]}
build=${2:?usage: bench/build.sh SRC BUILD [TARGET...]}
shift 2
targets=()
for t in "$@"; do targets+=(--target "$t"); done

mkdir -p "$build"
log=$build/bench-build.log
if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g \
             -DCIO_BUILD_BENCH=ON -DCIO_BUILD_TESTS=OFF -DCIO_BUILD_EXAMPLES=OFF &&
       cmake --build "$build" -j"${JOBS:-2}" "${targets[@]}"; } >"$log" 2>&1; then
    tail -30 "$log" >&2
    echo "build.sh: build of $src failed, full log in $log" >&2
    exit 1
fi
