// Small helpers shared by the op implementations (not part of the public API).
#pragma once

#include "engine/tensor/tensor.h"

namespace qbert::engine::detail {

// t itself when contiguous, else a contiguous copy (kernels assume contiguous buffers).
inline Tensor contig(const Tensor& t) { return t.is_contiguous() ? t : t.clone(); }

// Throws DTypeError unless every defined tensor has a floating dtype equal to the first one's.
void check_same_floating(const char* op, std::initializer_list<const Tensor*> ts);

// d in [-nd, nd) normalized to [0, nd), or a ShapeError naming the op and shape.
int64_t wrap_dim(const char* op, int64_t d, const Shape& shape);

// Strides to read a tensor of `shape`/`strides` broadcast to `out` (0 on stretched or missing dims).
Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out);

}  // namespace qbert::engine::detail
