#!/usr/bin/env bash
# qbert vs the PyTorch peer (../shared/peers/torch_bert_bench.py), interleaved: for each round and config, the
# peer runs all the modes in one process (as its own command line does: its first mode warms the process up),
# then qbert runs the same, back to back, so both see the same machine load. Prints every
# measurement as `side mode config batch seq seq_per_s round`, then per (mode, config) the median over
# rounds of each side and of the per-round ratio.
# Usage: scripts/compare-peer.sh [rounds=3] [modes=train,infer] [configs=tiny,mini,small] [bench_bert options...]
# e.g.   scripts/compare-peer.sh 3 infer mini,small --matmul bf16
# Refuses to run (exit 1) unless the peer's torch really uses the BLAS docs/benchmarks.md documents (OpenBLAS
# with OpenMP; scripts/check-peer-blas.sh): on the reference BLAS the ratios would come out ~15x too high.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peer-deps.sh
rounds="${1:-3}"; modes="${2:-train,infer}"; configs="${3:-tiny,mini,small}"
shift $(( $# < 3 ? $# : 3 ))
peer="${PEER:-../shared/peers/torch_bert_bench.py}"
py="${PYTHON:-/usr/bin/python3}"
bench=./build/release/benchmarks/bench_bert
[[ -f "$peer" ]] || { echo "compare-peer: peer script '$peer' not found (set PEER=...)" >&2; exit 1; }
PYTHON="$py" bash scripts/check-peer-blas.sh ||
  { echo "compare-peer: not comparing: the peer would not run on its documented BLAS (see above)" >&2; exit 1; }
[[ -x "$bench" ]] || { echo "compare-peer: $bench not built (bash scripts/build.sh release)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out" "$out.host"' EXIT
echo "# compare-peer $(date -u +%FT%TZ) rounds=$rounds bench_bert options: $*"
# the host's bare GEMM rates (fp32, bf16, int8), printed beside the ratios: hosts of "the same" kind differ
# (docs/benchmarks.md), and where qbert sits at the GEMM limit its lead moves with them
./build/release/benchmarks/bench_ops --ops gemm --budget 0.5 --threads 2 | grep '^op=gemm_bare' |
  sed 's/^/# host /' | tee "$out.host"
for r in $(seq 1 "$rounds"); do
  for c in ${configs//,/ }; do
    "$py" "$peer" --modes "$modes" --configs "$c" --threads 2 | awk -v r="$r" '{print "peer", $0, r}' | tee -a "$out"
    "$bench" --modes "$modes" --configs "$c" --threads 2 "$@" | grep -v '^#' | awk -v r="$r" '{print "qbert", $0, r}' | tee -a "$out"
  done
done
echo "# median over $rounds rounds: mode config peer_seq_per_s qbert_seq_per_s ratio (median of per-round ratios)"
awk '{v[$1" "$2" "$3" "$7]=$6; k[$2" "$3]=1; n=($7>n?$7:n)}
     END {for (key in k) {
            line = key
            for (s = 1; s <= 3; s++) {
              for (r = 1; r <= n; r++) {
                p = v["peer " key " " r]; q = v["qbert " key " " r]
                x[r] = (s == 1 ? p : s == 2 ? q : (p > 0 ? q / p : 0))
              }
              # insertion sort, then the median
              for (i = 2; i <= n; i++) { t = x[i]; j = i - 1; while (j >= 1 && x[j] > t) { x[j+1] = x[j]; j-- } x[j+1] = t }
              med = (n % 2 ? x[(n+1)/2] : (x[n/2] + x[n/2+1]) / 2)
              line = line sprintf(s == 3 ? " %.2fx" : " %.1f", med)
            }
            print line
          }}' "$out" | sort
awk '{for (i = 1; i <= NF; i++) { if ($i ~ /^impl=/) im = substr($i, 6); if ($i ~ /^gflops=/) g = substr($i, 8);
                                 if ($i ~ /^shape=/) sh = substr($i, 7) }
      printf "# host GEMM %s %s %s GFLOP/s\n", sh, im, g}' "$out.host"
