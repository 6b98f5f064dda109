#!/usr/bin/env bash
# qbert's multi-objective samplers against Optuna's on the same problems (benchmarks/peers/mo_problems.py):
# `qbert search --objective exec --directions ...` with random, nsga2 and tpe (MOTPE), and Optuna's
# RandomSampler, NSGAIISampler and TPESampler, each with its defaults, TRIALS trials x SEEDS seeds per problem.
# One program (benchmarks/peers/optuna_mo.py hv, Optuna's WFG) computes every hypervolume with the problem's
# reference point and prints the mean per problem, sampler and implementation, then qbert / the better of
# Optuna's NSGA-II and MOTPE (target: >= 0.95).
# Usage: benchmarks/compare_mo.sh [trials=60] [seeds=5] [problems=zdt1,acc_bits,dtlz2] [samplers=random,nsga2,tpe]
# QBERT=path/to/qbert (default build/release/apps/qbert); WORK=dir keeps the runs (default: a temp dir).
# Needs /usr/bin/python3 with python3-optuna (Debian 12: 3.1.0). Its truncated-normal log density lacks
# -log(sigma) (optuna/optuna#5109, fixed in 3.5); the peer runs with that fix, as current Optuna (Mase's 4.x)
# computes, unless PEER_LOGPDF=as-is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peer-deps.sh
trials="${1:-60}"; seeds="${2:-5}"; problems="${3:-zdt1,acc_bits,dtlz2}"; samplers="${4:-random,nsga2,tpe}"
qbert="${QBERT:-build/release/apps/qbert}"
py=/usr/bin/python3
peers=benchmarks/peers
work="${WORK:-$(mktemp -d /tmp/compare_mo.XXXXXX)}"
mkdir -p "$work/qbert" "$work/optuna"
echo "# runs in $work; qbert=$qbert trials=$trials seeds=$seeds"

start=$(date +%s)
for p in ${problems//,/ }; do
    "$py" "$peers/mo_problems.py" space "$p" > "$work/$p.toml"
    dirs=$("$py" "$peers/mo_problems.py" directions "$p")
    for s in ${samplers//,/ }; do
        for ((seed = 0; seed < seeds; seed++)); do
            run="$p-$s-$seed"
            rm -rf "$work/qbert/$run" "$work/qbert/$run.db"*
            "$qbert" search --objective exec --space "$work/$p.toml" --exec "$py $peers/mo_problems.py eval $p" \
                --directions "$dirs" --sampler "$s" --trials "$trials" --seed "$seed" \
                --storage "$work/qbert/$run.db" --study "$run" --out "$work/qbert/$run" > "$work/qbert/$run.log" 2>&1 \
                || { echo "qbert run $run failed: see $work/qbert/$run.log" >&2; exit 1; }
        done
    done
done
echo "# qbert: $(( $(date +%s) - start )) s"

start=$(date +%s)
fix="--fix-logpdf"; [ "${PEER_LOGPDF:-fixed}" = as-is ] && fix=""
(cd "$peers" && "$py" -W ignore optuna_mo.py run $fix --out "$work/optuna" --problems "$problems" \
    --samplers "$samplers" --trials "$trials" --seeds "$seeds")
echo "# optuna $("$py" -c 'import optuna; print(optuna.__version__)') (logpdf ${PEER_LOGPDF:-fixed}): $(( $(date +%s) - start )) s"

(cd "$peers" && "$py" -W ignore optuna_mo.py hv --qbert "$work/qbert" --optuna "$work/optuna" \
    --problems "$problems" --samplers "$samplers" --seeds "$seeds")
