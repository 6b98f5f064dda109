#!/usr/bin/env bash
# The gdb pretty-printers (scripts/gdb/qbert_printers.py) against the exact text they must print.
#
# gdb runs tests/gdb/printer_target.cpp to qbert_gdb_stop(), goes up to main() and prints one value per check;
# each check compares the text after "$N = " with the expected line (addresses, which vary, read 0xADDR).
# Ends with "qbert-tests: P passed, F failed, S skipped" (scripts/test.sh adds these up) and exits non-zero on
# any failure. Without gdb: one skip, exit 0.
# Usage: tests/gdb/test_printers.sh PRINTER_TARGET SOURCE_ROOT     (meson test -C build/debug-asan gdb-printers)
set -uo pipefail
target="$1"
root="$2"

if ! command -v gdb >/dev/null 2>&1; then
  echo "qbert-skip: gdb not found: printer tests skipped"
  echo "qbert-tests: 0 passed, 0 failed, 1 skipped"
  exit 0
fi
# LeakSanitizer stops the program's threads with ptrace at exit, which fails while gdb is tracing it.
export ASAN_OPTIONS=detect_leaks=0

labels=() exprs=() expected=()
check() {  # label, gdb expression (in main's frame), the exact text printed after "$N = "
  labels+=("$1") exprs+=("$2") expected+=("$3")
}
check "tensor: named leaf" 't' \
  'Tensor "w" f32[2, 3] strides=[3, 1] requires_grad=true grad_fn=leaf {0.5, -1.25, 2, 3.75, -4.5, 6}'
check "tensor: op result" 'y' \
  'Tensor f32[2, 3] strides=[3, 1] requires_grad=true grad_fn=mul {1, -2.5, 4, 7.5, -9, 12}'
check "tensor: transposed view" 'tt' \
  'Tensor f32[3, 2] strides=[1, 3] requires_grad=true grad_fn=permute {0.5, 3.75, -1.25, -4.5, 2, 6}'
check "tensor: view with an offset" 'cols' \
  'Tensor f32[2, 2] strides=[1, 3] offset=1 requires_grad=true grad_fn=slice {-1.25, -4.5, 2, 6}'
check "tensor: first and last 3" 'big' \
  'Tensor f32[4, 5] strides=[5, 1] requires_grad=false grad_fn=leaf {0, 0.5, 1, ..., 8.5, 9, 9.5}'
check "tensor: i32" 'ids' \
  'Tensor i32[3] strides=[1] requires_grad=false grad_fn=leaf {101, 2023, 102}'
check "tensor: undefined" 'none' 'Tensor(undefined)'
check "tensor impl" '*t.impl_._M_ptr' \
  'TensorImpl "w" f32[2, 3] strides=[3, 1] requires_grad=true grad_fn=leaf {0.5, -1.25, 2, 3.75, -4.5, 6}'
check "shape: a local" 'shape' '[2, 3]'
check "shape: a member" 'cols.impl_._M_ptr->strides' '[1, 3]'
check "shape: other vectors unchanged" '(std::vector<long, std::allocator<long> >)shape' \
  'std::vector of length 2, capacity 2 = {2, 3}'
check "storage" '*t.impl_._M_ptr->storage._M_ptr' 'Storage(24 bytes, version=0, data=0xADDR)'
check "node: function" '*y.impl_._M_ptr->grad_fn._M_ptr' 'Node mul inputs=[AccumulateGrad(w), none] released=false'
check "node: accumulate grad" '*y.impl_._M_ptr->grad_fn._M_ptr->next._M_impl._M_start[0]._M_ptr' \
  'Node AccumulateGrad(w) inputs=[] released=false'
check "rng: root" 'root' 'Rng(seed=42, purpose=root)'
check "rng: fork" 'epoch' 'Rng(seed=8205664674750755953, purpose="data/epoch")'
check "fixed point: signed" 'q41' 'Q4.1 (signed, round half to even, range [-4, 3.5], step 0.5)'
check "fixed point: unsigned floor" 'uq' 'UQ8.0 floor (unsigned, floor, range [0, 255], step 1)'
check "number format: minifloat" 'mf' 'minifloat_ieee w8 e4 b7'
check "number format: block" 'bfp' 'block_fp w7 e8 b127 [1,16]'
check "linear quant config" 'cfg' \
  '{data_in = Q4.1, weight = Q8.4, bias = Q8.4, data_out = none, ste = clipped, seed = 0}'

args=(-batch -nx -x "$root/scripts/gdb/qbert_printers.py" -ex 'set pagination off' -ex 'set width 0'
      -ex 'break qbert_gdb_stop' -ex run -ex up)
for i in "${!exprs[@]}"; do
  args+=(-ex "echo @@check $i\\n" -ex "print ${exprs[$i]}")
done
out=$(timeout 300 gdb "${args[@]}" "$target" 2>&1)

passed=0 failed=0
for i in "${!exprs[@]}"; do
  # the lines between this check's marker and the next one, "$N = " dropped, addresses normalized
  got=$(awk -v want="@@check $i" '$0 == want { on = 1; next } /^@@check / { on = 0 } on' <<<"$out" |
        sed -E 's/^\$[0-9]+ = //; s/0x[0-9a-f]+/0xADDR/g')
  if [ "$got" = "${expected[$i]}" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL ${labels[$i]}: print ${exprs[$i]}"
    echo "  expected: ${expected[$i]}"
    echo "  got:      ${got:-<nothing>}"
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "---- gdb output"
  echo "$out"
fi
echo "qbert-tests: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
