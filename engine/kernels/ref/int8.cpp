// Reference int8 linear kernels: plain loops, integer sums. What the fast kernels (fast/int8.cpp) must equal
// exactly, and what to step through to see fixed-point inference: grid indices, int32 dot products, one scale.
#include <cmath>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class Q>
bool quantize_int8_ref(const float* x, const uint8_t* mask, Q* q, int64_t n, float scale, float qmin, float qmax,
                       bool floor) {
    for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(x[i])) return false;
        float k = floor ? std::floor(x[i] * scale) : std::nearbyint(x[i] * scale);  // as fake_quant's grid index
        if (k < qmin) k = qmin;  // saturate
        if (k > qmax) k = qmax;
        q[i] = static_cast<Q>(mask && !mask[i] ? 0.0f : k);
    }
    return true;
}

template <class Q>
void linear_int8_forward_ref(const Q* xq, const int8_t* wq, const float* b, float* y, int64_t rows, int64_t in,
                             int64_t out, float out_scale) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
            int32_t acc = 0;
            for (int64_t k = 0; k < in; ++k) acc += static_cast<int32_t>(xq[r * in + k]) * static_cast<int32_t>(wq[o * in + k]);
            const float v = static_cast<float>(acc) * out_scale;  // a power of two: exact unless it overflows
            y[r * out + o] = b ? v + b[o] : v;
        }
}

#define QBERT_INSTANTIATE(Q)                                                                                    \
    template bool quantize_int8_ref<Q>(const float*, const uint8_t*, Q*, int64_t, float, float, float, bool); \
    template void linear_int8_forward_ref<Q>(const Q*, const int8_t*, const float*, float*, int64_t, int64_t,   \
                                             int64_t, float);
QBERT_INSTANTIATE(int8_t)
QBERT_INSTANTIATE(uint8_t)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::ref
