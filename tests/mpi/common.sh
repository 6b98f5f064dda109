# Sourced by the MPI test scripts: skips the script (exit 0, counted as skipped) when mpirun is missing, else
# sets MPIRUN (2 ranks, root allowed, oversubscribed), a work directory removed at exit, and the counters that
# ok / bad update and finish prints in the form scripts/test.sh adds up.
# Usage: WHAT="data-parallel tests"; . tests/mpi/common.sh
passed=0; failed=0
if ! command -v mpirun > /dev/null; then
  echo "qbert-skip: mpirun not found: $WHAT skipped (scripts/install-deps.sh installs openmpi-bin)"
  echo "qbert-tests: 0 passed, 0 failed, 1 skipped"
  exit 0
fi
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2)
export OMPI_MCA_rmaps_base_oversubscribe=1
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; failed=$((failed + 1)); }
finish() {
  echo "qbert-tests: $passed passed, $failed failed, 0 skipped"
  [ "$failed" -eq 0 ]
}
