#!/usr/bin/env bash
# tour.sh BUILD - `make run`: runs each example in turn, under its title
# (the first line of the example's opening comment, which check_docs.sh
# makes sure is a one-line title), then says how many ran and which failed.
set -euo pipefail
build=${1:-build}
# Examples print to stdout and cio reports on stderr; line-buffer stdout so
# the two interleave in order when the tour is piped or logged.
run=()
command -v stdbuf >/dev/null 2>&1 && run=(stdbuf -oL)
ran=0
failed=()
printf 'The cio tour: each example is an asyncio tutorial program in C.\n'
printf 'Read the source next to its output: examples/NAME.c opens with the\n'
printf 'Python program it mirrors and what to observe.\n'
for src in examples/*.c; do
  name=$(basename "$src" .c)
  bin="$build/examples/$name"
  [ -x "$bin" ] || continue
  title=$(sed -n 's/^ \* \(.*\)$/\1/p;/\*\//q' "$src" | head -n 1)
  printf '\n=== %s: %s\n' "$name" "$title"
  ran=$((ran + 1))
  "${run[@]}" "$bin" || failed+=("$name (exit $?)")
done
printf '\n=== %d examples ran' "$ran"
if [ ${#failed[@]} -gt 0 ]; then
  printf '; failed: %s\n' "${failed[*]}"
  exit 1
fi
printf '; the guide is docs/README.md.\n'
