#!/usr/bin/env python3
"""Peer of benchmarks/tpe_next.cpp: Optuna's next TPE suggestion after a fixed history (rows "x0 ... x{d-1}
value", floats in [-5, 5], minimisation), for seeds 0..N-1, one line per seed. --fix-logpdf as in
optuna_samplers.py (Optuna 3.1's missing -log(sigma), optuna/optuna#5109)."""
import argparse

import optuna

from optuna_samplers import fix_truncnorm_logpdf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", required=True)
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--fix-logpdf", action="store_true")
    a = ap.parse_args()
    if a.fix_logpdf:
        fix_truncnorm_logpdf()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = [list(map(float, line.split())) for line in open(a.history) if line.strip()]
    d = len(rows[0]) - 1
    dists = {f"x{i}": optuna.distributions.FloatDistribution(-5, 5) for i in range(d)}
    for seed in range(a.seeds):
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        for r in rows:
            study.add_trial(optuna.trial.create_trial(params={f"x{i}": r[i] for i in range(d)}, distributions=dists,
                                                      value=r[d]))
        t = study.ask()
        print(" ".join("%.9g" % t.suggest_float(f"x{i}", -5, 5) for i in range(d)))


if __name__ == "__main__":
    main()
