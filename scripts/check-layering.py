#!/usr/bin/python3
"""The layering check (make layering-check, part of make test).

Each folder of src/ is one static library (CMakeLists.txt's add_library); its
target_link_libraries name the libraries below it. A file may include a header of its own
library or of a library it depends on, directly or through others; anything else is an
upward (or sideways) include, which the build alone does not catch because every library
sees all of src/ on its include path. Private headers (a subsystem's own rooms, such as
s3/service/impl.h) may be included only from their own folder.

Usage: scripts/check-layering.py [--root DIR]   (exit 1 and one line per violation)
"""
import argparse
import os
import re
import sys

# Headers only their own folder may include: (folder, the public headers in it).
PRIVATE_FOLDERS = {
    "http/server": {"http/server/server.h"},
    "logs": {"logs/ansi.h", "logs/candidates.h", "logs/diff.h", "logs/gunzip.h", "logs/log_index.h",
             "logs/rules.h", "logs/search.h", "logs/summary.h"},
    "policy": {"policy/policy.h"},
    "s3/service": set(),
    "store/local": {"store/local/local_store.h", "store/local/sqlite.h", "store/local/fsck.h",
                    "store/local/backup.h"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def parse_cmake(text):
    """Returns ({folder: library}, {library: set of libraries it links})."""
    folders, deps = {}, {}
    text = re.sub(r"#[^\n]*", "", text)
    for m in re.finditer(r"add_library\(\s*(lb_\w+)\s+STATIC\s+([^)]*)\)", text):
        lib, sources = m.group(1), m.group(2).split()
        deps.setdefault(lib, set())
        for s in sources:
            if s.startswith("src/"):
                folders.setdefault(os.path.dirname(s)[len("src/"):], lib)
    for m in re.finditer(r"add_executable\(\s*(\w+)\s+([^)]*)\)", text):
        pass  # executables sit on top: anything they include is fine
    for m in re.finditer(r"target_link_libraries\(\s*(lb_\w+)\s+([^)]*)\)", text):
        lib = m.group(1)
        deps.setdefault(lib, set()).update(
            w for w in m.group(2).split() if w.startswith("lb_"))
    return folders, deps


def closure(deps):
    out = {}
    for lib in deps:
        seen, stack = set(), list(deps[lib])
        while stack:
            d = stack.pop()
            if d in seen:
                continue
            seen.add(d)
            stack.extend(deps.get(d, ()))
        out[lib] = seen
    return out


def owner(path, folders):
    """The library owning src/<path> (a file or a header): its folder's, or the nearest parent's."""
    d = os.path.dirname(path)
    while d:
        if d in folders:
            return folders[d]
        d = os.path.dirname(d)
    return None


def check(root):
    with open(os.path.join(root, "CMakeLists.txt")) as f:
        folders, deps = parse_cmake(f.read())
    below = closure(deps)
    problems = [f"CMakeLists.txt: {lib} links itself through {', '.join(sorted(below[lib]))}: "
                "the libraries must form layers, not a cycle"
                for lib in sorted(below) if lib in below[lib]]
    src = os.path.join(root, "src")
    for dirpath, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".cc", ".h")):
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, src)
            lib = owner(rel, folders)
            with open(full, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                inc = m.group(1)
                if not os.path.exists(os.path.join(src, inc)):
                    continue  # generated or not ours
                line = text.count("\n", 0, m.start()) + 1
                where = f"src/{rel}:{line}"
                for folder, public in PRIVATE_FOLDERS.items():
                    if (os.path.dirname(inc) == folder and inc not in public
                            and os.path.dirname(rel) != folder):
                        problems.append(f"{where}: includes {inc}, private to src/{folder}/")
                target = owner(inc, folders)
                if lib is None or target is None or target == lib:
                    continue
                if target not in below.get(lib, set()):
                    problems.append(
                        f"{where}: includes {inc} ({target}), but {lib} does not link {target} "
                        f"(CMakeLists.txt): an upward or sideways include")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = ap.parse_args()
    problems = check(args.root)
    for p in problems:
        print(p)
    if problems:
        print(f"layering-check: {len(problems)} include(s) against the layers (src/README.md)")
        return 1
    print("layering-check: every include follows the library graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
