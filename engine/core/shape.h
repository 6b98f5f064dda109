// Shape: a tensor's dims (or its strides, in elements), outermost first. Defined here, below tensor/, so the
// kernels (kernels/ref, kernels/fast) can take shapes without knowing about Tensor.
#pragma once

#include <cstdint>
#include <vector>

namespace qbert::engine {

using Shape = std::vector<int64_t>;

// The number of elements of a tensor of this shape (1 for a 0-d shape []).
inline int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

}  // namespace qbert::engine
