#!/usr/bin/python3
"""check_asyncio_map.py [SRCDIR] - rule 6 of scripts/check_docs.sh: the
asyncio map (docs/asyncio-map.md) says only what is true of the headers.

It fails, listing each offending row by line, if
  a. a row's status (last column) is not "done", "n/a" or "not provided"
     (optionally followed by a reason): "planned", "not yet" and the like
     go stale silently;
  b. an asyncio name has two rows in one table.  A row's first column
     lists names in backticks; a bare method ("`cancelled()`") takes the
     class of the dotted name before it in the cell ("`Future.done()` /
     `cancelled()`" is Future.done and Future.cancelled), arguments are
     dropped unless quoted ("cancel(msg)" is "cancel", but
     'get_extra_info("socket")' stays), and the words of the cell
     outside the backticks ("(concurrent)") tell apart rows that name the
     same thing in different contexts (concurrent.futures' Future and
     asyncio's);
  c. a cio name in the cio column (a `cio_...` or `CIO_...` identifier
     inside backticks) is not declared in include/: not a function, macro,
     type, struct field, enum constant or parameter that the public headers
     spell outside their comments (or an environment variable that src/
     reads with getenv).  "cio_tls_*"-style patterns are
     skipped.

Standard library only."""
import os
import re
import sys

STATUSES = ("done", "n/a", "not provided")


def header_names(src):
    """Every cio_/CIO_ identifier the public headers spell outside comments."""
    names = set()
    for root, _dirs, files in os.walk(os.path.join(src, "include")):
        for f in files:
            if not f.endswith(".h"):
                continue
            with open(os.path.join(root, f), encoding="utf-8") as fh:
                text = fh.read()
            text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
            text = re.sub(r"//[^\n]*", " ", text)
            names.update(re.findall(r"\b(?:cio|CIO)_[A-Za-z0-9_]*[A-Za-z0-9]", text))
    # The environment variables the library reads (CIO_DEBUG=1 is a name
    # the map may give too).
    for root, _dirs, files in os.walk(os.path.join(src, "src")):
        for f in files:
            if f.endswith(".c"):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    names.update(re.findall(r'getenv\("((?:cio|CIO)_\w+)"\)', fh.read()))
    return names


def split_row(line):
    """The cells of a table row, splitting on | that is not escaped."""
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def row_keys(cell, table):
    """The qualified asyncio names a first cell lists (see b. above)."""
    items = re.findall(r"`([^`]+)`", cell)
    context = re.sub(r"`[^`]*`", " ", cell)
    context = " ".join(w for w in re.split(r"[\s/,]+", context) if w)
    if not items:
        return {(table, cell, "")}
    keys = set()
    prefix = ""
    for item in items:
        name = item.strip()
        if '"' not in name and "'" not in name:
            name = re.sub(r"\(.*\)$", "", name)  # the arguments; quoted ones stay
        name = re.sub(r"\(\)$", "", name)
        m = re.match(r"^([A-Za-z_][\w.]*)\.([^.]+)$", name)
        if m and "(" not in m.group(1):
            prefix = m.group(1)
        elif prefix and re.match(r"^[a-z_]\w*$", name) and item.strip().endswith(")"):
            name = prefix + "." + name
        keys.add((table, name, context))
    return keys


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    path = os.path.join(src, "docs", "asyncio-map.md")
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    declared = header_names(src)
    problems = []
    seen = {}
    table = None
    for i, line in enumerate(lines, 1):
        if not line.startswith("|"):
            table = None
            continue
        if re.match(r"^\|[\s|:-]+\|$", line):
            continue
        cells = split_row(line)
        if i < len(lines) and re.match(r"^\|[\s|:-]+\|$", lines[i]):
            table = cells[0] if cells else ""  # a header row: names the table
            continue
        if len(cells) < 3:
            problems.append("%d: a row with %d columns, not 3" % (i, len(cells)))
            continue
        status = cells[-1]
        if not any(status == s or status.startswith(s + " ") or status.startswith(s + ":")
                   or status.startswith(s + " (") for s in STATUSES):
            problems.append("%d: status %r is not done / n/a / not provided (with a reason)"
                            % (i, status[:60]))
        for key in row_keys(cells[0], table):
            if key in seen:
                problems.append("%d: %s is also on line %d" % (i, key[1], seen[key]))
            else:
                seen[key] = i
        for span in re.findall(r"`([^`]+)`", cells[1]):
            for m in re.finditer(r"\b(?:cio|CIO)_[A-Za-z0-9_]*", span):
                name = m.group(0)
                after = span[m.end():m.end() + 1]
                if name.endswith("_") or after == "*":
                    continue  # a pattern such as cio_tls_*
                if name not in declared:
                    problems.append("%d: %s is not declared in include/" % (i, name))
    if problems:
        print("check_docs: docs/asyncio-map.md:")
        for p in problems:
            print("  line " + p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
