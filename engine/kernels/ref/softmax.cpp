// Reference softmax, log-softmax and cross-entropy over the last dim (rows of length C).
// Softmax subtracts the row max first so exp never overflows; a row whose mask is all -inf gives NaN,
// as PyTorch does (BERT's mask is -10000, not -inf, so real rows never hit this).
#include <cmath>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void softmax_forward_ref(const T* x, const T* mask, const int64_t* mask_row_off, int64_t mask_col_stride, T* y,
                         int64_t N, int64_t C) {
    for (int64_t r = 0; r < N; ++r) {
        const T* xr = x + r * C;
        T* yr = y + r * C;
        const T* mr = mask ? mask + mask_row_off[r] : nullptr;
        T mx = -INFINITY;
        for (int64_t c = 0; c < C; ++c) {
            yr[c] = xr[c] + (mr ? mr[c * mask_col_stride] : T(0));
            mx = std::max(mx, yr[c]);
        }
        T sum = 0;
        for (int64_t c = 0; c < C; ++c) {
            yr[c] = std::exp(yr[c] - mx);
            sum += yr[c];
        }
        for (int64_t c = 0; c < C; ++c) yr[c] /= sum;
    }
}

template <class T>
void softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t N, int64_t C) {
    for (int64_t r = 0; r < N; ++r) {
        const T* yr = y + r * C;
        const T* dyr = dy + r * C;
        T dot = 0;
        for (int64_t c = 0; c < C; ++c) dot += dyr[c] * yr[c];
        for (int64_t c = 0; c < C; ++c) dx[r * C + c] = yr[c] * (dyr[c] - dot);
    }
}

template <class T>
void log_softmax_forward_ref(const T* x, T* y, int64_t N, int64_t C) {
    for (int64_t r = 0; r < N; ++r) {
        const T* xr = x + r * C;
        T mx = -INFINITY;
        for (int64_t c = 0; c < C; ++c) mx = std::max(mx, xr[c]);
        T sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(xr[c] - mx);
        const T lse = mx + std::log(sum);
        for (int64_t c = 0; c < C; ++c) y[r * C + c] = xr[c] - lse;
    }
}

template <class T>
void log_softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t N, int64_t C) {
    for (int64_t r = 0; r < N; ++r) {
        T sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += dy[r * C + c];
        for (int64_t c = 0; c < C; ++c) dx[r * C + c] = dy[r * C + c] - std::exp(y[r * C + c]) * sum;
    }
}

template <class T>
void cross_entropy_forward_ref(const T* logits, const int32_t* labels, T* loss, T* probs, int64_t N, int64_t C,
                               double smoothing) {
    double total = 0.0;
    for (int64_t r = 0; r < N; ++r) {
        const T* xr = logits + r * C;
        T mx = -INFINITY;
        for (int64_t c = 0; c < C; ++c) mx = std::max(mx, xr[c]);
        T sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(xr[c] - mx);
        const T lse = mx + std::log(sum);
        double nll_all = 0.0;  // sum_c -logp[c], for label smoothing
        for (int64_t c = 0; c < C; ++c) {
            probs[r * C + c] = std::exp(xr[c] - lse);
            nll_all += static_cast<double>(lse - xr[c]);
        }
        const double nll = static_cast<double>(lse - xr[labels[r]]);
        total += (1.0 - smoothing) * nll + smoothing * nll_all / static_cast<double>(C);
    }
    loss[0] = static_cast<T>(total / static_cast<double>(N));
}

template <class T>
void cross_entropy_backward_ref(const T* probs, const int32_t* labels, T dloss, T* dlogits, int64_t N, int64_t C,
                                double smoothing) {
    const T s = static_cast<T>(smoothing);
    const T k = dloss / static_cast<T>(N);
    for (int64_t r = 0; r < N; ++r)
        for (int64_t c = 0; c < C; ++c) {
            const T target = (c == labels[r] ? T(1) - s : T(0)) + s / static_cast<T>(C);
            dlogits[r * C + c] = k * (probs[r * C + c] - target);
        }
}

#define QBERT_INSTANTIATE(T)                                                                                 \
    template void softmax_forward_ref<T>(const T*, const T*, const int64_t*, int64_t, T*, int64_t, int64_t); \
    template void softmax_backward_ref<T>(const T*, const T*, T*, int64_t, int64_t);                         \
    template void log_softmax_forward_ref<T>(const T*, T*, int64_t, int64_t);                                \
    template void log_softmax_backward_ref<T>(const T*, const T*, T*, int64_t, int64_t);                     \
    template void cross_entropy_forward_ref<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t, double);  \
    template void cross_entropy_backward_ref<T>(const T*, const int32_t*, T, T*, int64_t, int64_t, double);
QBERT_INSTANTIATE(float)
QBERT_INSTANTIATE(double)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::ref
