#!/usr/bin/env python3
"""The minimum Rust version the locked dependencies need, checked against
Cargo.toml's `rust-version`.

Reads `cargo metadata` (the resolve of Cargo.lock for this machine's
target), walks what building and testing the crate compiles (our normal,
dev and build dependencies; theirs normal and build), and takes the highest
`rust-version` any of those packages declares. Fails if ours is lower, so
the README's "Rust 1.NN or newer" stays true when the lock file moves.
Standard library only.
"""
import json
import subprocess
import sys


def version(text):
    """'1.85' or '1.85.0' -> (1, 85, 0), for comparing."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    host = next(
        line.split(": ", 1)[1]
        for line in subprocess.run(
            ["rustc", "-vV"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        if line.startswith("host: ")
    )
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked",
             "--filter-platform", host],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]

    needed = {}
    todo, seen = [root], {root}
    while todo:
        node = nodes[todo.pop()]
        is_root = node["id"] == root
        for dep in node["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            # kind None is a normal dependency; dev ones matter only for us.
            if None in kinds or "build" in kinds or (is_root and "dev" in kinds):
                if dep["pkg"] not in seen:
                    seen.add(dep["pkg"])
                    todo.append(dep["pkg"])
    for pkg in seen - {root}:
        declared = packages[pkg].get("rust_version")
        if declared:
            needed[packages[pkg]["name"] + " " + packages[pkg]["version"]] = declared

    ours = packages[root].get("rust_version")
    top = max(needed.values(), key=version)
    by = sorted(name for name, v in needed.items() if version(v) == version(top))
    print(f"dependencies need Rust {top} (declared by {', '.join(by)}); "
          f"{len(seen) - 1} packages checked; Cargo.toml says {ours}")
    if ours is None or version(ours) < version(top):
        print(f"error: raise rust-version in Cargo.toml (and the README) to {top}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
