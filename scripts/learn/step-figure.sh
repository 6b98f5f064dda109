#!/usr/bin/env bash
# The figure of docs/learn/anatomy-of-a-training-step.md: the autograd graph of one training step of a
# one-layer BERT (hidden 32), as `qbert explain-step` writes it (engine/autograd/graph.h), drawn by Graphviz.
# Writes OUT/step-graph.{dot,svg,png} (OUT: docs/figures/learn unless given).
# Usage: scripts/learn/step-figure.sh [OUT]   (QBERT=path/to/qbert to use another build)
set -euo pipefail
cd "$(dirname "$0")/../.."
Q="${QBERT:-build/release/apps/qbert}"
OUT="${1:-docs/figures/learn}"
command -v dot > /dev/null || { echo "step-figure: Graphviz's dot is missing (bash scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$OUT"
"$Q" explain-step --set model.num_hidden_layers=1 --set model.hidden_size=32 --set model.intermediate_size=64 \
  --batch 2 --seq-len 8 --no-ops --out "$OUT/step-graph.dot" > /dev/null
dot -Tsvg "$OUT/step-graph.dot" -o "$OUT/step-graph.svg.tmp" && mv "$OUT/step-graph.svg.tmp" "$OUT/step-graph.svg"
dot -Tpng -Gdpi=72 "$OUT/step-graph.dot" -o "$OUT/step-graph.png.tmp" && mv "$OUT/step-graph.png.tmp" "$OUT/step-graph.png"
echo "step-figure: $OUT/step-graph.{dot,svg,png}"
