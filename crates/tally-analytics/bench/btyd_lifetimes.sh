#!/usr/bin/env bash
# BTYD fit benchmark (not run in CI): Tally's BG/NBD, Pareto/NBD and Gamma-Gamma fits against
# Python's `lifetimes` 0.11.3 on the same CDNOW summary files, in the same run, best of 5 each;
# prints both times, the ratio (theirs ÷ ours) and whether the parameters agree to three
# significant digits.
#
#   bash crates/tally-analytics/bench/btyd_lifetimes.sh       # from the repository root
#
# Installs `lifetimes` into a throw-away virtualenv (PyPI); nothing is written into the repository.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q lifetimes==0.11.3

(cd "$root" && cargo run --release -q -p tally-analytics --example fit_timing 1000) > "$work/ours.txt"
"$work/venv/bin/python" "$here/btyd_lifetimes.py" \
    "$root/data/cdnow/cdnow_customers_summary.csv" \
    "$root/data/cdnow/cdnow_customers_summary_with_transactions.csv" 5 > "$work/theirs.jsonl"

"$work/venv/bin/python" - "$work/ours.txt" "$work/theirs.jsonl" <<'PY'
import json, math, re, sys

ours_text = open(sys.argv[1]).read().split("synthetic cohort")[0]
theirs = {row["model"]: row for row in map(json.loads, open(sys.argv[2]))}
units = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}
names = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}
# Our parameter names where they differ from lifetimes' (Gamma-Gamma's scale: gamma vs v).
renamed = {"v": "gamma"}


def sig3(x):
    return float(f"{x:.3g}")


print("| model | Tally | lifetimes 0.11.3 | lifetimes ÷ Tally | parameters agree (3 s.f.) |")
print("|---|---:|---:|---:|---|")
for key, label in names.items():
    line = re.search(rf"^\s*{re.escape(label)}\s+([0-9.]+)(µs|ms|s)\s+\w+ \{{(.*?)\}}", ours_text, re.M)
    ours_s = float(line.group(1)) * units[line.group(2)]
    ours_params = dict((k.strip(), float(v)) for k, v in (p.split(":") for p in line.group(3).split(",")))
    row = theirs[key]
    agree = all(sig3(ours_params[renamed.get(k, k)]) == sig3(v) for k, v in row["params"].items())
    print(f"| {label} | {ours_s * 1e3:.1f} ms | {row['seconds'] * 1e3:.1f} ms | {row['seconds'] / ours_s:.1f}× | {'yes' if agree else 'no'} |")
PY
