// Reference kernels: plain single-threaded loops with obvious indexing, the source of truth for every op.
// Templated on the scalar type only, so gradchecks can run them in double. Inputs are contiguous unless a
// strides argument says otherwise; outputs are written (=), never accumulated.
// Shape letters: N rows, C channels (last dim), M/N/K matmul dims, V vocab.
// Layering: kernels see only engine/core (and kernels/binary_op.h), never Tensor or ops/.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/shape.h"
#include "engine/kernels/binary_op.h"
#include "engine/kernels/format_math.h"

namespace qbert::engine::ref {

// out[i] = a[.] op b[.] over `shape`; a_strides/b_strides are element strides with 0 on broadcast dims.
template <class T>
void binary_forward_ref(BinaryOp op, const T* a, const Shape& a_strides, const T* b, const Shape& b_strides,
                        T* out, const Shape& shape);

// out = sum of x over the dims flagged in `reduce` (x contiguous with `shape`; out has the kept dims).
template <class T>
void sum_forward_ref(const T* x, const Shape& shape, const std::vector<bool>& reduce, T* out);

// c[b] = op(a[b]) @ op(b[b]) (+ bias)   a:(batch,M,K) or (batch,K,M) if ta; b:(K,N) or (N,K) if tb
// b_batch_stride is 0 when one b is shared by every batch. bias:(N) or null. c:(batch,M,N)
template <class T>
void matmul_forward_ref(const T* a, const T* b, const T* bias, T* c, int64_t batch, int64_t M, int64_t N,
                        int64_t K, bool ta, bool tb, int64_t b_batch_stride);

// linear: y = x (W ⊙ M)^T + b, the weight mask M (u8, 1 keeps, 0 prunes) applied where the weight is read.
//   x:(rows,in) W,M:(out,in) b:(out) y:(rows,out); mask and b may be null (no mask, no bias)
// y[r,o] = b[o] + sum_i x[r,i] * W[o,i] * M[o,i]
template <class T>
void linear_forward_ref(const T* x, const T* w, const uint8_t* mask, const T* b, T* y, int64_t rows, int64_t in,
                        int64_t out);
// dx[r,i] = sum_o dy[r,o] * W[o,i] * M[o,i]
// dW[o,i] = M[o,i] * sum_r dy[r,o] * x[r,i]        (a pruned weight gets exactly zero gradient)
// db[o]   = sum_r dy[r,o]                          (summed in double, as sum_forward_ref)
// dx, dw, db may each be null: that gradient is not computed.
template <class T>
void linear_backward_ref(const T* x, const T* w, const uint8_t* mask, const T* dy, T* dx, T* dw, T* db, int64_t rows,
                         int64_t in, int64_t out);

// y[r,:] = softmax(x[r,:] + mask[r,:])   x,y:(N,C); mask row r starts at mask_row_off[r], steps mask_col_stride
template <class T>
void softmax_forward_ref(const T* x, const T* mask, const int64_t* mask_row_off, int64_t mask_col_stride,
                         T* y, int64_t N, int64_t C);
// dx[r,c] = y[r,c] * (dy[r,c] - sum_j dy[r,j] y[r,j])
template <class T>
void softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t N, int64_t C);

// y[r,:] = x[r,:] - logsumexp(x[r,:])
template <class T>
void log_softmax_forward_ref(const T* x, T* y, int64_t N, int64_t C);
// dx[r,c] = dy[r,c] - exp(y[r,c]) * sum_j dy[r,j]
template <class T>
void log_softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t N, int64_t C);

// loss = mean_r [ (1-s) * -logp[r,label_r] + s * mean_c -logp[r,c] ],  p = softmax(logits) saved in probs
template <class T>
void cross_entropy_forward_ref(const T* logits, const int32_t* labels, T* loss, T* probs, int64_t N, int64_t C,
                               double smoothing);
// dlogits[r,c] = dloss * (p[r,c] - (1-s)*[c==label_r] - s/C) / N
template <class T>
void cross_entropy_backward_ref(const T* probs, const int32_t* labels, T dloss, T* dlogits, int64_t N, int64_t C,
                                double smoothing);

// y[r,:] = (x[r,:] - mean[r]) * rstd[r] * gamma + beta    x,y:(N,C) gamma,beta:(C) mean,rstd:(N)
template <class T>
void layernorm_forward_ref(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, int64_t N,
                           int64_t C, double eps);
// xhat = (x-mean)*rstd; dbeta = sum_r dy; dgamma = sum_r dy*xhat;
// dx = rstd * (g - mean_c(g) - xhat * mean_c(g*xhat)),  g = dy*gamma
template <class T>
void layernorm_backward_ref(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy, T* dx,
                            T* dgamma, T* dbeta, int64_t N, int64_t C);

// y = 0.5 x (1 + erf(x / sqrt 2))           (the erf form BERT uses)
template <class T>
void gelu_forward_ref(const T* x, T* y, int64_t n);
// dx = dy * (0.5 (1 + erf(x/sqrt 2)) + x * exp(-x^2/2) / sqrt(2 pi))
template <class T>
void gelu_backward_ref(const T* x, const T* dy, T* dx, int64_t n);

// y = tanh x;  dx = dy * (1 - y^2)  (from the saved output)
template <class T>
void tanh_forward_ref(const T* x, T* y, int64_t n);
template <class T>
void tanh_backward_ref(const T* y, const T* dy, T* dx, int64_t n);

// out[i,:] = w[ids[i],:]    w:(V,C) ids:(n) out:(n,C)
template <class T>
void embedding_forward_ref(const T* w, const int32_t* ids, T* out, int64_t n, int64_t C);
// dw = 0; dw[ids[i],:] += dout[i,:]   (scatter-add: repeated ids accumulate)
template <class T>
void embedding_backward_ref(const T* dout, const int32_t* ids, T* dw, int64_t n, int64_t V, int64_t C);

// Fixed-point fake quantization (ops/quant.h): y = clamp(round(x * scale), qmin, qmax) / scale with
// round = half to even, or floor. scale = 2^frac_width.
template <class T>
void fake_quant_forward_ref(const T* x, T* y, int64_t n, T scale, T qmin, T qmax, bool floor);
// Clipped straight-through estimator: dx = dy where qmin <= round(x * scale) <= qmax, else 0.
template <class T>
void fake_quant_clipped_backward_ref(const T* x, const T* dy, T* dx, int64_t n, T scale, T qmin, T qmax, bool floor);

// The number formats of ops/formats.h (float32 only, as Mase computes them): y = Q(x) with the formulas of
// kernels/format_math.h; block formats first take each block's maximum magnitude.
void format_quant_forward_ref(const float* x, float* y, int64_t n, const kernels::FormatArgs& a);

// Keep masks for pruning (ops/mask.h): 1 keeps an element, 0 prunes it.
// random: mask[i] = hash_uniform(seed, i) < sparsity ? 0 : 1   (core/rng.h: a pure function of (seed, i))
template <class T>
void random_keep_mask_ref(T* mask, int64_t n, uint64_t seed, float sparsity);
// threshold: mask[i] = |x[i]| > t ? 1 : 0   (compared in double)
template <class T>
void threshold_keep_mask_ref(const T* x, T* mask, int64_t n, double t);

// int8 linear (ops/int8.h). q[i] = clamp(round-half-even or floor(x[i] * scale), qmin, qmax), times mask[i]
// when mask is given; Q is int8_t or uint8_t. Returns false if x holds a NaN (q is then unspecified).
template <class Q>
bool quantize_int8_ref(const float* x, const uint8_t* mask, Q* q, int64_t n, float scale, float qmin, float qmax,
                       bool floor);
// y[r,o] = float(sum_k xq[r,k] * wq[o,k]) * out_scale + b[o]   (int32 sums; b may be null)
template <class Q>
void linear_int8_forward_ref(const Q* xq, const int8_t* wq, const float* b, float* y, int64_t rows, int64_t in,
                             int64_t out, float out_scale);

// Sparse linear (ops/sparse.h): y[r,o] = sum_{p in row o of the CSR weight} val[p] * x[r, col[p]] (fma, in p order,
// from 0) + b[o]; b may be null.
void linear_sparse_forward_ref(const float* x, const int32_t* row_ptr, const int32_t* col, const float* val,
                               const float* b, float* y, int64_t rows, int64_t in, int64_t out);

}  // namespace qbert::engine::ref
