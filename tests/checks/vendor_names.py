#!/usr/bin/env python3
"""One vendor, one folder: fails when a vendor's name appears in code outside its own folder
and the registration list (bridges/vendors.def). Comments are not code: a comment may name a
vendor as an example. Configs, docs, deployment files, benchmarks and the tests that drive
every bridge at once are not code of the daemon and are not checked.

Usage: vendor_names.py [SOURCE_DIR]   (exit 1 with one line per offending code line)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
# The daemon's code outside the vendor folders, and the test support every test daemon links.
CHECKED = ["app", "core", "config", "bridges", "tests/support", "CMakeLists.txt", "tests/CMakeLists.txt"]
CODE = (".cpp", ".h", ".hpp", ".c", ".cmake", ".txt", ".js", ".mjs", ".html", ".css")
REGISTRATION = os.path.join("bridges", "vendors.def")


def vendors():
    with open(os.path.join(ROOT, REGISTRATION)) as f:
        return re.findall(r"^\s*LC_VENDOR\((\w+)\)", f.read(), re.M)


def without_comments(text, path):
    """The text with comments blanked out (line structure kept)."""
    if path.endswith((".txt", ".cmake")):
        return re.sub(r"#[^\n]*", "", text)
    if path.endswith(".html"):
        return re.sub(r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m.group()), text, flags=re.S)
    # C, C++, JavaScript, CSS: // and /* */ outside string literals.
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i) and not path.endswith(".css"):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def files():
    for entry in CHECKED:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield entry
            continue
        for directory, subdirs, names in os.walk(path):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            for name in names:
                if name.endswith(CODE):
                    yield os.path.relpath(os.path.join(directory, name), ROOT)


def main():
    names = vendors()
    if not names:
        print(f"{REGISTRATION}: no LC_VENDOR lines")
        return 1
    pattern = re.compile("|".join(names), re.I)
    problems = []
    for rel in files():
        if rel == REGISTRATION:
            continue
        parts = rel.split(os.sep)
        own = parts[1] if parts[0] == "bridges" and len(parts) > 2 else None
        with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
            code = without_comments(f.read(), rel)
        for number, line in enumerate(code.splitlines(), 1):
            for match in pattern.finditer(line):
                if own and match.group().lower() == own.lower():
                    continue
                problems.append(f"{rel}:{number}: names the vendor '{match.group()}' outside bridges/{match.group().lower()}/"
                                f" and {REGISTRATION}: {line.strip()[:100]}")
                break
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} lines: a vendor belongs in its own folder (docs/architecture.md, \"Adding a vendor\")")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
