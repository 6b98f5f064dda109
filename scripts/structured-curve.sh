#!/usr/bin/env bash
# Accuracy against inference speed-up, structured vs unstructured pruning (issue 15), on one checkpoint, at the
# quick budget of Lab 1 (fine-tune 1 epoch on 2,000 training reviews, test on the first 5,000):
#   structured:   qbert prune-structured --heads F --neurons F         (a smaller dense model)
#   unstructured: qbert prune (L1, local, weights) at sparsity S        (then the CSR kernel: bench_bert infer-sparse)
# Speed-ups are inference seq/s (batch 32, seq 128) against the unpruned model, measured by bench_bert in one run
# per point (pruned vs unpruned side by side). Writes OUT/curve.csv, OUT/curve.png, OUT/curve.svg.
# Usage: bash scripts/structured-curve.sh [CHECKPOINT] [OUT]   (nothing else should run meanwhile: timings)
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${1:-runs/base/model.h5}
OUT=${2:-docs/figures/structured}
Q=build/release/apps/qbert
BUDGET=(--finetune-epochs 1 --train-limit 2000 --test-limit 5000 --data data --seed 0)
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source scripts/lib/bench-speed.sh
csv="$work/curve.csv"
echo "kind,amount,accuracy,speedup,base_accuracy" > "$csv"
base_speed=$(median_speed "$CKPT" infer)
for f in 0.25 0.5 0.75; do
    log="$work/s$f.log"
    "$Q" prune-structured --checkpoint "$CKPT" --out "$work/s$f.h5" --heads "$f" --neurons "$f" --speed-iters 0 "${BUDGET[@]}" > "$log"
    base_acc=$(grep '^accuracy_before=' "$log" | sed 's/accuracy_before=\([0-9.]*\).*/\1/')
    acc=$(grep '^accuracy_finetuned=' "$log" | sed 's/accuracy_finetuned=\([0-9.]*\).*/\1/')
    s=$(median_speed "$work/s$f.h5" infer)
    echo "structured,$f,$acc,$(awk -v a="$s" -v b="$base_speed" 'BEGIN{printf "%.3f", a/b}'),$base_acc" | tee -a "$csv"
done
for sp in 0.5 0.7 0.9; do
    log="$work/u$sp.log"
    printf '[weight]\nsparsity = %s\nmethod = "l1-norm"\nscope = "local"\n[activation]\nsparsity = 0.0\n' "$sp" > "$work/p.toml"
    "$Q" prune --checkpoint "$CKPT" --config "$work/p.toml" --out "$work/u$sp.h5" "${BUDGET[@]}" > "$log"
    base_acc=$(grep '^accuracy_before=' "$log" | sed 's/accuracy_before=\([0-9.]*\).*/\1/')
    acc=$(grep '^accuracy_finetuned=' "$log" | sed 's/accuracy_finetuned=\([0-9.]*\).*/\1/')
    s=$(median_speed "$work/u$sp.h5" infer-sparse)
    echo "unstructured,$sp,$acc,$(awk -v a="$s" -v b="$base_speed" 'BEGIN{printf "%.3f", a/b}'),$base_acc" | tee -a "$csv"
done
cp "$csv" "$OUT/curve.csv.tmp" && mv "$OUT/curve.csv.tmp" "$OUT/curve.csv"
base_acc=$(awk -F, 'NR==2{print $5}' "$csv")
for term in "pngcairo size 900,600 font ',11' noenhanced" "svg size 900,600 font 'sans,11' noenhanced"; do
    ext=png; [[ $term == svg* ]] && ext=svg
    gnuplot <<GP
set terminal $term
set output '$OUT/curve.$ext.tmp'
set datafile separator ','
set title 'Pruning: test accuracy after 1 epoch of fine-tuning vs inference speed-up ($(basename "$CKPT"))'
set xlabel 'inference speed-up over the unpruned model (batch 32, seq 128)'
set ylabel 'test accuracy (first 5,000 reviews)'
set key bottom left
set grid
plot '$csv' using (strcol(1) eq 'structured' ? \$4 : 1/0):3:(sprintf('%s heads+neurons', strcol(2))) with linespoints pt 7 lw 2 title 'structured (heads and neurons removed)', \
     '' using (strcol(1) eq 'structured' ? \$4 : 1/0):3:(strcol(2)) with labels offset 0,1 notitle, \
     '$csv' using (strcol(1) eq 'unstructured' ? \$4 : 1/0):3 with linespoints pt 5 lw 2 title 'unstructured (L1 weights, CSR kernel)', \
     '' using (strcol(1) eq 'unstructured' ? \$4 : 1/0):3:(strcol(2)) with labels offset 0,-1 notitle, \
     $base_acc with lines dt 2 lc rgb 'gray' title 'unpruned'
GP
    mv "$OUT/curve.$ext.tmp" "$OUT/curve.$ext"
done
echo "wrote $OUT/curve.csv, curve.png, curve.svg (base speed $base_speed seq/s)"
