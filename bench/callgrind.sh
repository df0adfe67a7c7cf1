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
# Uses the build of bench/run.sh (build-bench/), brought up to date first.
# CALLGRIND_KEEP=1 keeps the .out files in build-bench/callgrind/ for
# callgrind_annotate.
#
# BASE=<git rev> counts the same groups with the programs of revision BASE
# too (checked out and built in a temporary worktree, as make bench-compare
# does; bench/base.sh) and prints base, now and the change.  A group BASE's
# programs lack shows "-".
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD:-build-bench}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not found (scripts/deps.sh bench)" >&2; exit 1; }
bash bench/build.sh . "$build" bench_core bench_sync

builds=("$build")
if [ -n "${BASE:-}" ]; then
    . bench/base.sh
    now=$(now_label)
    base_checkout "$BASE"
    for a in core sync; do
        if [ -f "$BASE_SRC/bench/$a/cio_$a.c" ]; then
            bash bench/build.sh "$BASE_SRC" "$BASE_BUILD" "bench_$a" ||
                echo "callgrind.sh: bench_$a does not build at $BASE_SHORT" >&2
        fi
    done
    builds=("$BASE_BUILD" "$build")
fi

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

# per_op BUILD GROUP: instructions per operation of GROUP with BUILD's
# programs, or "-" when BUILD has no program for it or it fails there.
per_op() {
    local b=$1 g=$2 per=1 prog=bench_core tag n out irs=()
    case "$g" in pingpong_future|raw_switch) per=2 ;; esac
    case "$g" in
        queue_handoff|queue_unbounded|gather_10k|cache_hit) prog=bench_sync ;;
        lock_handoff) prog=bench_sync per=2 ;;
    esac
    [ -x "$b/bench/$prog" ] || { echo "-"; return; }
    tag=$g; [ "$b" = "$build" ] || tag=$g.base
    for n in "$n1" "$n2"; do
        out=$outdir/$tag.$n.out
        if ! valgrind --tool=callgrind --callgrind-out-file="$out" \
                "$b/bench/$prog" "$g" "$n" >/dev/null 2>"$outdir/$tag.$n.log"; then
            echo "callgrind.sh: $g $n failed with $b/bench/$prog, see $outdir/$tag.$n.log" >&2
            echo "-"; return
        fi
        irs+=("$(total_ir "$out")")
    done
    awk -v a="${irs[0]}" -v b="${irs[1]}" -v n1="$n1" -v n2="$n2" -v per="$per" \
        'BEGIN { printf "%.1f\n", (b - a) / ((n2 - n1) * per) }'
}

if [ ${#builds[@]} -eq 1 ]; then
    printf "%-18s %14s  %s\n" "operation" "instructions" "(callgrind, N=$n2-$n1)"
    for g in "${groups[@]}"; do
        v=$(per_op "$build" "$g")
        [ "$v" != "-" ] || exit 1
        printf "%-18s %14s\n" "$g" "$v"
    done
else
    printf "%-18s %14s %14s %8s  %s\n" "operation" "$BASE_SHORT" "$now" "change" \
        "(instructions, callgrind, N=$n2-$n1)"
    for g in "${groups[@]}"; do
        old=$(per_op "$BASE_BUILD" "$g")
        new=$(per_op "$build" "$g")
        awk -v g="$g" -v a="$old" -v b="$new" 'BEGIN {
            c = (a == "-" || b == "-" || a == 0) ? "-" : sprintf("%+.1f%%", (b - a) * 100 / a)
            printf "%-18s %14s %14s %8s\n", g, a, b, c }'
    done
fi
[ -n "${CALLGRIND_KEEP:-}" ] || rm -f "$outdir"/*.out
