// Reference keep masks for pruning: one plain loop each, element i decided by i alone.
#include <cmath>

#include "engine/core/rng.h"
#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void random_keep_mask_ref(T* mask, int64_t n, uint64_t seed, float sparsity) {
    for (int64_t i = 0; i < n; ++i) mask[i] = hash_uniform(seed, static_cast<uint64_t>(i)) < sparsity ? T(0) : T(1);
}

template <class T>
void threshold_keep_mask_ref(const T* x, T* mask, int64_t n, double t) {
    for (int64_t i = 0; i < n; ++i) mask[i] = std::abs(static_cast<double>(x[i])) > t ? T(1) : T(0);
}

#define QBERT_INSTANTIATE(T)                                                        \
    template void random_keep_mask_ref<T>(T*, int64_t, uint64_t, float);            \
    template void threshold_keep_mask_ref<T>(const T*, T*, int64_t, double);
QBERT_INSTANTIATE(float)
QBERT_INSTANTIATE(double)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::ref
