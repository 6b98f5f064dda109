#!/usr/bin/env bash
# Configures (once) and builds the two trees:
#   build/release     optimized, -march=native: apps, benchmarks, the main test run
#   build/debug-asan  debug + AddressSanitizer + UBSan, fresh buffers NaN-filled: the sanitized test run (no
#                     benchmark binaries: they run in release only; a unity build, 4 sources per compiler run:
#                     ~5.5 minutes instead of ~10 from scratch here, to keep CI near its 20 minutes;
#                     line numbers in gdb and sanitizer reports still name the original files)
# Usage: scripts/build.sh [release|debug-asan|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
configure() {  # dir, meson options...
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then meson setup "$dir" "$@"; fi
}
if [ "$which" = release ] || [ "$which" = all ]; then
  # QBERT_NO_BENCHMARKS=1 (CI sets it): a release tree without the benchmark binaries, ~75 s less on 2 cores;
  # nothing in the test suite runs them. Applies when the tree is first configured.
  bench=()
  [ "${QBERT_NO_BENCHMARKS:-0}" = 1 ] && bench=(-Dbenchmarks=false)
  configure build/release -Dbuildtype=release -Db_ndebug=if-release "${bench[@]}"
  ninja -C build/release
fi
if [ "$which" = debug-asan ] || [ "$which" = all ]; then
  configure build/debug-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Dbenchmarks=false -Dunity=on
  ninja -C build/debug-asan
fi
