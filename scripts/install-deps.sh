#!/usr/bin/env bash
# Installs every Debian package qbert needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail
PKGS=(
  build-essential g++ meson ninja-build pkg-config cmake
  libeigen3-dev libdnnl-dev ocl-icd-opencl-dev opencl-headers catch2 libhdf5-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libutf8proc-dev libsqlite3-dev gnuplot-nox
  zlib1g-dev gdb graphviz openmpi-bin libopenmpi-dev curl ca-certificates
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
