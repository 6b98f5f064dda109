#!/usr/bin/env bash
# Command 1 of the README: install what qbert needs (Debian packages), build, get the data, and run the
# main job: train the base BERT on IMDb from scratch and print its test accuracy (about 7 minutes on the 2-core machine: 6.5 of training, 0.5 of test evaluation).
# Set QBERT_MAIN_JOB=demo for the 2-second engine demo instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/get-data.sh
bash scripts/build.sh release
mkdir -p runs
if [ "${QBERT_MAIN_JOB:-train}" = demo ]; then
  ./build/release/apps/qbert demo --seed 0 --threads 2 --out runs/demo.h5
else
  ./build/release/apps/qbert train --config configs/base.toml --out runs/base
fi
