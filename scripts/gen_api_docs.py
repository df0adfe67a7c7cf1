#!/usr/bin/python3
"""gen_api_docs.py - writes the API reference docs/api/*.md from the public
headers include/cio/*.h, which are the manual (STYLE.md: "the header is the
reference").  `make docs` runs it; scripts/check_docs.sh runs it into a
temporary directory and fails if docs/api/ differs.

Usage: gen_api_docs.py [--src DIR] [--out DIR]
  --src  the repository (default: the one this script is in)
  --out  where the pages go (default: SRC/docs/api); created if missing.
         Pages of headers that no longer exist are removed from it.

For each include/cio/X.h it writes X.md:
  - the header's opening comment as the page's introduction; its first
    paragraph "cio/X.h - summary" gives the summary (also used by the
    index README.md);
  - then each part of the header in order: a section ruler
    ("/* ---- tasks ---- */") becomes a "##" heading; a comment followed
    directly (no blank line) by declarations becomes a "###" item headed by
    the names declared, with the declarations in a ```c block and the
    comment as its text; a comment followed by a blank line is text of its
    own; declarations without a comment are shown as code.
Include guards, #include lines, the extern "C" wrapper and internal macros
(CIO__*, cio__*) are left out.  Comments are rendered as Markdown: blank
lines separate paragraphs, lines indented by 4 or more spaces are code
blocks, "- " lines are lists, and cio names, -E codes and *pointer
expressions are set as code.  The output depends on the headers alone, so
it is byte-for-byte deterministic.

Python 3 standard library only; needs no configuration per header.
"""
import argparse
import os
import re
import sys

GENERATOR = "scripts/gen_api_docs.py"
EXTERN = "CIO_EXTERN "


# ---- reading comments ----------------------------------------------------

def comment_lines(block):
    """The text of a /* ... */ comment given as its source lines, with the
    comment markers and the " * " margin removed, relative indentation kept
    and leading/trailing blank lines dropped."""
    out = []
    for n, line in enumerate(block):
        line = line.rstrip()
        if n == 0:
            line = re.sub(r"^\s*/\*+", "", line)
        if n == len(block) - 1:
            line = re.sub(r"\s*\*+/\s*$", "", line)
        if n > 0:
            m = re.match(r"^\s*\*(?!/)( ?)(.*)$", line)
            if m:
                line = m.group(2)
            else:
                line = line.strip() if not line.strip() else line.lstrip()
        else:
            line = line[1:] if line.startswith(" ") else line
        out.append(line.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


RULER = re.compile(r"^/\*\s*-{3,}")


def is_ruler(block):
    return bool(RULER.match(block[0]))


def ruler_parts(block):
    """(title, text lines) of a section ruler: "/* ---- title ---- */", or a
    ruler spanning lines whose first text line is "Title: text..."."""
    first = block[0].strip()
    m = re.match(r"^/\*\s*-+\s*(.*?)\s*-*\s*(\*/)?$", first)
    title = m.group(1).strip() if m else ""
    if title:
        return title, []
    inner = [l for l in comment_lines(block) if not re.match(r"^\s*-{3,}\s*$", l)]
    while inner and not inner[0].strip():
        inner.pop(0)
    if not inner:
        return "", []
    head = inner[0]
    m = re.match(r"^([^:.]{1,60})[:.]\s*(.*)$", head)
    if m:
        rest = [m.group(2)[:1].upper() + m.group(2)[1:]] if m.group(2) else []
        return m.group(1).strip(), rest + inner[1:]
    return head.strip(), inner[1:]


# ---- Markdown from comment text --------------------------------------------

CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
INLINE = re.compile(
    r"(?<![\w`])(?:"
    r"\*{0,2}(?:cio|CIO)_\w+(?:\((?:[^()\n]|\([^()\n]*\))*\)| \*+(?=[\s,.;:)])|\*(?!\w))?"  # names, calls
    r"|[A-Za-z]\w*_\*(?!\w)"                                        # EAI_*, sock_*
    r"|__\w+__"                                                    # __anext__
    r"|-E[A-Z][A-Z0-9_]*\b"                                       # -ECANCELED
    r"|\*{1,2}[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*"             # *out, **p
    r"|[A-Za-z_]\w*->[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*"      # ops->next
    r"|_[a-z]\w*"                                                  # _release
    r"|[A-Za-z_]\w*\[[^\]\s]*\]"                                     # results[i]
    r")")


def inline(text):
    """Sets code-like words in backticks, outside existing code spans, and
    escapes what Markdown would misread (HTML-like tags)."""
    out, pos = [], 0
    for m in CODE_SPAN.finditer(text):
        out.append(plain(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(plain(text[pos:]))
    return "".join(out)


def plain(text):
    text = INLINE.sub(lambda m: "`" + m.group(0) + "`", text)
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)


LIST_ITEM = re.compile(r"^(\s{0,3})([-*+]|\d{1,3}[.)])\s+\S")


def markdown(lines):
    """Markdown for the text of a comment (see the module's docstring)."""
    out = []            # output lines
    para = []           # lines of the paragraph (or list) being collected
    list_indent = None  # content column of the list being collected

    def flush():
        if not para:
            return
        if out and out[-1] != "":
            out.append("")
        for l in inline("\n".join(para)).split("\n"):
            # A line starting like a heading, quote or ruler would change
            # meaning in Markdown.
            if re.match(r"^\s*(#|>|=+\s*$|-{3,}\s*$)", l):
                l = re.sub(r"^(\s*)", r"\1\\", l, count=1)
            out.append(l)
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        ind = len(line) - len(line.lstrip())
        if not line.strip():
            flush()
            list_indent = None
            i += 1
            continue
        m = LIST_ITEM.match(line)
        if m:
            if list_indent is None:
                flush()
            list_indent = len(m.group(1)) + len(m.group(2)) + 1
            para.append(line)
            i += 1
            continue
        if list_indent is not None:
            if 1 <= ind < list_indent + 4:
                para.append(line)           # the item goes on
                i += 1
                continue
            flush()                         # the list ends
            list_indent = None
        if ind >= 4:
            # A code block: the run of indented lines (and the blank lines
            # inside it), dedented.
            flush()
            j = i
            while j < len(lines) and (not lines[j].strip() or
                                      len(lines[j]) - len(lines[j].lstrip()) >= 4):
                j += 1
            while not lines[j - 1].strip():
                j -= 1
            block = lines[i:j]
            cut = min(len(l) - len(l.lstrip()) for l in block if l.strip())
            if out and out[-1] != "":
                out.append("")
            out.append("```c")
            out.extend(l[cut:] if l.strip() else "" for l in block)
            out.append("```")
            out.append("")
            i = j
            continue
        para.append(line)
        i += 1
    flush()
    while out and out[-1] == "":
        out.pop()
    return out


# ---- reading declarations --------------------------------------------------

def strip_comments(code):
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    return re.sub(r"//[^\n]*", " ", code)


def internal_name(name):
    return name.startswith("CIO__") or name.startswith("cio__")


def declared_names(code_lines):
    """The public names a run of declarations declares, in order."""
    names = []
    code = strip_comments("\n".join(code_lines))
    # Preprocessor lines: macros defined.
    logical = re.sub(r"\\\n", " ", code).split("\n")
    rest = []
    for l in logical:
        s = l.strip()
        if s.startswith("#"):
            m = re.match(r"#\s*define\s+(\w+)", s)
            if m:
                names.append(m.group(1))
            continue
        rest.append(l)
    text = " ".join(rest)
    for stmt in split_statements(text):
        s = stmt.strip()
        if not s:
            continue
        if s.startswith("CIO_EXTERN"):
            m = re.match(r"CIO_EXTERN\b[^(]*?(\w+)\s*\(", s)
            if m:
                names.append(m.group(1))
            continue
        if s.startswith("typedef"):
            body = re.sub(r"\{.*\}", " ", s, flags=re.S)
            m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", body)      # pointer type
            if not m:
                m = re.search(r"(\w+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*$", body)  # fn type
            if not m:
                m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*$", body)
            if m:
                names.append(m.group(1))
            continue
        m = re.match(r"(struct|union|enum)\s*(\w*)\s*\{(.*)\}", s, re.S)
        if m:
            if m.group(2):
                names.append(m.group(1) + " " + m.group(2))
            elif m.group(1) == "enum":
                consts = [c.split("=")[0].strip() for c in m.group(3).split(",")]
                names.extend(c for c in consts if c)
            continue
        m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*$", s)
        if m:
            names.append(m.group(1))
    seen, result = set(), []
    for n in names:
        if n not in seen and not internal_name(n):
            seen.add(n)
            result.append(n)
    return result


def split_statements(text):
    """Top-level statements of C declarations (split at ';' outside braces)."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def shown_code(code_lines):
    """The declarations as the page shows them: without CIO_EXTERN (the
    continuation lines of a prototype shifted to stay aligned) and without
    internal macro definitions."""
    out = []
    shift = 0
    skip = False
    for l in code_lines:
        if skip:
            skip = l.rstrip().endswith("\\")
            continue
        m = re.match(r"^\s*#\s*define\s+(\w+)", l)
        if m and internal_name(m.group(1)):
            skip = l.rstrip().endswith("\\")
            continue
        if l.startswith(EXTERN):
            out.append(l[len(EXTERN):])
            shift = 0 if ";" in l or "{" in l else len(EXTERN)
            continue
        if shift:
            lead = len(l) - len(l.lstrip(" "))
            out.append(l[min(shift, max(lead - 1, 0)):])
            if ";" in l or "{" in l:
                shift = 0
            continue
        out.append(l)
    return out


# ---- one header ------------------------------------------------------------

def split_header(src):
    """(opening comment lines, body lines) of a header, the body without
    include guards, #include lines and the extern "C" wrapper."""
    lines = src.split("\n")
    opening = []
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i].lstrip().startswith("/*"):
        while i < len(lines):
            opening.append(lines[i])
            i += 1
            if "*/" in opening[-1]:
                break
    body = lines[i:]
    # Include guard: the first #ifndef X / #define X pair and the last #endif.
    guard = None
    for n, l in enumerate(body):
        m = re.match(r"^#\s*ifndef\s+(\w+)\s*$", l)
        if m:
            if n + 1 < len(body) and re.match(r"^#\s*define\s+%s\s*$" % m.group(1), body[n + 1]):
                guard = n
            break
        if l.strip():
            break
    if guard is not None:
        del body[guard:guard + 2]
        for n in range(len(body) - 1, -1, -1):
            if body[n].strip():
                if re.match(r"^#\s*endif", body[n]):
                    del body[n]
                break
    kept = []
    n = 0
    while n < len(body):
        l = body[n]
        if re.match(r"^#\s*include\b", l):
            n += 1
            continue
        if (re.match(r"^#\s*ifdef\s+__cplusplus\s*$", l) and n + 2 < len(body)
                and re.match(r"^\s*(extern\s+\"C\"\s*\{|\})\s*$", body[n + 1])
                and re.match(r"^#\s*endif", body[n + 2])):
            n += 3
            continue
        kept.append(l)
        n += 1
    return opening, kept


def segments(body):
    """The body as a list of ("ruler", block) / ("comment", block, followed)
    / ("code", lines) segments; followed says whether code follows the
    comment with no blank line between."""
    segs = []
    i = 0
    while i < len(body):
        l = body[i]
        if not l.strip():
            segs.append(("blank",))
            i += 1
            continue
        if l.startswith("/*"):
            block = [l]
            j = i
            while "*/" not in body[j][2:] if j == i else "*/" not in body[j]:
                j += 1
                if j >= len(body):
                    break
                block.append(body[j])
            i = j + 1
            segs.append(("ruler" if is_ruler(block) else "comment", block))
            continue
        code = []
        while i < len(body) and body[i].strip() and not body[i].startswith("/*"):
            code.append(body[i])
            i += 1
        segs.append(("code", code))
    return segs


def summary_of(opening, name):
    """(summary, rest of the intro) from the opening comment's text."""
    text = comment_lines(opening) if opening else []
    para = []
    while text and text[0].strip():
        para.append(text.pop(0).strip())
    first = " ".join(para)
    m = re.match(r"^\S*%s\s+-+\s+(.*)$" % re.escape(name), first)
    if m:
        return m.group(1), text
    return first, text


def render(rel, src):
    base = os.path.basename(rel)
    name = "cio/" + base
    opening, body = split_header(src)
    summary, intro = summary_of(opening, base)
    out = [
        "<!-- Generated from %s by %s. Do not edit: edit the header's comments and run `make docs`. -->"
        % (rel, GENERATOR),
        "",
        "# `%s`" % name,
        "",
        "> Generated from [%s](../../%s), the reference, by `%s`: do not edit "
        "this page by hand; change the header's comments and run `make docs`."
        % (rel, rel, GENERATOR),
        "",
    ]
    if summary:
        if re.match(r"^[a-z]+\b(?!_)", summary):
            summary = summary[0].upper() + summary[1:]
        out += [inline(summary), ""]
    md = markdown(intro)
    if md:
        out += md + [""]

    segs = segments(body)
    k = 0
    while k < len(segs):
        s = segs[k]
        if s[0] == "blank":
            k += 1
            continue
        if s[0] == "ruler":
            title, text = ruler_parts(s[1])
            if title:
                if re.match(r"^[a-z]+\b(?!_)", title):
                    title = title[0].upper() + title[1:]
                out += ["## " + inline(title), ""]
            md = markdown(text)
            if md:
                out += md + [""]
            k += 1
            continue
        if s[0] == "comment":
            nxt = segs[k + 1] if k + 1 < len(segs) else None
            if nxt and nxt[0] == "code":
                out += item(nxt[1], comment_lines(s[1]))
                k += 2
            else:
                md = markdown(comment_lines(s[1]))
                if md:
                    out += md + [""]
                k += 1
            continue
        out += item(s[1], [])
        k += 1
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n", summary


def item(code, doc):
    names = declared_names(code)
    code = shown_code(code)
    if not any(l.strip() for l in code):
        return []
    out = []
    if names:
        if len(names) > 4 and all(re.match(r"^[A-Z0-9_]+$", n) for n in names):
            head = "%s … %s" % (names[0], names[-1])
        else:
            head = ", ".join(names)
        out += ["### " + head, ""]
    out += ["```c"] + [l.rstrip() for l in code] + ["```", ""]
    md = markdown(doc)
    if md:
        out += md + [""]
    return out


def render_index(entries):
    out = [
        "<!-- Generated from include/cio/*.h by %s. Do not edit: edit the headers' comments and run `make docs`. -->"
        % GENERATOR,
        "",
        "# API reference",
        "",
        "One page per public header, generated from the header by `%s`. "
        "The headers under `include/cio/` are the reference: each function's "
        "comment is its manual. `#include <cio.h>` includes them all." % GENERATOR,
        "",
        "| header | what it holds |",
        "|---|---|",
    ]
    for base, summary in entries:
        s = inline(summary).replace("|", "\\|")
        out.append("| [`cio/%s.h`](%s.md) | %s |" % (base, base, s))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Generate docs/api/*.md from include/cio/*.h")
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    src = args.src
    out_dir = args.out or os.path.join(src, "docs", "api")
    inc = os.path.join(src, "include", "cio")
    headers = sorted(f for f in os.listdir(inc) if f.endswith(".h"))
    if not headers:
        print("gen_api_docs: no headers under %s" % inc, file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    wanted = {"README.md"}
    for h in headers:
        rel = "include/cio/" + h
        with open(os.path.join(inc, h), encoding="utf-8") as f:
            page, summary = render(rel, f.read())
        base = h[:-2]
        entries.append((base, summary))
        wanted.add(base + ".md")
        write(os.path.join(out_dir, base + ".md"), page)
    write(os.path.join(out_dir, "README.md"), render_index(entries))
    # A page whose header is gone goes too.
    for f in sorted(os.listdir(out_dir)):
        if f.endswith(".md") and f not in wanted:
            os.remove(os.path.join(out_dir, f))
    return 0


def write(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
