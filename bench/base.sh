# base.sh - sourced by compare.sh and callgrind.sh: checks an older revision
# out, to build and measure it next to the current tree.
#
# base_checkout REV  resolves REV, adds a detached git worktree of it in a
#                    new temporary directory outside the tree, and sets
#                    BASE_REV (full hash), BASE_SHORT, BASE_SRC (its sources)
#                    and BASE_BUILD (a build directory beside them).  On exit,
#                    even after an error or ^C, the worktree is removed from
#                    git's list and the directory deleted.
# now_label          the current tree's short hash, with "+" when tracked
#                    files differ from it (the tree measured is not HEAD).

base_cleanup() {
    if [ -n "${BASE_SRC:-}" ]; then
        git worktree remove --force "$BASE_SRC" >/dev/null 2>&1 || true
    fi
    [ -z "${BASE_TMP:-}" ] || rm -rf "$BASE_TMP"
    git worktree prune >/dev/null 2>&1 || true
}

base_checkout() {
    local rev=$1
    BASE_REV=$(git rev-parse --verify --quiet "$rev^{commit}") ||
        { echo "$(basename "$0"): '$rev' is not a revision of this repository" >&2; exit 2; }
    BASE_SHORT=$(git rev-parse --short "$BASE_REV")
    BASE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cio-bench-base.XXXXXX")
    # An INT or TERM exits through the EXIT trap, so the cleanup runs once.
    trap base_cleanup EXIT
    trap 'exit 130' INT TERM
    BASE_SRC=$BASE_TMP/src
    BASE_BUILD=$BASE_TMP/build
    git worktree add --detach --quiet "$BASE_SRC" "$BASE_REV"
}

now_label() {
    local h
    h=$(git rev-parse --short HEAD)
    git diff --quiet HEAD -- 2>/dev/null || h="$h+"
    echo "$h"
}
