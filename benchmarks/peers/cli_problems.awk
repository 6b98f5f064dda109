# The test problems of scripts/compare-tpe-cli.sh as `qbert search --objective exec` commands: one awk run per
# trial, the problem in -v P=NAME and every parameter in -v NAME=VALUE, printing the value in full precision.
# benchmarks/peers/optuna_cli_problems.py defines the same problems for Optuna (spaces, optima, and the same
# formulas in Python; its `check` command holds the two definitions to each other).
#   awk -v P=branin -v x=1.5 -v y=2 -f benchmarks/peers/cli_problems.awk
function sq(v) { return v * v }
function log10(v) { return log(v) / log(10) }
BEGIN {
    pi = atan2(0, -1)
    if (P == "branin") {  # x in [-5, 10], y in [0, 15]; minimum 0.397887 at three points
        f = sq(y - 5.1 / (4 * pi * pi) * x * x + 5 / pi * x - 6) + 10 * (1 - 1 / (8 * pi)) * cos(x) + 10
    } else if (P == "himmelblau") {  # x, y in [-6, 6]; minimum 0 at four points
        f = sq(x * x + y - 11) + sq(x + y * y - 7)
    } else if (P == "wide2") {  # x, y in [-100, 100]: an ellipse off centre on a wide range; minimum 0
        f = sq((x - 37.3) / 10) + 4 * sq((y + 61.9) / 10)
    } else if (P == "grid6") {  # six ints on [0, 30], one of them step 3 on [0, 60]; minimum 0
        f = sq(a - 7) + sq(b - 23) + sq(c - 12) + sq(d - 3) + sq(e - 18) + sq((g - 27) / 3)
        f = f / 25 + 0.2 * ((a + b) % 2)
    } else if (P == "nasmix") {  # categorical, int, int step 64, log-float, log-int, float; minimum 0
        pen["gelu"] = 0; pen["relu"] = 0.3; pen["silu"] = 0.15; pen["tanh"] = 0.8; pen["elu"] = 0.5
        f = pen[act] + 0.05 * sq(layers - 6) + sq((hidden - 384) / 256) + 0.5 * sq(log10(lr) + 3.5) \
            + 0.1 * sq(log(batch) / log(2) - 6) + 4 * sq(dropout - 0.1)
    } else if (P == "hartmann6") {  # x1..x6 in [0, 1]; minimum -3.32237
        split("1.0 1.2 3.0 3.2", alpha, " ")
        split("10 3 17 3.5 1.7 8 0.05 10 17 0.1 8 14 3 3.5 1.7 10 17 8 17 8 0.05 10 0.1 14", A, " ")
        split("1312 1696 5569 124 8283 5886 2329 4135 8307 3736 1004 9991 " \
              "2348 1451 3522 2883 3047 6650 4047 8828 8732 5743 1091 381", Pm, " ")
        xs[1] = x1; xs[2] = x2; xs[3] = x3; xs[4] = x4; xs[5] = x5; xs[6] = x6
        f = 0
        for (i = 1; i <= 4; i++) {
            s = 0
            for (j = 1; j <= 6; j++) s += A[(i - 1) * 6 + j] * sq(xs[j] - Pm[(i - 1) * 6 + j] * 1e-4)
            f -= alpha[i] * exp(-s)
        }
    } else {
        print "cli_problems.awk: unknown problem '" P "'" > "/dev/stderr"
        exit 2
    }
    printf "%.17g\n", f
}
