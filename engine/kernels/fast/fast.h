// Fast kernels (float32 only): oneDNN for matmul, Eigen's vectorized math and OpenMP loops for the rest.
// Each one mirrors the reference kernel of the same name in kernels/ref/ref.h and is held to it by the
// fast-vs-ref tests and by QBERT_KERNELS=check. Parallel loops use a fixed static partition over
// (thread index, thread count) and reduce partial results in thread order, so the same inputs and thread
// count give bitwise-identical outputs.
#pragma once

#include <algorithm>
#include <cstdint>

#include "engine/kernels/binary_op.h"
#include "engine/kernels/format_math.h"

namespace qbert::engine::fast {

// How b is laid out against a:(rows,cols) in binary_forward_fast.
enum class BLayout { Full, Row, Scalar };  // b:(rows,cols) | b:(cols) repeated for every row | b:() one value
// out = a op b
void binary_forward_fast(BinaryOp op, const float* a, const float* b, float* out, int64_t rows, int64_t cols,
                         BLayout b_layout);
// out[c] = sum_r x[r,c]     x:(R,C)
void sum_rows_fast(const float* x, float* out, int64_t R, int64_t C);
// out[r] = sum_c x[r,c]     x:(R,C)
void sum_cols_fast(const float* x, float* out, int64_t R, int64_t C);

// oneDNN matmul, same contract as ref::matmul_forward_ref (primitives cached per shape and layout).
// bf16: round a and b to bfloat16 first (see QBERT_MATMUL in core/config.h); the result is still fp32.
void matmul_forward_fast(const float* a, const float* b, const float* bias, float* c, int64_t batch, int64_t M,
                         int64_t N, int64_t K, bool ta, bool tb, int64_t b_batch_stride, bool bf16 = false);

// linear, same contract as ref::linear_forward_ref / linear_backward_ref: oneDNN matmuls on x and W ⊙ M.
// With a mask, W ⊙ M is first written to `w_masked` (out*in floats, scratch from the caller); without one,
// w_masked may be null. Backward: dx = dy (W ⊙ M) and dW = dyᵀ x by oneDNN, then dW *= M; db by sum_rows_fast.
void linear_forward_fast(const float* x, const float* w, const uint8_t* mask, const float* b, float* y,
                         float* w_masked, int64_t rows, int64_t in, int64_t out, bool bf16);
void linear_backward_fast(const float* x, const float* w, const uint8_t* mask, const float* dy, float* dx, float* dw,
                          float* db, float* w_masked, int64_t rows, int64_t in, int64_t out, bool bf16);

void softmax_forward_fast(const float* x, const float* mask, const int64_t* mask_row_off, int64_t mask_col_stride,
                          float* y, int64_t N, int64_t C);
void softmax_backward_fast(const float* y, const float* dy, float* dx, int64_t N, int64_t C);

void layernorm_forward_fast(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                            float* rstd, int64_t N, int64_t C, double eps);
void layernorm_backward_fast(const float* x, const float* gamma, const float* mean, const float* rstd,
                             const float* dy, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C);

void gelu_forward_fast(const float* x, float* y, int64_t n);
void gelu_backward_fast(const float* x, const float* dy, float* dx, int64_t n);
void tanh_forward_fast(const float* x, float* y, int64_t n);
void tanh_backward_fast(const float* y, const float* dy, float* dx, int64_t n);

void embedding_forward_fast(const float* w, const int32_t* ids, float* out, int64_t n, int64_t C);
void embedding_backward_fast(const float* dout, const int32_t* ids, float* dw, int64_t n, int64_t V, int64_t C);

// The [begin, end) share of thread `ith` of `nth` in a range of n items (fixed, in thread order).
inline void thread_range(int64_t n, int ith, int nth, int64_t& begin, int64_t& end) {
    const int64_t chunk = (n + nth - 1) / nth;
    begin = std::min<int64_t>(n, chunk * ith);
    end = std::min<int64_t>(n, begin + chunk);
}

// Number formats (ops/formats.h), same contract as ref::format_quant_forward_ref.
void format_quant_forward_fast(const float* x, float* y, int64_t n, const kernels::FormatArgs& a);
void fake_quant_forward_fast(const float* x, float* y, int64_t n, float scale, float qmin, float qmax, bool floor);
void fake_quant_clipped_backward_fast(const float* x, const float* dy, float* dx, int64_t n, float scale, float qmin,
                                      float qmax, bool floor);

// The k-th smallest |x[i]| (k from 0) and, if `next` is not null, the (k+1)-th (or the k-th again when
// k + 1 == n), exactly: radix select on the float bits (see select.cpp).
void kth_smallest_abs_pair_fast(const float* x, int64_t n, int64_t k, float* kth, float* next);

// Keep masks, same contract as ref::random_keep_mask_ref / threshold_keep_mask_ref: OpenMP loops whose
// every element depends on its index only, so the mask does not depend on the thread count.
void random_keep_mask_fast(float* mask, int64_t n, uint64_t seed, float sparsity);
void threshold_keep_mask_fast(const float* x, float* mask, int64_t n, double t);

// int8 linear, same contracts as ref::quantize_int8_ref / linear_int8_forward_ref: the quantization and the
// epilogue on OpenMP threads, the int32 sums by oneDNN's s8/u8 x s8 -> s32 matmul (primitives cached per shape).
template <class Q>
bool quantize_int8_fast(const float* x, const uint8_t* mask, Q* q, int64_t n, float scale, float qmin, float qmax,
                        bool floor);
// Whether oneDNN's int8 matmul sums exactly on this CPU (VNNI); without it the op falls back to the reference.
bool int8_matmul_exact();
template <class Q>
void linear_int8_forward_fast(const Q* xq, const int8_t* wq, const float* b, float* y, int64_t rows, int64_t in,
                              int64_t out, float out_scale);

// Sparse linear, same contract as ref::linear_sparse_forward_ref (and the same sums, bit for bit, with FMA):
// tiles of tokens transposed so each kept weight is a broadcast and vector fmas across tokens (ops/sparse.h).
void linear_sparse_forward_fast(const float* x, const int32_t* row_ptr, const int32_t* col, const float* val,
                                const float* b, float* y, int64_t rows, int64_t in, int64_t out);

}  // namespace qbert::engine::fast
