#include "engine/ops/int8.h"

#include <cmath>
#include <cstdlib>

#include "engine/autograd/grad_mode.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"

namespace qbert::engine {

using detail::contig;

std::string int8_unsupported(const FixedPoint& data_in, const FixedPoint& weight) {
    if (data_in.width < 1 || weight.width < 1) return "a fixed-point width must be at least 1";
    if (data_in.width > 8)
        return detail::concat("the input is ", data_in.str(), ": int8 operands need a width of at most 8");
    if (weight.is_signed ? weight.width > 8 : weight.width > 7)
        return detail::concat("the weight is ", weight.str(), ": int8 weights need a signed width of at most 8 ",
                              "or an unsigned one of at most 7");
    return "";
}

namespace {
// Grid indices of x under q into an int8 (or uint8) tensor; mask (u8, x's shape) zeroes entries. Throws on NaN.
template <class Q>
void quantize_into(const Tensor& x, const FixedPoint& q, const Tensor& mask, Tensor& out, const std::string& what) {
    const int64_t n = x.numel();
    const float s = static_cast<float>(q.scale()), lo = static_cast<float>(q.qmin()), hi = static_cast<float>(q.qmax());
    const uint8_t* m = mask.defined() ? mask.data<uint8_t>() : nullptr;
    KernelCall k("int8_linear", "quantize_int8", true, Tolerance{0.0, 0.0});
    bool ok = true;
    switch (k.mode()) {
        case KernelMode::Ref:
            ok = ref::quantize_int8_ref<Q>(x.data<float>(), m, out.data<Q>(), n, s, lo, hi, q.floor);
            break;
        case KernelMode::Fast:
            ok = fast::quantize_int8_fast<Q>(x.data<float>(), m, out.data<Q>(), n, s, lo, hi, q.floor);
            break;
        case KernelMode::Check: {
            ok = ref::quantize_int8_ref<Q>(x.data<float>(), m, out.data<Q>(), n, s, lo, hi, q.floor);
            Tensor twin = k.check_output(out);
            ok = fast::quantize_int8_fast<Q>(x.data<float>(), m, twin.data<Q>(), n, s, lo, hi, q.floor) && ok;
            break;
        }
    }
    ENGINE_CHECK(ok, what, " ", x.str(), " holds a NaN: it has no integer grid index (", q.str(), ")");
    k.finish({out});
}

// The last input this thread quantized, with its grid indices: BERT's query, key and value layers read the same
// activations, and quantizing them once instead of three times saves a pass over them per layer. Holding the
// tensor keeps its storage alive, so no other tensor can come to live at the same address; an in-place write
// bumps the version. Never destroyed (a thread_local Tensor would outlive the allocator at exit).
struct LastInput {
    Tensor x, xq;
    uint64_t version = 0;
    FixedPoint q;
};
LastInput& last_input() {
    thread_local LastInput* p = new LastInput();
    return *p;
}

template <class Q>
Tensor quantize_input(const Tensor& x, const FixedPoint& q) {
    LastInput& last = last_input();
    if (last.x.defined() && last.x.raw_data() == x.raw_data() && last.x.shape() == x.shape() &&
        last.version == x.version() && last.q == q)
        return last.xq;
    Tensor xq = Tensor::empty(x.shape(), dtype_of<Q>());
    quantize_into<Q>(x, q, Tensor(), xq, "linear_int8: the input");
    last = LastInput{x, xq, x.version(), q};
    return xq;
}

template <class Q>
void int8_matmul(const Tensor& xq, const Tensor& wi, const float* b, Tensor& y, int64_t rows, int64_t in,
                 int64_t out, float out_scale) {
    KernelCall k("int8_linear", "linear_int8_forward", rows > 0 && in > 0 && out > 0 && fast::int8_matmul_exact(),
                 Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref:
            ref::linear_int8_forward_ref<Q>(xq.data<Q>(), wi.data<int8_t>(), b, y.data<float>(), rows, in, out, out_scale);
            break;
        case KernelMode::Fast:
            fast::linear_int8_forward_fast<Q>(xq.data<Q>(), wi.data<int8_t>(), b, y.data<float>(), rows, in, out,
                                              out_scale);
            break;
        case KernelMode::Check: {
            ref::linear_int8_forward_ref<Q>(xq.data<Q>(), wi.data<int8_t>(), b, y.data<float>(), rows, in, out, out_scale);
            Tensor twin = k.check_output(y);
            fast::linear_int8_forward_fast<Q>(xq.data<Q>(), wi.data<int8_t>(), b, twin.data<float>(), rows, in, out,
                                              out_scale);
            break;
        }
    }
    k.finish({y});
}
}  // namespace

Tensor quantize_weight_int8(const Tensor& w_in, const FixedPoint& q, const Tensor& mask_in, const std::string& what) {
    ENGINE_CHECK_SHAPE(w_in.dim() == 2 && w_in.dtype() == DType::F32, what, ": an f32 [out, in] weight expected, but got ",
                       w_in.str());
    ENGINE_CHECK_SHAPE(!mask_in.defined() || (mask_in.dtype() == DType::U8 && mask_in.shape() == w_in.shape()), what,
                       ": the mask must be u8 with the weight's shape ", shape_str(w_in.shape()), ", but got ",
                       mask_in.str());
    q.validate(what);
    const std::string why = int8_unsupported(FixedPoint{}, q);
    ENGINE_CHECK(why.empty(), what, ": ", why);
    Tensor w = contig(w_in.detach()), mask = mask_in.defined() ? contig(mask_in) : Tensor();
    if (mask.defined()) {  // the kernels multiply by it (fast) or test it (ref): only 0 and 1 mean the same
        const uint8_t* m = mask.data<uint8_t>();
        for (int64_t i = 0; i < mask.numel(); ++i)
            ENGINE_CHECK(m[i] <= 1, what, ": the mask must hold 0 or 1, but element ", i, " is ", int(m[i]));
    }
    Tensor out = Tensor::empty(w.shape(), DType::I8);
    quantize_into<int8_t>(w, q, mask, out, what);
    return out;
}

Tensor linear_int8(const Tensor& x_in, const FixedPoint& data_in, const Tensor& wi, int w_frac, const Tensor& bias_in) {
    ENGINE_CHECK(!(GradMode::enabled() && x_in.requires_grad()),
                 "linear_int8 is inference only: run it under NoGradGuard (the training path is the fake-quant layer)");
    ENGINE_CHECK_SHAPE(x_in.dtype() == DType::F32 && x_in.dim() >= 1, "linear_int8: an f32 input expected, but got ",
                       x_in.str());
    ENGINE_CHECK_SHAPE(wi.dtype() == DType::I8 && wi.dim() == 2 && x_in.size(-1) == wi.size(1),
                       "linear_int8: x.size(-1) == w.size(1) with an i8 [out, in] weight must hold, but got x=",
                       x_in.str(), " w=", wi.str());
    const int64_t out_f = wi.size(0), in_f = wi.size(1);
    ENGINE_CHECK_SHAPE(!bias_in.defined() || (bias_in.dtype() == DType::F32 && bias_in.shape() == Shape{out_f}),
                       "linear_int8: the bias must be f32 [", out_f, "], but got ", bias_in.str());
    data_in.validate("linear_int8: the input format");
    const std::string why = int8_unsupported(data_in, FixedPoint{});
    ENGINE_CHECK(why.empty(), "linear_int8: ", why);
    // the output scale 2^-(fx+fw) must be a normal float for the result to be exact
    ENGINE_CHECK(std::abs(data_in.frac_width + w_frac) <= 100, "linear_int8: frac widths ", data_in.frac_width, " + ",
                 w_frac, " give an output scale of 2^", -(data_in.frac_width + w_frac), "; |fx + fw| must be <= 100");
    // int32 sums cannot overflow: |xi| <= 255, |wi| <= 128
    ENGINE_CHECK(wi.size(1) <= (int64_t{1} << 31) / (255 * 128), "linear_int8: ", wi.size(1),
                 " input features could overflow the int32 sums (at most ", (int64_t{1} << 31) / (255 * 128), ")");
    Tensor x = contig(x_in.detach()), w = contig(wi), bias = bias_in.defined() ? contig(bias_in.detach()) : Tensor();
    const int64_t rows = x.numel() / std::max<int64_t>(in_f, 1);
    Shape out_shape = x.shape();
    out_shape.back() = out_f;
    Tensor y = Tensor::empty(out_shape, DType::F32);
    const float out_scale = static_cast<float>(std::ldexp(1.0, -(data_in.frac_width + w_frac)));
    const float* b = bias.defined() ? bias.data<float>() : nullptr;
    if (data_in.is_signed)
        int8_matmul<int8_t>(quantize_input<int8_t>(x, data_in), w, b, y, rows, in_f, out_f, out_scale);
    else
        int8_matmul<uint8_t>(quantize_input<uint8_t>(x, data_in), w, b, y, rows, in_f, out_f, out_scale);
    return y;
}

}  // namespace qbert::engine
