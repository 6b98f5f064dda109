#include "engine/ops/elementwise.h"

#include "engine/autograd/node.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/reduce.h"

namespace qbert::engine {

using detail::contig;

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
    const size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        ENGINE_CHECK_SHAPE(da == db || da == 1 || db == 1, op,
                           ": shapes must be broadcastable (equal or 1 in every aligned dim), but got a=",
                           shape_str(a), " b=", shape_str(b));
        out[i] = da == 1 ? db : da;
    }
    return out;
}

namespace {
const char* op_name(BinaryOp op) {
    switch (op) {
        case BinaryOp::Add: return "add";
        case BinaryOp::Sub: return "sub";
        case BinaryOp::Mul: return "mul";
        case BinaryOp::Div: return "div";
    }
    return "?";
}

// The plain forward (no autograd): also used by backward lambdas.
Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
    const char* name = op_name(op);
    detail::check_same_floating(name, {&a, &b});
    const Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
    Tensor out = Tensor::empty(out_shape, a.dtype());
    // fast path: a is the full output; b is the same shape, one value, or a block repeated over the leading
    // dims (b's shape, less leading 1s, equals the trailing dims of out: a bias [C], positions [T,C])
    const bool b_full = b.shape() == out_shape;
    size_t b_lead = 0;
    while (b_lead < b.shape().size() && b.shape()[b_lead] == 1) ++b_lead;
    const size_t b_rank = b.shape().size() - b_lead;
    bool b_row = !b_full && b_rank > 0 && b_rank <= out_shape.size();
    for (size_t i = 0; b_row && i < b_rank; ++i)
        b_row = b.shape()[b_lead + i] == out_shape[out_shape.size() - b_rank + i];
    const int64_t cols = b_row ? b.numel() : (out_shape.empty() ? 1 : out_shape.back());
    const bool b_scalar = b.numel() == 1;
    const bool fast_ok = a.dtype() == DType::F32 && a.shape() == out_shape && a.is_contiguous() &&
                         b.is_contiguous() && (b_full || b_row || b_scalar);
    const fast::BLayout lay = b_full ? fast::BLayout::Full : b_row ? fast::BLayout::Row : fast::BLayout::Scalar;
    const int64_t rows = cols == 0 ? 0 : out.numel() / cols;
    KernelCall k("elementwise", name, fast_ok, Tolerance{0.0, 1e-6});
    Shape a_str, b_str;  // the reference reads a and b through their strides, broadcast to out_shape
    if (k.mode() != KernelMode::Fast) {
        a_str = detail::broadcast_strides(a.shape(), a.strides(), out_shape);
        b_str = detail::broadcast_strides(b.shape(), b.strides(), out_shape);
    }
    switch (k.mode()) {
        case KernelMode::Ref:
            if (a.dtype() == DType::F64)
                ref::binary_forward_ref(op, a.data<double>(), a_str, b.data<double>(), b_str, out.data<double>(),
                                        out_shape);
            else
                ref::binary_forward_ref(op, a.data<float>(), a_str, b.data<float>(), b_str, out.data<float>(),
                                        out_shape);
            break;
        case KernelMode::Fast:
            fast::binary_forward_fast(op, a.data<float>(), b.data<float>(), out.data<float>(), rows, cols, lay);
            break;
        case KernelMode::Check: {
            ref::binary_forward_ref(op, a.data<float>(), a_str, b.data<float>(), b_str, out.data<float>(), out_shape);
            Tensor out_fast = k.check_output(out);
            fast::binary_forward_fast(op, a.data<float>(), b.data<float>(), out_fast.data<float>(), rows, cols, lay);
            break;
        }
    }
    k.finish({out});
    return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw(op, a, b);
    const Shape as = a.shape(), bs = b.shape();
    switch (op) {
        case BinaryOp::Add:
        case BinaryOp::Sub:
            return record(out, op_name(op), {a, b}, {}, [op, as, bs](const Tensor& g, const BackwardContext& c) {
                Tensor ga, gb;
                if (c.needs(0)) ga = sum_to(g, as);
                if (c.needs(1)) gb = op == BinaryOp::Add ? sum_to(g, bs) : sum_to(neg(g), bs);
                return std::vector<Tensor>{ga, gb};
            });
        case BinaryOp::Mul:
            return record(out, "mul", {a, b}, {a, b}, [as, bs](const Tensor& g, const BackwardContext& c) {
                Tensor ga, gb;
                if (c.needs(0)) ga = sum_to(binary_raw(BinaryOp::Mul, g, c.saved[1]), as);
                if (c.needs(1)) gb = sum_to(binary_raw(BinaryOp::Mul, g, c.saved[0]), bs);
                return std::vector<Tensor>{ga, gb};
            });
        case BinaryOp::Div:
            // da = g / b;  db = -g * out / b
            return record(out, "div", {a, b}, {b, out}, [as, bs](const Tensor& g, const BackwardContext& c) {
                Tensor ga, gb;
                Tensor g_over_b = binary_raw(BinaryOp::Div, g, c.saved[0]);
                if (c.needs(0)) ga = sum_to(g_over_b, as);
                if (c.needs(1)) gb = sum_to(neg(binary_raw(BinaryOp::Mul, g_over_b, c.saved[1])), bs);
                return std::vector<Tensor>{ga, gb};
            });
    }
    return out;
}

Tensor scalar_like(const Tensor& a, double s) { return Tensor::full({}, s, a.dtype()); }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
// A scalar is a 0-d tensor broadcast over a: its gradient (unused) is simply not requested.
Tensor scale(const Tensor& a, double s) { return binary(BinaryOp::Mul, a, scalar_like(a, s)); }
Tensor add_scalar(const Tensor& a, double s) { return binary(BinaryOp::Add, a, scalar_like(a, s)); }
Tensor neg(const Tensor& a) { return scale(a, -1.0); }

void add_(Tensor& acc, const Tensor& b) {
    ENGINE_CHECK_SHAPE(acc.shape() == b.shape(), "add_: shapes must match, but got acc=", acc.str(), " b=", b.str());
    ENGINE_CHECK(acc.is_contiguous(), "add_: the accumulator must be contiguous, but got ", acc.str());
    Tensor sum_ab = binary_raw(BinaryOp::Add, acc, contig(b));
    acc.copy_(sum_ab);
}

}  // namespace qbert::engine
