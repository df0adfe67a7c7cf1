#!/usr/bin/env bash
# tour.sh BUILD - `make run`: runs each example in turn, with a title.
set -euo pipefail
build=${1:-build}
for src in examples/*.c; do
  name=$(basename "$src" .c)
  bin="$build/examples/$name"
  [ -x "$bin" ] || continue
  title=$(sed -n 's/^ \* \(.*\)$/\1/p;/\*\//q' "$src" | head -n 1)
  printf '\n=== %s: %s\n' "$name" "$title"
  "$bin"
done
