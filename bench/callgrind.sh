#!/usr/bin/env bash
# callgrind.sh [GROUP...] - instructions per operation of cio's hot paths,
# counted by valgrind's callgrind (repeatable, unlike timings on a shared
# machine).  Each group runs twice, with N1 and N2 operations; the
# difference of the total instruction counts divided by N2 - N1 is the cost
# of one operation, with setup and teardown cancelled out.
#
# Default groups: yield_roundtrip (per round trip), spawn_join (per task),
# pingpong_future (per switch: the program counts two switches per
# exchange, so the count is divided by 2 * (N2 - N1)).  The groups of
# bench-sync (queue_handoff, queue_unbounded, gather_10k, lock_handoff,
# cache_hit) run bench_sync instead; lock_handoff counts two handoffs per
# iteration, and gather_10k's N is rounded down to whole rounds of 10,000
# (give counts that are multiples of 10,000).
# Uses the build of bench/run.sh (build-bench/), building it if needed.
# CALLGRIND_KEEP=1 keeps the .out files in build-bench/callgrind/ for
# callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD:-build-bench}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not found (scripts/deps.sh bench)" >&2; exit 1; }
if [ ! -x "$build/bench/bench_core" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g \
          -DCIO_BUILD_BENCH=ON -DCIO_BUILD_TESTS=OFF -DCIO_BUILD_EXAMPLES=OFF >/dev/null
fi
cmake --build "$build" -j"${JOBS:-2}" --target bench_core bench_sync >/dev/null

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(yield_roundtrip spawn_join pingpong_future)
n1=${CALLGRIND_N1:-10000}
n2=${CALLGRIND_N2:-60000}
outdir=$build/callgrind
mkdir -p "$outdir"

total_ir() {
    # Sum of Ir over the whole run: the "summary:" (or "totals:") line.
    awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

printf "%-18s %14s  %s\n" "operation" "instructions" "(callgrind, N=$n2-$n1)"
for g in "${groups[@]}"; do
    per=1
    prog=bench_core
    case "$g" in pingpong_future|raw_switch) per=2 ;; esac
    case "$g" in
        queue_handoff|queue_unbounded|gather_10k|cache_hit) prog=bench_sync ;;
        lock_handoff) prog=bench_sync per=2 ;;
    esac
    irs=()
    for n in "$n1" "$n2"; do
        out=$outdir/$g.$n.out
        valgrind --tool=callgrind --callgrind-out-file="$out" \
            "$build/bench/$prog" "$g" "$n" >/dev/null 2>"$outdir/$g.$n.log" || {
            echo "callgrind.sh: $g $n failed, see $outdir/$g.$n.log" >&2; exit 1; }
        irs+=("$(total_ir "$out")")
    done
    awk -v a="${irs[0]}" -v b="${irs[1]}" -v n1="$n1" -v n2="$n2" -v per="$per" -v g="$g" \
        'BEGIN { printf "%-18s %14.1f\n", g, (b - a) / ((n2 - n1) * per) }'
done
[ -n "${CALLGRIND_KEEP:-}" ] || rm -f "$outdir"/*.out
