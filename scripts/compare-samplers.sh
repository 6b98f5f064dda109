#!/usr/bin/env bash
# Our samplers vs Optuna's on the same problems (docs/benchmarks.md): mean best-so-far over seeds at trials
# 10, 20, 30, 50 (minimisation: lower is better). Needs /usr/bin/python3 with python3-optuna (peer only).
# Usage: scripts/compare-samplers.sh [trials=50] [seeds=20] [problems=all] [samplers=random,tpe,tpe-multivariate]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peer-deps.sh
trials="${1:-50}"; seeds="${2:-20}"; problems="${3:-mixed,nas_like,rosenbrock2,sphere2,sphere5}"
samplers="${4:-random,tpe,tpe-multivariate}"
./build/release/benchmarks/bench_search --trials "$trials" --seeds "$seeds" --problems "$problems" --samplers "$samplers" | sed 's/^/qbert /' > /tmp/qbert_samplers.txt
/usr/bin/python3 -W ignore benchmarks/peers/optuna_samplers.py --trials "$trials" --seeds "$seeds" --problems "$problems" --samplers "$samplers" | sed 's/^/optuna /' > /tmp/optuna_samplers.txt
cat /tmp/qbert_samplers.txt /tmp/optuna_samplers.txt | awk '!/#/ && ($5==10 || $5==20 || $5==30 || $5==50) {
    k=$3" "$2" "$1; s[k" "$5]+=$6; n[k" "$5]++; keys[k]=1 }
  END { printf "%-12s %-17s %-7s %10s %10s %10s %10s\n", "problem", "sampler", "impl", "@10", "@20", "@30", "@50";
        for (k in keys) { split(k, p, " ");
          printf "%-12s %-17s %-7s %10.4g %10.4g %10.4g %10.4g\n", p[1], p[2], p[3],
                 s[k" 10"]/n[k" 10"], s[k" 20"]/n[k" 20"], s[k" 30"]/n[k" 30"], s[k" 50"]/n[k" 50"] } }' | sort
