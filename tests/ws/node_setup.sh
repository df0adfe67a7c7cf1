#!/bin/sh
# node_setup.sh DIR PACKAGE... - makes sure the npm packages are installed
# under DIR/node_modules (npm install --prefix DIR), for the WebSocket
# interop and browser tests.  Exit 0 when they are there; 77 (skip) when
# node or npm is missing or the registry cannot be reached.
#
# Tests run in parallel (the same test on two backends), so the check and
# the install hold a lock on DIR, and a package counts as there only once
# its install finished (a marker file), never half unpacked.
dir=$1
shift
command -v node >/dev/null 2>&1 || { echo "node_setup: no node"; exit 77; }
mkdir -p "$dir"
exec 9>"$dir/.lock"
command -v flock >/dev/null 2>&1 && flock 9
missing=
for p in "$@"; do
    name=${p%@*}
    [ -f "$dir/.installed-$name" ] && [ -d "$dir/node_modules/$name" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "node_setup: no npm"; exit 77; }
if ! timeout 300 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error $missing >"$dir/npm.log" 2>&1; then
    echo "node_setup: npm install$missing failed (registry unreachable?), see $dir/npm.log"
    exit 77
fi
for p in $missing; do
    touch "$dir/.installed-${p%@*}"
done
exit 0
