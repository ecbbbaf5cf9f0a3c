#!/usr/bin/env bash
# The rust-version in Cargo.toml must be at least what every dependency
# in the build (Cargo.lock, this platform, every feature in use) declares
# it needs: the README and Cargo.toml promise that minimum to a newcomer.
# (This machine has one toolchain, so the promise is checked against the
# dependencies' own declarations rather than by building with an older
# rustc; cargo itself refuses to build with a rustc older than ours.)
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
cargo metadata --format-version 1 --locked --filter-platform "$host" | python3 -c '
import json, sys
m = json.load(sys.stdin)
used = {n["id"] for n in m["resolve"]["nodes"]}
def ver(v): return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])
ours = next(p for p in m["packages"] if p["id"] == m["resolve"]["root"])
if not ours.get("rust_version"):
    sys.exit("Cargo.toml states no rust-version")
need = max((ver(p["rust_version"]), p["name"] + " " + p["version"])
           for p in m["packages"] if p["id"] in used and p.get("rust_version") and p["id"] != ours["id"])
if ver(ours["rust_version"]) < need[0]:
    sys.exit("rust-version %s is too low: %s needs %s" % (ours["rust_version"], need[1], ".".join(map(str, need[0]))))
readme = open("README.md").read()
if "Rust " + ours["rust_version"] + " or newer" not in readme:
    sys.exit("README.md does not say \"Rust %s or newer\"" % ours["rust_version"])
print("rust-version %s covers every dependency (the highest: %s needs %s)" % (ours["rust_version"], need[1], ".".join(map(str, need[0]))))
'
