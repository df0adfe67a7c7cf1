#!/usr/bin/env bash
# callgrind_net.sh [MODE...] - user-space instructions per echoed message of
# bench-net's cio server (bench/net/cio_net.c), counted by callgrind, which
# is repeatable where timings on a shared machine are not.  MODE: sock,
# streams, transport (default: all three).
#
# The server runs under callgrind; its counters are zeroed once it is up
# (startup not counted), bench_loadgen drives CONNS connections of 64-byte
# messages for SECONDS, then the counters are dumped and divided by the
# messages echoed.  Kernel work (the syscalls themselves) is not counted:
# strace -c -f on a short run gives the syscalls per message.
#
# Environment: CONNS (10), SECONDS (3), BENCH_BUILD (build-bench), and
# BASE=<git rev> to count revision BASE's server too (bench/base.sh), with
# the current load generator driving both.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD:-build-bench}
conns=${CONNS:-10}
secs=${SECONDS_RUN:-3}
command -v valgrind >/dev/null || { echo "callgrind_net.sh: valgrind not found" >&2; exit 1; }
bash bench/build.sh . "$build" bench_net bench_loadgen
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(sock streams transport)
loadgen=$PWD/$build/bench/bench_loadgen

builds=("$PWD/$build")
if [ -n "${BASE:-}" ]; then
    . bench/base.sh
    base_checkout "$BASE"
    bash bench/build.sh "$BASE_SRC" "$BASE_BUILD" bench_net
    builds=("$BASE_BUILD" "$PWD/$build")
fi

# count BUILD MODE: prints instructions per message, or "-".
count() {
    local b=$1 mode=$2 port out vpid res msgs f ir
    port=$((20000 + RANDOM % 20000))
    out=$(mktemp -u /tmp/cio-cgnet.XXXXXX)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$b/bench/bench_net" "$port" "$mode" \
        >/dev/null 2>&1 &
    vpid=$!
    sleep 2
    callgrind_control -z "$vpid" >/dev/null 2>&1 || true
    res=$("$loadgen" 127.0.0.1 "$port" "$conns" 64 "$secs" 0 2>/dev/null || true)
    callgrind_control -d "$vpid" >/dev/null 2>&1 || true
    sleep 1
    kill -9 "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
    msgs=$(printf '%s' "$res" | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["msgs"])
except Exception: print(0)')
    f=$(ls -t "$out"* 2>/dev/null | head -1 || true)
    ir=$([ -n "$f" ] && callgrind_annotate "$f" 2>/dev/null |
         awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' || true)
    rm -f "$out"*
    if [ -z "$ir" ] || [ "$msgs" = 0 ]; then echo "-"; return; fi
    awk -v a="$ir" -v m="$msgs" 'BEGIN { printf "%.1f\n", a / m }'
}

if [ ${#builds[@]} -eq 1 ]; then
    printf "%-10s %14s  %s\n" "server" "instr/msg" "(callgrind, $conns conns x 64 B, ${secs}s)"
    for m in "${modes[@]}"; do
        printf "%-10s %14s\n" "$m" "$(count "${builds[0]}" "$m")"
    done
else
    printf "%-10s %12s %12s %8s  %s\n" "server" "$BASE_SHORT" "now" "change" "(instr/msg, callgrind)"
    for m in "${modes[@]}"; do
        a=$(count "${builds[0]}" "$m"); b=$(count "${builds[1]}" "$m")
        c=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "-" || b == "-" || a == 0) print "-";
                                             else printf "%+.1f%%", (b - a) / a * 100 }')
        printf "%-10s %12s %12s %8s\n" "$m" "$a" "$b" "$c"
    done
fi
