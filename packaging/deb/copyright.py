"""Writes the package's copyright file (Debian's machine-readable format) on stdout.

acc is Apache-2.0; the binary also links the Rust crates that `cargo tree` lists as normal
dependencies of `acc` on this target (build scripts and procedural macros run only at build
time and are left out). Each crate gets a paragraph with the licence its Cargo.toml
declares, and the licence files the crate ships (LICENSE*, COPYING*, NOTICE*: their
copyright notices are what MIT, BSD and ISC ask a binary to carry) follow in a closing
comment, every distinct text once with the crates that carry it.

usage: python3 packaging/deb/copyright.py REPOSITORY > copyright
"""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

repo = Path(sys.argv[1])


def cargo(*args):
    return subprocess.run(["cargo", *args, "--locked"], cwd=repo, check=True, capture_output=True, text=True).stdout


target = next(line.split()[1] for line in subprocess.run(
    ["rustc", "-vV"], check=True, capture_output=True, text=True).stdout.splitlines() if line.startswith("host:"))
linked = set()
for line in cargo("tree", "-p", "acc", "-e", "normal,no-proc-macro", "--prefix", "none", "-f", "{p}",
                  "--target", target).splitlines():
    name, version = line.split()[:2]
    linked.add((name, version.lstrip("v")))

meta = json.loads(cargo("metadata", "--format-version", "1", "--filter-platform", target))
packages = sorted((p for p in meta["packages"] if (p["name"], p["version"]) in linked),
                  key=lambda p: (p["name"], p["version"]))
missing = linked - {(p["name"], p["version"]) for p in packages}
if missing:
    sys.exit(f"copyright.py: cargo metadata does not know {sorted(missing)}")


def field(text):
    """A multi-line field value: continuation lines start with a space, empty ones are ' .'."""
    return "\n".join(" " + line if line.strip() else " ." for line in text.rstrip().splitlines())


def shorten(text):
    """The Apache License's full text is in /usr/share/common-licenses: a copy shrinks to
    that reference and the copyright lines it carries (not the appendix's template)."""
    if "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" not in text:
        return text
    notice = re.compile(r"^Copyright\s+(\([cC]\)|©|\d|[A-Z])")  # not "copyright notice", "[yyyy]"
    notices = [line.strip() for line in text.splitlines() if notice.match(line.strip())]
    return "\n".join(["The Apache License, Version 2.0: /usr/share/common-licenses/Apache-2.0"] + notices)


texts = {}  # digest -> (text, [crate: file ...])
crates = []
for p in packages:
    if p["source"] is None:  # the workspace's own crates: acc itself
        continue
    crate = f"{p['name']} {p['version']}"
    crates.append(f"{crate}: {p.get('license') or 'see its licence file below'}")
    root = Path(p["manifest_path"]).parent
    names = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE")
    files = sorted(f for f in root.iterdir() if f.is_file() and f.name.upper().startswith(names))
    if p.get("license_file") and (root / p["license_file"]) not in files:
        files.append(root / p["license_file"])
    for f in files:
        text = shorten(f.read_text(errors="replace").replace("\t", "    "))
        digest = hashlib.sha256(text.encode()).hexdigest()
        texts.setdefault(digest, (text, []))[1].append(f"{crate}: {f.name}")

out = ["Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
       "Upstream-Name: acc",
       "Source: https://github.com/acc/acc",
       "",
       "Files: *",
       "Copyright: the acc authors",
       "License: Apache-2.0",
       "Comment: The acc binary is built with cargo from the acc sources and these",
       f" {len(crates)} Rust crates from crates.io, at the versions Cargo.lock pins (crate,",
       " version: the licence its Cargo.toml declares, in SPDX notation):",
       " .",
       field("\n".join(crates)),
       " .",
       " The licence files those crates ship, with their copyright notices, are",
       " reproduced at the end of this file.",
       ""]
body = []
for text, crates in sorted(texts.values(), key=lambda t: t[1][0]):
    body += ["=" * 72, *crates, "-" * 72, text.rstrip(), ""]
out += ["License: Apache-2.0",
        " On Debian systems, the full text of the Apache License, Version 2.0 is in",
        " /usr/share/common-licenses/Apache-2.0.",
        "Comment: The licence files of the crates, each distinct text once, after the",
        " crates and files that carry it:",
        " .",
        field("\n".join(body))]
print("\n".join(out))
