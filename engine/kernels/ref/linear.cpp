// Reference linear layer: one plain dot product per output element, the weight mask applied where each weight
// is read. Break here (linear_forward_ref<float>, or <double> in the gradchecks) to watch y[r,o] being summed.
#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void linear_forward_ref(const T* x, const T* w, const uint8_t* mask, const T* b, T* y, int64_t rows, int64_t in,
                        int64_t out) {
    for (int64_t r = 0; r < rows; ++r) {
        const T* xr = x + r * in;  // row r of x
        for (int64_t o = 0; o < out; ++o) {
            const T* wo = w + o * in;  // row o of W: the weights of output o
            T acc = b ? b[o] : T(0);
            for (int64_t i = 0; i < in; ++i) {
                const T w_oi = mask ? wo[i] * T(mask[o * in + i]) : wo[i];  // W ⊙ M
                acc += xr[i] * w_oi;
            }
            y[r * out + o] = acc;
        }
    }
}

template <class T>
void linear_backward_ref(const T* x, const T* w, const uint8_t* mask, const T* dy, T* dx, T* dw, T* db, int64_t rows,
                         int64_t in, int64_t out) {
    if (dx) {  // dx = dy (W ⊙ M)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < in; ++i) {
                T acc = 0;
                for (int64_t o = 0; o < out; ++o) {
                    const T w_oi = mask ? w[o * in + i] * T(mask[o * in + i]) : w[o * in + i];
                    acc += dy[r * out + o] * w_oi;
                }
                dx[r * in + i] = acc;
            }
    }
    if (dw) {  // dW = M ⊙ (dyᵀ x): the forward read W[o,i] * M[o,i], so d/dW[o,i] carries the factor M[o,i]
        for (int64_t o = 0; o < out; ++o)
            for (int64_t i = 0; i < in; ++i) {
                T acc = 0;
                for (int64_t r = 0; r < rows; ++r) acc += dy[r * out + o] * x[r * in + i];
                dw[o * in + i] = mask ? acc * T(mask[o * in + i]) : acc;
            }
    }
    if (db) {  // db = sum over rows of dy
        for (int64_t o = 0; o < out; ++o) {
            double acc = 0.0;
            for (int64_t r = 0; r < rows; ++r) acc += static_cast<double>(dy[r * out + o]);
            db[o] = static_cast<T>(acc);
        }
    }
}

#define QBERT_INSTANTIATE(T)                                                                                    \
    template void linear_forward_ref<T>(const T*, const T*, const uint8_t*, const T*, T*, int64_t, int64_t,    \
                                        int64_t);                                                              \
    template void linear_backward_ref<T>(const T*, const T*, const uint8_t*, const T*, T*, T*, T*, int64_t,    \
                                         int64_t, int64_t);
QBERT_INSTANTIATE(float)
QBERT_INSTANTIATE(double)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::ref
