#!/usr/bin/env bash
# Command 2 of the README: the whole test suite, in the release build and in the sanitized debug build.
# Installs and builds first if needed. Ends with one line "N passed, N failed" (test cases, both builds)
# and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }
passed=0; failed=0
for tree in release debug-asan; do
  if ! bash scripts/build.sh "$tree"; then
    echo "build of $tree failed"
    failed=$((failed + 1))
    continue
  fi
  echo "== tests: $tree"
  ASAN_OPTIONS=detect_leaks=1 meson test -C "build/$tree" --print-errorlogs --num-processes 1
  log="build/$tree/meson-logs/testlog.txt"
  # Every Catch2 executable prints "qbert-tests: P passed, F failed"; an executable that crashed prints
  # none, so meson's own failures are compared with the executables that reported.
  p=$(grep -ho '^qbert-tests: [0-9]* passed' "$log" | awk '{s += $2} END {print s + 0}')
  f=$(grep -ho '^qbert-tests: [0-9]* passed, [0-9]* failed' "$log" | awk '{s += $4} END {print s + 0}')
  reported_bad=$(grep -h '^qbert-tests: ' "$log" | awk '$4 > 0' | wc -l)
  meson_bad=$(grep -o '"result": "[A-Z]*"' "build/$tree/meson-logs/testlog.json" | grep -vc '"OK"' || true)
  if [ "$meson_bad" -gt "$reported_bad" ]; then f=$((f + meson_bad - reported_bad)); fi
  echo "$tree: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
