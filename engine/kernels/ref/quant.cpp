// Reference fixed-point fake quantization: one plain loop per kernel, in the tensor's own type.
#include <cmath>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

namespace {
// The integer grid index of x before clamping: round half to even (std::nearbyint in the default rounding
// mode) or floor.
template <class T>
T grid_index(T x, T scale, bool floor) {
    return floor ? std::floor(x * scale) : std::nearbyint(x * scale);
}
}  // namespace

template <class T>
void fake_quant_forward_ref(const T* x, T* y, int64_t n, T scale, T qmin, T qmax, bool floor) {
    for (int64_t i = 0; i < n; ++i) {
        T k = grid_index(x[i], scale, floor);
        if (k < qmin) k = qmin;  // saturate (NaN passes through both comparisons unchanged)
        if (k > qmax) k = qmax;
        y[i] = k / scale;
    }
}

template <class T>
void fake_quant_clipped_backward_ref(const T* x, const T* dy, T* dx, int64_t n, T scale, T qmin, T qmax, bool floor) {
    for (int64_t i = 0; i < n; ++i) {
        const T k = grid_index(x[i], scale, floor);
        dx[i] = (k >= qmin && k <= qmax) ? dy[i] : T(0);
    }
}

#define QBERT_INSTANTIATE(T)                                                                             \
    template void fake_quant_forward_ref<T>(const T*, T*, int64_t, T, T, T, bool);                       \
    template void fake_quant_clipped_backward_ref<T>(const T*, const T*, T*, int64_t, T, T, T, bool);
QBERT_INSTANTIATE(float)
QBERT_INSTANTIATE(double)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::ref
