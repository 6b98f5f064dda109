// Reductions.
//   sum(x, dims, keepdim):  out = sum of x over dims       mean: the same divided by the count
//   sum_to(g, shape):       reduces a broadcast result back to `shape` (the backward of broadcasting)
//   expand(x, shape):       materializes x broadcast to `shape` (the backward of sum)
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

}  // namespace qbert::engine
