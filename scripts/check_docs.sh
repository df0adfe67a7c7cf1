#!/usr/bin/env bash
# check_docs.sh [SRCDIR] - the docs check that ctest runs as "docs_check".
#
# The headers are the reference (STYLE.md): docs/api/ is generated from
# them by scripts/gen_api_docs.py (`make docs`).  It fails, listing what is
# wrong, if
#   1. a public function (a CIO_EXTERN declaration in include/cio/*.h) has
#      no doc comment: a /* ... */ block ending on the line right above the
#      declaration, or above the first of a group of adjacent declarations
#      (no blank line between them; #define lines and indented continuation
#      lines may sit in the group).  A section ruler such as
#      "/* ---- tasks ---- */" does not count as a doc comment;
#   2. a public header include/cio/X.h has no reference page docs/api/X.md,
#      or docs/api/ is not what gen_api_docs.py makes of the headers now
#      (a page edited by hand, or a header changed without `make docs`):
#      it regenerates into a temporary directory and shows the diff;
#   3. a public function's name appears nowhere in docs/ as a whole word;
#   4. the example in README.md (its first ```c block) is not, line for
#      line, the code of examples/00_readme.c after its opening comment:
#      that example is built and run by `make test`, so the README's code is
#      proven to compile and work;
#   5. an examples/*.c does not open with its comment: "/*" on line 1, a
#      one-line title " * Title: what it shows" on line 2 (what
#      scripts/tour.sh prints for `make run`), " *" on line 3, then, in the
#      comment, the asyncio program it mirrors ("asyncio program") and what
#      to observe ("What to observe");
#   6. docs/asyncio-map.md says something the headers do not: a status other
#      than done / n/a / not provided, an asyncio name with two rows, or a
#      cio name that include/ does not declare (scripts/check_asyncio_map.py
#      says exactly what counts);
#   7. README.md, docs/*.md or a public header names a file the repository
#      does not have: a path under src/, include/, tests/, examples/,
#      scripts/, docs/, bench/ or python/ (relative to the root, or to the
#      page for ../ links), a relative markdown link, or a capitalised
#      page such as DESIGN.md (the project's design notes live outside the
#      repository: cite docs/README.md's sections instead).
# Needs bash, grep, sort, diff, a POSIX awk and /usr/bin/python3 (the
# generator uses its standard library only).
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"

shopt -s nullglob
headers=(include/cio/*.h)
[ ${#headers[@]} -gt 0 ] || { echo "check_docs: no headers under include/cio/" >&2; exit 1; }

# One line per public function: NAME FILE:LINE DOCUMENTED(1|0).
# A declaration may span lines; its name is the identifier before its
# first "(".
scan='
function report(   text, name, ok, i, l) {
    text = decl
    sub(/\(.*/, "", text)
    name = text
    sub(/.*[^A-Za-z0-9_]/, "", name)
    ok = 0
    for (i = start - 1; i >= 1; i--) {
        l = lines[i]
        if (l ~ /\*\/[ \t]*$/) { ok = (l !~ /----/); break }
        if (l ~ /^[ \t]*$/) break
        if (l ~ /^CIO_EXTERN/ || l ~ /^#[ \t]*define/ || l ~ /^[ \t]/) continue
        break
    }
    if (name != "") print name, FILENAME ":" start, ok
}
{ lines[FNR] = $0 }
FNR == 1 { indecl = 0 }
indecl { decl = decl " " $0; if ($0 ~ /[;{]/) { indecl = 0; report() }; next }
/^CIO_EXTERN[ \t]/ {
    decl = $0; start = FNR
    if ($0 ~ /[;{]/) report(); else indecl = 1
}
'
funcs=$(for h in "${headers[@]}"; do awk "$scan" "$h"; done)
[ -n "$funcs" ] || { echo "check_docs: found no CIO_EXTERN declarations" >&2; exit 1; }

fail=0

undocumented=$(awk '$3 == 0 { print "  " $1 "  (" $2 ")" }' <<<"$funcs")
if [ -n "$undocumented" ]; then
    echo "check_docs: public functions without a doc comment right above them:"
    echo "$undocumented"
    fail=1
fi

for h in "${headers[@]}"; do
    page="docs/api/$(basename "$h" .h).md"
    if [ ! -f "$page" ]; then
        echo "check_docs: $h has no reference page $page"
        fail=1
    fi
done

# docs/api/ must be what the generator makes of the headers now.
python=${CIO_PYTHON:-/usr/bin/python3}
gen_tmp=$(mktemp -d)
trap 'rm -rf "$gen_tmp"' EXIT
if ! "$python" scripts/gen_api_docs.py --src . --out "$gen_tmp/api"; then
    echo "check_docs: scripts/gen_api_docs.py failed (with $python)"
    fail=1
elif ! stale=$(diff -ru docs/api "$gen_tmp/api"); then
    echo "check_docs: docs/api/ is stale or was edited by hand: it is generated from include/cio/*.h; run make docs (and edit the header's comments, not the pages). The difference:"
    sed -e "s|$gen_tmp/api|generated|g" -e 's/^/  /' <<<"$stale" | head -n 200 || true
    fail=1
fi

# Every name that docs/ mentions, once, then the public names not among them.
mentioned=$(grep -rhoE '\<cio_[A-Za-z0-9_]+' docs 2>/dev/null | sort -u || true)
missing=$(awk '{ print $1 }' <<<"$funcs" | sort -u | grep -vxF -f <(printf '%s\n' "$mentioned") || true)
if [ -n "$missing" ]; then
    echo "check_docs: public functions that docs/ never mentions:"
    while read -r name; do
        where=$(awk -v n="$name" '$1 == n { print $2; exit }' <<<"$funcs")
        echo "  $name  ($where)"
    done <<<"$missing"
    fail=1
fi

if [ -f README.md ] && [ -f examples/00_readme.c ]; then
    readme_code=$(awk '/^```c$/ { on = 1; next } on && /^```/ { exit } on' README.md)
    example_code=$(awk 'done { print; next } /\*\// { done = 1 }' examples/00_readme.c)
    if [ "$readme_code" != "$example_code" ]; then
        echo "check_docs: README.md's example differs from examples/00_readme.c:"
        diff <(printf '%s\n' "$readme_code") <(printf '%s\n' "$example_code") | sed 's/^/  /' || true
        fail=1
    fi
fi

for ex in examples/*.c; do
    why=""
    l1=$(sed -n 1p "$ex"); l2=$(sed -n 2p "$ex"); l3=$(sed -n 3p "$ex")
    comment=$(awk '{ print } /\*\// { exit }' "$ex")
    if [ "$l1" != "/*" ]; then
        why="line 1 is not \"/*\""
    elif ! [[ $l2 =~ ^\ \*\ [A-Za-z0-9_].*[^,\;:]$ ]] || [[ $l2 == *'*/'* ]]; then
        why="line 2 is not a one-line title \" * Title: what it shows\""
    elif [ "$l3" != " *" ]; then
        why="the title goes on past line 2 (line 3 must be \" *\")"
    elif ! grep -q 'asyncio program' <<<"$comment"; then
        why="its opening comment does not show the asyncio program it mirrors"
    elif ! grep -q 'What to observe' <<<"$comment"; then
        why="its opening comment does not say what to observe"
    fi
    if [ -n "$why" ]; then
        echo "check_docs: $ex: $why"
        fail=1
    fi
done

if ! "$python" scripts/check_asyncio_map.py .; then
    fail=1
fi

# Rule 7: file names that must exist.
for f in README.md docs/*.md include/cio.h include/cio/*.h; do
    [ -f "$f" ] || continue
    dir=$(dirname "$f")
    {
        grep -oE '(\.\./)?\<(src|include|tests|examples|scripts|docs|bench|python)/[A-Za-z0-9_./-]*[A-Za-z0-9_]\.(c|h|S|md|sh|py)\>' "$f" || true
        grep -oE '\]\([^)#:]+\)' "$f" | sed -e 's/^](//' -e 's/)$//' || true
        grep -oE '\<[A-Z][A-Z_]+\.md\>' "$f" || true
    } | sort -u | while read -r ref; do
        [ -e "$ref" ] || [ -e "$dir/$ref" ] || [ -e "${ref#../}" ] ||
            echo "check_docs: $f names $ref, which the repository does not have"
    done
done > "$gen_tmp/refs"
if [ -s "$gen_tmp/refs" ]; then
    cat "$gen_tmp/refs"
    fail=1
fi

total=$(wc -l <<<"$funcs")
if [ "$fail" = 0 ]; then
    echo "check_docs: ok: $total public functions in ${#headers[@]} headers, each with a doc comment and mentioned in docs/; every example opens with a title; the asyncio map agrees with the headers; every file the docs name exists"
fi
exit "$fail"
