#!/usr/bin/env bash
# qbert's TPE through the whole CLI study loop against Optuna's TPE (tracker issue 14): every study is a
# `qbert search --objective exec --sampler tpe|random` run whose trials are awk commands
# (benchmarks/peers/cli_problems.awk), on six problems (benchmarks/peers/optuna_cli_problems.py):
#   branin      2-D continuous, three global minima     himmelblau  2-D continuous, four minima
#   wide2       2-D continuous on [-100, 100]^2        grid6       6 ints (one with step 3)
#   nasmix      categorical, int, int step 64, log-float, log-int, float
#   hartmann6   6-D continuous
# Regret = best value so far - the known minimum, after each trial count of AT; the table gives its mean and
# standard error over the seeds for qbert tpe / random and for Optuna's TPE in-process on the same formulas:
#   optuna-fixed  Debian's 3.1 with the truncated-normal density fix (optuna/optuna#5110), i.e. as Optuna >= 3.5
#   optuna-3.1    Debian's 3.1 as shipped
#   optuna-4      an Optuna 4.x source tree, when OPTUNA4_SRC=DIR names one (DIR/optuna/__init__.py; it runs on
#                 Debian's numpy/sqlalchemy/alembic), e.g. unpacked from a v4.6.0 tag
# then each TPE's mean regret over optuna-4's (optuna-fixed's without OPTUNA4_SRC); target <= 1.10.
# Usage: scripts/compare-tpe-cli.sh [seeds=40] [problems=all] [samplers=tpe,random]
# Env: QBERT (default build/release/apps/qbert), AT (30,60), JOBS (parallel qbert studies, 2), WORK (keeps the
# runs; default a temp dir), SEED0 (first seed, 0), PEERS (default optuna-fixed,optuna-3.1 and optuna-4 with
# OPTUNA4_SRC; none = reuse WORK's optuna-*.txt). 40 seeds x 6 problems take ~10 min on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-40}"; problems="${2:-branin,himmelblau,wide2,grid6,nasmix,hartmann6}"; samplers="${3:-tpe,random}"
qbert="${QBERT:-build/release/apps/qbert}"
at="${AT:-30,60}"; jobs="${JOBS:-2}"; seed0="${SEED0:-0}"
py=/usr/bin/python3
peer=benchmarks/peers/optuna_cli_problems.py
work="${WORK:-$(mktemp -d /tmp/compare_tpe_cli.XXXXXX)}"
mkdir -p "$work/spaces" "$work/runs"
trials=$(tr , '\n' <<< "$at" | sort -n | tail -1)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
[ -x "$qbert" ] || { echo "no $qbert: build it (ninja -C build/release apps/qbert) or set QBERT" >&2; exit 1; }
"$py" -c 'import optuna' 2>/dev/null || bash scripts/install-peer-deps.sh
"$py" "$peer" check
echo "# runs in $work; qbert=$qbert trials=$trials seeds=$seed0..$((seed0 + seeds - 1)) at=$at"

# the peers, in the background while qbert runs (PEERS=none reuses the optuna-*.txt already in WORK)
peers="${PEERS:-optuna-fixed,optuna-3.1${OPTUNA4_SRC:+,optuna-4}}"
ref=optuna-fixed; [ -n "${OPTUNA4_SRC:-}" ] && ref=optuna-4
run_peer() {  # impl [run options]
    local impl=$1; shift
    "$py" -W ignore "$peer" run --impl "$impl" "$@" --problems "$problems" --samplers tpe \
        --seeds "$seeds" --seed0 "$seed0" --at "$at" > "$work/$impl.txt"
}
peer_pids=()
for impl in ${peers//,/ }; do
    case "$impl" in
        optuna-fixed) run_peer optuna-fixed --fix-logpdf & ;;
        optuna-3.1) run_peer optuna-3.1 & ;;
        optuna-4) PYTHONPATH="$OPTUNA4_SRC" run_peer optuna-4 & ;;
        none) continue ;;
        *) echo "unknown peer $impl (optuna-fixed, optuna-3.1, optuna-4)" >&2; exit 1 ;;
    esac
    peer_pids+=($!)
done

# qbert: one study per (problem, sampler, seed); the command's output lines ("  | VALUE") are the trial values
run_qbert() {  # problem sampler seed
    local p=$1 s=$2 seed=$3 run="$1-$2-$3"
    "$qbert" search --objective exec --space "$work/spaces/$p.toml" --exec "$("$py" "$peer" exec "$p")" \
        --direction minimize --sampler "$s" --trials "$trials" --seed "$seed" --storage :memory: --study "$run" \
        --out "$work/runs/$run" > "$work/runs/$run.log" 2>&1 || { echo "qbert $run failed: $work/runs/$run.log" >&2; return 1; }
    awk -v p="$p" -v s="$s" -v seed="$seed" -v at="$at" -v opt="$("$py" "$peer" optimum "$p")" '
        BEGIN { n = split(at, ks, ","); for (i = 1; i <= n; i++) want[ks[i]] = i; best = "none" }
        /^  \| / { t++; v = $2 + 0; if (best == "none" || v < best) best = v
                   if (t in want) r[want[t]] = sprintf("%.10g", best - opt) }
        END { line = "qbert " s " " p " " seed; for (i = 1; i <= n; i++) line = line " " r[i]; print line }' \
        "$work/runs/$run.log"
    rm -rf "$work/runs/$run"
}
export -f run_qbert
export qbert py peer work trials at
start=$(date +%s)
for p in ${problems//,/ }; do "$py" "$peer" space "$p" > "$work/spaces/$p.toml"; done
for p in ${problems//,/ }; do
    for s in ${samplers//,/ }; do
        for ((seed = seed0; seed < seed0 + seeds; seed++)); do echo "$p $s $seed"; done
    done
done | xargs -P "$jobs" -n 3 bash -c 'run_qbert "$@"' _ > "$work/qbert.txt"
echo "# qbert: $(( $(date +%s) - start )) s"
for pid in "${peer_pids[@]}"; do wait "$pid"; done
echo "# peers: $(( $(date +%s) - start )) s"
"$py" "$peer" summary --at "$at" --ref "$ref" "$work/qbert.txt" "$work"/optuna-*.txt
