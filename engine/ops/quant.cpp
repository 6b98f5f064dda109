#include "engine/ops/quant.h"

#include <cmath>

#include "engine/autograd/node.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"

namespace qbert::engine {

using detail::contig;

double FixedPoint::scale() const { return std::ldexp(1.0, frac_width); }
double FixedPoint::qmin() const { return is_signed ? -std::ldexp(1.0, width - 1) : 0.0; }
double FixedPoint::qmax() const { return is_signed ? std::ldexp(1.0, width - 1) - 1.0 : std::ldexp(1.0, width) - 1.0; }

void FixedPoint::validate(const std::string& what) const {
    ENGINE_CHECK(width >= 1 && width <= 32, what, ": width must be in [1, 32], but got ", width);
    ENGINE_CHECK(frac_width >= -64 && frac_width <= 64, what, ": frac_width must be in [-64, 64], but got ", frac_width);
}

std::string FixedPoint::str() const {
    return detail::concat(is_signed ? "Q" : "UQ", width, ".", frac_width, floor ? " floor" : "");
}

namespace {
// One kernel call: forward (y from x) or the clipped backward (dx from x and dy).
Tensor run_fake_quant(const Tensor& x, const FixedPoint& q, const Tensor& dy) {
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    const int64_t n = x.numel();
    const bool forward = !dy.defined();
    run_kernel(
        "fake_quant", forward ? "fake_quant_forward" : "fake_quant_clipped_backward", {out},
        [&](std::vector<Tensor>& o) {
            dispatch_floating(x.dtype(), "fake_quant", [&](auto tag) {
                using T = decltype(tag);
                const T s = static_cast<T>(q.scale()), lo = static_cast<T>(q.qmin()), hi = static_cast<T>(q.qmax());
                if (forward)
                    ref::fake_quant_forward_ref<T>(x.data<T>(), o[0].data<T>(), n, s, lo, hi, q.floor);
                else
                    ref::fake_quant_clipped_backward_ref<T>(x.data<T>(), dy.data<T>(), o[0].data<T>(), n, s, lo, hi,
                                                            q.floor);
            });
        },
        [&](std::vector<Tensor>& o) {
            const float s = static_cast<float>(q.scale()), lo = static_cast<float>(q.qmin()),
                        hi = static_cast<float>(q.qmax());
            if (forward)
                fast::fake_quant_forward_fast(x.data<float>(), o[0].data<float>(), n, s, lo, hi, q.floor);
            else
                fast::fake_quant_clipped_backward_fast(x.data<float>(), dy.data<float>(), o[0].data<float>(), n, s,
                                                       lo, hi, q.floor);
        },
        x.dtype() == DType::F32, Tolerance{0.0, 0.0});  // exact arithmetic: fast and ref agree bit for bit
    return out;
}
}  // namespace

Tensor fake_quant(const Tensor& x_in, const FixedPoint& q, Ste ste) {
    detail::check_same_floating("fake_quant", {&x_in});
    q.validate("fake_quant");
    Tensor x = contig(x_in);
    Tensor y = run_fake_quant(x, q, Tensor());
    if (ste == Ste::Identity)
        return record(y, "fake_quant", {x_in}, {}, [](const Tensor& g, const BackwardContext&) {
            return std::vector<Tensor>{g};  // the identity STE: dy passes through unchanged
        });
    return record(y, "fake_quant_clipped", {x_in}, {x}, [q](const Tensor& g, const BackwardContext& c) {
        return std::vector<Tensor>{run_fake_quant(c.saved[0], q, contig(g))};
    });
}

}  // namespace qbert::engine
