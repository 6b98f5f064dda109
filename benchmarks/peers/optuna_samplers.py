#!/usr/bin/env python3
"""Optuna's samplers on the problems of benchmarks/bench_search.cpp (defined identically), same output columns:
    sampler problem seed trial best_so_far
Peer only (not part of the product): /usr/bin/python3 with python3-optuna (Debian 12: Optuna 3.1.0)."""
import argparse
import math

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def sphere2(t):
    x, y = t.suggest_float("x", -5, 5), t.suggest_float("y", -5, 5)
    return (x - 1.3) ** 2 + (y + 0.7) ** 2


def rosenbrock2(t):
    x, y = t.suggest_float("x", -2, 2), t.suggest_float("y", -1, 3)
    return 100 * (y - x * x) ** 2 + (1 - x) ** 2


def sphere5(t):
    return sum((t.suggest_float(f"x{i}", -5, 5) - 0.5 * i) ** 2 for i in range(5))


def mixed(t):
    n = t.suggest_int("n", 1, 16)
    act = t.suggest_categorical("act", ["relu", "gelu", "tanh", "silu"])
    lr = t.suggest_float("lr", 1e-5, 1e-1, log=True)
    x = t.suggest_float("x", -3, 3)
    a = 0.0 if act == "gelu" else 0.3 if act == "silu" else 1.0
    l = math.log10(lr) + 3.2
    return abs(n - 11) * 0.2 + a + l * l + (x - 0.4) ** 2


def nas_like(t):
    L, A = t.suggest_int("num_layers", 0, 2), t.suggest_int("num_heads", 0, 3)
    H, I = t.suggest_int("hidden_size", 0, 4), t.suggest_int("intermediate_size", 0, 4)
    return 0.3 * abs(L - 1) + 0.1 * abs(A - 2) + 0.25 * abs(H - 3) + 0.15 * abs(I - 1) + 0.05 * ((H * I) % 3)


PROBLEMS = {"mixed": mixed, "nas_like": nas_like, "rosenbrock2": rosenbrock2, "sphere2": sphere2, "sphere5": sphere5}


def sampler(name, seed):
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-multivariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    raise SystemExit(f"unknown sampler {name}")


def fix_truncnorm_logpdf():
    """Optuna 3.1's truncated-normal logpdf lacks the -log(scale) term of a scaled density; later releases (e.g.
    4.x, which Mase uses) have it. This puts it back, so that the peer computes the densities later Optuna does."""
    import numpy as np
    from optuna.samplers._tpe import _truncnorm, parzen_estimator

    original = _truncnorm.logpdf

    def logpdf(x, a, b, loc=0, scale=1):
        return original(x, a, b, loc, scale) - np.log(scale)

    _truncnorm.logpdf = logpdf
    parzen_estimator.truncnorm.logpdf = logpdf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fix-logpdf", action="store_true",
                    help="add Optuna 3.1's missing -log(scale) to the truncated-normal log density (as Optuna 4)")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--samplers", default="random,tpe,tpe-multivariate")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    a = ap.parse_args()
    if a.fix_logpdf:
        fix_truncnorm_logpdf()
    print(f"# optuna {optuna.__version__} trials={a.trials} seeds={a.seeds} fix_logpdf={a.fix_logpdf}")
    for pname in a.problems.split(","):
        f = PROBLEMS[pname]
        for sname in a.samplers.split(","):
            for seed in range(a.seeds):
                study = optuna.create_study(direction="minimize", sampler=sampler(sname, seed))
                best = math.inf
                for _ in range(a.trials):
                    t = study.ask()
                    v = f(t)
                    study.tell(t, v)
                    best = min(best, v)
                    print(f"{sname} {pname} {seed} {t.number + 1} {best:.6g}")


if __name__ == "__main__":
    main()
