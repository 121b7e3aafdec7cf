#!/usr/bin/env bash
# RFM and segment evaluation over 10 million purchases of a million members (not run in CI):
# Tally's code (`tally-bench rfm`) and DuckDB (PyPI `duckdb`) on the same rows in the same run,
# best of 3 each; checks that every member's values are identical and prints the ratio.
#
#   bash crates/tally-bench/duckdb/rfm.sh [--members N] [--purchases N]    # from the repository root
#
# Installs `duckdb` into a throw-away virtualenv; nothing is written into the repository.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q duckdb

(cd "$root" && cargo run --release -q -p tally-bench -- rfm --runs 3 --out "$work" "$@") | tee "$work/ours.txt"
"$work/venv/bin/python" "$here/rfm.py" "$work" 3 | tee "$work/theirs.json"

"$work/venv/bin/python" - "$work/ours.txt" "$work/theirs.json" <<'PY'
import json, re, sys

ours = float(re.search(r"^seconds ([0-9.]+)$", open(sys.argv[1]).read(), re.M).group(1))
theirs = json.load(open(sys.argv[2]))
print()
print(f"| members | Tally | DuckDB {theirs['duckdb']} ({theirs['threads']} threads) | Tally ÷ DuckDB | rows that differ |")
print("|---:|---:|---:|---:|---:|")
print(f"| {theirs['members']:,} | {ours:.2f} s | {theirs['seconds']:.2f} s | {ours / theirs['seconds']:.2f}× | {theirs['differing_rows']} |")
if theirs["differing_rows"]:
    sys.exit("the answers differ")
PY
