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
    run_kernel(
        family, bf16 ? "matmul_forward_bf16" : "matmul_forward", {c},
        [&](std::vector<Tensor>& o) {
            if (bf16) {  // the same rounding as the fast kernel, then the plain fp32 loop
                const std::vector<float> ar = round_to_bf16(a), br = round_to_bf16(b);
                ref::matmul_forward_ref<float>(ar.data(), br.data(), bias.defined() ? bias.data<float>() : nullptr,
                                               o[0].data<float>(), d.batch, d.M, d.N, d.K, ta, tb, b_stride);
                return;
            }
            dispatch_floating(a.dtype(), family, [&](auto tag) {
                using T = decltype(tag);
                ref::matmul_forward_ref<T>(a.data<T>(), b.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                                           o[0].data<T>(), d.batch, d.M, d.N, d.K, ta, tb, b_stride);
            });
        },
        [&](std::vector<Tensor>& o) {
            fast::matmul_forward_fast(a.data<float>(), b.data<float>(), bias.defined() ? bias.data<float>() : nullptr,
                                      o[0].data<float>(), d.batch, d.M, d.N, d.K, ta, tb, b_stride, bf16);
        },
        a.dtype() == DType::F32 && c.numel() > 0 && d.K > 0, tol);
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

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in) {
    detail::check_same_floating("linear", {&x_in, &w_in, &bias_in});
    ENGINE_CHECK_SHAPE(x_in.dim() >= 1 && w_in.dim() == 2 && x_in.size(-1) == w_in.size(1),
                       "linear: x.size(-1) == w.size(1) must hold, but got x=", shape_str(x_in.shape()),
                       " w=", shape_str(w_in.shape()));
    const int64_t out_f = w_in.size(0), in_f = w_in.size(1);
    ENGINE_CHECK_SHAPE(!bias_in.defined() || bias_in.shape() == Shape{out_f},
                       "linear: bias must be [out_features]=[", out_f, "], but got ", shape_str(bias_in.shape()));
    Tensor x = contig(x_in), w = contig(w_in), bias = bias_in.defined() ? contig(bias_in) : Tensor();
    const int64_t rows = x.numel() / std::max<int64_t>(in_f, 1);
    Tensor x2 = make_view(x, {rows, in_f}, {in_f, 1}, x.offset());
    Tensor y2 = matmul_raw("linear", x2, w, bias, false, true);
    Shape out_shape = x.shape();
    out_shape.back() = out_f;
    Tensor y = make_view(y2, out_shape, contiguous_strides(out_shape), 0);
    const Shape xs = x_in.shape();
    return record(y, "linear", {x_in, w_in, bias_in}, {x2, w},
                  [xs, rows, out_f](const Tensor& g_in, const BackwardContext& c) {
                      Tensor g = contig(g_in);
                      Tensor g2 = make_view(g, {rows, out_f}, {out_f, 1}, g.offset());
                      Tensor gx, gw, gb;
                      if (c.needs(0)) {  // dx = dy @ W            (rows,out) @ (out,in)
                          Tensor gx2 = matmul_raw("linear", g2, c.saved[1], Tensor(), false, false);
                          gx = make_view(gx2, xs, contiguous_strides(xs), 0);
                      }
                      if (c.needs(1))  // dW = dy^T @ x            (out,rows) @ (rows,in)
                          gw = matmul_raw("linear", g2, c.saved[0], Tensor(), true, false);
                      if (c.needs(2)) gb = sum(g2, {0});  // db = sum over rows of dy
                      return std::vector<Tensor>{gx, gw, gb};
                  });
}

}  // namespace qbert::engine
