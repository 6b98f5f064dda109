#include "engine/ops/reduce.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/node.h"
#include "engine/core/config.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"

namespace qbert::engine {

using detail::contig;

namespace {
// Forward of sum without autograd. `reduce` flags the dims to sum; the result keeps them as size 1.
Tensor sum_keepdim_raw(const Tensor& x_in, const std::vector<bool>& reduce) {
    Tensor x = contig(x_in);
    Shape out_shape = x.shape();
    int64_t first = -1, last = -1, count = 0;
    for (size_t d = 0; d < reduce.size(); ++d)
        if (reduce[d]) {
            out_shape[d] = 1;
            if (first < 0) first = static_cast<int64_t>(d);
            last = static_cast<int64_t>(d);
            ++count;
        }
    Tensor out = Tensor::empty(out_shape, x.dtype());
    const int64_t nd = x.dim();
    // fast layouts: reduced dims form a leading block (column sums) or a trailing block (row sums)
    const bool contiguous_block = count > 0 && last - first + 1 == count;
    const bool leading = contiguous_block && first == 0;
    const bool trailing = contiguous_block && last == nd - 1;
    int64_t inner = 1;
    for (int64_t d = (leading ? count : 0); d < (leading ? nd : first); ++d) inner *= x.shape()[d];
    const int64_t outer = inner == 0 ? 0 : x.numel() / std::max<int64_t>(inner, 1);
    const bool fast_ok = x.dtype() == DType::F32 && (leading || trailing) && x.numel() > 0;
    KernelCall k("reduce", "sum", fast_ok, Tolerance{1e-4, 1e-4});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (x.dtype() == DType::F64)
                ref::sum_forward_ref(x.data<double>(), x.shape(), reduce, out.data<double>());
            else
                ref::sum_forward_ref(x.data<float>(), x.shape(), reduce, out.data<float>());
            break;
        case KernelMode::Fast:
            if (leading)
                fast::sum_rows_fast(x.data<float>(), out.data<float>(), outer, inner);
            else
                fast::sum_cols_fast(x.data<float>(), out.data<float>(), inner, outer);
            break;
        case KernelMode::Check: {
            ref::sum_forward_ref(x.data<float>(), x.shape(), reduce, out.data<float>());
            Tensor out_fast = k.check_output(out);
            if (leading)
                fast::sum_rows_fast(x.data<float>(), out_fast.data<float>(), outer, inner);
            else
                fast::sum_cols_fast(x.data<float>(), out_fast.data<float>(), inner, outer);
            break;
        }
    }
    k.finish({out});
    return out;
}
}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
    detail::check_same_floating("sum", {&x});
    std::vector<bool> reduce(x.shape().size(), false);
    for (int64_t d : dims) {
        const int64_t w = detail::wrap_dim("sum", d, x.shape());
        ENGINE_CHECK_SHAPE(!reduce[w], "sum: dim ", d, " appears twice in the dims for shape ", shape_str(x.shape()));
        reduce[w] = true;
    }
    Tensor out = sum_keepdim_raw(x, reduce);
    const Shape keep_shape = out.shape();
    if (!keepdim) {
        Shape squeezed;
        for (size_t d = 0; d < reduce.size(); ++d)
            if (!reduce[d]) squeezed.push_back(x.shape()[d]);
        out = make_view(out, squeezed, contiguous_strides(squeezed), 0);
    }
    const Shape xs = x.shape();
    return record(out, "sum", {x}, {}, [xs, keep_shape](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{expand(reshape(contig(g), keep_shape), xs)};
    });
}

Tensor sum(const Tensor& x) {
    std::vector<int64_t> all(x.shape().size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    return sum(x, all, false);
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
    int64_t count = 1;
    for (int64_t d : dims) count *= x.shape()[detail::wrap_dim("mean", d, x.shape())];
    return scale(sum(x, dims, keepdim), 1.0 / static_cast<double>(std::max<int64_t>(count, 1)));
}

Tensor mean(const Tensor& x) { return scale(sum(x), 1.0 / static_cast<double>(std::max<int64_t>(x.numel(), 1))); }

Tensor sum_to(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    const size_t lead = g.shape().size() - shape.size();
    ENGINE_CHECK_SHAPE(g.shape().size() >= shape.size(), "sum_to: cannot reduce ", shape_str(g.shape()), " to ",
                       shape_str(shape));
    std::vector<int64_t> dims;
    for (size_t d = 0; d < g.shape().size(); ++d)
        if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(static_cast<int64_t>(d));
    Tensor s = sum(g, dims, true);
    return reshape(s, shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
    broadcast_shapes("expand", x.shape(), shape);
    Tensor view = make_view(x, shape, detail::broadcast_strides(x.shape(), x.strides(), shape), x.offset());
    Tensor out = view.clone();
    const Shape xs = x.shape();
    return record(out, "expand", {x}, {}, [xs](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{sum_to(g, xs)};
    });
}

namespace {
// The k-th smallest of v (k from 0), the plain way: a partial sort of a copy.
template <class T>
T kth_smallest_ref(std::vector<T> v, int64_t k) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[static_cast<size_t>(k)];
}
}  // namespace

double quantile_abs(const std::vector<Tensor>& xs, double q) {
    ENGINE_CHECK(q >= 0.0 && q <= 1.0, "quantile_abs: q must be in [0, 1], but got ", q);
    bool all_f32 = true;
    int64_t n = 0;
    for (const Tensor& x : xs) {
        ENGINE_CHECK(is_floating(x.dtype()), "quantile_abs: floating tensors only, but got ", x.str());
        all_f32 = all_f32 && x.dtype() == DType::F32;
        n += x.numel();
    }
    ENGINE_CHECK(n > 0, "quantile_abs: no elements");
    // order statistics lo and lo + 1 around position q * (n - 1), then linear interpolation
    const double pos = q * static_cast<double>(n - 1);
    const int64_t lo = static_cast<int64_t>(std::floor(pos));
    const double frac = pos - static_cast<double>(lo);
    const bool need_hi = frac > 0.0 && lo + 1 < n;
    auto interpolate = [&](double a, double b) { return need_hi ? a + frac * (b - a) : a; };
    if (!all_f32) {  // doubles (tests, gradchecks): the reference way only
        std::vector<double> v;
        v.reserve(static_cast<size_t>(n));
        for (const Tensor& x : xs)
            for (double e : x.to_vector_f64()) v.push_back(std::abs(e));
        return interpolate(kth_smallest_ref(v, lo), need_hi ? kth_smallest_ref(v, lo + 1) : 0.0);
    }
    Tensor flat;  // one contiguous buffer (no copy for a single contiguous tensor)
    if (xs.size() == 1) {
        flat = contig(xs[0]);
    } else {
        flat = Tensor::empty({n}, DType::F32);
        int64_t off = 0;
        for (const Tensor& x : xs) {
            Tensor c = contig(x);
            std::copy(c.data<float>(), c.data<float>() + c.numel(), flat.data<float>() + off);
            off += c.numel();
        }
    }
    const float* p = flat.data<float>();
    auto ref = [&] {
        std::vector<float> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = std::abs(p[i]);
        const double a = kth_smallest_ref(v, lo);
        return interpolate(a, need_hi ? static_cast<double>(kth_smallest_ref(std::move(v), lo + 1)) : 0.0);
    };
    auto fast = [&] {
        float a = 0, b = 0;
        fast::kth_smallest_abs_pair_fast(p, n, lo, &a, need_hi ? &b : nullptr);
        return interpolate(a, b);
    };
    switch (kernel_mode("quantile")) {
        case KernelMode::Ref: return ref();
        case KernelMode::Fast: return fast();
        case KernelMode::Check: {
            const double r = ref(), f = fast();
            if (r != f)
                throw KernelMismatch(detail::concat("quantile_abs: fast ", f, " != ref ", r, " (n=", n, ", q=", q, ")"));
            return f;
        }
    }
    return fast();
}

}  // namespace qbert::engine
