#!/usr/bin/env bash
# Recommendation benchmark (not run in CI): leave-last-out HR@10 on MovieLens 100k, Tally's
# recommenders against Python's `implicit` on the same split, same settings, same machine.
#
#   bash crates/tally-analytics/bench/recommend.sh            # from the repository root
#
# Fetches RecBole 1.2.1's wheel from PyPI (it ships ml-100k as `recbole/dataset_example/`),
# installs `implicit` into a throw-away virtualenv, and runs two rounds:
#   1. implicit's default settings (100 factors, lambda 0.01, its alpha 1 = our alpha 0,
#      15 iterations, 3 CG steps), 5 seeds each;
#   2. the same settings with extra confidence on positives (64 factors, our alpha 1 =
#      implicit's alpha 2), where the per-item confidence work counts in the training time;
#   3. settings picked per library by HR@10 on a validation split (each user's last training
#      interaction), from the same grid for both, then 5 seeds on the test split.
# Nothing is written into the repository. Environment:
#   RECOMMEND_BENCH_DIR  work directory (default: a new temporary one, removed at the end)
#   THREADS              threads for both libraries (default 1)
#   SEEDS                seeds per measurement (default 5)
#   GRID                 the tuning grid (our alpha; implicit gets 1 + alpha)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
threads="${THREADS:-1}"
seeds="${SEEDS:-5}"
grid="${GRID:-factors=32,64,128;regularization=0.01,0.1,1;alpha=0,1,4,9}"

if [[ -n "${RECOMMEND_BENCH_DIR:-}" ]]; then
    work="$RECOMMEND_BENCH_DIR"
    mkdir -p "$work"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
echo "work directory: $work"

inter="$work/ml-100k/ml-100k.inter"
if [[ ! -s "$inter" ]]; then
    python3 -m pip download --quiet --no-deps recbole==1.2.1 -d "$work/wheel"
    python3 - "$work" <<'EOF'
import glob, os, sys, zipfile
work = sys.argv[1]
wheel = glob.glob(os.path.join(work, "wheel", "recbole-1.2.1-*.whl"))[0]
member = "recbole/dataset_example/ml-100k/ml-100k.inter"
os.makedirs(os.path.join(work, "ml-100k"), exist_ok=True)
with zipfile.ZipFile(wheel) as z, open(os.path.join(work, "ml-100k", "ml-100k.inter"), "wb") as out:
    out.write(z.read(member))
EOF
fi
echo "data: $inter ($(wc -l < "$inter") lines)"

have_implicit=1
if [[ ! -x "$work/venv/bin/python" ]]; then
    python3 -m venv "$work/venv"
fi
if ! "$work/venv/bin/python" -c "import implicit" 2>/dev/null; then
    if ! "$work/venv/bin/python" -m pip install --quiet implicit numpy scipy; then
        echo "!! could not install implicit: measuring Tally's recommenders only"
        have_implicit=0
    fi
fi
if [[ $have_implicit == 1 ]]; then
    echo "implicit $("$work/venv/bin/python" -c 'import implicit; print(implicit.__version__)')"
fi

echo "building the example (release)"
(cd "$root" && nice -n 10 cargo build --quiet --release -p tally-analytics --example recommend_ml100k)

run_round() {
    local name="$1"
    shift
    local ours="$work/ours-$name.txt" theirs="$work/implicit-$name.txt"
    echo
    echo "== $name =="
    (cd "$root" && nice -n 10 cargo run --quiet --release -p tally-analytics \
        --example recommend_ml100k -- "$inter" --threads "$threads" --seeds "$seeds" "$@") \
        | tee "$ours" | grep -E '^(RESULT|chosen|tuning|TUNE)'
    if [[ $have_implicit == 1 ]]; then
        nice -n 10 "$work/venv/bin/python" "$here/recommend_baseline.py" "$inter" \
            --threads "$threads" --seeds "$seeds" "$@" \
            | tee "$theirs" | grep -E '^(RESULT|chosen|tuning|TUNE)'
    else
        : > "$theirs"
    fi
    python3 - "$ours" "$theirs" <<'EOF'
import sys
rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        if line.startswith("RESULT\t"):
            _, name, hr, sd, seconds, settings = line.rstrip("\n").split("\t")
            if path == sys.argv[2] and name == "popularity":
                name = "popularity (Python)"
            rows[name] = (float(hr), float(sd), float(seconds), settings)
print()
print(f"{'recommender':34} {'HR@10':>7} {'sd':>7} {'fit s':>8}  settings")
for name, (hr, sd, seconds, settings) in rows.items():
    print(f"{name:34} {hr:7.4f} {sd:7.4f} {seconds:8.3f}  {settings}")
if "tally_ALS" in rows and "implicit_ALS" in rows:
    o, t = rows["tally_ALS"], rows["implicit_ALS"]
    print(f"ALS HR@10 ours - implicit: {o[0] - t[0]:+.4f}; "
          f"training time ours / implicit: {o[2] / t[2]:.2f}")
EOF
}

run_round defaults --factors 100 --regularization 0.01 --alpha 0 --iterations 15 --cg-steps 3
run_round alpha1 --factors 64 --regularization 0.01 --alpha 1 --iterations 15 --cg-steps 3
run_round tuned --factors 64 --regularization 0.01 --alpha 0 --iterations 15 --cg-steps 3 \
    --tune "$grid"
