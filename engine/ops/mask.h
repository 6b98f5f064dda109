// Keep masks for activation pruning: tensors of 0 and 1 (1 keeps an element), to multiply an input by. No
// autograd: a mask is a constant of the step that uses it.
//   random_keep_mask(shape, seed, sparsity):  mask[i] = 0 where hash_uniform(seed, i) < sparsity, else 1 (each
//       element dropped with probability `sparsity`; a pure function of (seed, i), core/rng.h, so the mask does
//       not depend on the thread count). A new seed per call gives a fresh mask.
//   threshold_keep_mask(x, t):  mask[i] = |x[i]| > t ? 1 : 0   (ties pruned, as Mase's L1 activation pruning)
#pragma once

#include <cstdint>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

[[nodiscard]] Tensor random_keep_mask(const Shape& shape, uint64_t seed, double sparsity, DType dtype = DType::F32);
[[nodiscard]] Tensor threshold_keep_mask(const Tensor& x, double t);

}  // namespace qbert::engine
