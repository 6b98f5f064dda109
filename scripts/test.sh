#!/usr/bin/env bash
# Command 2 of the README: the whole test suite, in the release build and in the sanitized debug build.
# Installs and builds first if needed, and links data -> ../shared/data when that exists (never downloads), so
# the tests on real data run; where there is no data they skip themselves. Ends with one line
#   N passed, N failed, N skipped
# (test cases, both builds; skipped = the test cases that called QBERT_SKIP, whose reasons are listed above
# that line) and exits non-zero on any failure, or when nothing passed.
# `scripts/test.sh --count DIR...` only adds up the logs of the last `meson test` in the build dirs given.
set -uo pipefail
cd "$(dirname "$0")/.."

# Adds up one build tree's last `meson test` run; sets p, f, s. Every Catch2 executable prints
# "qbert-tests: P passed, F failed, S skipped" (tests/main.cpp); one that crashed (or leaked, or timed out)
# prints none or exits non-zero anyway, so meson's own failures are compared with the executables that
# reported failures, and the difference counts as failed test cases too.
count_tree() {
  local dir="$1" log="$1/meson-logs/testlog.txt" json="$1/meson-logs/testlog.json"
  p=0; f=0; s=0
  if [ ! -f "$log" ] || [ ! -f "$json" ]; then
    echo "$dir: no meson test log"
    f=1
    return
  fi
  local reported_bad meson_bad
  read -r p f s reported_bad < <(awk '
      /^qbert-tests: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ {
        p += $2; f += $4; s += ($6 == "" ? 0 : $6); if ($4 > 0) bad++ }
      END { printf "%d %d %d %d\n", p, f, s, bad }' "$log")
  meson_bad=$(grep -o '"result": "[A-Z]*"' "$json" | grep -vc '"OK"' || true)
  if [ "$meson_bad" -gt "$reported_bad" ]; then f=$((f + meson_bad - reported_bad)); fi
  grep -h '^qbert-skip: ' "$log" | sed "s|^qbert-skip: |$(basename "$dir"): skipped: |"
  echo "$(basename "$dir"): $p passed, $f failed, $s skipped"
}

passed=0; failed=0; skipped=0
if [ "${1:-}" = "--count" ]; then
  shift
  for dir in "$@"; do
    count_tree "$dir"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  done
else
  bash scripts/install-deps.sh >/dev/null || { echo "install-deps failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  bash scripts/get-data.sh --link-only
  for tree in release debug-asan; do
    if ! bash scripts/build.sh "$tree"; then
      echo "build of $tree failed"
      failed=$((failed + 1))
      continue
    fi
    echo "== tests: $tree"
    ASAN_OPTIONS=detect_leaks=1 meson test -C "build/$tree" --print-errorlogs --num-processes 1
    count_tree "build/$tree"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
