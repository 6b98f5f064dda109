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
// The forward kernel call: y = Q(x).
Tensor fake_quant_forward(const Tensor& x, const FixedPoint& q) {
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    const int64_t n = x.numel();
    const double s = q.scale(), lo = q.qmin(), hi = q.qmax();  // exact in float and double alike
    // exact arithmetic: fast and ref agree bit for bit
    KernelCall k("fake_quant", "fake_quant_forward", x.dtype() == DType::F32, Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (x.dtype() == DType::F64)
                ref::fake_quant_forward_ref<double>(x.data<double>(), y.data<double>(), n, s, lo, hi, q.floor);
            else
                ref::fake_quant_forward_ref<float>(x.data<float>(), y.data<float>(), n, s, lo, hi, q.floor);
            break;
        case KernelMode::Fast:
            fast::fake_quant_forward_fast(x.data<float>(), y.data<float>(), n, s, lo, hi, q.floor);
            break;
        case KernelMode::Check: {
            ref::fake_quant_forward_ref<float>(x.data<float>(), y.data<float>(), n, s, lo, hi, q.floor);
            Tensor y_fast = k.check_output(y);
            fast::fake_quant_forward_fast(x.data<float>(), y_fast.data<float>(), n, s, lo, hi, q.floor);
            break;
        }
    }
    k.finish({y});
    return y;
}

// The clipped STE's backward kernel call: dx = dy where x was not clamped, else 0.
Tensor fake_quant_clipped_backward(const Tensor& x, const FixedPoint& q, const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    const int64_t n = x.numel();
    const double s = q.scale(), lo = q.qmin(), hi = q.qmax();
    KernelCall k("fake_quant", "fake_quant_clipped_backward", x.dtype() == DType::F32, Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (x.dtype() == DType::F64)
                ref::fake_quant_clipped_backward_ref<double>(x.data<double>(), dy.data<double>(), dx.data<double>(), n,
                                                             s, lo, hi, q.floor);
            else
                ref::fake_quant_clipped_backward_ref<float>(x.data<float>(), dy.data<float>(), dx.data<float>(), n, s,
                                                            lo, hi, q.floor);
            break;
        case KernelMode::Fast:
            fast::fake_quant_clipped_backward_fast(x.data<float>(), dy.data<float>(), dx.data<float>(), n, s, lo, hi,
                                                   q.floor);
            break;
        case KernelMode::Check: {
            ref::fake_quant_clipped_backward_ref<float>(x.data<float>(), dy.data<float>(), dx.data<float>(), n, s, lo,
                                                        hi, q.floor);
            Tensor dx_fast = k.check_output(dx);
            fast::fake_quant_clipped_backward_fast(x.data<float>(), dy.data<float>(), dx_fast.data<float>(), n, s, lo,
                                                   hi, q.floor);
            break;
        }
    }
    k.finish({dx});
    return dx;
}
}  // namespace

Tensor fake_quant(const Tensor& x_in, const FixedPoint& q, Ste ste) {
    detail::check_same_floating("fake_quant", {&x_in});
    q.validate("fake_quant");
    Tensor x = contig(x_in);
    Tensor y = fake_quant_forward(x, q);
    if (ste == Ste::Identity)
        return record(y, "fake_quant", {x_in}, {}, [](const Tensor& g, const BackwardContext&) {
            return std::vector<Tensor>{g};  // the identity STE: dy passes through unchanged
        });
    return record(y, "fake_quant_clipped", {x_in}, {x}, [q](const Tensor& g, const BackwardContext& c) {
        return std::vector<Tensor>{fake_quant_clipped_backward(c.saved[0], q, contig(g))};
    });
}

}  // namespace qbert::engine
