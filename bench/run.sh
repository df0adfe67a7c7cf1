#!/usr/bin/env bash
# run.sh AREA - builds and runs one area of benchmarks (make bench-AREA), or
# every area with AREA "all" (make bench).
#
#   1. configures a release build in build-bench/ with -DCIO_BUILD_BENCH=ON
#      and builds cio's bench programs and the C peers (bench/CMakeLists.txt);
#   2. builds the Go peers of the area (bench/peers/AREA_*.go), if go exists;
#   3. runs bench/lib.py AREA, which reads bench/AREA.py, runs every
#      contender pinned to one core, appends the medians to
#      build/bench/results.jsonl and prints the table.
#
# A new area is three files: bench/AREA.py (the list of benchmarks),
# bench/AREA/cio_AREA.c (cio's side) and its peers under bench/peers/.
# Environment: BENCH_BUILD (build dir), BENCH_CPU, BENCH_RUNS, BENCH_ONLY
# (see bench/lib.py).
set -euo pipefail
cd "$(dirname "$0")/.."
area=${1:?usage: bench/run.sh AREA|all}
build=${BENCH_BUILD:-build-bench}
export BENCH_BUILD=$PWD/$build

if [ "$area" = all ]; then
    areas=()
    # An area is bench/<area>.py with its folder bench/<area>/ (lib.py,
    # compare.py and report.py are tools, not areas).
    for f in bench/*.py; do
        a=$(basename "$f" .py)
        [ ! -d "bench/$a" ] || areas+=("$a")
    done
else
    [ -f "bench/$area.py" ] && [ -d "bench/$area" ] || { echo "run.sh: no benchmarks for '$area' (bench/$area.py)" >&2; exit 2; }
    areas=("$area")
fi

bash bench/build.sh . "$build"

mkdir -p "$build/bench/peers"
for a in "${areas[@]}"; do
    for src in bench/peers/"$a"_*.go; do
        [ -e "$src" ] || continue
        if command -v go >/dev/null 2>&1; then
            out=$build/bench/peers/$(basename "$src" .go)
            # Go caches builds in $HOME; the build dir serves without one.
            gocache=${GOCACHE:-}
            [ -n "$gocache" ] || { [ -n "${HOME:-}" ] && gocache=$HOME/.cache/go-build; } ||
                gocache=$PWD/$build/go-cache
            # A peer importing a library (bench-ws's gorilla/websocket)
            # builds in GOPATH mode against Debian's golang-*-dev sources:
            # no module download.
            if grep -q '"github.com/' "$src"; then
                GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$gocache go build -o "$out" "$src"
            else
                GOCACHE=$gocache go build -o "$out" "$src"
            fi
        else
            echo "run.sh: go not found, skipping $src (scripts/deps.sh bench installs it)" >&2
        fi
    done
done

for a in "${areas[@]}"; do
    echo "== bench-$a ($(date -u +%H:%M:%S) UTC, pinned to cpu ${BENCH_CPU:-$(( $(nproc) - 1 ))}) ==" >&2
    /usr/bin/python3 bench/lib.py "$a"
done
