#!/usr/bin/env python3
"""Multi-objective test problems for benchmarks/compare_mo.sh, defined once for both sides:
    mo_problems.py space PROBLEM        the search space as qbert's TOML (--space)
    mo_problems.py directions PROBLEM   e.g. "maximize,minimize" (--directions)
    mo_problems.py reference PROBLEM    the hypervolume reference point, e.g. "1.1,11"
    mo_problems.py eval PROBLEM         the exec objective: the trial's parameters as JSON on stdin ->
                                        one line with the values, space-separated
The Optuna peer (optuna_mo.py) imports PROBLEMS and suggests the same parameters. Plain Python (no numpy), so
that the per-trial command starts quickly."""
import json
import math
import sys


def zdt1(p):
    """ZDT1 with 4 parameters in [0, 1]; front f2 = 1 - sqrt(f1) at x1 = x2 = x3 = 0."""
    x = [p[f"x{i}"] for i in range(4)]
    g = 1 + 9 * sum(x[1:]) / 3
    return [x[0], g * (1 - math.sqrt(x[0] / g))]


FORMAT_BONUS = {"fixed": 0.0, "minifloat": 0.01, "log": -0.04, "block_fp": 0.015}


def acc_bits(p):
    """Accuracy (maximize) against deployed size (minimize) of a quantized, pruned model: weight and activation
    widths, a number format, a sparsity. Accuracy saturates with the widths, falls with sparsity squared."""
    w, a, s = p["w_bits"], p["a_bits"], p["sparsity"]
    acc = (0.88 - 0.4 * math.exp(-0.5 * (w - 2)) - 0.2 * math.exp(-0.6 * (a - 2)) - 0.25 * s * s
           + FORMAT_BONUS[p["format"]])
    size = w * (1 - s) + 0.25 * a + (0.5 if p["format"] == "block_fp" else 0.0)
    return [acc, size]


def dtlz2(p):
    """DTLZ2 with 3 objectives and 5 parameters in [0, 1]; the front is the unit sphere's positive octant."""
    x = [p[f"x{i}"] for i in range(5)]
    g = sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b), (1 + g) * math.sin(a)]


def floats(n, lo=0.0, hi=1.0):
    return {f"x{i}": ("float", lo, hi) for i in range(n)}


# name -> (function, directions, space {param: ("float"|"int", low, high) or ("categorical", choices)}, reference)
PROBLEMS = {
    "zdt1": (zdt1, ["minimize", "minimize"], floats(4), [1.1, 11.0]),
    "acc_bits": (acc_bits, ["maximize", "minimize"],
                 {"w_bits": ("int", 2, 16), "a_bits": ("int", 2, 16),
                  "format": ("categorical", list(FORMAT_BONUS)), "sparsity": ("float", 0.0, 0.9)},
                 [0.4, 21.0]),
    "dtlz2": (dtlz2, ["minimize", "minimize", "minimize"], floats(5), [1.5, 1.5, 1.5]),
}


def space_toml(space):
    lines = []
    for name, spec in space.items():
        lines.append(f"[{name}]")
        if spec[0] == "categorical":
            lines += ['type = "categorical"', "choices = [" + ", ".join(f'"{c}"' for c in spec[1]) + "]"]
        elif spec[0] == "int":
            lines += ['type = "int"', f"low = {spec[1]}", f"high = {spec[2]}"]
        else:
            lines += ['type = "float"', f"low = {float(spec[1])}", f"high = {float(spec[2])}"]
    return "\n".join(lines) + "\n"


def main():
    what, name = sys.argv[1], sys.argv[2]
    f, directions, space, reference = PROBLEMS[name]
    if what == "space":
        sys.stdout.write(space_toml(space))
    elif what == "directions":
        print(",".join(directions))
    elif what == "reference":
        print(",".join(repr(r) for r in reference))
    elif what == "eval":
        print(" ".join(repr(v) for v in f(json.loads(sys.stdin.readline()))))
    else:
        raise SystemExit(f"unknown command {what}")


if __name__ == "__main__":
    main()
