#!/usr/bin/env bash
# Our samplers vs Optuna's on the same problems (docs/benchmarks.md): mean best-so-far over seeds at trials
# 10, 20, 30, 50 (minimisation: lower is better). Needs /usr/bin/python3 with python3-optuna (peer only).
# Usage: scripts/compare-samplers.sh [trials=50] [seeds=20] [problems=all] [samplers=random,tpe,tpe-multivariate]
# Debian's Optuna 3.1 lacks -log(sigma) in its truncated-normal log density (optuna/optuna#5109, fixed in 3.5);
# the peer runs with that fix, i.e. as current Optuna (Mase's 4.x) computes, unless PEER_LOGPDF=as-is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peer-deps.sh
trials="${1:-50}"; seeds="${2:-20}"; problems="${3:-mixed,nas_like,rosenbrock2,sphere2,sphere5}"
samplers="${4:-random,tpe,tpe-multivariate}"
./build/release/benchmarks/bench_search --trials "$trials" --seeds "$seeds" --problems "$problems" --samplers "$samplers" | sed 's/^/qbert /' > /tmp/qbert_samplers.txt
fix="--fix-logpdf"; [ "${PEER_LOGPDF:-fixed}" = as-is ] && fix=""
/usr/bin/python3 -W ignore benchmarks/peers/optuna_samplers.py $fix --trials "$trials" --seeds "$seeds" --problems "$problems" --samplers "$samplers" | sed 's/^/optuna /' > /tmp/optuna_samplers.txt
# mean best-so-far and its standard error over the seeds (the two implementations draw different random numbers,
# so only the means can be compared, within a few standard errors)
printf "%-12s %-17s %-7s %16s %16s %16s %16s\n" problem sampler impl @10 @20 @30 @50
cat /tmp/qbert_samplers.txt /tmp/optuna_samplers.txt | awk '!/#/ && ($5==10 || $5==20 || $5==30 || $5==50) {
    k=$3" "$2" "$1; s[k" "$5]+=$6; q[k" "$5]+=$6*$6; n[k" "$5]++; keys[k]=1 }
  function cell(c) { m = s[c] / n[c]; return sprintf("%.4g+-%.2g", m, sqrt((q[c] / n[c] - m * m) / n[c])) }
  END { for (k in keys) { split(k, p, " ");
          printf "%-12s %-17s %-7s %16s %16s %16s %16s\n", p[1], p[2], p[3],
                 cell(k" 10"), cell(k" 20"), cell(k" 30"), cell(k" 50") } }' | sort
