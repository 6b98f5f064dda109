#!/usr/bin/env python3
"""The Optuna side of benchmarks/compare_mo.sh, and the one program that computes every hypervolume.
    optuna_mo.py run --out DIR --problems zdt1,... --samplers random,nsga2,tpe --trials 60 --seeds 5 [--fix-logpdf]
        Optuna's RandomSampler, NSGAIISampler and TPESampler (multi-objective: MOTPE), defaults and seed, on the
        problems of mo_problems.py; DIR/PROBLEM-SAMPLER-SEED.csv holds the values of each COMPLETE trial.
    optuna_mo.py hv --qbert DIR --optuna DIR --problems ... --samplers ... --seeds 5
        The hypervolume of each run (qbert's trials.csv, Optuna's CSV) with the problem's reference point,
        maximised objectives negated, points beyond the reference left out, by Optuna's own WFG; then the mean and
        its standard error per problem, sampler and implementation.
Peer only (not part of the product): /usr/bin/python3 with python3-optuna (Debian 12: Optuna 3.1.0)."""
import argparse
import csv
import math
import os
import statistics

import numpy as np

from mo_problems import PROBLEMS


def run(a):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if a.fix_logpdf:
        from optuna_samplers import fix_truncnorm_logpdf

        fix_truncnorm_logpdf()
    os.makedirs(a.out, exist_ok=True)
    for problem in a.problems.split(","):
        f, directions, space, _ = PROBLEMS[problem]

        def objective(trial):
            p = {}
            for name, spec in space.items():
                if spec[0] == "categorical":
                    p[name] = trial.suggest_categorical(name, spec[1])
                elif spec[0] == "int":
                    p[name] = trial.suggest_int(name, spec[1], spec[2])
                else:
                    p[name] = trial.suggest_float(name, spec[1], spec[2])
            return tuple(f(p))

        for sampler_name in a.samplers.split(","):
            for seed in range(a.seeds):
                sampler = {"random": optuna.samplers.RandomSampler,
                           "nsga2": optuna.samplers.NSGAIISampler,
                           "tpe": optuna.samplers.TPESampler}[sampler_name](seed=seed)
                study = optuna.create_study(directions=directions, sampler=sampler)
                study.optimize(objective, n_trials=a.trials)
                with open(os.path.join(a.out, f"{problem}-{sampler_name}-{seed}.csv"), "w", newline="") as out:
                    w = csv.writer(out)
                    w.writerow([f"value_{i}" for i in range(len(directions))])
                    for t in study.trials:
                        if t.state == optuna.trial.TrialState.COMPLETE:
                            w.writerow([repr(v) for v in t.values])


def values_of(path, n_objectives):
    """COMPLETE trials' values from qbert's trials.csv (state column) or the peer's CSV (values only)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        if "state" in r and r["state"] != "complete":
            continue
        out.append([float(r[f"value_{i}"]) for i in range(n_objectives)])
    return out


def hypervolume(values, directions, reference):
    from optuna._hypervolume import WFG

    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    ref = sign * np.array(reference)
    pts = np.array(values, dtype=float).reshape(-1, len(directions)) * sign
    pts = pts[np.all(pts <= ref, axis=1)]
    return 0.0 if len(pts) == 0 else float(WFG().compute(pts, ref))


def hv_table(a):
    print(f"# mean hypervolume after the runs' trials over {a.seeds} seeds (+- standard error); higher is better")
    print(f"{'problem':10} {'sampler':8} {'qbert':>18} {'optuna':>18}")
    summary = []
    for problem in a.problems.split(","):
        _, directions, _, reference = PROBLEMS[problem]
        means = {}
        for sampler in a.samplers.split(","):
            cells = []
            for impl, path in (("qbert", lambda s: os.path.join(a.qbert, f"{problem}-{sampler}-{s}", "trials.csv")),
                               ("optuna", lambda s: os.path.join(a.optuna, f"{problem}-{sampler}-{s}.csv"))):
                hvs = [hypervolume(values_of(path(s), len(directions)), directions, reference) for s in range(a.seeds)]
                m = statistics.mean(hvs)
                se = statistics.stdev(hvs) / math.sqrt(len(hvs)) if len(hvs) > 1 else 0.0
                means[(impl, sampler)] = m
                cells.append(f"{m:.4f} +- {se:.4f}")
            print(f"{problem:10} {sampler:8} {cells[0]:>18} {cells[1]:>18}")
        peers = [(means[("optuna", s)], s) for s in ("nsga2", "tpe") if ("optuna", s) in means]
        if peers:
            best_peer, peer_name = max(peers)
            for s in a.samplers.split(","):
                summary.append(f"{problem:10} qbert {s:7} / optuna {peer_name:5} (the better of nsga2, tpe) = "
                               f"{means[('qbert', s)] / best_peer:.3f}")
    print("# ratios (target: qbert's best >= 0.95)")
    for line in summary:
        print(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["run", "hv"])
    ap.add_argument("--out", help="run: where the CSVs go")
    ap.add_argument("--qbert", help="hv: directory of qbert's runs (PROBLEM-SAMPLER-SEED/trials.csv)")
    ap.add_argument("--optuna", help="hv: directory of Optuna's runs (PROBLEM-SAMPLER-SEED.csv)")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--samplers", default="random,nsga2,tpe")
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--fix-logpdf", action="store_true",
                    help="add Optuna 3.1's missing -log(scale) to the truncated-normal log density (as Optuna 4)")
    a = ap.parse_args()
    run(a) if a.command == "run" else hv_table(a)


if __name__ == "__main__":
    main()
