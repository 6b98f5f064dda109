#!/usr/bin/env bash
# The figure of docs/learn/how-tpe-chooses.md: how TPE picks parameter x of the next trial of a study. Top: l(x),
# fitted to the good trials, and g(x), fitted to the bad ones, with those trials marked under the curves; bottom:
# log l(x) - log g(x), the 24 candidates drawn from l on it, the winner (what the next trial gets) marked.
# Numbers from `qbert tpe-explain --csv` (the sampler's own computation).
# Writes OUT/tpe-split.csv, OUT/tpe-split.png, OUT/tpe-split.svg.
# Usage: bash scripts/learn/tpe-figure.sh [STUDY.db] [PARAM] [OUT]
#   Without STUDY.db, the page's study is made afresh in a temporary directory (seconds): 15 trials of
#   (x - 2)^2 over x in [-5, 10], TPE seed 1, so the figure shows the choice of its trial 15.
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=${1:-}
PARAM=${2:-x}
OUT=${3:-docs/figures/learn}
Q=${QBERT:-build/release/apps/qbert}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$DB" ]; then  # the study of docs/learn/how-tpe-chooses.md
    DB=$work/tpe.db
    printf '[x]\ntype = "float"\nlow = -5.0\nhigh = 10.0\n' > "$work/tpe-space.toml"
    "$Q" search --objective exec --space "$work/tpe-space.toml" --exec 'awk "BEGIN { print ({x} - 2)^2 }"' \
        --direction minimize --sampler tpe --seed 1 --trials 15 --storage "$DB" --study tpe > /dev/null
fi
mkdir -p "$OUT"
csv="$OUT/tpe-split.csv"
"$Q" tpe-explain --storage "$DB" --param "$PARAM" --csv "$csv.tmp" > "$work/explain.txt"
mv "$csv.tmp" "$csv"
trial=$(sed -n 's/^next trial: \([0-9]*\)\..*/\1/p' "$work/explain.txt")
# the winner, the range and the largest density (to leave room for the key)
read -r chosen chosen_score xmin xmax ymax < <(awk -F, '$2 == "chosen" { c = $3; s = $9 }
    $2 == "grid" { if (lo == "" || $3 < lo) lo = $3; if (hi == "" || $3 > hi) hi = $3
                   if ($5 > y) y = $5; if ($6 > y) y = $6 }
    END { printf "%.4g %.4f %s %s %g\n", c, s, lo, hi, y }' "$csv")

plot() {  # $1: terminal line, $2: output file
    gnuplot <<EOF
$1
set output "$2"
set datafile separator ","
set multiplot layout 2,1 title "How TPE picks $PARAM for trial $trial" font ",13"
set lmargin 12
set rmargin 4
set key top right box opaque samplen 2
set xrange [$xmin:$xmax]
set grid xtics ytics lc rgb "#dddddd"
set xlabel "$PARAM"
set ylabel "density"
set yrange [-0.12 * $ymax:1.6 * $ymax]
set style line 1 lc rgb "#1a9850" lw 2.5
set style line 2 lc rgb "#d73027" lw 2.5
is(k) = strcol(2) eq k
plot "$csv" using (is("grid") ? \$3 : NaN):5 with lines ls 1 title "l(x): fitted to the good trials", \
     "" using (is("grid") ? \$3 : NaN):6 with lines ls 2 title "g(x): fitted to the bad trials", \
     "" using (is("below") ? \$3 : NaN):(-0.06 * $ymax) with points pt 9 ps 2.2 lc rgb "#1a9850" title "good trials (below)", \
     "" using (is("above") ? \$3 : NaN):(-0.06 * $ymax) with points pt 2 ps 1.6 lw 2 lc rgb "#d73027" title "bad trials (above)"
set ylabel "log l(x) - log g(x)"
set yrange [*:*]
set offsets 0, 0, graph 0.25, graph 0.05
set key bottom left box opaque
set label 1 sprintf("chosen: $PARAM = %s", "$chosen") at first $chosen, first $chosen_score offset 1.5,1.2 font ",11"
plot "$csv" using (is("grid") ? \$3 : NaN):9 with lines lc rgb "#4d4d4d" lw 2 title "score log l - log g", \
     "" using (is("candidate") ? \$3 : NaN):9 with points pt 7 ps 1.1 lc rgb "#2166ac" title "24 candidates drawn from l(x)", \
     "" using (is("chosen") ? \$3 : NaN):9 with points pt 5 ps 2.2 lc rgb "#000000" title "the winner: highest score"
unset multiplot
EOF
}
plot 'set terminal pngcairo size 1000,760 font "sans,11"' "$OUT/tpe-split.png"
plot 'set terminal svg size 1000,760 font "sans,11" background rgb "white"' "$OUT/tpe-split.svg"
echo "csv=$csv png=$OUT/tpe-split.png svg=$OUT/tpe-split.svg chosen=$chosen"
