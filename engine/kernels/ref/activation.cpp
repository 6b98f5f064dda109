// Reference GELU (erf form) and tanh, plus embedding gather / scatter-add.
#include <cmath>
#include <cstring>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void gelu_forward_ref(const T* x, T* y, int64_t n) {
    const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
    for (int64_t i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * inv_sqrt2));
}

template <class T>
void gelu_backward_ref(const T* x, const T* dy, T* dx, int64_t n) {
    const T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
    const T inv_sqrt_2pi = static_cast<T>(0.39894228040143267794);
    for (int64_t i = 0; i < n; ++i) {
        const T cdf = T(0.5) * (T(1) + std::erf(x[i] * inv_sqrt2));
        const T pdf = inv_sqrt_2pi * std::exp(T(-0.5) * x[i] * x[i]);
        dx[i] = dy[i] * (cdf + x[i] * pdf);
    }
}

template <class T>
void tanh_forward_ref(const T* x, T* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

template <class T>
void tanh_backward_ref(const T* y, const T* dy, T* dx, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (T(1) - y[i] * y[i]);
}

template <class T>
void embedding_forward_ref(const T* w, const int32_t* ids, T* out, int64_t n, int64_t C) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < C; ++c) out[i * C + c] = w[static_cast<int64_t>(ids[i]) * C + c];
}

template <class T>
void embedding_backward_ref(const T* dout, const int32_t* ids, T* dw, int64_t n, int64_t V, int64_t C) {
    std::memset(dw, 0, static_cast<size_t>(V * C) * sizeof(T));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < C; ++c) dw[static_cast<int64_t>(ids[i]) * C + c] += dout[i * C + c];
}

#define QBERT_INSTANTIATE(T)                                                                \
    template void gelu_forward_ref<T>(const T*, T*, int64_t);                               \
    template void gelu_backward_ref<T>(const T*, const T*, T*, int64_t);                    \
    template void tanh_forward_ref<T>(const T*, T*, int64_t);                               \
    template void tanh_backward_ref<T>(const T*, const T*, T*, int64_t);                    \
    template void embedding_forward_ref<T>(const T*, const int32_t*, T*, int64_t, int64_t); \
    template void embedding_backward_ref<T>(const T*, const int32_t*, T*, int64_t, int64_t, int64_t);
QBERT_INSTANTIATE(float)
QBERT_INSTANTIATE(double)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::ref
