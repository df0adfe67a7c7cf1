#!/usr/bin/env bash
# check_layers.sh [SRCDIR] - the layering check that ctest runs as
# "layers_check" (DESIGN.md section 1).
#
# The library's folders are layers, bottom to top:
#   util coro loop io task sync exec net http ws pg
# (sync and exec both sit on task; exec is below net).  A source file may
# include headers of its own layer and of layers below it, never of a layer
# above: the loop knows no tasks, the I/O layer no sockets, a protocol no
# loop internals.  A protocol folder (http, ws, pg) may include only util
# among the internal folders, and otherwise the public headers (cio/*.h).
#
# Fails, listing each offending #include, if a file under src/ includes
# "../<folder>/..." of a higher layer, or a protocol reaches into
# loop/io/task/sync/exec/net internals.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"

order=(util coro loop io task sync exec net http ws pg python)
rank() {
    local i
    for i in "${!order[@]}"; do
        [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo -1
}
# sync and exec are siblings over task: neither may include the other.
sibling() { [ "$1:$2" = "sync:exec" ] || [ "$1:$2" = "exec:sync" ]; }
protocol() { case "$1" in http|ws|pg) return 0 ;; *) return 1 ;; esac; }

bad=0
while IFS= read -r f; do
    layer=$(printf '%s' "$f" | cut -d/ -f2)
    r=$(rank "$layer")
    [ "$r" -ge 0 ] || continue
    while IFS= read -r line; do
        inc=$(printf '%s' "$line" | sed -E 's/.*"\.\.\/([a-z_]+)\/.*/\1/')
        ir=$(rank "$inc")
        if [ "$ir" -gt "$r" ] || sibling "$layer" "$inc" ||
           { protocol "$layer" && [ "$inc" != util ] && [ "$inc" != "$layer" ]; }; then
            echo "layers: $f includes ../$inc/ ($layer may not depend on $inc)"
            bad=1
        fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"\.\./[a-z_]+/' "$f" || true)
done < <(find src -name '*.[ch]' | sort)

if [ "$bad" -ne 0 ]; then
    echo "layers_check: FAILED (see DESIGN.md section 1)"
    exit 1
fi
echo "layers_check: ok"
