#!/usr/bin/env bash
# tour.sh BUILD - `make run`: runs each example in turn, with a title.
set -euo pipefail
build=${1:-build}
# Examples print to stdout and cio reports on stderr; line-buffer stdout so
# the two interleave in order when the tour is piped or logged.
run=()
command -v stdbuf >/dev/null 2>&1 && run=(stdbuf -oL)
for src in examples/*.c; do
  name=$(basename "$src" .c)
  bin="$build/examples/$name"
  [ -x "$bin" ] || continue
  title=$(sed -n 's/^ \* \(.*\)$/\1/p;/\*\//q' "$src" | head -n 1)
  printf '\n=== %s: %s\n' "$name" "$title"
  "${run[@]}" "$bin"
done
