// Shape and view ops. Views share storage with their input (no copy); their gradients map back by the
// inverse view. Kernels that need contiguous input copy it themselves, so any view can feed any op.
//   reshape(x, shape)       same elements, new shape (one dim may be -1); a view when x is contiguous
//   permute(x, dims)        out.dim(i) = x.dim(dims[i]); a view
//   transpose(x, d0, d1)    swaps two dims; a view
//   slice(x, dim, start, end)  x[..., start:end, ...] along dim; a view
//   contiguous(x)           a row-major copy when x is not already contiguous
//   concat(xs, dim)         joins along dim;  split(x, sizes, dim) cuts along dim into views
#pragma once

#include <vector>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

[[nodiscard]] Tensor reshape(const Tensor& x, Shape shape);
[[nodiscard]] Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
[[nodiscard]] Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
[[nodiscard]] Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
[[nodiscard]] Tensor contiguous(const Tensor& x);
[[nodiscard]] Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
[[nodiscard]] std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);

}  // namespace qbert::engine
