#!/usr/bin/env bash
# The Python peers we measure against (never part of the product): PyTorch for ../shared/peers/torch_bert_bench.py
# (scripts/compare-peer.sh) and Optuna for benchmarks/peers/optuna_samplers.py (scripts/compare-samplers.sh),
# both from Debian (python3-torch 1.13, python3-optuna 3.1) for /usr/bin/python3, and the BLAS the torch peer
# runs on in docs/benchmarks.md: OpenBLAS with OpenMP (libopenblas0-openmp; without it Debian's torch falls
# back to the reference netlib BLAS, ~15x slower; scripts/check-peer-blas.sh checks what torch really loads).
# Installs only what is missing.
set -euo pipefail
need=()
/usr/bin/python3 -c "import torch" 2>/dev/null || need+=(python3-torch)
/usr/bin/python3 -c "import optuna" 2>/dev/null || need+=(python3-optuna)
dpkg-query -W -f='${Status}' libopenblas0-openmp 2>/dev/null | grep -q "install ok installed" || need+=(libopenblas0-openmp)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "install-peer-deps: installing ${need[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
