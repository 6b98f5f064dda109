#!/usr/bin/env bash
# The cluster cost model of docs/scaling.md: predicted data-parallel speed-up of qbert training at 2..64 nodes,
# from numbers measured on this machine (pass them in; the defaults are docs/scaling.md's, 2026-12-02):
#   t1   compute of one step of 32 sequences x 128 tokens on one node (2 cores), ms   (bench_bert train)
#   D    gradient floats summed per step that do not depend on N: every parameter but the word-embedding table
#   U1   word-embedding rows a 32-sequence batch touches (the rows that are sent; measured ~1257 per 32 x 128)
# Weak scaling: each node keeps 32 sequences per step (global batch 32 N). Per step a ring allreduce moves
# 2 (N-1)/N x S bytes per node, S = 4 (D + H min(V, U1 N)) (the touched rows grow at most linearly with the
# global batch), plus 2 (N-1) latency hops of alpha. Without overlap a step takes t1 + t_comm; with perfect
# overlap max(t1, t_comm). Speed-up = N t1 / step time (throughput against one node).
# Writes docs/figures/scaling/model.csv and prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
out="docs/figures/scaling/model.csv"
mkdir -p "$(dirname "$out")"
# preset t1_ms params word_rows hidden  (t1 from: bench_bert --configs tiny,mini,small --modes train, 2026-12-02)
PRESETS="${PRESETS:-tiny 44.4 4386178 30522 128
mini 301.6 11171074 30522 256
small 1025.6 28764674 30522 512}"
U1="${U1:-1257}"
awk -v U1="$U1" -v out="$out" '
  BEGIN { print "preset,gbit_s,nodes,bytes_per_step,comm_ms,speedup_no_overlap,speedup_overlap" > out
          n_list = "2 4 8 16 32 64"; split(n_list, ns, " ") }
  NF == 5 {
    p = $1; t1 = $2; P = $3; V = $4; H = $5; D = P - V * H
    for (b = 1; b <= 2; b++) {
      gbit = (b == 1 ? 10 : 100); alpha = (b == 1 ? 30e-3 : 5e-3)   # ms per hop: TCP on 10 GbE, RDMA on 100 Gb
      bw = gbit * 1e9 / 8 / 1e3                                      # bytes per ms
      line = sprintf("| %s | %d Gbit/s |", p, gbit)
      for (i = 1; i <= 6; i++) {
        N = ns[i]; rows = U1 * N; if (rows > V) rows = V
        S = 4 * (D + H * rows)
        tc = 2 * (N - 1) / N * S / bw + 2 * (N - 1) * alpha
        s0 = N * t1 / (t1 + tc); s1 = N * t1 / (t1 > tc ? t1 : tc)
        printf "%s,%d,%d,%.0f,%.2f,%.2f,%.2f\n", p, gbit, N, S, tc, s0, s1 > out
        line = line sprintf(" %.1f (%.1f) |", s0, s1)
      }
      print line
    }
  }' <<< "$PRESETS"
echo "(speed-up without overlap, with perfect overlap in brackets; model: $out)"
