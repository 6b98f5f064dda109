// Matrix products.
//   matmul(a, b, ta, tb):  c = op(a) @ op(b), op = transpose of the last two dims when the flag is set.
//       a:(...,M,K) (or (...,K,M) if ta)   b:(...,K,N) (or (...,N,K) if tb) with the same leading dims,
//       or b 2-D, shared by every batch.   c:(...,M,N)
//   linear(x, w, bias, mask):  y = x @ (w ⊙ mask)^T + bias   x:(...,in) w:(out,in) bias:(out) or undefined
//       y:(...,out). mask (optional): u8 (out,in), 1 keeps a weight, 0 prunes it; no gradient flows to a pruned
//       weight (dw = mask ⊙ dy^T x). The kernels read w through the mask: w itself is never changed.
// Transposes are passed to the kernels as strides: no copy.
#pragma once

#include "engine/tensor/tensor.h"

namespace qbert::engine {

[[nodiscard]] Tensor matmul(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
[[nodiscard]] Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
                            const Tensor& mask = Tensor());

}  // namespace qbert::engine
