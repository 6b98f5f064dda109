#!/usr/bin/env bash
# Lab 1's full profile (all 23,750 training and 25,000 test reviews; 7-8 minutes per point alone on the
# 2-core machine, 36 points) in the background, resumable across sessions and fresh checkouts. It runs at nice 19,
# but that does not keep it off the cores (its OpenMP threads still took ~60% of the CPU beside a training run):
# stop it (kill -STOP) while anything is timed.
#
# qbert lab1 resumes per point from the tables in its output folder (runs/, never committed). A fresh checkout
# has no runs/, so this script first seeds runs/lab1-full from the tables and settings committed under
# docs/figures/lab1-full/ (the points finished in earlier sessions), then starts the lab with the same command:
#   - quant/quant_sweep.csv and prune/prune_sweep.csv: the finished points, as they are;
#   - quant/settings.json and prune/settings.json: the settings they were made with, so a run with other settings
#     is refused (check_run_settings) instead of mixing points.
# The checkpoint of the quantized model the pruning sweep starts from is not in git (17 MB): lab1 recomputes that
# one point when it is missing and stops if it does not give the table's accuracies (experiments/lab1.cpp,
# quantized_checkpoint). The base model comes from `qbert train --config configs/base.toml --out runs/base`
# (scripts/setup.sh). Already seeded folders are left alone.
# Usage: scripts/lab1-full.sh            (prints the pid; the log is runs/lab1-full/log-YYYYMMDD-HHMM.txt)
#        scripts/lab1-full.sh --save     (copy the tables and settings back to docs/figures/lab1-full/ to commit)
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/lab1-full
saved=docs/figures/lab1-full
bin=./build/release/apps/qbert
if [[ "${1:-}" == --save ]]; then
  for part in quant prune; do
    [[ -f "$out/$part/${part}_sweep.csv" ]] || continue
    cp "$out/$part/${part}_sweep.csv" "$saved/${part}_sweep.csv"
    cp "$out/$part/settings.json" "$saved/${part}_settings.json"
    echo "saved $saved/${part}_sweep.csv and ${part}_settings.json"
  done
  exit 0
fi
if [[ -f "$out/pid" ]] && kill -0 "$(cat "$out/pid")" 2>/dev/null; then
  echo "lab1-full: already running (pid $(cat "$out/pid")); stop it first (kill $(cat "$out/pid"))" >&2
  exit 1
fi
[[ -x "$bin" ]] || { echo "lab1-full: $bin not built (bash scripts/build.sh release)" >&2; exit 1; }
[[ -f runs/base/model.h5 ]] || { echo "lab1-full: runs/base/model.h5 missing (bash scripts/setup.sh trains it)" >&2; exit 1; }
for part in quant prune; do
  if [[ ! -e "$out/$part/${part}_sweep.csv" && -f "$saved/${part}_sweep.csv" ]]; then
    mkdir -p "$out/$part"
    cp "$saved/${part}_sweep.csv" "$out/$part/${part}_sweep.csv"
    [[ -f "$saved/${part}_settings.json" ]] && cp "$saved/${part}_settings.json" "$out/$part/settings.json"
    echo "lab1-full: seeded $out/$part from $saved"
  fi
done
mkdir -p "$out/bin"
cp "$bin" "$out/bin/qbert"  # the run keeps its own binary: rebuilding the tree does not touch it
log="$out/log-$(date +%Y%m%d-%H%M).txt"
nohup nice -n 19 "$out/bin/qbert" lab1 --profile full --checkpoint runs/base/model.h5 --out "$out" > "$log" 2>&1 &
echo $! > "$out/pid"
echo "lab1-full: pid $! (log $log; stop it with kill -STOP, resume with kill -CONT)"
