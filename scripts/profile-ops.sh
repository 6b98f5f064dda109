#!/usr/bin/env bash
# Where a BERT training step spends its time, per kernel: runs bench_bert with QBERT_VERBOSE=1 and sums the
# per-call milliseconds of the timed steps (the 2 warm-up steps are dropped by subtracting a run with 0 iters).
# Usage: scripts/profile-ops.sh [config=tiny] [mode=train] [iters=5] [bench_bert options, e.g. --matmul bf16]
set -euo pipefail
cd "$(dirname "$0")/.."
cfg="${1:-tiny}"; mode="${2:-train}"; iters="${3:-5}"; shift $(( $# < 3 ? $# : 3 ))
sum() {  # kernel,impl -> total ms, calls
  awk -F, '/^qbert_verbose/ && $3 != "cache_hit" && $3 != "cache_miss" {t[$2]+=$NF; n[$2]++}
           END {for (k in t) printf "%s %.3f %d\n", k, t[k], n[k]}'
}
QBERT_VERBOSE=1 ./build/release/benchmarks/bench_bert --configs "$cfg" --modes "$mode" --iters 0 "$@" 2>&1 >/dev/null | sum | sort > /tmp/qbert_prof0
QBERT_VERBOSE=1 ./build/release/benchmarks/bench_bert --configs "$cfg" --modes "$mode" --iters "$iters" "$@" 2>&1 >/dev/null | sum | sort > /tmp/qbert_prof1
join -a1 -e0 -o 0,1.2,1.3,2.2,2.3 /tmp/qbert_prof1 /tmp/qbert_prof0 |
  awk -v it="$iters" '{ms=($2-$4)/it; calls=($3-$5)/it; tot+=ms; r[$1]=ms; c[$1]=calls}
       END {for (k in r) printf "%-22s %8.2f ms/step %5.0f calls/step %5.1f%%\n", k, r[k], c[k], 100*r[k]/tot;
            printf "%-22s %8.2f ms/step (kernels only; the rest is graph, allocation and glue)\n", "total", tot}' | sort -k2 -rn
