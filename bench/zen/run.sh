#!/usr/bin/env bash
# Tally's rule engine next to GoRules' zen-engine on GoRules' airline loyalty case: checks both
# give the same totalPoints on the graph's test and on generated inputs, then times both.
# Its own Cargo workspace and target dir; not part of the main build or CI. The first build
# compiles zen-engine and its dependencies (about 15 minutes with -j 1 on 2 cores).
#   bash bench/zen/run.sh [--inputs 5000] [--passes 20] [--seed 42]
# Environment: CARGO_TARGET_DIR (default bench/zen/target), JOBS (cargo -j, default 1).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -j "${JOBS:-1}"
exec "$CARGO_TARGET_DIR/release/tally-bench-zen" "$@"
