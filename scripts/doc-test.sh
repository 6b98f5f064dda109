#!/usr/bin/env bash
# Docs that stay true: runs every runnable shell block of the README and docs/learn/ and compares the output
# the page shows. The convention, in Markdown:
#
#   ```sh run               a block that is run: by bash, from the repo root, with build/release/apps on PATH
#                           (```sh run needs=gdb: skipped, and counted so, where that command is missing)
#   qbert ...               (so pages write `qbert ...`); a page's blocks run in order in one shell, so
#   ```                     variables and files carry from one block to the next
#
#   ```text output          optional, directly after a `sh run` block (blank lines between are fine): that
#   ...                     block's stdout and stderr, compared line by line after trimming trailing spaces;
#   ```                     a line that is only `...` matches any number of lines (timings, paths)
#
# Any other fence (```bash, ```gdb, ```toml) is shown, not run. Each `sh run` block is one test: it passes when
# it exits 0 and its output matches. The last line is "qbert-tests: P passed, F failed, S skipped" (scripts/
# test.sh adds these up). Pages write their files under runs/learn/.
#
# Usage: scripts/doc-test.sh [--bin DIR] [FILE.md ...]   (default: README.md docs/learn/*.md; DIR: build/release/apps)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/build/release/apps"
if [ "${1:-}" = "--bin" ]; then BIN="$(cd "$2" && pwd)"; shift 2; fi
files=("$@")
if [ ${#files[@]} -eq 0 ]; then files=(README.md docs/learn/*.md); fi

if [ ! -x "$BIN/qbert" ]; then
  echo "qbert-skip: docs: $BIN/qbert is not built: runnable docs not checked"
  echo "qbert-tests: 0 passed, 0 failed, 1 skipped"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0; failed=0; skipped=0

# Splits a page into $dir/NNN.sh (each `sh run` block), $dir/NNN.expected (its `text output`, if any) and
# $dir/NNN.line (the line the block starts on).
split_page() {
  awk -v dir="$2" '
    function flush_pending() { pending = 0 }
    /^```/ {
      if (!inblock) {
        info = substr($0, 4); gsub(/[ \t]+$/, "", info)
        inblock = 1
        if (info == "sh run" || info ~ /^sh run needs=[A-Za-z0-9_.-]+$/) {
          kind = "run"; n++; f = sprintf("%s/%03d.sh", dir, n); printf "" > f
          printf "%d\n", NR > sprintf("%s/%03d.line", dir, n)
          needs = info; sub(/^sh run( needs=)?/, "", needs)
          printf "%s\n", needs > sprintf("%s/%03d.needs", dir, n)
        }
        else if (info == "text output" && pending) { kind = "out"; f = sprintf("%s/%03d.expected", dir, n); printf "" > f }
        else { kind = "other"; pending = 0 }
        next
      } else {
        inblock = 0
        if (kind == "run") pending = 1; else pending = 0
        close(f)
        next
      }
    }
    inblock && kind != "other" { print > f; next }
    !inblock && $0 !~ /^[ \t]*$/ { pending = 0 }
  ' "$1"
}

# Does $1 (actual) match $2 (expected, with `...` lines)? Line-by-line, trailing spaces trimmed.
matches() {
  awk '
    function trim(s) { sub(/[ \t\r]+$/, "", s); return s }
    FILENAME == ARGV[1] { a[++na] = trim($0); next }
    { e[++ne] = trim($0) }
    END {
      # ok[i, j]: the first i expected lines match the first j actual lines
      ok[0, 0] = 1
      for (i = 0; i <= ne; i++)
        for (j = 0; j <= na; j++) {
          if (i == 0 && j == 0) continue
          v = 0
          if (i > 0 && e[i] == "...") v = ok[i - 1, j] || (j > 0 && ok[i, j - 1])
          else if (i > 0 && j > 0 && e[i] == a[j]) v = ok[i - 1, j - 1]
          ok[i, j] = v
        }
      exit ok[ne, na] ? 0 : 1
    }
  ' "$1" "$2"
}

for page in "${files[@]}"; do
  [ -f "$page" ] || { echo "docs: $page: no such file"; failed=$((failed + 1)); continue; }
  dir="$work/$(echo "$page" | tr '/.' '__')"
  mkdir -p "$dir"
  split_page "$page" "$dir"
  # blocks that need a command this machine lacks are skipped (and so are the blocks after them on the page)
  for n in "$dir"/*.needs; do
    [ -e "$n" ] || continue
    tool="$(cat "$n")"
    if [ -n "$tool" ] && ! command -v "$tool" > /dev/null; then
      echo "qbert-skip: docs: $page:$(cat "${n%.needs}.line"): needs $tool, which is missing"
      skipped=$((skipped + 1))
      rm -f "${n%.needs}.sh"
    fi
  done
  blocks=("$dir"/*.sh)
  [ -e "${blocks[0]}" ] || continue
  # One shell per page: each block's output to NNN.out, its success to NNN.ok; a failing block stops the page.
  driver="$dir/driver.sh"
  {
    echo "set -eo pipefail"
    echo "export PATH=\"$BIN:\$PATH\""
    echo "cd \"$ROOT\""
    for b in "${blocks[@]}"; do
      echo "source \"$b\" > \"${b%.sh}.out\" 2>&1"
      echo "touch \"${b%.sh}.ok\""
    done
  } > "$driver"
  bash "$driver" > /dev/null 2>&1 < /dev/null
  for b in "${blocks[@]}"; do
    base="${b%.sh}"
    where="$page:$(cat "$base.line")"
    if [ ! -f "$base.out" ]; then
      echo "docs: FAILED $where: not run (an earlier block of the page failed)"
      failed=$((failed + 1))
    elif [ ! -f "$base.ok" ]; then
      echo "docs: FAILED $where: the block exited non-zero; its commands and output:"
      sed 's/^/    $ /' "$b"; sed 's/^/    | /' "$base.out" | tail -n 20
      failed=$((failed + 1))
    elif [ -f "$base.expected" ] && ! matches "$base.out" "$base.expected"; then
      echo "docs: FAILED $where: the output differs from the page (--- page, +++ actual):"
      diff -u "$base.expected" "$base.out" | tail -n +3 | head -n 40 | sed 's/^/    /'
      failed=$((failed + 1))
    else
      passed=$((passed + 1))
    fi
  done
done
echo "docs: $passed runnable blocks passed, $failed failed, $skipped skipped"
echo "qbert-tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
