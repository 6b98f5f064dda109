// Fast keep masks for pruning: the reference loops on OpenMP threads (static partition). Element i depends on
// i alone (random: a counter-based hash of (seed, i)), so the mask is the same for any thread count.
#include <cmath>

#include "engine/core/rng.h"
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

void random_keep_mask_fast(float* mask, int64_t n, uint64_t seed, float sparsity) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        mask[i] = hash_uniform(seed, static_cast<uint64_t>(i)) < sparsity ? 0.0f : 1.0f;
}

void threshold_keep_mask_fast(const float* x, float* mask, int64_t n, double t) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) mask[i] = std::abs(static_cast<double>(x[i])) > t ? 1.0f : 0.0f;
}

}  // namespace qbert::engine::fast
