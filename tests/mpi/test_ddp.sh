#!/usr/bin/env bash
# Data-parallel training = one process (issue 17): tests/mpi/ddp_check trains a small BERT for 50 steps as one
# process and as 2 MPI ranks (same seed, same global batch), with the allreduce overlapped with backward and
# not; the parameters must agree within 1e-5 and the validation accuracy exactly. A failing rank must end the
# job with its error, not hang. Prints "qbert-tests: P passed, F failed, S skipped" (scripts/test.sh adds it up).
# Usage: tests/mpi/test_ddp.sh BUILD/tests/ddp_check BUILD/apps/qbert
set -uo pipefail
CHECK="$1"; QBERT="$2"
WHAT="data-parallel tests"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$CHECK" --out "$work/one.bin" || bad "one process ran"
for mode in overlap no-overlap; do
  flag=(); [ "$mode" = no-overlap ] && flag=(--no-overlap)
  if timeout 600 "${MPIRUN[@]}" "$CHECK" --out "$work/two-$mode.bin" "${flag[@]}"; then
    if "$CHECK" --compare "$work/one.bin" "$work/two-$mode.bin"; then ok "2 ranks ($mode) = 1 process"
    else bad "2 ranks ($mode) = 1 process"; fi
  else
    bad "2 ranks ($mode) ran (the ranks' parameters must be identical)"
  fi
done

# A rank that cannot read its config ends every rank with rank 0 naming it (no hang): rank 1 gets a missing file.
cat > "$work/cfg.sh" << SH
#!/usr/bin/env bash
if [ "\${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then cfg="$work/missing.toml"; else cfg="$work/train.toml"; fi
exec "$QBERT" train --config "\$cfg" --out "$work/run"
SH
chmod +x "$work/cfg.sh"
printf '[model]\npreset = "tiny"\n[data]\nroot = "%s/nodata"\n' "$work" > "$work/train.toml"
out=$(timeout 120 "${MPIRUN[@]}" "$work/cfg.sh" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "rank 1" <<< "$out" && grep -q "missing.toml" <<< "$out"; then
  ok "a rank without its config: a clear error naming rank 1, no hang"
else
  bad "a rank without its config (rc=$rc): $(tail -3 <<< "$out")"
fi
# Mismatched configs across ranks: refused before training.
cat > "$work/mismatch.sh" << SH
#!/usr/bin/env bash
exec "$QBERT" train --config "$work/train.toml" --set train.lr=0.00\${OMPI_COMM_WORLD_RANK:-0}1 --out "$work/run2"
SH
chmod +x "$work/mismatch.sh"
out=$(timeout 120 "${MPIRUN[@]}" "$work/mismatch.sh" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "differs from rank 0" <<< "$out"; then
  ok "mismatched configs: refused by rank 0, no hang"
else
  bad "mismatched configs (rc=$rc): $(tail -3 <<< "$out")"
fi
finish
