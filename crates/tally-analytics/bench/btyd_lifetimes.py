"""The baseline of the BTYD benchmark: Python's `lifetimes` 0.11.3 fitting BG/NBD, Pareto/NBD and
Gamma-Gamma on the CDNOW 1/10 cohort summary (the same files and model as Tally's fits).

Prints one line per model: name, best-of-N fit seconds, and the fitted parameters, as JSON.
Run by bench/btyd_lifetimes.sh, which also runs Tally's fits and prints the ratios.
"""
import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

summary_path, values_path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
summary = pd.read_csv(summary_path)
values = pd.read_csv(values_path)
repeat_buyers = values[values["x"] > 0]


def best_of(fit):
    best, model = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        best = min(best, time.perf_counter() - start)
    return best, model


def report(name, seconds, model):
    params = {k: round(float(v), 4) for k, v in model.params_.items()}
    print(json.dumps({"model": name, "seconds": seconds, "params": params}))


seconds, bg = best_of(lambda: BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"]))
report("bgnbd", seconds, bg)
seconds, pnbd = best_of(lambda: ParetoNBDFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"]))
report("pareto_nbd", seconds, pnbd)
seconds, gg = best_of(lambda: GammaGammaFitter(penalizer_coef=0.0).fit(repeat_buyers["x"], repeat_buyers["zbar"]))
report("gamma_gamma", seconds, gg)
