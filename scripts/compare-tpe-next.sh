#!/usr/bin/env bash
# One TPE step, ours vs Optuna's (docs/benchmarks.md): two fixed 5-D sphere histories (30 uniform trials; 10
# uniform + 10 near the optimum), the next suggestion for N sampler seeds, mean +- standard error of each
# coordinate and of the sphere value of the suggestion. Needs /usr/bin/python3 with python3-optuna (peer only).
# Usage: scripts/compare-tpe-next.sh [seeds=2000]   (PEER_LOGPDF=as-is runs Optuna 3.1 without the logpdf fix)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peer-deps.sh
seeds="${1:-2000}"
fix="--fix-logpdf"; [ "${PEER_LOGPDF:-fixed}" = as-is ] && fix=""
dir=$(mktemp -d)
/usr/bin/python3 - "$dir" <<'PY'
import sys, numpy as np
def write(path, X):
    with open(path, "w") as f:
        for x in X:
            x = np.clip(x, -5, 5)
            f.write(" ".join("%.17g" % v for v in x) + " %.17g\n" % sum((x[i] - 0.5 * i) ** 2 for i in range(5)))
r = np.random.RandomState(3)
write(sys.argv[1] + "/uniform30.txt", r.uniform(-5, 5, (30, 5)))
r = np.random.RandomState(5)
write(sys.argv[1] + "/focused20.txt", list(r.uniform(-5, 5, (10, 5))) +
      [np.array([0.5 * i for i in range(5)]) + r.normal(0, 1.5, 5) for _ in range(10)])
PY
summary() {  # mean +- standard error per column, then of the sphere value
  awk '{ v = 0; for (i = 1; i <= NF; i++) { s[i] += $i; q[i] += $i * $i; v += ($i - 0.5 * (i - 1)) ^ 2 }
         s[NF + 1] += v; q[NF + 1] += v * v; n++; d = NF }
       END { for (i = 1; i <= d + 1; i++) { m = s[i] / n; printf "%s%.3f+-%.3f", (i > 1 ? "  " : ""), m, sqrt((q[i] / n - m * m) / n) }
             printf "\n" }' "$1"
}
for h in uniform30 focused20; do
  ./build/release/benchmarks/bench_tpe_next --history "$dir/$h.txt" --seeds "$seeds" > "$dir/$h.qbert"
  (cd benchmarks/peers && /usr/bin/python3 -W ignore optuna_tpe_next.py $fix --history "$dir/$h.txt" --seeds "$seeds") > "$dir/$h.optuna"
  echo "history $h: mean +- s.e. of x0 .. x4 and of the sphere value, over $seeds seeds"
  echo "  qbert  $(summary "$dir/$h.qbert")"
  echo "  optuna $(summary "$dir/$h.optuna")"
done
rm -rf "$dir"
