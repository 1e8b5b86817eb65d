#!/usr/bin/env python3
"""Import circles inside each crate: pairs of modules that use each other.

A module is a source file (`lib.rs`/`main.rs`: the crate root, `a/mod.rs` and `a.rs`:
`a`, `a/b.rs`: `a::b`). Module A uses B when A's file names a path `crate::B...` (in a
`use` or inline) or `super::...` that resolves to B. A path is counted at the module it
reaches (`crate::a::b::Item` is `a::b` when `a/b.rs` exists, else `a`). Edges between a
module and its own ancestors are left out (a parent declares its children, children use
their parent's items: that is nesting, not a circle); test files (`tests.rs`, `tests/`)
the text after a line `#[cfg(test)]` and comments are not read.

Usage: .ci/import-circles.py [CRATES_DIR]   (default: crates). Prints each circle as
`crate: a <-> b` and, last, the count of circles. Exits 0.
"""

import os
import re
import sys

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}", re.S)


def modules(src):
    """Module path (tuple) -> file, for every source file of one crate's `src/`."""
    found = {}
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d != "tests"]
        for f in files:
            if not f.endswith(".rs") or f == "tests.rs":
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("lib", "main", "mod"):
                rel = rel[:-1]
            found[tuple(rel)] = os.path.join(root, f)
    return found


def source(path):
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    text = text if cut < 0 else text[:cut]
    return re.sub(r"//.*", "", text)


def resolve(mods, here, kind, segments):
    """The longest known module that the path `kind::segments` reaches from `here`."""
    base = list(here)
    if kind == "super":
        base = base[:-1]
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
    else:
        base = []
    full = base + segments
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return ()


def edges(mods):
    out = {m: set() for m in mods}
    for m, path in mods.items():
        text = source(path)
        paths = [(k, s.strip(":").split("::")) for k, s in PATH.findall(text)]
        for kind, prefix, group in USE_GROUP.findall(text):
            head = [p for p in prefix.strip(":").split("::") if p]
            for item in re.split(r",", group):
                name = item.strip().split("::")[0].split(" ")[0].strip("{} \n")
                if name and name != "self":
                    paths.append((kind, head + [p for p in item.strip().split("::") if p.isidentifier()]))
                elif name == "self":
                    paths.append((kind, head))
        for kind, segs in paths:
            target = resolve(mods, m, kind, [s for s in segs if s])
            if target != m:
                out[m].add(target)
    return out


def is_ancestor(a, b):
    return len(a) < len(b) and b[: len(a)] == a


def circles(crates_dir):
    found = []
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        if not os.path.isdir(src):
            continue
        mods = modules(src)
        e = edges(mods)
        for a in sorted(e):
            for b in sorted(e[a]):
                if a < b and a in e.get(b, ()) and not is_ancestor(a, b) and not is_ancestor(b, a):
                    found.append((crate, "::".join(a) or "crate", "::".join(b) or "crate"))
    return found


def main():
    crates_dir = sys.argv[1] if len(sys.argv) > 1 else "crates"
    found = circles(crates_dir)
    for crate, a, b in found:
        print(f"{crate}: {a} <-> {b}")
    print(f"{len(found)} import circles")


if __name__ == "__main__":
    main()
