#!/usr/bin/env python3
"""The Python side of the recommendation benchmark: leave-last-out HR@10 on MovieLens 100k
with `implicit` (ALS and item-KNN) and a popularity baseline, on exactly the split the Rust
example uses (`examples/recommend_ml100k.rs`):

- RecBole's ml-100k.inter (tab-separated user, item, rating, timestamp; one header line);
  every rating is one implicit interaction of weight 1;
- users and items numbered in order of first appearance;
- each user's last interaction by timestamp (ties: the later line) is the test item, users
  with fewer than two stay in training only;
- HR@10: the test item among the top 10, training items left out.

Confidence: our ALS uses c = 1 + alpha * r (Hu, Koren & Volinsky); `implicit` takes c itself
(its alpha times the data). With 0/1 data our alpha a is implicit's alpha 1 + a: this script
takes *our* alpha and passes 1 + alpha to implicit, so both fit the same loss.

Output lines starting with RESULT: name, HR@10 mean, HR@10 sd over seeds, mean fit seconds,
settings (the same format as the Rust example).
"""

import argparse
import itertools
import os
import statistics
import sys
import time
import warnings

# implicit asks for single-threaded BLAS (its own threads do the work); set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

K = 10

# implicit's item-KNN converts its input to CSR and says so; not our concern here.
warnings.filterwarnings("ignore", message="Method expects CSR input")


def load(path):
    users, items, rows = {}, {}, []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            u = users.setdefault(parts[0], len(users))
            i = items.setdefault(parts[1], len(items))
            rows.append((u, i, int(float(parts[3]))))
    return rows, len(users), len(items)


def leave_last_out(rows):
    last, count = {}, {}
    for pos, (u, _, t) in enumerate(rows):
        count[u] = count.get(u, 0) + 1
        if u not in last or rows[last[u]][2] <= t:
            last[u] = pos
    held = {last[u] for u in last if count[u] >= 2}
    train = [r for pos, r in enumerate(rows) if pos not in held]
    test = sorted((rows[p] for p in held), key=lambda r: r[0])
    return train, test


def matrix(train, users, items):
    u = np.array([r[0] for r in train], dtype=np.int32)
    i = np.array([r[1] for r in train], dtype=np.int32)
    m = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (u, i)), shape=(users, items))
    m.sum_duplicates()
    m.data[:] = 1.0  # binary, as in the Rust example (no repeated ratings in ml-100k anyway)
    return m


def hit_rate_model(model, user_items, test):
    ids = np.array([t[0] for t in test], dtype=np.int32)
    recs, _ = model.recommend(ids, user_items[ids], N=K, filter_already_liked_items=True)
    return sum(int(t[1] in set(r.tolist())) for t, r in zip(test, recs)) / len(test)


def hit_rate_popularity(user_items, test):
    buyers = np.asarray((user_items > 0).sum(axis=0)).ravel()
    order = sorted(range(len(buyers)), key=lambda i: (-buyers[i], i))
    order = [i for i in order if buyers[i] > 0]
    hits = 0
    for u, item, _ in test:
        seen = set(user_items[u].indices.tolist())
        top = []
        for i in order:
            if i not in seen:
                top.append(i)
                if len(top) == K:
                    break
        hits += item in top
    return hits / len(test)


def fit_als(user_items, factors, regularization, alpha, iterations, cg_steps, seed, threads):
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=factors,
        regularization=regularization,
        alpha=1.0 + alpha,
        iterations=iterations,
        use_cg=cg_steps > 0,
        calculate_training_loss=False,
        random_state=seed,
        num_threads=threads,
    )
    model.cg_steps = max(cg_steps, 1)  # an attribute, not a constructor argument (0.7)
    started = time.perf_counter()
    model.fit(user_items, show_progress=False)
    return model, time.perf_counter() - started


def grid(spec, base):
    names, values = [], []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, vals = part.split("=", 1)
        if name not in ("factors", "regularization", "alpha", "iterations"):
            sys.exit(f"unknown grid parameter {name}")
        names.append(name)
        values.append([float(v) for v in vals.split(",")])
    out = []
    for combo in itertools.product(*values):
        p = dict(base)
        for n, v in zip(names, combo):
            p[n] = int(v) if n in ("factors", "iterations") else v
        out.append(p)
    return out


def describe(p):
    solver = f"cg_steps={p['cg_steps']}" if p["cg_steps"] > 0 else "cholesky"
    return (
        f"factors={p['factors']} regularization={p['regularization']} alpha={p['alpha']} "
        f"(implicit alpha={1 + p['alpha']}) iterations={p['iterations']} {solver} "
        f"threads={p['threads']}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--regularization", type=float, default=0.01)
    ap.add_argument("--alpha", type=float, default=1.0, help="ours: c = 1 + alpha r")
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--cg-steps", type=int, default=3, help="0: Cholesky")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--neighbours", type=int, default=20)
    ap.add_argument("--tune", default=None)
    a = ap.parse_args()

    rows, users, items = load(a.path)
    train, test = leave_last_out(rows)
    print(f"{len(rows)} interactions, {users} users, {items} items; {len(test)} test users, "
          f"{len(train)} training interactions")
    ui = matrix(train, users, items)
    base = dict(factors=a.factors, regularization=a.regularization, alpha=a.alpha,
                iterations=a.iterations, cg_steps=a.cg_steps, threads=a.threads)

    if a.tune:
        vtrain, vtest = leave_last_out(train)
        vui = matrix(vtrain, users, items)
        candidates = grid(a.tune, base)
        print(f"tuning on validation ({len(vtest)} users), {len(candidates)} settings")
        best = (-1.0, base)
        for p in candidates:
            model, seconds = fit_als(vui, seed=0, **p)
            hr = hit_rate_model(model, vui, vtest)
            print(f"TUNE\t{hr:.4f}\t{seconds:.3f}\t{describe(p)}")
            if hr > best[0]:
                best = (hr, p)
        print(f"chosen: {describe(best[1])} (validation HR@10 {best[0]:.4f})")
        base = best[1]

    print(f"RESULT\tpopularity\t{hit_rate_popularity(ui, test):.4f}\t0\t0\t-")

    from implicit.nearest_neighbours import CosineRecommender

    knn = CosineRecommender(K=a.neighbours, num_threads=a.threads)
    started = time.perf_counter()
    knn.fit(ui, show_progress=False)
    seconds = time.perf_counter() - started
    print(f"RESULT\timplicit_item-KNN_(cosine)\t{hit_rate_model(knn, ui, test):.4f}\t0\t"
          f"{seconds:.4f}\tK={a.neighbours}")

    hrs, times = [], []
    for seed in range(a.seeds):
        model, seconds = fit_als(ui, seed=seed, **base)
        hr = hit_rate_model(model, ui, test)
        print(f"SEED\t{seed}\t{hr:.4f}\t{seconds:.4f}")
        hrs.append(hr)
        times.append(seconds)
    sd = statistics.stdev(hrs) if len(hrs) > 1 else 0.0
    print(f"RESULT\timplicit_ALS\t{statistics.mean(hrs):.4f}\t{sd:.4f}\t"
          f"{statistics.mean(times):.4f}\t{describe(base)} seeds={a.seeds}")


if __name__ == "__main__":
    main()
