#!/usr/bin/env python3
"""Builds the README's code as a user builds it: for each mode, a fresh crate
outside the workspace whose Cargo.toml is the README's own `[dependencies]`
lines for that mode, plus the `[patch.crates-io]` the README says to add
until the crates are published, and whose binaries are the README's code
blocks for that mode.

A ```toml block that starts with `# <mode>` and holds `[dependencies]` is a
mode's dependencies; a ```rust block whose first line is
`# // in the crate for: <mode>` is that mode's code (rustdoc's hidden `# `
lines are uncovered; a block without `fn main` is wrapped in one, as
rustdoc does).

Run from the repository's root: python3 scripts/readme-crates.py
(CI does). The crates go in target/readme-crates/, built into the shared
target/ with the workspace's Cargo.lock as their starting point.
"""

import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "target", "readme-crates")
CRATES = ["trace-core", "trace-tower", "trace-reqwest", "trace-tonic"]
MARK = "# // in the crate for: "


def blocks(text):
    """Every fenced block: (info string, lines)."""
    found, info, lines = [], None, []
    for line in text.splitlines():
        if info is None:
            if line.startswith("```"):
                info, lines = line[3:].strip(), []
        elif line.startswith("```"):
            found.append((info, lines))
            info = None
        else:
            lines.append(line)
    return found


def uncover(lines):
    """Rustdoc's hidden lines shown: `# x` is `x`, a lone `#` is empty."""
    out = []
    for line in lines:
        if line == "#":
            out.append("")
        elif line.startswith("# "):
            out.append(line[2:])
        else:
            out.append(line)
    return out


def slug(mode):
    return re.sub(r"[^a-z0-9]+", "-", mode.lower()).strip("-")


def main():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    deps, code = {}, {}
    for info, lines in blocks(readme):
        if info == "toml" and lines and lines[0].startswith("# ") and "[dependencies]" in lines:
            deps[lines[0][2:].strip()] = lines[1:]
        elif info.startswith("rust") and lines and lines[0].startswith(MARK):
            code.setdefault(lines[0][len(MARK):].strip(), []).append(uncover(lines[1:]))
    missing = sorted(set(code) - set(deps))
    if missing:
        sys.exit(f"README: code for {missing} but no ```toml block starting '# <mode>' for it")
    if not code:
        sys.exit("README: no code block is marked for a crate")
    shutil.rmtree(OUT, ignore_errors=True)
    failed = []
    for mode, snippets in code.items():
        crate = os.path.join(OUT, slug(mode))
        os.makedirs(os.path.join(crate, "src", "bin"))
        manifest = [
            "[package]",
            f'name = "readme-{slug(mode)}"',
            'version = "0.0.0"',
            'edition = "2024"',
            "publish = false",
            "",
        ]
        for line in deps[mode]:
            # A path in the README is relative to the repository's root.
            line = re.sub(r'path = "(?!/)([^"]+)"', lambda m: f'path = "{os.path.join(ROOT, m.group(1))}"', line)
            manifest.append(line)
        manifest += ["", "# As the README says, until the crates are published.", "[patch.crates-io]"]
        manifest += [f'{name} = {{ path = "{os.path.join(ROOT, name)}" }}' for name in CRATES]
        manifest += ["", "# Not a member of the repository's workspace.", "[workspace]", ""]
        with open(os.path.join(crate, "Cargo.toml"), "w", encoding="utf-8") as f:
            f.write("\n".join(manifest))
        shutil.copy(os.path.join(ROOT, "Cargo.lock"), crate)
        for i, lines in enumerate(snippets, 1):
            body = "\n".join(lines)
            if not re.search(r"\bfn main\s*\(", body):
                body = "fn main() {\n" + body + "\n}"
            with open(os.path.join(crate, "src", "bin", f"snippet_{i}.rs"), "w", encoding="utf-8") as f:
                f.write("#![allow(unused)]\n" + body + "\n")
        print(f"--- {mode}: {len(snippets)} snippet(s) in {crate}", flush=True)
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target"))
        result = subprocess.run(["cargo", "build", "-q", "--bins"], cwd=crate, env=env)
        if result.returncode != 0:
            failed.append(mode)
    if failed:
        sys.exit(f"the README's code does not build as a user builds it, for: {failed}")
    print(f"the README's code builds in {len(code)} fresh crates, one per mode")


if __name__ == "__main__":
    main()
