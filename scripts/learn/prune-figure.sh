#!/usr/bin/env bash
# The figure of docs/learn/pruning-from-the-inside.md: the |w| distribution of one trained layer with the
# l1-norm thresholds at sparsity 0.5, 0.7 and 0.9 (everything left of a line is pruned), and how many weights
# each output row keeps at 0.7 (local scope ranks the whole layer, so rows end up uneven).
#
# The numbers come from the real command, `qbert prune --explain --csv`, which also checks its mask against the
# prune pass. It needs a trained checkpoint (runs/base/model.h5 from `bash scripts/setup.sh`).
# Writes OUT/prune-threshold.{csv,png,svg} (OUT: docs/figures/learn unless given).
# Usage: scripts/learn/prune-figure.sh [OUT]   (CKPT=..., LAYER=... to choose another; QBERT=path/to/qbert)
set -euo pipefail
cd "$(dirname "$0")/../.."
Q="${QBERT:-build/release/apps/qbert}"
OUT="${1:-docs/figures/learn}"
CKPT="${CKPT:-runs/base/model.h5}"
LAYER="${LAYER:-bert.encoder.layer.0.intermediate.dense}"
[ -f "$CKPT" ] || { echo "prune-figure: $CKPT not found (train it: bash scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

declare -A T
for s in 0.5 0.7 0.9; do
  "$Q" prune --explain --checkpoint "$CKPT" --layer "$LAYER" --sparsity "$s" --csv "$tmp/w$s.csv" > "$tmp/log$s.txt"
  grep -q '^checked: the prune pass' "$tmp/log$s.txt" || { echo "prune-figure: the pass check is missing" >&2; exit 1; }
done
for s in 0.5 0.7 0.9; do T[$s]=$(sed -n 's/^  t = .* = \([0-9.e-]*\) .*/\1/p' "$tmp/log$s.txt"); done
# What the figure plots, not every weight (65,536 rows would be 2.3 MB): |w| in bins of 0.002 with the count of
# weights in each, and the three thresholds.
awk -F, -v t5="${T[0.5]}" -v t7="${T[0.7]}" -v t9="${T[0.9]}" '
  NR > 1 { b = int($4 / 0.002); n[b]++; if (b > top) top = b }
  END { print "bin_lo,bin_hi,weights,t_0.5,t_0.7,t_0.9"
        for (b = 0; b <= top; b++) printf "%.3f,%.3f,%d,%s,%s,%s\n", b * 0.002, (b + 1) * 0.002, n[b], t5, t7, t9 }
' "$tmp/w0.7.csv" > "$OUT/prune-threshold.csv"
# kept per row at 0.7, sorted
awk -F, 'NR > 1 { k[$1] += $5 } END { for (r in k) print k[r] }' "$tmp/w0.7.csv" | sort -n | awk '{ print NR - 1, $1 }' > "$tmp/rows.dat"
shape=$(head -1 "$tmp/log0.7.txt" | sed -n 's/.*W \[\([0-9]*\), \([0-9]*\)\].*/\1x\2/p')

for term in "pngcairo size 1000,420 font ',11' noenhanced" "svg size 1000,420 font 'sans,11' noenhanced"; do
  ext=png; [[ $term == svg* ]] && ext=svg
  gnuplot <<GP
set terminal $term
set output "$OUT/prune-threshold.$ext.tmp"
set datafile separator ","
set multiplot layout 1,2 title "l1-norm pruning of $LAYER ($shape, the trained base model)"
set title "|w| of the layer's weights; pruned: everything left of t"
set xlabel "|w|"; set ylabel "weights"
set style fill solid 0.6 border -1
set xrange [0:0.11]
set arrow 1 from ${T[0.5]}, graph 0 to ${T[0.5]}, graph 1 nohead lw 2 lc rgb "#1b9e77"
set arrow 2 from ${T[0.7]}, graph 0 to ${T[0.7]}, graph 1 nohead lw 2 lc rgb "#d95f02"
set arrow 3 from ${T[0.9]}, graph 0 to ${T[0.9]}, graph 1 nohead lw 2 lc rgb "#7570b3"
set label 1 sprintf("t(0.5) = %.4f", ${T[0.5]}) at ${T[0.5]}, graph 0.95 offset 0.5,0 tc rgb "#1b9e77"
set label 2 sprintf("t(0.7) = %.4f", ${T[0.7]}) at ${T[0.7]}, graph 0.85 offset 0.5,0 tc rgb "#d95f02"
set label 3 sprintf("t(0.9) = %.4f", ${T[0.9]}) at ${T[0.9]}, graph 0.75 offset 0.5,0 tc rgb "#7570b3"
plot "$OUT/prune-threshold.csv" every ::1 using ((\$1 + \$2) / 2):3 with boxes lc rgb "#999999" notitle
unset arrow; unset label
set title "weights kept per output row at sparsity 0.7 (sorted)"
set xlabel "output rows, fewest kept first"; set ylabel "kept of ${shape#*x}"
set datafile separator whitespace
set xrange [0:*]; set autoscale xfix; set yrange [0:*]
set style fill solid 0.8 noborder
plot "$tmp/rows.dat" using 1:2 with boxes lc rgb "#d95f02" notitle
unset multiplot
GP
  mv "$OUT/prune-threshold.$ext.tmp" "$OUT/prune-threshold.$ext"
done
echo "prune-figure: $OUT/prune-threshold.{csv,png,svg} (t = ${T[0.5]}, ${T[0.7]}, ${T[0.9]})"
