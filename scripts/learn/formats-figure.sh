#!/usr/bin/env bash
# The "Number formats" learner's figure (issue 16, docs/learn/number-formats.md): for each of the nine formats of
# docs/formats.md at a small, teachable width, feed x = -4 .. 4 in steps of 1/128 through the real
# `qbert fake-quant` and plot Q(x) against x (the rounding staircase), with a rug of the values Q takes.
#   element-wise formats: the grid is one vector.
#   block formats: every x is paired with a 4 in a block of 2 (--block-size 2: blocks [4, x]), so the block's
#     maximum is 4 for the whole axis and the staircase is the one of a block whose max|x| is 4.
#   ternary: the grid is one tensor, so its threshold 0.75 * mean|x| is taken over the grid (about 1.5).
# Writes OUT/formats.csv (format,x,q), OUT/formats.png, OUT/formats.svg. Takes a few seconds; no timings.
# Usage: bash scripts/learn/formats-figure.sh [OUT]   (needs build/release/apps/qbert and gnuplot)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-docs/figures/learn}
Q=${QBERT:-build/release/apps/qbert}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# x = k/128, k = -512 .. 512 (exact in float32; every tread in view is at least 1/32 wide)
awk 'BEGIN { for (k = -512; k <= 512; k++) printf "%.10g\n", k / 128 }' > "$work/x"

# name | panel title (line 1) | fake-quant options | block (pair every x with a 4)?
FORMATS=(
    "integer w4 f2|integer  w4 frac 2 (Q4.2)|--format integer --width 4 --frac-width 2|no"
    "minifloat_ieee w6 e3|minifloat\\\_ieee  w6 e3 (bias 3)|--format minifloat_ieee --width 6 --exponent-width 3|no"
    "minifloat_denorm w6 e3|minifloat\\\_denorm  w6 e3 (bias 3)|--format minifloat_denorm --width 6 --exponent-width 3|no"
    "log w4|log  w4 (bias 3)|--format log --width 4|no"
    "binary|binary|--format binary|no"
    "ternary|ternary|--format ternary|no"
    "block_fp w5 e3 [2] max 4|block\\\_fp  w5 e3|--format block_fp --width 5 --exponent-width 3 --block-size 2|yes"
    "block_minifloat w6 e3 bw2 [2] max 4|block\\\_minifloat  w6 e3 bw2|--format block_minifloat --width 6 --exponent-width 3 --exponent-bias-width 2 --block-size 2|yes"
    "block_log w4 bw3 [2] max 4|block\\\_log  w4 bw3|--format block_log --width 4 --exponent-bias-width 3 --block-size 2|yes"
)

csv="$work/formats.csv"
echo "format,x,q" > "$csv"
i=0
for spec in "${FORMATS[@]}"; do
    IFS='|' read -r name title opts block <<< "$spec"
    # shellcheck disable=SC2086
    if [[ $block == yes ]]; then
        awk '{ print 4; print }' "$work/x" | "$Q" fake-quant $opts | awk 'NR % 2 == 0' > "$work/q"
        "$Q" fake-quant $opts --explain <<< "4 1" | sed -n 2p > "$work/explain"
    else
        "$Q" fake-quant $opts < "$work/x" > "$work/q"
        "$Q" fake-quant $opts --explain < "$work/x" | sed -n 2p > "$work/explain"
    fi
    [[ $(wc -l < "$work/q") -eq $(wc -l < "$work/x") ]] || { echo "$name: wrong number of outputs" >&2; exit 1; }
    paste -d, "$work/x" "$work/q" | sed "s/^/$name,/" >> "$csv"
    # the staircase: first and last x of every run of equal q (lines through them draw treads and risers)
    paste "$work/x" "$work/q" | awk '
        NR > 1 && $2 != q { print lx, q; print $1, $2 }
        NR == 1 { print $1, $2 }
        { lx = $1; q = $2 }
        END { print lx, q }' > "$work/stairs$i"
    # the values Q takes on the grid (the representable values in view)
    sort -g -u "$work/q" > "$work/values$i"
    n=$(wc -l < "$work/values$i")
    # second title line: step and range in view, from the values themselves
    sub=$(awk -v n="$n" '
        function frac(v,   d) { for (d = 1; d <= 65536; d *= 2) if (v * d == int(v * d)) return d == 1 ? sprintf("%g", v) : sprintf("%g/%d", v * d, d); return sprintf("%g", v) }
        { v[NR] = $1 }
        END {
            mn = 1e9; mx = 0
            for (j = 2; j <= NR; j++) { d = v[j] - v[j - 1]; if (d < mn) mn = d; if (d > mx) mx = d }
            if (NR <= 3) { printf "%d values: %s", n, v[1]; for (j = 2; j <= NR; j++) printf ", %s", v[j]; exit }
            if (mn == mx) printf "%d values in [%s, %s], step %s", n, v[1], v[NR], frac(mn)
            else printf "%d values in [%s, %s], steps %s .. %s", n, v[1], v[NR], frac(mn), frac(mx)
        }' "$work/values$i")
    # a note in the empty lower right of the panel, read off the real outputs (qat X: Q at grid point X)
    qat() { paste -d' ' "$work/x" "$work/q" | awk -v x="$1" '$1 == x { print $2 }'; }
    case $name in
        integer*)          note="clamped to\\n[$(qat -4), $(qat 4)]" ;;
        minifloat_ieee*)   note="no carry:\\nQ(3.99) = $(qat 3.9921875)\\nQ(4) = $(qat 4)" ;;
        minifloat_denorm*) note="Q(1) = $(qat 1)\\nQ(2) = $(qat 2)\\nQ(4) = $(qat 4)" ;;
        log*)              note="no zero:\\nQ(0) = $(qat 0)" ;;
        binary)            note="Q(0) = $(qat 0)" ;;
        ternary)           note="0 for |x| <= t,\\nt = 0.75 mean|x|\\n   = $(grep -o 't=0.75\*mean|x|=[0-9.]*' "$work/explain" | sed 's/.*=//' | xargs printf '%.3g')" ;;
        block*)            note="block max 4\\nshared $(grep -o 'shared [a-z]*=-*[0-9]*' "$work/explain" | sed 's/shared //; s/=/ /')" ;;
    esac
    [[ $name == block_fp* ]] && note="$note\\nQ(4) = $(qat 4)"
    [[ $name == block_log* ]] && note="$note\\nQ(0) = $(qat 0)"
    printf '%s\n%s\n%s\n' "$title" "$sub" "$note" > "$work/title$i"
    echo "$name: $sub; ${note//\\n/ }"
    i=$((i + 1))
done
cp "$csv" "$OUT/formats.csv.tmp" && mv "$OUT/formats.csv.tmp" "$OUT/formats.csv"

# one gnuplot script for both terminals: 3 x 3 panels, same axes
{
    echo "set multiplot layout 3,3 title 'qbert fake-quant: Q(x) for x in [-4, 4] (blue staircase) and the values Q takes there (red rug)' font ',16'"
    echo "set xrange [-4.3:4.3]; set yrange [-4.3:4.3]; set size ratio -1"
    echo "set xtics -4,2,4 nomirror; set ytics -4,2,4 nomirror; set mxtics 2; set mytics 2"
    echo "set grid xtics ytics lc rgb '#dddddd' lw 1 dt 1"
    echo "set border 3 lc rgb '#555555'; set tics textcolor rgb '#333333'"
    echo "unset key"
    for ((j = 0; j < i; j++)); do
        t1=$(sed -n 1p "$work/title$j"); t2=$(sed -n 2p "$work/title$j"); t3=$(sed -n 3p "$work/title$j")
        printf 'set title "{/:Bold %s}\\n{/*0.85 %s}" offset 0,-0.5\n' "$t1" "$t2"
        echo "unset label; set label 1 \"$t3\" at 4, -2.3 right font \",13\" noenhanced textcolor rgb '#333333'"
        if ((j >= 6)); then echo "set xlabel 'x' offset 0,0.5"; else echo "unset xlabel"; fi
        if ((j % 3 == 0)); then echo "set ylabel 'Q(x)' offset 1.5,0"; else echo "unset ylabel"; fi
        echo "plot x with lines lc rgb '#aaaaaa' dt 2 lw 1, \\"
        echo "     '$work/values$j' using (-4.3):1:(0.45):(0) with vectors nohead lc rgb '#d62728' lw 1.5, \\"
        echo "     '$work/stairs$j' using 1:2 with lines lc rgb '#1f5fa8' lw 2.2"
    done
    echo "unset multiplot"
} > "$work/plot.gp"

for term in "pngcairo size 1200,1320 font 'sans,14' enhanced" "svg size 1200,1320 font 'sans,14' enhanced"; do
    ext=png; [[ $term == svg* ]] && ext=svg
    gnuplot -e "set terminal $term; set output '$OUT/formats.$ext.tmp'" "$work/plot.gp"
    mv "$OUT/formats.$ext.tmp" "$OUT/formats.$ext"
done
echo "wrote $OUT/formats.csv, formats.png, formats.svg"
