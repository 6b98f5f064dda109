#!/usr/bin/env bash
# One point per deployable variant of the base model (issue 15): test accuracy, bytes on disk and inference speed,
# all measured the same way in one run, and a figure (speed and size against accuracy).
#   fp32            the trained checkpoint
#   q8.4-fq         Lab 1's Q8.4 QAT checkpoint, fake-quant (fp32 arithmetic on rounded values)
#   q8.4-int8       its export --int8 (int8 Linear layers, per-row int8 embeddings)
#   structured-0.5  half the heads and neurons removed, fine-tuned 1 epoch on 2,000 reviews
#   sparse-0.9      90% of every Linear's weights pruned (L1), fine-tuned likewise, export --sparse (CSR kernel)
#   q8.4-sparse-0.9-int8  the Q8.4 model pruned 90%, fine-tuned, export --int8 --sparse
# Accuracy on the first 5,000 test reviews; speed = bench_bert --checkpoint F --modes infer (batch 32, seq 128,
# median of 3) divided by the fp32 checkpoint's; bytes = the file. Writes OUT/variants.csv, .png, .svg.
# Usage: bash scripts/deploy-variants.sh [BASE] [Q8] [OUT]   (nothing else should run meanwhile: timings)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-runs/base/model.h5}
Q8=${2:-runs/lab1-full/quant/checkpoints/q8_half.h5}
OUT=${3:-docs/figures/deploy}
Q=build/release/apps/qbert
FT=(--finetune-epochs 1 --train-limit 2000 --test-limit 100 --data data --seed 0)
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[weight]\nsparsity = 0.9\nmethod = "l1-norm"\nscope = "local"\n[activation]\nsparsity = 0.0\n' > "$work/p90.toml"
"$Q" prune-structured --checkpoint "$BASE" --out "$work/structured.h5" --heads 0.5 --neurons 0.5 --speed-iters 0 "${FT[@]}" > /dev/null
"$Q" prune --checkpoint "$BASE" --config "$work/p90.toml" --out "$work/p90.h5" "${FT[@]}" > /dev/null
"$Q" export --checkpoint "$work/p90.h5" --out "$work/p90_sparse.h5" --sparse > /dev/null
"$Q" export --checkpoint "$Q8" --out "$work/q8_int8.h5" --int8 > /dev/null
"$Q" prune --checkpoint "$Q8" --config "$work/p90.toml" --out "$work/q8p90.h5" "${FT[@]}" > /dev/null
"$Q" export --checkpoint "$work/q8p90.h5" --out "$work/q8p90_int8_sparse.h5" --int8 --sparse > /dev/null
source scripts/lib/bench-speed.sh
base_speed=$(median_speed "$BASE" infer)
base_bytes=$(stat -c %s "$BASE")
csv="$work/variants.csv"
echo "variant,accuracy,bytes,size_ratio,seq_per_s,speedup" > "$csv"
for v in "fp32:$BASE" "q8.4-fq:$Q8" "q8.4-int8:$work/q8_int8.h5" "structured-0.5:$work/structured.h5" \
         "sparse-0.9:$work/p90_sparse.h5" "q8.4-sparse-0.9-int8:$work/q8p90_int8_sparse.h5"; do
    name=${v%%:*}; f=${v#*:}
    acc=$("$Q" eval --checkpoint "$f" --limit 5000 --data data | grep '^accuracy=' | sed 's/accuracy=\([0-9.]*\).*/\1/')
    bytes=$(stat -c %s "$f")
    s=$(median_speed "$f" infer)
    echo "$name,$acc,$bytes,$(awk -v a="$bytes" -v b="$base_bytes" 'BEGIN{printf "%.3f", a/b}'),$s,$(awk -v a="$s" -v b="$base_speed" 'BEGIN{printf "%.3f", a/b}')" | tee -a "$csv"
done
cp "$csv" "$OUT/variants.csv.tmp" && mv "$OUT/variants.csv.tmp" "$OUT/variants.csv"
for term in "pngcairo size 1200,520 font ',11' noenhanced" "svg size 1200,520 font 'sans,11' noenhanced"; do
    ext=png; [[ $term == svg* ]] && ext=svg
    gnuplot <<GP
set terminal $term
set output '$OUT/variants.$ext.tmp'
set datafile separator ','
set multiplot layout 1,2 title 'Deployable variants of the base model: test accuracy (first 5,000 reviews) against speed and size'
set grid
set key off
set ylabel 'test accuracy'
set xlabel 'inference speed-up over fp32 (batch 32, seq 128)'
plot '$csv' every ::1 using 6:2 with points pt 7 ps 1.5, '' every ::1 using 6:2:1 with labels offset 0,1 font ',9'
set xlabel 'file size / fp32 checkpoint'
plot '$csv' every ::1 using 4:2 with points pt 7 ps 1.5, '' every ::1 using 4:2:1 with labels offset 0,1 font ',9'
unset multiplot
GP
    mv "$OUT/variants.$ext.tmp" "$OUT/variants.$ext"
done
echo "wrote $OUT/variants.csv, variants.png, variants.svg (fp32: $base_speed seq/s, $base_bytes bytes)"
