#!/bin/sh
# abi.sh - libcio.so's exported symbols, derived from the public headers.
#
# The public API is what include/cio.h and include/cio/*.h declare
# CIO_EXTERN (STYLE.md, "Public headers").  CMake runs "map" at build time
# to write the linker version script, so a new public function is exported
# without a hand edit; ctest runs "check" ("abi_check") on the built
# libraries.
#
#   abi.sh names HEADER...
#       the public names, one a line, sorted
#   abi.sh map OUT HEADER...
#       writes the version script OUT: node CIO_1.0 exporting those names,
#       "local: *" for everything else
#   abi.sh check NM READELF LIBCIO_SO LIBCIO_A HEADER...
#       fails, listing the names, unless the dynamic symbols libcio.so
#       defines are exactly the headers' names, each at version CIO_1.0.
#       The headers' names are also compared with the symbols the compiler
#       gave default visibility in libcio.a (CIO_EXTERN under
#       -fvisibility=hidden): an independent reading of the same
#       declarations, so a declaration this script fails to parse is
#       caught rather than silently left out of both the map and the check.
#
# Declarations are read after removing comments and preprocessor lines; a
# declaration runs from CIO_EXTERN to its ";".  Function names (including
# functions returning function pointers) and data names are recognised; a
# name not starting with cio_ is an error, as public names all do.
set -eu

VERSION_NODE=CIO_1.0

die() { echo "abi.sh: $*" >&2; exit 2; }

# The public names declared in the headers given, sorted, unique.
names() {
    [ $# -gt 0 ] || die "no headers given"
    awk '
    # Removes comments from one line; "incomment" carries a /* ... */
    # across lines.
    function strip(s,    out, i, j) {
        out = ""
        while (s != "") {
            if (incomment) {
                i = index(s, "*/")
                if (!i) return out
                s = substr(s, i + 2); incomment = 0
            } else {
                i = index(s, "/*"); j = index(s, "//")
                if (j && (!i || j < i)) return out substr(s, 1, j - 1)
                if (!i) return out s
                out = out substr(s, 1, i - 1) " "
                s = substr(s, i + 2); incomment = 1
            }
        }
        return out
    }
    # The declared name of one whole declaration (from CIO_EXTERN to ";").
    function declared(d,    name) {
        sub(/^[ \t]*CIO_EXTERN[ \t]+/, "", d)
        gsub(/CIO_[A-Z0-9_]+[ \t]*\([^()]*\)/, " ", d)   # CIO_PRINTF(1, 2) ...
        gsub(/__attribute__[ \t]*\(\([^()]*(\([^()]*\)[^()]*)*\)\)/, " ", d)
        gsub(/\([ \t]*\*/, " *", d)   # "(*f(...))(...)": f returns a pointer
        if (match(d, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {      # a function
            name = substr(d, RSTART, RLENGTH)
        } else {                                                # data
            sub(/[ \t]*(\[|=|;).*$/, "", d)
            if (!match(d, /[A-Za-z_][A-Za-z0-9_]*$/)) return ""
            name = substr(d, RSTART, RLENGTH)
        }
        sub(/[ \t]*\($/, "", name)
        return name
    }
    FNR == 1 { incomment = 0; continued = 0; indecl = 0 }
    {
        line = strip($0)
        # Preprocessor lines, with their backslash continuations.
        if (continued || line ~ /^[ \t]*#/) {
            continued = (line ~ /\\[ \t]*$/)
            next
        }
        if (!indecl) {
            if (line !~ /(^|[^A-Za-z0-9_])CIO_EXTERN([^A-Za-z0-9_]|$)/) next
            sub(/^.*CIO_EXTERN/, "CIO_EXTERN", line)
            indecl = 1; decl = ""; where = FILENAME ":" FNR
        }
        decl = decl " " line
        if (decl !~ /[;{]/) next
        indecl = 0
        sub(/[;{].*$/, ";", decl)
        name = declared(decl)
        if (name !~ /^cio_[A-Za-z0-9_]*$/) {
            printf "abi.sh: %s: cannot read a public cio_ name in:%s\n", where, decl > "/dev/stderr"
            bad = 1
            next
        }
        print name
    }
    END {
        if (indecl) {
            printf "abi.sh: %s: declaration without an end\n", where > "/dev/stderr"
            bad = 1
        }
        exit bad
    }' "$@" >"$tmp/names.raw"
    LC_ALL=C sort -u "$tmp/names.raw"
}

# The defined dynamic symbols of a shared library as "name version" lines
# (version "-" when the symbol has none).  The version node's own absolute
# symbol is left out: GNU nm prints it "A CIO_1.0", llvm-nm (clang
# builds) "A CIO_1.0@@CIO_1.0".
dynamic_symbols() {
    "$1" -D --defined-only "$2" | awk -v node="$VERSION_NODE" '
        NF < 2 { next }
        {
            sym = $NF; type = $(NF - 1); ver = "-"
            i = index(sym, "@")
            if (i) { ver = substr(sym, i); sub(/^@+/, "", ver); sym = substr(sym, 1, i - 1) }
        }
        type == "A" && sym == node { next }
        { print sym, ver }' | LC_ALL=C sort -u
}

# The global symbols an archive defines with default visibility.
default_visibility() {
    # readelf -sW: Num: Value Size Type Bind Vis Ndx Name
    "$1" -sW "$2" | awk '
        $1 ~ /^[0-9]+:$/ && ($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" { print $8 }
    ' | LC_ALL=C sort -u
}

# Prints the heading and the lines of a file if it has any, then returns 1.
report() {
    [ -s "$2" ] || return 0
    echo "$1"
    sed 's/^/    /' "$2"
    return 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
names)
    names "$@"
    ;;
map)
    [ $# -ge 2 ] || die "usage: abi.sh map OUT HEADER..."
    out=$1; shift
    names "$@" >"$tmp/names"
    [ -s "$tmp/names" ] || die "no CIO_EXTERN declarations in $*"
    {
        echo "/* libcio.so's exported symbols, generated by scripts/abi.sh from the"
        echo " * public headers at build time: do not edit. */"
        echo "$VERSION_NODE {"
        echo "  global:"
        sed 's/^\(.*\)$/    \1;/' "$tmp/names"
        echo "  local:"
        echo "    *;"
        echo "};"
    } >"$tmp/map"
    mv "$tmp/map" "$out"
    ;;
check)
    [ $# -ge 5 ] || die "usage: abi.sh check NM READELF LIBCIO_SO LIBCIO_A HEADER..."
    nm=$1 readelf=$2 so=$3 archive=$4; shift 4
    [ -f "$so" ] || die "$so: no such file (build the cio target)"
    [ -f "$archive" ] || die "$archive: no such file (build the cio_static target)"
    names "$@" >"$tmp/public"
    [ -s "$tmp/public" ] || die "no CIO_EXTERN declarations in $*"
    dynamic_symbols "$nm" "$so" >"$tmp/dyn"
    [ -s "$tmp/dyn" ] || die "$so exports nothing (or $nm failed)"
    cut -d' ' -f1 "$tmp/dyn" >"$tmp/exported"
    default_visibility "$readelf" "$archive" >"$tmp/visible"
    [ -s "$tmp/visible" ] || die "$archive has no default-visibility symbol (or $readelf failed)"

    LC_ALL=C comm -23 "$tmp/exported" "$tmp/public" >"$tmp/leaked"
    LC_ALL=C comm -13 "$tmp/exported" "$tmp/public" >"$tmp/missing"
    awk -v node="$VERSION_NODE" '$2 != node { print $1 " (version " $2 ")" }' "$tmp/dyn" >"$tmp/unversioned"
    LC_ALL=C comm -23 "$tmp/visible" "$tmp/public" >"$tmp/unparsed"
    LC_ALL=C comm -13 "$tmp/visible" "$tmp/public" >"$tmp/undefined"

    ok=0
    report "exported by $so but declared CIO_EXTERN in no public header:" "$tmp/leaked" || ok=1
    report "declared CIO_EXTERN in a public header but not exported by $so:" "$tmp/missing" || ok=1
    report "exported without version $VERSION_NODE:" "$tmp/unversioned" || ok=1
    report "default visibility in $archive but not a public name read from the headers (CIO_EXTERN outside include/cio, or a declaration abi.sh cannot read):" "$tmp/unparsed" || ok=1
    report "declared CIO_EXTERN but not defined with default visibility in $archive:" "$tmp/undefined" || ok=1
    if [ $ok -eq 0 ]; then
        echo "abi_check: $(wc -l <"$tmp/public") public names, exported at $VERSION_NODE, nothing else"
    fi
    exit $ok
    ;;
*)
    die "usage: abi.sh names|map|check ... (see the comment at its top)"
    ;;
esac
