#!/usr/bin/env bash
# Distributed studies (issue 17): `mpirun -np 2 qbert search` with rank 0 owning the study file and handing
# trials to both ranks. Checks: every trial recorded once and both ranks ran some; a trial that fails on a rank
# fails that trial, not the study; killing one rank's process mid-study (kill -9), then --resume, loses no
# finished trial and reaches the study's count; options that differ across ranks, or a study rank 0 cannot
# open, end every rank with one clear error and no hang; `qbert lab2` and `qbert lab3` run on 2 ranks, and
# `qbert lab1` and `qbert sweep prune` give on 2 ranks what they give in one process; a NAS study keeps the
# best trial's model. (Also, in one process, lab1 resumed from seeded tables without checkpoints: step 8b.)
# Prints "qbert-tests: P passed, F failed, S skipped" (scripts/test.sh adds it up).
# Usage: tests/mpi/test_study.sh BUILD/apps/qbert SOURCE_ROOT (lab2 reads its profile's config from there)
set -uo pipefail
QBERT="$(realpath "$1")"; SOURCE_ROOT="$(realpath "${2:-.}")"
WHAT="distributed-study tests"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$work" || exit 1

cat > space.toml << 'TOML'
[x]
type = "float"
low = -5.0
high = 5.0
[n]
type = "int"
low = 0
high = 6
TOML
# rows of trials.csv with a given state; "number,value" of the complete ones
rows() { awk -F, -v s="$2" 'NR > 1 && $2 == s' "$1" | wc -l; }
complete_values() { awk -F, 'NR > 1 && $2 == "complete" { print $1 "," $3 }' "$1" | sort; }  # (comm's order)

# 1. 12 trials over 2 ranks (each sleeps a little so both ranks get work): 12 rows, numbers 0..11 once each
out=$(timeout 300 "${MPIRUN[@]}" "$QBERT" search --objective exec --space space.toml --storage s1.db --study a \
  --out a --trials 12 --sampler tpe --seed 1 --direction minimize \
  --exec 'sleep 0.2; awk "BEGIN { print ({x} - 1) ^ 2 + {n} }"' 2>&1); rc=$?
numbers=$(awk -F, 'NR > 1 { print $1 }' a/trials.csv 2> /dev/null | sort -n | tr '\n' ' ')
per=$(grep -o 'trials_per_rank=[0-9,]*' <<< "$out" | cut -d= -f2)
if [ $rc -eq 0 ] && [ "$numbers" = "0 1 2 3 4 5 6 7 8 9 10 11 " ] && [ "$(rows a/trials.csv complete)" -eq 12 ] &&
   [[ "$per" =~ ^[1-9][0-9]*,[1-9][0-9]*$ ]]; then
  ok "2 ranks: 12 trials, each recorded once, both ranks ran trials ($per)"
else
  bad "2 ranks, 12 trials (rc=$rc, numbers '$numbers', per rank '$per'): $(tail -3 <<< "$out")"
fi

# 2. A trial that fails (its command exits 3 when n = 2) fails alone; the study still reaches 12 trials
out=$(timeout 300 "${MPIRUN[@]}" "$QBERT" search --objective exec --space space.toml --storage s2.db --study b \
  --out b --trials 12 --sampler random --seed 2 --direction minimize \
  --exec 'sleep 0.1; [ {n} -eq 2 ] && exit 3; echo {n}' 2>&1); rc=$?
nfail=$(rows b/trials.csv fail 2> /dev/null); ncomp=$(rows b/trials.csv complete 2> /dev/null)
if [ $rc -eq 0 ] && [ "${nfail:-0}" -ge 1 ] && [ $((nfail + ncomp)) -eq 12 ]; then
  ok "a failing trial fails alone ($nfail failed, $ncomp complete of 12)"
else
  bad "failing trials (rc=$rc, fail=$nfail complete=$ncomp): $(tail -3 <<< "$out")"
fi

# 3. kill -9 rank 1 mid-study, then --resume: every trial complete before the kill is still there, same value
cmd='[ "$OMPI_COMM_WORLD_RANK" = 1 ] && echo $PPID > rank1.pid.$$ && mv rank1.pid.$$ rank1.pid; sleep 0.3; echo {x}'
timeout 300 "${MPIRUN[@]}" "$QBERT" search --objective exec --space space.toml --storage s3.db --study c --out c \
  --trials 30 --sampler tpe --seed 3 --direction minimize --exec "$cmd" > run1.txt 2>&1 &
job=$!
for _ in $(seq 1 300); do  # until 8 trials are complete
  [ -f c/trials.csv ] && [ "$(rows c/trials.csv complete)" -ge 8 ] && [ -s rank1.pid ] && break
  sleep 0.1
done
pid1=$(cat rank1.pid 2> /dev/null)
[ -n "$pid1" ] || bad "kill and resume: rank 1 never ran a trial (no pid)"
kill -9 "$pid1" 2> /dev/null
wait $job; rc1=$?
sleep 0.5
before=$(complete_values c/trials.csv 2> /dev/null)
nbefore=$(wc -l <<< "$before")
out=$(timeout 300 "${MPIRUN[@]}" "$QBERT" search --objective exec --space space.toml --storage s3.db --study c \
  --out c --trials 30 --sampler tpe --seed 3 --direction minimize --exec "$cmd" --resume 2>&1); rc2=$?
after=$(complete_values c/trials.csv)
lost=$(comm -23 <(echo "$before") <(echo "$after") | wc -l)
stale=$(rows c/trials.csv fail)
total=$(awk -F, 'NR > 1' c/trials.csv | wc -l)
if [ $rc1 -ne 0 ] && [ $rc2 -eq 0 ] && [ "$nbefore" -ge 8 ] && [ "$lost" -eq 0 ] &&
   [ "$(rows c/trials.csv complete)" -eq 30 ] && [ "$total" -eq $((30 + stale)) ]; then
  ok "kill -9 of rank 1 after $nbefore complete trials, then --resume: none lost, 30 complete ($stale stale failed)"
else
  bad "kill and resume (rc $rc1/$rc2, before $nbefore, lost $lost, total $total, stale $stale): $(tail -3 <<< "$out")"
fi

# 4. Options that differ across ranks: refused before any trial, by rank 0, no hang
cat > mismatch.sh << SH
#!/usr/bin/env bash
exec "$QBERT" search --objective exec --space space.toml --storage s4.db --study d --out d --trials 4 \
  --seed \${OMPI_COMM_WORLD_RANK:-0} --exec 'echo 1'
SH
chmod +x mismatch.sh
out=$(timeout 120 "${MPIRUN[@]}" ./mismatch.sh 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "differs from rank 0" <<< "$out" && [ ! -e s4.db ]; then
  ok "options differing across ranks: one error from rank 0, no study file, no hang"
else
  bad "mismatched options (rc=$rc): $(tail -3 <<< "$out")"
fi

# 5. A study rank 0 cannot open (--resume of a study that does not exist): every rank stops with rank 0's error
out=$(timeout 120 "${MPIRUN[@]}" "$QBERT" search --objective exec --space space.toml --storage s1.db --study nope \
  --out e --trials 4 --exec 'echo 1' --resume 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "rank 0: no study 'nope'" <<< "$out"; then
  ok "a study rank 0 cannot open: one clear error, no hang"
else
  bad "missing study (rc=$rc): $(tail -3 <<< "$out")"
fi
# 6. qbert lab2 on 2 ranks (synthetic reviews, a tiny budget): the lab ends, each study holds its trials once,
# both ranks trained trials, and the figures' CSVs are written
awk 'BEGIN { srand(5); split("good great fine bad awful poor the movie was plot", w, " ");
  print "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]" > "vocab.txt"; for (i = 1; i <= 10; i++) print w[i] > "vocab.txt";
  for (s = 0; s < 2; s++) { f = s ? "test.tsv" : "train.tsv"; print "label\ttext" > f;
    for (i = 0; i < 160; i++) { l = i % 2; line = l "\tthe movie was";
      for (k = 0; k < 6; k++) line = line " " w[int(rand() * 3) + (l ? 1 : 4)] " " w[7 + int(rand() * 4)];
      print line > f } } }'
out=$(cd "$SOURCE_ROOT" && timeout 600 "${MPIRUN[@]}" "$QBERT" lab2 --out "$work/lab" --seeds 2 --trials 3 --ca-trials 2 \
  --samplers tpe --pruner median --pruner-set n_startup_trials=1 --threads 1 --set "data.root=\"$work\"" \
  --set "data.vocab=\"$work/vocab.txt\"" --set "data.cache_dir=\"$work/cache\"" --set data.max_len=16 \
  --set data.val_fraction=0.25 --set data.train_limit=0 --set data.test_limit=40 --set model.vocab_size=16 \
  --set model.max_position_embeddings=32 --set train.batch_size=64 --set 'train.matmul_precision="f32"' 2>&1); rc=$?
per=$(grep -o 'trials_per_rank=[0-9,]*' <<< "$out" | cut -d= -f2)
once=1
for f in lab/task1-tpe-seed0.csv lab/task1-tpe-seed1.csv lab/task2-compression-aware-post1-tpe.csv; do
  [ -f "$f" ] || { once=0; continue; }
  n=$(awk -F, 'NR > 1' "$f" | wc -l); u=$(awk -F, 'NR > 1 { print $1 }' "$f" | sort -u | wc -l)
  [ "$n" -ge 2 ] && [ "$n" -eq "$u" ] || once=0
done
if [ $rc -eq 0 ] && grep -q "^lab2 done" <<< "$out" && [ $once -eq 1 ] && [[ "$per" =~ ^[1-9][0-9]*,[1-9][0-9]*$ ]] &&
   [ -s lab/task1_best_so_far.csv ] && [ -s lab/task2_best_so_far.csv ]; then
  ok "qbert lab2 on 2 ranks: every study's trials once, both ranks trained ($per)"
else
  bad "lab2 on 2 ranks (rc=$rc, per rank '$per', once=$once): $(tail -3 <<< "$out")"
fi
# 7. qbert lab3 on 2 ranks, from a base model `qbert train` trained data-parallel on the same reviews: the
# fp32 references computed together, every study's trials spread, the lab's tables written
cat > base.toml << TOML
[model]
preset = "tiny"
vocab_size = 16
max_position_embeddings = 64
[data]
root = "$work"
vocab = "$work/vocab.txt"
cache_dir = "$work/cache"
max_len = 24
val_fraction = 0.25
test_limit = 40
[train]
batch_size = 8
epochs = 2
lr = 1e-3
warmup = 0.0
threads = 1
TOML
out=$( (timeout 300 "${MPIRUN[@]}" "$QBERT" train --config base.toml --out base &&
        timeout 600 "${MPIRUN[@]}" "$QBERT" lab3 --checkpoint base/model.h5 --data "$work" --out lab3 --trials-a 3 \
          --trials-b 2 --trials-c 3 --formats integer,minifloat_ieee --train-reviews 16 --eval-reviews 20 --threads 1) 2>&1); rc=$?
per=$(grep -o 'trials_per_rank=[0-9,]*' <<< "$out" | cut -d= -f2)
rows_ok=1
for f in lab3/a-integer.csv:3 lab3/b-integer.csv:2 lab3/b-minifloat_ieee.csv:2 lab3/c-pareto.csv:3; do
  [ -f "${f%%:*}" ] && [ "$(awk -F, 'NR > 1' "${f%%:*}" | wc -l)" -eq "${f##*:}" ] || rows_ok=0
done
if [ $rc -eq 0 ] && [ $rows_ok -eq 1 ] && [ -s lab3/fp32.json ] && [ -s lab3/lab3_c.csv ] &&
   [[ "$per" =~ ^[1-9][0-9]*,[1-9][0-9]*$ ]]; then
  ok "qbert lab3 on 2 ranks: 4 studies with their trials, both ranks trained ($per)"
else
  bad "lab3 on 2 ranks (rc=$rc, per rank '$per', rows_ok=$rows_ok): $(tail -3 <<< "$out")"
fi
# 8. qbert lab1 on 2 ranks (data-parallel QAT and fine-tuning, evaluation split, rank 0 writes) against one
# process, from the same base model: the same points; identical PTQ accuracies (no training: the split
# evaluation counts the same reviews); QAT within 2 reviews of 160 (float summation order); the pruning sweep
# with the same masks (weight sparsity). Its accuracies start from each run's own QAT checkpoint, so step 9
# compares pruning from one checkpoint.
L1=(lab1 --checkpoint base/model.h5 --data "$work" --profile quick --threads 1)
out=$( (timeout 600 "$QBERT" "${L1[@]}" --out lab1-one &&
        timeout 600 "${MPIRUN[@]}" "$QBERT" "${L1[@]}" --out lab1-two) 2>&1); rc=$?
same=$(paste -d, lab1-one/quant/quant_sweep.csv lab1-two/quant/quant_sweep.csv 2> /dev/null | awk -F, '
  NR > 1 { n++; if ($1 != $10 || $2 != $11 || $5 != $14) bad++; d = $6 - $15; if (d < 0) d = -d; if (d > 0.0126) bad++ }
  END { print (n == 18 && bad == 0) ? "yes" : "no (" n " rows, " bad + 0 " differ)" }')
psame=$(paste -d, lab1-one/prune/prune_sweep.csv lab1-two/prune/prune_sweep.csv 2> /dev/null | awk -F, '
  NR > 1 { n++; if ($1 != $9 || $2 != $10 || $3 != $11) bad++ }
  END { print (n == 18 && bad == 0) ? "yes" : "no (" n " rows, " bad + 0 " differ)" }')
if [ $rc -eq 0 ] && [ "$same" = yes ] && [ "$psame" = yes ] && [ -s lab1-two/prune/prune_sweep.png ]; then
  ok "qbert lab1 on 2 ranks = one process (18 quantization points; 18 pruning points, same masks)"
else
  bad "lab1 on 2 ranks (rc=$rc, quant same: $same, prune same: $psame): $(tail -3 <<< "$out")"
fi

# 8b. (one process; here because step 8 made a finished lab1 folder) A folder seeded with a finished run's tables
# and settings but no checkpoints, as scripts/lab1-full.sh makes from a fresh checkout: lab1 recomputes the point
# the pruning sweep starts from, finds the table's accuracies, and finishes without redoing other points. With
# that row's PTQ accuracy changed in the table, it stops with an error naming the column and leaves no checkpoint.
seed_from() {  # seed_from DIR: DIR/lab1-one with lab1-one's tables and settings, no checkpoints; DIR/base -> base
  mkdir -p "$1" && ln -sfn "$work/base" "$1/base"  # (the settings name the paths: same relative names)
  for part in quant prune; do
    mkdir -p "$1/lab1-one/$part" && cp "lab1-one/$part/${part}_sweep.csv" "lab1-one/$part/settings.json" "$1/lab1-one/$part/"
  done
}
seed_from seeded
out=$(cd seeded && timeout 300 "$QBERT" "${L1[@]}" --out lab1-one 2>&1); rc=$?
w=$(grep -o 'recomputing width [0-9]* ([a-z]*)' <<< "$out" | awk '{print $3}')
r=$(grep -o 'recomputing width [0-9]* ([a-z]*)' <<< "$out" | awk '{gsub(/[()]/, "", $4); print $4}')
done_again=$(grep -c 'done earlier, skipped' <<< "$out")
if [ $rc -eq 0 ] && [ -n "$w" ] && [ -s "seeded/lab1-one/quant/checkpoints/q${w}_${r}.h5" ] && [ "$done_again" -eq 36 ] &&
   cmp -s lab1-one/quant/quant_sweep.csv seeded/lab1-one/quant/quant_sweep.csv &&
   cmp -s lab1-one/prune/prune_sweep.csv seeded/lab1-one/prune/prune_sweep.csv; then
  ok "lab1 from seeded tables: recomputed only width $w ($r), same accuracies, 36 points not redone"
else
  bad "lab1 from seeded tables (rc=$rc, recomputed '$w $r', skipped $done_again of 36): $(tail -3 <<< "$out")"
fi
seed_from tampered
awk -F, -v OFS=, -v w="$w" -v r="$r" '$1 == w && $2 == r { $5 = ($5 == "0.1234" ? "0.4321" : "0.1234") } 1' \
  lab1-one/quant/quant_sweep.csv > tampered/lab1-one/quant/quant_sweep.csv
out=$(cd tampered && timeout 300 "$QBERT" "${L1[@]}" --out lab1-one 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "differs from .*ptq_accuracy" <<< "$out" &&
   [ ! -e "tampered/lab1-one/quant/checkpoints/q${w}_${r}.h5" ]; then
  ok "lab1 from a table the recomputed point does not match: clear error, checkpoint removed"
else
  bad "lab1 from a tampered table (rc=$rc): $(tail -3 <<< "$out")"
fi

# 9. The pruning sweep from one checkpoint, one process against 2 ranks: the same masks; L1-norm pruning gives
# identical accuracy after pruning and, fine-tuned (data-parallel), within 2 reviews of 160. (Random activation
# pruning draws a fresh mask per forward call from each layer's stream: ranks that evaluate different batches
# draw different masks than one process does, so its accuracies are other random draws: not compared.)
SP=(sweep prune --checkpoint lab1-one/quant/checkpoints/q8_half.h5 --data "$work" --sparsities 0.3,0.6
    --methods random,l1-norm --finetune-epochs 1 --threads 1)
out=$( (timeout 300 "$QBERT" "${SP[@]}" --out sp-one && timeout 300 "${MPIRUN[@]}" "$QBERT" "${SP[@]}" --out sp-two) 2>&1); rc=$?
psame=$(paste -d, sp-one/prune_sweep.csv sp-two/prune_sweep.csv 2> /dev/null | awk -F, '
  NR > 1 { n++; if ($1 != $9 || $2 != $10 || $3 != $11) bad++
           if ($1 == "l1-norm") { if ($4 != $12) bad++; d = $5 - $13; if (d < 0) d = -d; if (d > 0.0126) bad++ } }
  END { print (n == 4 && bad == 0) ? "yes" : "no (" n " rows, " bad + 0 " differ)" }')
if [ $rc -eq 0 ] && [ "$psame" = yes ]; then
  ok "qbert sweep prune on 2 ranks = one process (same masks; L1: pruned identical, fine-tuned within 2 reviews)"
else
  bad "sweep prune on 2 ranks (rc=$rc, same: $psame): $(tail -3 <<< "$out")"
fi
# 10. A NAS study on 2 ranks keeps the best trial's model: best.h5 holds the trial the study calls best,
# whichever rank trained it
out=$(timeout 600 "${MPIRUN[@]}" "$QBERT" search --objective nas --nas-space model --sampler random --seed 4 --trials 6 \
  --config base.toml --set train.epochs=1 --storage nas.db --out nas 2>&1); rc=$?
best=$(grep -o '^best_trial=[0-9]*' <<< "$out" | cut -d= -f2)
kept=$("$QBERT" inspect nas/best.h5 2> /dev/null | grep -o '"search":{[^}]*}[^}]*"trial":[0-9]*' | grep -o '"trial":[0-9]*$' | cut -d: -f2)
if [ $rc -eq 0 ] && [ -n "$best" ] && [ "$best" = "$kept" ] && ! ls nas/*.tmp > /dev/null 2>&1; then
  ok "a NAS study on 2 ranks: best.h5 is the best trial's ($best), no temporary files left"
else
  bad "NAS best.h5 on 2 ranks (rc=$rc, best '$best', kept '$kept'): $(tail -3 <<< "$out")"
fi
finish
