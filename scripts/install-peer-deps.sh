#!/usr/bin/env bash
# The Python peers we measure against (never part of the product): PyTorch for ../shared/peers/torch_bert_bench.py
# (scripts/compare-peer.sh) and Optuna for benchmarks/peers/optuna_samplers.py (scripts/compare-samplers.sh),
# both from Debian (python3-torch 1.13, python3-optuna 3.1) for /usr/bin/python3. Installs only what is missing.
set -euo pipefail
need=()
/usr/bin/python3 -c "import torch" 2>/dev/null || need+=(python3-torch)
/usr/bin/python3 -c "import optuna" 2>/dev/null || need+=(python3-optuna)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "install-peer-deps: installing ${need[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
