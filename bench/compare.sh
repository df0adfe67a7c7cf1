#!/usr/bin/env bash
# compare.sh BASE [AREA...] - cio at revision BASE against the current tree,
# benchmark by benchmark (make bench-compare BASE=<rev> AREAS="core sync").
#
#   1. checks BASE out in a temporary git worktree outside the tree
#      (bench/base.sh; removed when this script ends) and builds there, with
#      bench/build.sh's flags, the cio program of each AREA
#      (bench/<area>/cio_<area>.c as bench_<area>).  An area whose program
#      does not exist at BASE, or does not build there, is skipped, saying so;
#   2. builds the same programs of the current tree in build-bench/;
#   3. runs bench/compare.py AREA for each area: the area's benchmarks as
#      today's bench/<area>.py lists them, with the two builds of every cio
#      contender ("cio@<BASE>" and "cio", and "cio-streams@<BASE>" ... in
#      bench-net) alternating, pinned, medians of each benchmark's runs; it
#      prints a table of the change and appends to build/bench/compare.jsonl.
#
# Default areas: every bench/<area>.py.  BASE's programs must take today's
# command line (group names, the net server's arguments); a group a BASE
# program does not know fails and shows as "-".  Peers are not run.
# Environment: as bench/run.sh (BENCH_RUNS, BENCH_ONLY, BENCH_CPU,
# BENCH_BUILD), plus BENCH_THRESHOLD (percent, default 5) and
# BENCH_COMPARE (the JSON-lines file).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-}
[ -n "$base" ] || { echo "usage: bench/compare.sh BASE [AREA...]  (make bench-compare BASE=<rev> [AREAS=...])" >&2; exit 2; }
shift
areas=("$@")
if [ ${#areas[@]} -eq 0 ]; then
    for f in bench/*.py; do
        a=$(basename "$f" .py)
        [ ! -d "bench/$a" ] || areas+=("$a")      # as in run.sh
    done
fi
for a in "${areas[@]}"; do
    [ -f "bench/$a.py" ] && [ -d "bench/$a" ] || { echo "compare.sh: no benchmarks for '$a' (bench/$a.py)" >&2; exit 2; }
done

build=${BENCH_BUILD:-build-bench}
export BENCH_BUILD=$PWD/$build
. bench/base.sh
now=$(now_label)
base_checkout "$base"
echo "== bench-compare: cio@$BASE_SHORT (temporary worktree $BASE_SRC) against cio@$now ==" >&2

# BASE first: its areas decide what the current tree needs to build.
kept=()
for a in "${areas[@]}"; do
    if [ ! -f "$BASE_SRC/bench/$a/cio_$a.c" ]; then
        echo "compare.sh: bench-$a skipped: bench/$a/cio_$a.c does not exist at $BASE_SHORT" >&2
        continue
    fi
    echo "  building bench_$a at $BASE_SHORT ..." >&2
    if bash bench/build.sh "$BASE_SRC" "$BASE_BUILD" "bench_$a"; then
        kept+=("$a")
    else
        echo "compare.sh: bench-$a skipped: bench_$a does not build at $BASE_SHORT" >&2
    fi
done
[ ${#kept[@]} -gt 0 ] || { echo "compare.sh: nothing to compare" >&2; exit 1; }

targets=()
for a in "${kept[@]}"; do
    targets+=("bench_$a")
    # bench-net's and bench-ws's load generators: the current one drives
    # both servers.
    [ "$a" != net ] || targets+=(bench_loadgen)
    [ "$a" != ws ] || targets+=(bench_ws_loadgen)
done
echo "  building ${targets[*]} at $now ..." >&2
bash bench/build.sh . "$build" "${targets[@]}"

for a in "${kept[@]}"; do
    echo "== bench-$a: cio@$BASE_SHORT vs cio@$now ($(date -u +%H:%M:%S) UTC, pinned to cpu ${BENCH_CPU:-$(( $(nproc) - 1 ))}) ==" >&2
    /usr/bin/python3 bench/compare.py "$a" "$BASE_BUILD" "$BASE_SHORT" "$BASE_REV" "$now"
done
