#!/usr/bin/env bash
# The figure of docs/learn/qat-from-the-inside.md: the Q4.1 fake-quantization staircase Q(x) against x, and
# below it the gradient the backward uses for it (the straight-through estimator): identity (1 everywhere) and
# clipped (0 where x was saturated).
#
# The numbers come from the real command: `qbert fake-quant --explain` quantizes each x and marks the values
# whose grid index fell outside [qmin, qmax] "(saturated)", which is exactly where the clipped STE's backward
# kernel (engine/kernels/ref/quant.cpp, fake_quant_clipped_backward_ref) gives 0.
# Writes OUT/qat-staircase.{csv,png,svg} (OUT: docs/figures/learn, the page's figure, unless given).
# Usage: scripts/learn/qat-figure.sh [OUT]     (QBERT=path/to/qbert to use another build of the command)
set -euo pipefail
cd "$(dirname "$0")/../.."
Q="${QBERT:-build/release/apps/qbert}"
OUT="${1:-docs/figures/learn}"
WIDTH=4 FRAC=1  # Q4.1: step 0.5, values [-4, 3.5]
mkdir -p "$OUT"

# x from -5 to 5 in steps of 0.005 (2001 points: each of the 0.5-wide steps gets 100)
csv="$OUT/qat-staircase.csv"
awk 'BEGIN { for (i = -1000; i <= 1000; ++i) printf "%.3f\n", i * 0.005 }' |
    "$Q" fake-quant --width "$WIDTH" --frac-width "$FRAC" --explain |
    awk 'BEGIN { print "x,q,ste_identity,ste_clipped" }
         /^x=/ { x = $1; sub(/^x=/, "", x); q = ""
                 for (i = 2; i <= NF; ++i) if ($i ~ /^dequantized=/) { q = $i; sub(/^dequantized=/, "", q) }
                 printf "%.3f,%s,1,%d\n", x, q, /\(saturated\)/ ? 0 : 1 }' > "$csv.tmp"
mv "$csv.tmp" "$csv"
rows=$(($(wc -l < "$csv") - 1))
[ "$rows" -eq 2001 ] || { echo "qat-figure: expected 2001 values from qbert fake-quant, got $rows" >&2; exit 1; }

for term in "pngcairo size 900,700 font ',12' noenhanced" "svg size 900,700 font 'sans,12' noenhanced"; do
    ext=png; [[ $term == svg* ]] && ext=svg
    gnuplot <<GP
set terminal $term
set output '$OUT/qat-staircase.$ext.tmp'
set datafile separator ','
set multiplot layout 2,1 title 'Fake quantization to Q$WIDTH.$FRAC and its straight-through gradient'
set grid
set xrange [-5:5]
set xtics 1
set lmargin 12
# shaded in both panels: the x that are not saturated, round(2x) in [-8, 7], i.e. x in [-4.25, 3.75)
set object 1 rect from -4.25,graph 0 to 3.75,graph 1 fc rgb '#e8f0ff' fs solid noborder behind

set size 1,0.62
set origin 0,0.36
set ylabel 'forward: Q(x)'
set yrange [-5:5]
set key bottom right opaque box
set label 1 'x in [-4.25, 3.75): not saturated' at -3.9,4.2
set label 2 "saturated:\nQ(x) = 3.5" at 3.85,2.7
set label 3 "saturated:\nQ(x) = -4" at -4.9,-2.7
plot x with lines dt 2 lw 1.5 lc rgb 'gray50' title 'x (no quantization)', \
     '$csv' using 1:2 with steps lw 2.5 lc rgb '#1f5fbf' title 'Q(x): round(2x)/2, clamped (qbert fake-quant)'

set size 1,0.36
set origin 0,0
unset label
set xlabel 'x'
set ylabel 'backward: dQ/dx used'
set yrange [-0.3:2.0]
set ytics 0,1,1
set key top center opaque box horizontal
set label 4 'true derivative of Q: 0 almost everywhere' at -3.9,0.2 tc rgb 'gray30'
plot '$csv' using 1:3 with lines lw 7 lc rgb '#9ecae1' title 'Ste::Identity (1 everywhere)', \
     '$csv' using 1:4 with steps lw 2.5 lc rgb '#d62728' title 'Ste::Clipped (0 where saturated)'
unset multiplot
GP
    mv "$OUT/qat-staircase.$ext.tmp" "$OUT/qat-staircase.$ext"
done
echo "wrote $OUT/qat-staircase.csv, qat-staircase.png, qat-staircase.svg ($rows values)"
