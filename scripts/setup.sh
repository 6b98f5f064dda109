#!/usr/bin/env bash
# Command 1 of the README: install what qbert needs (Debian packages), build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Real data lives outside the repo: link ../shared/data when it exists (the IMDb issue uses it).
if [ ! -e data ] && [ -d ../shared/data ]; then ln -s ../shared/data data; fi
bash scripts/build.sh release
# The main job. Until the BERT lands this is the engine end to end: an MLP trained on a synthetic task.
mkdir -p runs
./build/release/apps/qbert demo --seed 0 --threads 2 --out runs/demo.h5
