#include "engine/ops/matmul.h"

#include "engine/autograd/node.h"
#include "engine/core/config.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace qbert::engine {

using detail::contig;

namespace {
struct MatmulDims {
    int64_t batch, M, N, K;
    bool shared_b;
    Shape out_shape;
};

MatmulDims matmul_dims(const char* op, const Tensor& a, const Tensor& b, bool ta, bool tb) {
    ENGINE_CHECK_SHAPE(a.dim() >= 2 && b.dim() >= 2, op, ": both operands need >= 2 dims, but got a=",
                       shape_str(a.shape()), " b=", shape_str(b.shape()));
    MatmulDims d{};
    d.M = ta ? a.size(-1) : a.size(-2);
    const int64_t Ka = ta ? a.size(-2) : a.size(-1);
    d.K = tb ? b.size(-1) : b.size(-2);
    d.N = tb ? b.size(-2) : b.size(-1);
    ENGINE_CHECK_SHAPE(Ka == d.K, op, ": the contracted dims must match (a.size(", ta ? -2 : -1, ") == b.size(",
                       tb ? -1 : -2, ")), but got a=", shape_str(a.shape()), " b=", shape_str(b.shape()),
                       ta || tb ? (std::string(" with ") + (ta ? "ta " : "") + (tb ? "tb" : "")) : std::string());
    const Shape lead_a(a.shape().begin(), a.shape().end() - 2);
    const Shape lead_b(b.shape().begin(), b.shape().end() - 2);
    d.shared_b = b.dim() == 2;
    ENGINE_CHECK_SHAPE(d.shared_b || lead_a == lead_b, op,
                       ": batch dims must match (or b be 2-D), but got a=", shape_str(a.shape()),
                       " b=", shape_str(b.shape()));
    d.batch = shape_numel(lead_a);
    d.out_shape = lead_a;
    d.out_shape.push_back(d.M);
    d.out_shape.push_back(d.N);
    return d;
}

// A tensor's data, or null for an undefined tensor (an optional input, or an output nobody wants).
template <class T>
const T* data_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* data_or_null(Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

// A float32 tensor's values rounded to bfloat16 and back (contiguous input).
std::vector<float> round_to_bf16(const Tensor& t) {
    const float* p = t.data<float>();
    std::vector<float> out(static_cast<size_t>(t.numel()));
    for (size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_float(float_to_bf16(p[i]));
    return out;
}

// c = op(a) @ op(b) (+ bias) without autograd; a, b contiguous.
Tensor matmul_raw(const char* family, const Tensor& a, const Tensor& b, const Tensor& bias, bool ta, bool tb) {
    const MatmulDims d = matmul_dims(family, a, b, ta, tb);
    Tensor c = Tensor::empty(d.out_shape, a.dtype());
    const int64_t b_stride = d.shared_b ? 0 : d.K * d.N;
    // fp32 sums of K products, reordered by the blocked kernel: tolerance grows with K
    const Tolerance tol{1e-5 * static_cast<double>(d.K), 1e-4};
    const bool bf16 = a.dtype() == DType::F32 && matmul_precision() == MatmulPrecision::BF16;
    const bool fast_ok = a.dtype() == DType::F32 && c.numel() > 0 && d.K > 0;
    KernelCall k(family, bf16 ? "matmul_forward_bf16" : "matmul_forward", fast_ok, tol);
    // The f32 reference's operands: a and b, or with bf16 their values rounded as the fast kernel rounds them
    std::vector<float> a_bf16, b_bf16;
    const float *af = nullptr, *bf = nullptr;
    if (a.dtype() == DType::F32 && k.mode() != KernelMode::Fast) {
        if (bf16) a_bf16 = round_to_bf16(a), b_bf16 = round_to_bf16(b);
        af = bf16 ? a_bf16.data() : a.data<float>();
        bf = bf16 ? b_bf16.data() : b.data<float>();
    }
    switch (k.mode()) {
        case KernelMode::Ref:
            if (a.dtype() == DType::F64)
                ref::matmul_forward_ref(a.data<double>(), b.data<double>(), data_or_null<double>(bias),
                                        c.data<double>(), d.batch, d.M, d.N, d.K, ta, tb, b_stride);
            else
                ref::matmul_forward_ref(af, bf, data_or_null<float>(bias), c.data<float>(), d.batch, d.M, d.N, d.K,
                                        ta, tb, b_stride);
            break;
        case KernelMode::Fast:
            fast::matmul_forward_fast(a.data<float>(), b.data<float>(), data_or_null<float>(bias), c.data<float>(),
                                      d.batch, d.M, d.N, d.K, ta, tb, b_stride, bf16);
            break;
        case KernelMode::Check: {
            ref::matmul_forward_ref(af, bf, data_or_null<float>(bias), c.data<float>(), d.batch, d.M, d.N, d.K, ta,
                                    tb, b_stride);
            Tensor c_fast = k.check_output(c);
            fast::matmul_forward_fast(a.data<float>(), b.data<float>(), data_or_null<float>(bias),
                                      c_fast.data<float>(), d.batch, d.M, d.N, d.K, ta, tb, b_stride, bf16);
            break;
        }
    }
    k.finish({c});
    return c;
}
}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in, bool ta, bool tb) {
    detail::check_same_floating("matmul", {&a_in, &b_in});
    Tensor a = contig(a_in), b = contig(b_in);
    const MatmulDims d = matmul_dims("matmul", a, b, ta, tb);
    ENGINE_CHECK_SHAPE(!(d.shared_b && a.dim() > 2 && ta), "matmul: a transposed batched a with a 2-D b is not supported, got a=",
                       shape_str(a.shape()), " b=", shape_str(b.shape()), "\nhint: transpose a explicitly first");
    if (d.shared_b && a.dim() > 2) {
        // (..., M, K) @ (K, N): one big 2-D product; its backward then sums dB over the batch for free
        Tensor a2 = reshape(a_in, {d.batch * d.M, a.size(-1)});
        return reshape(matmul(a2, b_in, false, tb), d.out_shape);
    }
    Tensor c = matmul_raw("matmul", a, b, Tensor(), ta, tb);
    // dA = dC op(B)^T (or its transpose);  dB = op(A)^T dC (or its transpose). See the derivation in
    // docs/design.md "matmul backward with transposes".
    return record(c, "matmul", {a_in, b_in}, {a, b}, [ta, tb](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const Tensor& A = c.saved[0];
        const Tensor& B = c.saved[1];
        Tensor ga, gb;
        if (c.needs(0))
            ga = ta ? matmul_raw("matmul", B, g, Tensor(), tb, true) : matmul_raw("matmul", g, B, Tensor(), false, !tb);
        if (c.needs(1))
            gb = tb ? matmul_raw("matmul", g, A, Tensor(), true, ta) : matmul_raw("matmul", A, g, Tensor(), !ta, false);
        return std::vector<Tensor>{ga, gb};
    });
}

namespace {
// y = x (W ⊙ M)^T + b without autograd: x2:(rows,in) w:(out,in) contiguous; mask u8 (out,in) or undefined.
void linear_forward(const Tensor& x2, const Tensor& w, const Tensor& mask, const Tensor& bias, Tensor& y) {
    const int64_t rows = x2.size(0), in = w.size(1), out = w.size(0);
    const bool f32 = x2.dtype() == DType::F32;
    const bool bf16 = f32 && matmul_precision() == MatmulPrecision::BF16;
    const uint8_t* m = data_or_null<uint8_t>(mask);
    const Tolerance tol{1e-5 * static_cast<double>(in), 1e-4};  // fp32 sums of `in` products, reordered
    KernelCall k("linear", bf16 ? "linear_forward_bf16" : "linear_forward", f32 && rows > 0 && in > 0 && out > 0, tol);
    // The f32 reference's operands: x and W, or with bf16 their values rounded as the fast kernel rounds them.
    std::vector<float> x_bf16, w_bf16;
    const float *xr = nullptr, *wr = nullptr;
    if (f32 && k.mode() != KernelMode::Fast) {
        if (bf16) x_bf16 = round_to_bf16(x2), w_bf16 = round_to_bf16(w);
        xr = bf16 ? x_bf16.data() : x2.data<float>();
        wr = bf16 ? w_bf16.data() : w.data<float>();
    }
    // the fast kernel's scratch for W ⊙ M (oneDNN reads the masked weight from memory)
    Tensor w_masked = m && k.mode() != KernelMode::Ref ? Tensor::empty(w.shape()) : Tensor();
    switch (k.mode()) {
        case KernelMode::Ref:
            if (!f32)
                ref::linear_forward_ref(x2.data<double>(), w.data<double>(), m, data_or_null<double>(bias),
                                        y.data<double>(), rows, in, out);
            else
                ref::linear_forward_ref(xr, wr, m, data_or_null<float>(bias), y.data<float>(), rows, in, out);
            break;
        case KernelMode::Fast:
            fast::linear_forward_fast(x2.data<float>(), w.data<float>(), m, data_or_null<float>(bias), y.data<float>(),
                                      data_or_null<float>(w_masked), rows, in, out, bf16);
            break;
        case KernelMode::Check: {
            ref::linear_forward_ref(xr, wr, m, data_or_null<float>(bias), y.data<float>(), rows, in, out);
            Tensor y_fast = k.check_output(y);
            fast::linear_forward_fast(x2.data<float>(), w.data<float>(), m, data_or_null<float>(bias),
                                      y_fast.data<float>(), data_or_null<float>(w_masked), rows, in, out, bf16);
            break;
        }
    }
    k.finish({y});
}

// dx = dy (W ⊙ M), dW = M ⊙ (dyᵀ x), db = sum_r dy without autograd, each only if its tensor is defined
// (the caller allocates the wanted ones). g2:(rows,out), the other shapes as in linear_forward.
void linear_backward(const Tensor& x2, const Tensor& w, const Tensor& mask, const Tensor& g2, Tensor& dx, Tensor& dw,
                     Tensor& db) {
    const int64_t rows = x2.size(0), in = w.size(1), out = w.size(0);
    const bool f32 = x2.dtype() == DType::F32;
    const bool bf16 = f32 && matmul_precision() == MatmulPrecision::BF16;
    const uint8_t* m = data_or_null<uint8_t>(mask);
    KernelCall k("linear", bf16 ? "linear_backward_bf16" : "linear_backward", f32 && rows > 0 && in > 0 && out > 0);
    // The f32 reference's operands, as in linear_forward; with bf16, db is summed from dy as given (as the fast
    // kernel does), so it gets a call of its own.
    std::vector<float> x_bf16, w_bf16, g_bf16;
    const float *xr = nullptr, *wr = nullptr, *gr = nullptr;
    if (f32 && k.mode() != KernelMode::Fast) {
        if (bf16) {
            x_bf16 = round_to_bf16(x2);
            w_bf16 = round_to_bf16(w);
            g_bf16 = round_to_bf16(g2);
        }
        xr = bf16 ? x_bf16.data() : x2.data<float>();
        wr = bf16 ? w_bf16.data() : w.data<float>();
        gr = bf16 ? g_bf16.data() : g2.data<float>();
    }
    float* db_r = f32 && !bf16 ? data_or_null<float>(db) : nullptr;  // the db the f32 reference call writes
    Tensor w_masked = m && dx.defined() && k.mode() != KernelMode::Ref ? Tensor::empty(w.shape()) : Tensor();
    switch (k.mode()) {
        case KernelMode::Ref:
            if (!f32) {
                ref::linear_backward_ref(x2.data<double>(), w.data<double>(), m, g2.data<double>(),
                                         data_or_null<double>(dx), data_or_null<double>(dw),
                                         data_or_null<double>(db), rows, in, out);
                break;
            }
            ref::linear_backward_ref(xr, wr, m, gr, data_or_null<float>(dx), data_or_null<float>(dw), db_r, rows,
                                     in, out);
            if (bf16 && db.defined())
                ref::linear_backward_ref<float>(nullptr, nullptr, m, g2.data<float>(), nullptr, nullptr,
                                                db.data<float>(), rows, in, out);
            break;
        case KernelMode::Fast:
            fast::linear_backward_fast(x2.data<float>(), w.data<float>(), m, g2.data<float>(),
                                       data_or_null<float>(dx), data_or_null<float>(dw), data_or_null<float>(db),
                                       data_or_null<float>(w_masked), rows, in, out, bf16);
            break;
        case KernelMode::Check: {
            ref::linear_backward_ref(xr, wr, m, gr, data_or_null<float>(dx), data_or_null<float>(dw), db_r, rows,
                                     in, out);
            if (bf16 && db.defined())
                ref::linear_backward_ref<float>(nullptr, nullptr, m, g2.data<float>(), nullptr, nullptr,
                                                db.data<float>(), rows, in, out);
            // tolerances as for the matmuls they are: sums of `out` products (dx), of `rows` products (dW)
            const Tolerance dx_tol{1e-5 * static_cast<double>(out), 1e-4};
            const Tolerance dw_tol{1e-5 * static_cast<double>(rows), 1e-4};
            Tensor dx_fast = dx.defined() ? k.check_output(dx, dx_tol) : Tensor();
            Tensor dw_fast = dw.defined() ? k.check_output(dw, dw_tol) : Tensor();
            Tensor db_fast = db.defined() ? k.check_output(db, Tolerance{1e-4, 1e-4}) : Tensor();
            fast::linear_backward_fast(x2.data<float>(), w.data<float>(), m, g2.data<float>(),
                                       data_or_null<float>(dx_fast), data_or_null<float>(dw_fast),
                                       data_or_null<float>(db_fast), data_or_null<float>(w_masked), rows, in, out,
                                       bf16);
            break;
        }
    }
    k.finish({dx, dw, db});
}
}  // namespace

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, const Tensor& mask_in) {
    detail::check_same_floating("linear", {&x_in, &w_in, &bias_in});
    ENGINE_CHECK_SHAPE(x_in.dim() >= 1 && w_in.dim() == 2 && x_in.size(-1) == w_in.size(1),
                       "linear: x.size(-1) == w.size(1) must hold, but got x=", shape_str(x_in.shape()),
                       " w=", shape_str(w_in.shape()));
    const int64_t out_f = w_in.size(0), in_f = w_in.size(1);
    ENGINE_CHECK_SHAPE(!bias_in.defined() || bias_in.shape() == Shape{out_f},
                       "linear: bias must be [out_features]=[", out_f, "], but got ", shape_str(bias_in.shape()));
    ENGINE_CHECK_SHAPE(!mask_in.defined() || (mask_in.dtype() == DType::U8 && mask_in.shape() == w_in.shape()),
                       "linear: the weight mask must be u8 with w's shape ", shape_str(w_in.shape()), ", but got ",
                       mask_in.str());
    Tensor x = contig(x_in), w = contig(w_in), bias = bias_in.defined() ? contig(bias_in) : Tensor();
    Tensor mask = mask_in.defined() ? contig(mask_in) : Tensor();
    const int64_t rows = x.numel() / std::max<int64_t>(in_f, 1);
    Tensor x2 = make_view(x, {rows, in_f}, {in_f, 1}, x.offset());
    Shape out_shape = x.shape();
    out_shape.back() = out_f;
    Tensor y = Tensor::empty(out_shape, x.dtype());
    linear_forward(x2, w, mask, bias, y);
    const Shape xs = x_in.shape();
    // the mask is saved as it is read (u8, no gradient): the weight's gradient is masked inside the backward
    return record(y, "linear", {x_in, w_in, bias_in}, {x2, w, mask},
                  [xs, rows, in_f, out_f](const Tensor& g_in, const BackwardContext& c) {
                      Tensor g = contig(g_in);
                      Tensor g2 = make_view(g, {rows, out_f}, {out_f, 1}, g.offset());
                      Tensor gx = c.needs(0) ? Tensor::empty(xs, g.dtype()) : Tensor();  // (rows,in), x's shape
                      Tensor gw = c.needs(1) ? Tensor::empty({out_f, in_f}, g.dtype()) : Tensor();
                      Tensor gb = c.needs(2) ? Tensor::empty({out_f}, g.dtype()) : Tensor();
                      linear_backward(c.saved[0], c.saved[1], c.saved[2], g2, gx, gw, gb);
                      return std::vector<Tensor>{gx, gw, gb};
                  });
}

}  // namespace qbert::engine
