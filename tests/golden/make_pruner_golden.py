#!/usr/bin/env python3
"""Golden pruning decisions (tests/search/test_pruners.cpp), made by Optuna's own pruners, not by a
re-implementation. Optional interop tooling: not part of the product or of CI.

    /usr/bin/python3 tests/golden/make_pruner_golden.py > tests/golden/pruner_golden.json

Each case runs a study in Optuna (in-memory storage) whose trials report a planned curve of intermediate
values, ask trial.should_prune() after every report and raise TrialPruned when told to. The file keeps, per
trial, the planned curve and Optuna's answer after every report; the C++ test replays the same curves through
qbert's pruners and compares every answer, the trial's state and its value. Optuna 3.1 (Debian's
python3-optuna); its pruners' logic is the same as Optuna 4.x / 5.0's (optuna/pruners/, diffed: only
messages differ).
"""
import json
import math
import sys

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)


def curves(rng, n_trials, n_steps, direction, nan_rate=0.0, short_rate=0.0):
    """Learning-curve-like values: a plateau per trial, approached at a per-trial rate, plus noise."""
    out = []
    for _ in range(n_trials):
        top, rate = rng.uniform(0.5, 0.95), rng.uniform(0.05, 0.6)
        steps = n_steps if rng.uniform() >= short_rate else int(rng.integers(1, n_steps + 1))
        v = [top * (1 - math.exp(-rate * (s + 1))) + rng.normal(0, 0.02) for s in range(steps)]
        if direction == "minimize":
            v = [1.0 - x for x in v]
        v = [float("nan") if rng.uniform() < nan_rate else round(x, 6) for x in v]
        if rng.uniform() < 0.1:  # a few exact ties with an earlier trial
            if out and len(out[-1]["curve"]) >= len(v):
                v = list(out[-1]["curve"][: len(v)])
        out.append({"curve": v})
    return out


def make_pruner(name, settings):
    if name == "median":
        return optuna.pruners.MedianPruner(**settings)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(**settings)
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(**settings)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(**settings)
    raise ValueError(name)


def run_case(case, seed):
    rng = np.random.default_rng(seed)
    trials = curves(rng, case["n_trials"], case["n_steps"], case["direction"], case.get("nan_rate", 0.0),
                    case.get("short_rate", 0.0))
    stride = case.get("stride", 1)
    study = optuna.create_study(study_name=case["study"], direction=case["direction"],
                                pruner=make_pruner(case["pruner"], case["settings"]),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for plan in trials:
        trial = study.ask()
        decisions = []
        pruned = False
        for i, v in enumerate(plan["curve"]):
            trial.report(v, i * stride)
            d = trial.should_prune()
            decisions.append(bool(d))
            if d:
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            last = [v for v in plan["curve"] if not math.isnan(v)]
            study.tell(trial, last[-1] if last else 0.0)
        ft = study.trials[-1]
        plan["decisions"] = decisions
        plan["state"] = ft.state.name.lower()
        plan["value"] = ft.value
    out = dict(case)
    out["seed"] = seed
    out["trials"] = trials
    return out


CASES = [
    {"pruner": "median", "settings": {}, "direction": "maximize", "n_trials": 30, "n_steps": 12},
    {"pruner": "median", "settings": {}, "direction": "minimize", "n_trials": 30, "n_steps": 12},
    {"pruner": "median", "settings": {"n_startup_trials": 2, "n_warmup_steps": 3, "interval_steps": 2},
     "direction": "maximize", "n_trials": 25, "n_steps": 15, "stride": 1},
    {"pruner": "median", "settings": {"n_startup_trials": 3, "n_warmup_steps": 4, "interval_steps": 3, "n_min_trials": 4},
     "direction": "minimize", "n_trials": 30, "n_steps": 14, "stride": 2, "short_rate": 0.3},
    {"pruner": "median", "settings": {"n_startup_trials": 1}, "direction": "maximize", "n_trials": 25, "n_steps": 10,
     "nan_rate": 0.15},
    {"pruner": "percentile", "settings": {"percentile": 25.0, "n_startup_trials": 3}, "direction": "maximize",
     "n_trials": 30, "n_steps": 10},
    {"pruner": "percentile", "settings": {"percentile": 80.0, "n_startup_trials": 2, "n_warmup_steps": 1},
     "direction": "minimize", "n_trials": 30, "n_steps": 10, "short_rate": 0.2},
    {"pruner": "successive-halving", "settings": {}, "direction": "maximize", "n_trials": 40, "n_steps": 30},
    {"pruner": "successive-halving", "settings": {}, "direction": "minimize", "n_trials": 40, "n_steps": 250,
     "stride": 1},
    {"pruner": "successive-halving", "settings": {"min_resource": 1, "reduction_factor": 3}, "direction": "maximize",
     "n_trials": 40, "n_steps": 27},
    {"pruner": "successive-halving", "settings": {"min_resource": 2, "reduction_factor": 2, "min_early_stopping_rate": 1,
                                                  "bootstrap_count": 2},
     "direction": "minimize", "n_trials": 40, "n_steps": 20, "nan_rate": 0.05},
    {"pruner": "successive-halving", "settings": {"min_resource": 1, "reduction_factor": 2}, "direction": "maximize",
     "n_trials": 30, "n_steps": 8, "stride": 3, "short_rate": 0.2},
    {"pruner": "hyperband", "settings": {}, "direction": "maximize", "n_trials": 60, "n_steps": 27},
    {"pruner": "hyperband", "settings": {}, "direction": "minimize", "n_trials": 60, "n_steps": 40},
    {"pruner": "hyperband", "settings": {"min_resource": 1, "max_resource": 30, "reduction_factor": 2},
     "direction": "maximize", "n_trials": 60, "n_steps": 30},
    {"pruner": "hyperband", "settings": {"min_resource": 2, "max_resource": 50, "reduction_factor": 3,
                                         "bootstrap_count": 1},
     "direction": "minimize", "n_trials": 50, "n_steps": 50, "short_rate": 0.2},
]


def nan_to_null(x):
    """JSON has no NaN: a NaN intermediate value is written as null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, list):
        return [nan_to_null(v) for v in x]
    if isinstance(x, dict):
        return {k: nan_to_null(v) for k, v in x.items()}
    return x


def main():
    out = {"optuna": optuna.__version__, "numpy": np.__version__, "cases": []}
    for i, c in enumerate(CASES):
        c = dict(c)
        c["study"] = f"golden-{i}-{c['pruner']}"
        out["cases"].append(run_case(c, 1000 + i))
    json.dump(nan_to_null(out), sys.stdout, indent=None, separators=(",", ":"), allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
