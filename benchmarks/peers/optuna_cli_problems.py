#!/usr/bin/env python3
"""The problems of scripts/compare-tpe-cli.sh: their search spaces (as qbert's space.toml), the `qbert search
--objective exec` command that evaluates them (benchmarks/peers/cli_problems.awk), their optima, and Optuna's
samplers run on them in-process with the same formulas in Python.

    optuna_cli_problems.py space P         the space as TOML, for qbert search --space
    optuna_cli_problems.py exec P          the --exec command (run from the repository root)
    optuna_cli_problems.py check           the awk and Python formulas agree (200 random points per problem)
    optuna_cli_problems.py run [--fix-logpdf] --impl NAME --problems ... --samplers ... --seeds N --trials T
                                           one line per study: impl sampler problem seed regret@T1 regret@T2 ...
    optuna_cli_problems.py summary FILE... mean regret +- standard error per problem, sampler and impl

Peer only (not part of the product): /usr/bin/python3 with Debian's python3-optuna (3.1.0), or any Optuna found
first on PYTHONPATH (an unpacked Optuna 4.x source tree runs on Debian's numpy, sqlalchemy and alembic)."""
import argparse
import math
import os
import random
import subprocess
import sys

AWK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli_problems.awk")

# name -> (space, optimum, f); space: [(param, kind, spec)] with kind float | int | cat
SPACES = {
    "branin": [("x", "float", (-5.0, 10.0, False)), ("y", "float", (0.0, 15.0, False))],
    "himmelblau": [("x", "float", (-6.0, 6.0, False)), ("y", "float", (-6.0, 6.0, False))],
    "wide2": [("x", "float", (-100.0, 100.0, False)), ("y", "float", (-100.0, 100.0, False))],
    "grid6": [(n, "int", (0, 30, 1, False)) for n in "abcde"] + [("g", "int", (0, 60, 3, False))],
    "nasmix": [("act", "cat", ["relu", "gelu", "tanh", "silu", "elu"]), ("layers", "int", (1, 12, 1, False)),
               ("hidden", "int", (64, 1024, 64, False)), ("lr", "float", (1e-5, 1e-1, True)),
               ("batch", "int", (8, 512, 1, True)), ("dropout", "float", (0.0, 0.5, False))],
    "hartmann6": [(f"x{i}", "float", (0.0, 1.0, False)) for i in range(1, 7)],
}
OPTIMA = {"branin": 0.397887357729738, "himmelblau": 0.0, "wide2": 0.0, "grid6": 0.0, "nasmix": 0.0,
          "hartmann6": -3.32236801141551}

_H_ALPHA = [1.0, 1.2, 3.0, 3.2]
_H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
_H_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
_PEN = {"gelu": 0.0, "relu": 0.3, "silu": 0.15, "tanh": 0.8, "elu": 0.5}


def value(problem, p):
    """The same formulas as cli_problems.awk."""
    if problem == "branin":
        x, y = p["x"], p["y"]
        return (y - 5.1 / (4 * math.pi ** 2) * x * x + 5 / math.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10
    if problem == "himmelblau":
        x, y = p["x"], p["y"]
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2
    if problem == "wide2":
        return ((p["x"] - 37.3) / 10) ** 2 + 4 * ((p["y"] + 61.9) / 10) ** 2
    if problem == "grid6":
        f = sum((p[n] - c) ** 2 for n, c in zip("abcde", (7, 23, 12, 3, 18))) + ((p["g"] - 27) / 3) ** 2
        return f / 25 + 0.2 * ((p["a"] + p["b"]) % 2)
    if problem == "nasmix":
        return (_PEN[p["act"]] + 0.05 * (p["layers"] - 6) ** 2 + ((p["hidden"] - 384) / 256) ** 2
                + 0.5 * (math.log10(p["lr"]) + 3.5) ** 2 + 0.1 * (math.log2(p["batch"]) - 6) ** 2
                + 4 * (p["dropout"] - 0.1) ** 2)
    if problem == "hartmann6":
        xs = [p[f"x{i}"] for i in range(1, 7)]
        return -sum(a * math.exp(-sum(A[j] * (xs[j] - P[j] * 1e-4) ** 2 for j in range(6)))
                    for a, A, P in zip(_H_ALPHA, _H_A, _H_P))
    raise SystemExit(f"unknown problem {problem}")


def toml(problem):
    out = []
    for name, kind, spec in SPACES[problem]:
        out.append(f"[{name}]")
        if kind == "cat":
            out += ['type = "categorical"', "choices = [" + ", ".join(f'"{c}"' for c in spec) + "]"]
        elif kind == "int":
            lo, hi, step, log = spec
            out += ['type = "int"', f"low = {lo}", f"high = {hi}", f"step = {step}", f"log = {str(log).lower()}"]
        else:
            lo, hi, log = spec
            out += ['type = "float"', f"low = {lo!r}", f"high = {hi!r}", f"log = {str(log).lower()}"]
    return "\n".join(out) + "\n"


def exec_command(problem, awk_path="benchmarks/peers/cli_problems.awk"):
    args = " ".join(f"-v {name}={{{name}}}" for name, _, _ in SPACES[problem])
    return f"awk -v P={problem} {args} -f {awk_path}"


def suggest(trial, problem):
    p = {}
    for name, kind, spec in SPACES[problem]:
        if kind == "cat":
            p[name] = trial.suggest_categorical(name, spec)
        elif kind == "int":
            lo, hi, step, log = spec
            p[name] = trial.suggest_int(name, lo, hi, step=step, log=log)
        else:
            lo, hi, log = spec
            p[name] = trial.suggest_float(name, lo, hi, log=log)
    return p


def random_point(problem, rng):
    p = {}
    for name, kind, spec in SPACES[problem]:
        if kind == "cat":
            p[name] = rng.choice(spec)
        elif kind == "int":
            lo, hi, step, log = spec
            p[name] = rng.randrange(lo, hi + 1, step)
        else:
            lo, hi, log = spec
            p[name] = math.exp(rng.uniform(math.log(lo), math.log(hi))) if log else rng.uniform(lo, hi)
    return p


def check():
    rng = random.Random(0)
    worst = 0.0
    for problem in SPACES:
        for _ in range(200):
            p = random_point(problem, rng)
            cmd = ["awk", "-v", f"P={problem}"]
            for k, v in p.items():
                cmd += ["-v", f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}"]
            got = float(subprocess.run(cmd + ["-f", AWK], capture_output=True, text=True, check=True).stdout)
            want = value(problem, p)
            err = abs(got - want) / max(1.0, abs(want))
            worst = max(worst, err)
            if err > 1e-12:
                raise SystemExit(f"check: {problem} {p}: awk {got!r}, python {want!r}")
    print(f"# check: awk and python agree on {len(SPACES)} problems x 200 points (largest relative error {worst:.1e})")


def fix_truncnorm_logpdf():
    """Optuna 3.1's truncated-normal logpdf lacks the -log(scale) of a scaled density (optuna/optuna#5109); 3.5
    and later (Mase's 4.x) have it (#5110). This puts it back, as benchmarks/peers/optuna_samplers.py does."""
    import numpy as np
    from optuna.samplers._tpe import _truncnorm, parzen_estimator

    original = _truncnorm.logpdf

    def logpdf(x, a, b, loc=0, scale=1):
        return original(x, a, b, loc, scale) - np.log(scale)

    _truncnorm.logpdf = logpdf
    parzen_estimator.truncnorm.logpdf = logpdf


def run(a):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    version = tuple(int(v) for v in optuna.__version__.split(".")[:2])
    if a.fix_logpdf:
        if version >= (3, 5):
            raise SystemExit(f"--fix-logpdf is for Optuna < 3.5; this is {optuna.__version__} (already fixed)")
        fix_truncnorm_logpdf()
    at = [int(t) for t in a.at.split(",")]
    print(f"# {a.impl}: optuna {optuna.__version__} from {os.path.dirname(optuna.__file__)} "
          f"fix_logpdf={a.fix_logpdf} trials={max(at)} seeds={a.seeds}", flush=True)
    for problem in a.problems.split(","):
        for sname in a.samplers.split(","):
            for seed in range(a.seed0, a.seed0 + a.seeds):
                s = optuna.samplers.TPESampler(seed=seed) if sname == "tpe" else optuna.samplers.RandomSampler(seed=seed)
                study = optuna.create_study(direction="minimize", sampler=s)
                best, regrets = math.inf, []
                for n in range(1, max(at) + 1):
                    t = study.ask()
                    v = value(problem, suggest(t, problem))
                    study.tell(t, v)
                    best = min(best, v)
                    if n in at:
                        regrets.append(f"{best - OPTIMA[problem]:.10g}")
                print(a.impl, sname, problem, seed, *regrets, flush=True)


def summary(a):
    """Mean regret and its standard error over the seeds of each (problem, sampler, impl), at each trial count
    of the header, then each TPE's mean over the reference's (a.ref) per problem."""
    rows = {}
    at = a.at.split(",")
    for path in a.files:
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                impl, sampler, problem, seed, *r = line.split()
                rows.setdefault((problem, sampler, impl), []).append([float(v) for v in r])
    stats = {}
    for key, runs in rows.items():
        n = len(runs)
        for k in range(len(at)):
            xs = [r[k] for r in runs]
            m = sum(xs) / n
            se = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1) / n) if n > 1 else float("nan")
            stats[key + (k,)] = (m, se, n)
    problems = sorted({k[0] for k in rows})
    impls = [i for i in a.order.split(",") if any(k[2] == i for k in rows)]
    impls += sorted({k[2] for k in rows} - set(impls))
    print(f"mean regret (best so far - optimum) +- standard error over seeds; lower is better")
    print(f"| problem | sampler | impl | seeds | " + " | ".join(f"@{t}" for t in at) + " |")
    print("| --- | --- | --- | ---: | " + " | ".join("---:" for _ in at) + " |")
    for problem in problems:
        for sampler in ("tpe", "random"):
            for impl in impls:
                key = (problem, sampler, impl)
                if key not in rows:
                    continue
                cells = [f"{stats[key + (k,)][0]:.4g} +- {stats[key + (k,)][1]:.2g}" for k in range(len(at))]
                print(f"| {problem} | {sampler} | {impl} | {len(rows[key])} | " + " | ".join(cells) + " |")
    ref = a.ref
    print(f"\nTPE mean regret over {ref}'s (target <= 1.10), +- its standard error (delta method):")
    print("| problem | impl | " + " | ".join(f"@{t}" for t in at) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in at) + " |")
    for problem in problems:
        for impl in impls:
            key, rkey = (problem, "tpe", impl), (problem, "tpe", ref)
            if impl == ref or key not in rows or rkey not in rows:
                continue
            cells = []
            for k in range(len(at)):
                m, se, _ = stats[key + (k,)]
                rm, rse, _ = stats[rkey + (k,)]
                ratio = m / rm if rm > 0 else float("nan")
                err = ratio * math.sqrt((se / m) ** 2 + (rse / rm) ** 2) if m > 0 and rm > 0 else float("nan")
                cells.append(f"{ratio:.3f} +- {err:.3f}")
            print(f"| {problem} | {impl} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for c in ("space", "exec", "optimum"):
        sp = sub.add_parser(c)
        sp.add_argument("problem", choices=sorted(SPACES))
    sub.add_parser("check")
    r = sub.add_parser("run")
    r.add_argument("--impl", default="optuna")
    r.add_argument("--fix-logpdf", action="store_true")
    r.add_argument("--problems", default=",".join(SPACES))
    r.add_argument("--samplers", default="tpe")
    r.add_argument("--seeds", type=int, default=20)
    r.add_argument("--seed0", type=int, default=0)
    r.add_argument("--at", default="30,60", help="trial counts at which to print the regret")
    s = sub.add_parser("summary")
    s.add_argument("files", nargs="+")
    s.add_argument("--at", default="30,60", help="the trial counts the files' columns are for")
    s.add_argument("--ref", default="optuna-fixed", help="the implementation the TPE ratios are taken over")
    s.add_argument("--order", default="qbert,optuna-4,optuna-fixed,optuna-3.1")
    a = ap.parse_args()
    if a.cmd == "space":
        sys.stdout.write(toml(a.problem))
    elif a.cmd == "exec":
        print(exec_command(a.problem))
    elif a.cmd == "optimum":
        print(repr(OPTIMA[a.problem]))
    elif a.cmd == "check":
        check()
    elif a.cmd == "run":
        run(a)
    else:
        summary(a)


if __name__ == "__main__":
    main()
