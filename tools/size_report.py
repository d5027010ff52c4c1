#!/usr/bin/env python3
"""size_report.py: the largest files and functions of compiler/ (.cpp, .h).

    size_report.py [--root DIR] [--top N]     full report (top N files and
                                              functions, median .cpp size)
    size_report.py [--root DIR] --summary     the short form .ci/run prints
    size_report.py [--root DIR] --check N     exit 1, listing each function
                                              over N lines that is not on
                                              ALLOWED or PENDING_SPLIT

DIR defaults to compiler/ beside this script's folder; paths are reported as
"<basename of DIR>/<path under DIR>". A file's size is its line count; a
function's size is the lines from the first line of its signature (template
header included) to the line of its closing brace, both counted.

Functions are found without a C++ front end: comments, string and character
literals (raw strings too) and preprocessor lines are blanked, then braces are
matched. A `{` at file, namespace or class scope opens a function body when
the text before it (back to the previous `;`, `{` or `}`) has a parenthesised
list at top level and no top-level `=`; member functions defined inside class
bodies are named `Class::f`. Braces inside a function body (blocks, lambdas,
local classes) belong to that function. Brace initialisers in a constructor's
member-initialiser list (`X() : a{1} {`) are skipped.
"""
import argparse
import os
import re
import statistics
import sys

# Functions allowed over the --check limit: flat op tables, one short case per
# op with nothing shared between cases. Key: "<path under DIR>:<name>".
ALLOWED = {
    "ad/Rules.cpp:partials":
        "the chain rule table: one case per ir::Op, each a one- to few-line "
        "partial derivative with its math in a comment (STYLE.md, 'The chain "
        "rule is one table')",
}

# Functions a branch in flight is splitting ("path:name": "split on branch
# B"), exempt until it merges; empty on main.
PENDING_SPLIT = {}

SOURCE_SUFFIXES = (".cpp", ".h")
CONTROL = {"if", "for", "while", "switch", "catch", "do", "else", "try",
           "return", "sizeof", "decltype", "alignas", "noexcept",
           "static_assert", "__attribute__"}
ACCESS = re.compile(r"^\s*(?:(?:public|private|protected)\s*:(?!:)\s*)+")
NAME_BEFORE_PAREN = re.compile(
    r"((?:~?[A-Za-z_]\w*\s*(?:<[^<>()]*>)?\s*::\s*)*"
    r"(?:operator\s*(?:\(\s*\)|[^\s(]+)|~?[A-Za-z_]\w*))\s*$")


def blank(text):
    """Returns text with comments, literals and preprocessor lines replaced by
    spaces (newlines kept, so offsets and line numbers stay the same)."""
    out = list(text)
    i, n = 0, len(text)
    line_start = True

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "#":
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 2
                    continue
                if text.startswith("/*", j):  # a comment may continue it
                    end = text.find("*/", j + 2)
                    j = n if end < 0 else end + 2
                    continue
                j += 1
            wipe(i, j)
            i = j
            continue
        line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
        elif c == '"' or c == "'":
            raw = re.search(r'(?:\b(?:u8|u|U|L)?R)$', text[max(0, i - 3):i])
            if c == '"' and raw:
                m = re.match(r'"([^()\\\s]{0,16})\(', text[i:])
                delim = ")" + (m.group(1) if m else "") + '"'
                j = text.find(delim, i + 1)
                j = n if j < 0 else j + len(delim)
            elif c == "'" and i > 0 and text[i - 1].isalnum() and \
                    i + 1 < n and text[i + 1].isalnum() and \
                    re.search(r"\b\d[\w']*$", text[:i]):
                i += 1  # digit separator: 1'000
                continue
            else:
                j = i + 1
                while j < n and text[j] != c and text[j] != "\n":
                    j += 2 if text[j] == "\\" else 1
                j = min(j + 1, n)
            wipe(i + 1, j - 1)  # keep the quotes: `extern "C"` stays visible
            i = j
        else:
            i += 1
    return "".join(out)


def strip_templates(header):
    """Drops leading `template <...>` clauses (angle brackets balanced)."""
    while True:
        m = re.match(r"\s*template\s*<", header)
        if not m:
            return header
        depth, k = 1, m.end()
        while k < len(header) and depth:
            depth += {"<": 1, ">": -1}.get(header[k], 0)
            k += 1
        header = header[k:]


def top_level(header):
    """Yields (index, char) of header's characters outside (), [] and {}."""
    depth = 0
    for k, ch in enumerate(header):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            yield k, ch


def classify(header):
    """What a `{` preceded by header opens: ('ns'|'class'|'func'|'other',
    name)."""
    h = strip_templates(ACCESS.sub("", header)).strip()
    if re.match(r"(?:inline\s+)?namespace\b", h) or re.match(r'extern\s*"', h):
        return "ns", None
    flat = "".join(ch if depth_ok else " " for ch, depth_ok in _mask(h))
    if re.search(r"(?<![=!<>+\-*/%&|^])=(?!=)", re.sub(
            r"\boperator\s*\S+?(?=\s*\()", " ", flat)):
        return "other", None  # an initialiser: `T x = {`, `auto f = [] {`
    m = re.match(r"(?:\w+\s+)*?(class|struct|union|enum)\b\s*(?:class\s+|struct\s+)?"
                 r"(?:\[\[[^\]]*\]\]\s*)?([A-Za-z_]\w*)?", flat)
    if m and "(" not in flat[:m.start(1)]:
        if m.group(1) == "enum":
            return "other", None
        return "class", m.group(2) or "(anonymous)"
    for paren in re.finditer(r"\(", flat):
        if re.search(r"\boperator\s*$", flat[:paren.start()]):
            continue  # the `()` of `operator()`
        nm = NAME_BEFORE_PAREN.search(flat[:paren.start()])
        if not nm:
            continue
        name = re.sub(r"\s+", "", nm.group(1))
        last = re.sub(r"<.*>", "", name).split("::")[-1].lstrip("~")
        if last not in CONTROL:
            return "func", name
        if last not in ("decltype", "alignas", "__attribute__", "noexcept"):
            return "other", None  # a statement, not a definition
    return "other", None


def _mask(h):
    """(char, is_top_level) for each character of h; bracketed contents are
    masked except the brackets of the outermost parenthesised lists."""
    depth = 0
    for ch in h:
        if ch in "([{":
            depth += 1
            yield ch, depth == 1
        elif ch in ")]}":
            depth -= 1
            yield ch, depth == 0
        else:
            yield ch, depth == 0


def functions(text):
    """Yields (name, first_line, last_line) for each function in text."""
    code = blank(text)
    line_of = [0] * (len(code) + 1)
    line = 1
    for k, ch in enumerate(code):
        line_of[k] = line
        if ch == "\n":
            line += 1
    line_of[len(code)] = line
    stack = []  # (kind, name, start_offset)
    header_start = 0
    k, n = 0, len(code)
    while k < n:
        ch = code[k]
        if ch == ";":
            header_start = k + 1
        elif ch == "{":
            kind = stack[-1][0] if stack else "ns"
            if kind in ("ns", "class"):
                header = code[header_start:k]
                if _in_ctor_init(header):
                    k = _match(code, k) + 1  # `a{1}` in `X() : a{1} {`
                    continue
                kind, name = classify(header)
                if kind == "class" and stack and stack[-1][0] == "class":
                    name = stack[-1][1] + "::" + name
                if kind == "func":
                    owner = [s[1] for s in stack if s[0] == "class"]
                    if owner:
                        name = owner[-1] + "::" + name
                start = header_start + len(header) - len(header.lstrip())
                start += len(ACCESS.match(code[start:k]).group(0)) \
                    if ACCESS.match(code[start:k]) else 0
                stack.append((kind, name, start))
            else:
                stack.append(("block", None, k))
            header_start = k + 1
        elif ch == "}":
            if stack:
                kind, name, start = stack.pop()
                if kind == "func":
                    yield name, line_of[start], line_of[k]
            header_start = k + 1
        k += 1


def _in_ctor_init(header):
    """Whether the `{` after header opens a brace initialiser in a
    constructor's member-initialiser list rather than the body."""
    h = header.rstrip()
    if not h or not (h[-1].isalnum() or h[-1] in "_>"):
        return False
    tops = "".join(ch if top else " " for ch, top in _mask(h))
    m = re.search(r"\)\s*(?:noexcept\s*)?:(?!:)", tops)
    return bool(m) and re.search(r"(?:^|[:,])\s*[\w:<>]+$", tops[m.end() - 1:]) is not None


def _match(code, k):
    depth = 0
    for j in range(k, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def scan(root):
    files, funcs = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if not f.endswith(SOURCE_SUFFIXES):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            files.append((text.count("\n") + (0 if text.endswith("\n") or not text else 1), rel))
            for name, first, last in functions(text):
                funcs.append((last - first + 1, rel, first, name))
    return files, funcs


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(here, "..", "compiler"))
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--check", type=int, metavar="N")
    args = ap.parse_args(argv)
    root = os.path.normpath(args.root)
    if not os.path.isdir(root):
        print(f"size_report: {root} is not a directory", file=sys.stderr)
        return 2
    base = os.path.basename(os.path.abspath(root))
    files, funcs = scan(root)
    files.sort(key=lambda f: (-f[0], f[1]))
    funcs.sort(key=lambda f: (-f[0], f[1], f[2]))

    if args.check is not None:
        return check(args.check, base, funcs)

    top = 5 if args.summary and args.top == 10 else args.top
    cpp = [n for n, rel in files if rel.endswith(".cpp")]
    median = statistics.median(cpp) if cpp else 0
    print(f"size_report: {base}/: {len(files)} files, {sum(n for n, _ in files)} lines, "
          f"{len(funcs)} functions; median .cpp {median:g} lines")
    print(f"  files over 800 lines: {sum(1 for n, _ in files if n > 800)}; functions over "
          f"80 lines: {sum(1 for f in funcs if f[0] > 80)}, over 120: "
          f"{sum(1 for f in funcs if f[0] > 120)}")
    print(f"largest files (lines):")
    for n, rel in files[:top]:
        print(f"  {n:6d}  {base}/{rel}")
    print(f"largest functions (lines, signature to closing brace):")
    for n, rel, first, name in funcs[:top]:
        print(f"  {n:6d}  {base}/{rel}:{first}  {name}")
    return 0


def check(limit, base, funcs):
    exempt = dict(ALLOWED)
    exempt.update(PENDING_SPLIT)
    over = [f for f in funcs if f[0] > limit]
    bad = [f for f in over if f"{f[1]}:{f[3]}" not in exempt]
    for n, rel, first, name in bad:
        print(f"{base}/{rel}:{first}: function '{name}' is {n} lines (limit {limit}); "
              f"split it by meaning, or if it is a flat op table add it to ALLOWED "
              f"in tools/size_report.py with the reason")
    used = {f"{f[1]}:{f[3]}" for f in over}
    for key in sorted(exempt):
        if key not in used:
            print(f"size_report: note: {key} is exempt but not over {limit} lines "
                  f"(or gone); remove it from tools/size_report.py", file=sys.stderr)
    pending = sorted(k for k in PENDING_SPLIT if k in used)
    if pending:
        print(f"size_report: note: {len(pending)} function(s) over {limit} pending a split "
              f"on another branch: {', '.join(pending)}", file=sys.stderr)
    if bad:
        print(f"size_report: {len(bad)} function(s) over {limit} lines")
        return 1
    print(f"size_report: ok: no function over {limit} lines outside the allow-list")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
