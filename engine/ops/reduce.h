// Reductions.
//   sum(x, dims, keepdim):  out = sum of x over dims       mean: the same divided by the count
//   sum_to(g, shape):       reduces a broadcast result back to `shape` (the backward of broadcasting)
//   expand(x, shape):       materializes x broadcast to `shape` (the backward of sum)
//   quantile_abs(xs, q):    the q-quantile of |x| over every element of every tensor in xs, with linear
//                           interpolation between order statistics at position q*(n-1) (torch.quantile's
//                           default, which Mase's L1 pruning thresholds use). No autograd.
#pragma once

#include <vector>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

[[nodiscard]] Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim = false);
[[nodiscard]] Tensor sum(const Tensor& x);  // all elements -> shape []
[[nodiscard]] Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim = false);
[[nodiscard]] Tensor mean(const Tensor& x);
[[nodiscard]] Tensor sum_to(const Tensor& g, const Shape& shape);
[[nodiscard]] Tensor expand(const Tensor& x, const Shape& shape);
[[nodiscard]] double quantile_abs(const std::vector<Tensor>& xs, double q);

}  // namespace qbert::engine
