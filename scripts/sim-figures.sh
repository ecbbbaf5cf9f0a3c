#!/usr/bin/env bash
# Prints the simulator figures quoted in docs/protocol.md ("Defaults and how
# they were chosen"), one JSON line per command. Every field but wall_ms is
# deterministic, so a change in any other figure means an engine changed.
#   bash scripts/sim-figures.sh            # all of them (~6 minutes)
#   bash scripts/sim-figures.sh quick      # skip the 1000-node runs
set -euo pipefail
mode=${1:-all}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin flashmesh
bin=${CARGO_TARGET_DIR:-target}/release/flashmesh
run() { printf '## flashmesh sim %s\n' "$*"; "$bin" sim "$@" --json; }

# Small room: flaky Wi-Fi.
run --nodes 4 --broadcasts 30 --seed 1 --loss 0.05 --latency-ms 2..40 --crash 1@10s
run --nodes 12 --broadcasts 50 --seed 1 --loss 0.05 --latency-ms 2..40 --crash 1@10s
run --nodes 20 --broadcasts 50 --seed 1 --loss 0.1 --latency-ms 2..40 --crash 2@10s
run --nodes 12 --broadcasts 50 --seed 1 --loss 0.05 --latency-ms 2..40 --crash 1@10s --profile large
run --nodes 100 --broadcasts 100 --seed 5 --loss 0.05 --crash 10@10s --profile small
# Degrees.
for d in "2 3" "3 5" "4 8" "6 10"; do
  read -r lo hi <<<"$d"
  run --nodes 200 --broadcasts 100 --seed 1 --degree-min "$lo" --degree-max "$hi"
done
run --nodes 200 --broadcasts 100 --seed 1 --degree-min 2 --degree-max 3 --crash 20@10s
# Large room.
run --nodes 100 --broadcasts 100 --seed 2 --loss 0.05
run --nodes 200 --broadcasts 50 --seed 3 --crash 20@10s
# Partitions: delivery against the reachable nodes and against all live
# ones; false alarms in a partition apart from those in a connected room.
run --nodes 60 --broadcasts 20 --seed 1 --partition 2@5s..20s --latency-ms 2..40
if [ "$mode" != quick ]; then
  # Heavy loss: re-announcement (seeds 1-20 in the text; ~10 s each).
  run --nodes 500 --broadcasts 100 --seed 1 --loss 0.15
  run --nodes 500 --broadcasts 100 --seed 1 --loss 0.2
  run --nodes 1000 --broadcasts 200 --seed 1
  run --nodes 1000 --broadcasts 50 --seed 1 --crash 50@12s
  # Op-log anti-entropy (seeds 1-20 in the text; about 30 s each).
  run --nodes 100 --ops 1000 --loss 0.05 --partition 2@5s..20s --seed 4
  run --nodes 100 --ops 1000 --loss 0.05 --partition 2@5s..20s --seed 19
fi
