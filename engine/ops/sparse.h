// Sparse inference of a pruned Linear layer (issue 15): the weight's kept entries packed in compressed sparse
// rows (CSR), and y = x W^T + b computed from them, so a layer with 90% of its weights pruned does about a tenth
// of the multiply-adds of the dense matmul.
//
//   W [out, in], keep mask M        ->  CSR: row_ptr [out + 1] (i32), col [nnz] (i32), val [nnz] (f32)
//                                       row o's kept weights are val[row_ptr[o] .. row_ptr[o+1]), at columns col[..],
//                                       in increasing column order
//   y[r, o] = sum_{p in row o} val[p] * x[r, col[p]]  + b[o]     (each product added with one rounding: fma)
//
// Why CSR (docs/deploy.md has the measurements): the pruning passes make unstructured masks (each weight kept or
// not on its own), so a block or N:M layout would have to store most pruned weights again as zeros; CSR stores
// only the kept ones (4 bytes of value + 4 of column index each). The fast kernel vectorizes across tokens, not
// across the sparse row: it transposes a tile of tokens so that x[tile, k] for one column k is contiguous, and then
// every kept weight is one broadcast and a few vector fused multiply-adds into registers that stay there for the
// whole row (the layout XNNPACK's sparse kernels use on NCHW images).
//
// The dense masked linear (ops/nn.h linear with a mask) stays the reference model: both sum the same products, in
// a different order, so they agree to float rounding. The reference kernel (kernels/ref/sparse.cpp, plain loops)
// and the fast one (kernels/fast/sparse.cpp) sum in the same order with fma and agree exactly on a CPU with FMA;
// QBERT_KERNELS=...,sparse_linear=ref|fast|check selects or compares them.
//
// Inference only: calling it while gradients are recorded for x is an error (training keeps the dense masked
// linear, whose gradients the mask defines).
#pragma once

#include <cstdint>
#include <string>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

struct CsrMatrix {
    Tensor row_ptr;  // i32 [rows + 1]
    Tensor col;      // i32 [nnz]
    Tensor val;      // f32 [nnz]
    int64_t rows = 0, cols = 0;
    int64_t nnz() const { return val.defined() ? val.numel() : 0; }
    double density() const { return rows * cols > 0 ? static_cast<double>(nnz()) / static_cast<double>(rows * cols) : 0.0; }
    // Bytes of the three arrays.
    int64_t bytes() const;
    // Throws naming `what` unless the arrays form a valid CSR matrix of this shape: row_ptr starts at 0, never
    // decreases and ends at nnz; columns in [0, cols) and increasing within a row; values finite.
    void validate(const std::string& what) const;
};

// The entries of w (f32 [out, in]) where mask (u8 [out, in], 0 or 1) keeps them; without a mask, the nonzero ones.
[[nodiscard]] CsrMatrix csr_from_dense(const Tensor& w, const Tensor& mask = Tensor(), const std::string& what = "weight");
// Back to a dense f32 [rows, cols] tensor (pruned entries 0).
[[nodiscard]] Tensor csr_to_dense(const CsrMatrix& m);

// y (f32 [..., out]) = x (f32 [..., in]) W^T + bias, W in CSR [out, in]; bias f32 [out] or undefined.
// Throws on bad shapes or x that requires grad in grad mode.
[[nodiscard]] Tensor linear_sparse(const Tensor& x, const CsrMatrix& w, const Tensor& bias = Tensor());

}  // namespace qbert::engine
