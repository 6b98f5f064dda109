// Fixed-point fake quantization, as Mase's integer quantizer (section 1 of mase-behaviour.md):
//
//   scale = 2^frac_width
//   signed:   qmin = -2^(width-1), qmax = 2^(width-1) - 1        unsigned: qmin = 0, qmax = 2^width - 1
//   q(x)  = clamp(round(x * scale), qmin, qmax) / scale           round = half to even (or floor)
//
// Saturating (values beyond the range stick to the ends), computed in the tensor's float type; the result is
// a float tensor on the grid { k / 2^frac_width }. width includes the sign bit. frac_width may exceed width
// or be negative: the formula simply applies (width 4, frac 6: step 1/64, range [-0.125, 0.109375]).
// Above 24 bits the float32 endpoints are rounded (qmax = 2^31 - 1 becomes 2^31), as in Mase's fp32 clamp.
//
// Gradient: a straight-through estimator (STE). Ste::Identity passes dy through unchanged everywhere, also
// where x was clamped (Mase); Ste::Clipped zeroes it where round(x * scale) falls outside [qmin, qmax]
// (PyTorch's fake_quantize).
#pragma once

#include <string>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

struct FixedPoint {
    int width = 8;
    int frac_width = 4;
    bool is_signed = true;
    bool floor = false;  // floor instead of round half to even (Mase's integer_floor_quantizer)

    double scale() const;  // 2^frac_width
    double qmin() const;
    double qmax() const;
    double min_value() const { return qmin() / scale(); }
    double max_value() const { return qmax() / scale(); }
    // Throws engine::Error naming `what` unless 1 <= width <= 32 and -64 <= frac_width <= 64.
    void validate(const std::string& what) const;
    bool operator==(const FixedPoint&) const = default;
    std::string str() const;  // e.g. "Q8.4" / "UQ8.4", "floor" appended
};

enum class Ste { Identity, Clipped };

[[nodiscard]] Tensor fake_quant(const Tensor& x, const FixedPoint& q, Ste ste = Ste::Identity);

}  // namespace qbert::engine
