// Fast fixed-point fake quantization: Eigen's vectorized rint (round half to even, the default rounding
// mode, as std::nearbyint in the reference) or floor, then clamp, in blocks on OpenMP threads.
// x * scale and k / scale are exact for a power-of-two scale, so fast and ref agree bit for bit.
#include <Eigen/Core>

#include "engine/kernels/fast/blocked.h"
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
using ArrMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrMap = Eigen::Map<const Eigen::ArrayXf>;
}  // namespace

void fake_quant_forward_fast(const float* x, float* y, int64_t n, float scale, float qmin, float qmax, bool floor) {
    const float inv = 1.0f / scale;  // exact: scale is a power of two
    blocked(n, [&](int64_t b, int64_t len) {
        ConstArrMap xs(x + b, len);
        if (floor)
            ArrMap(y + b, len) = (xs * scale).floor().max(qmin).min(qmax) * inv;
        else
            ArrMap(y + b, len) = (xs * scale).rint().max(qmin).min(qmax) * inv;
    });
}

void fake_quant_clipped_backward_fast(const float* x, const float* dy, float* dx, int64_t n, float scale, float qmin,
                                      float qmax, bool floor) {
    blocked(n, [&](int64_t b, int64_t len) {
        ConstArrMap xs(x + b, len), d(dy + b, len);
        const Eigen::ArrayXf k = floor ? (xs * scale).floor().eval() : (xs * scale).rint().eval();
        ArrMap(dx + b, len) = (k >= qmin && k <= qmax).select(d, 0.0f);
    });
}

}  // namespace qbert::engine::fast
