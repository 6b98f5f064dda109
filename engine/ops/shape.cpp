#include "engine/ops/shape.h"

#include "engine/autograd/node.h"
#include "engine/ops/common.h"

namespace qbert::engine {

using detail::contig;

Tensor reshape(const Tensor& x, Shape shape) {
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            ENGINE_CHECK_SHAPE(infer < 0, "reshape: only one dim can be -1, but got ", shape_str(shape));
            infer = static_cast<int64_t>(i);
        } else {
            ENGINE_CHECK_SHAPE(shape[i] >= 0, "reshape: dims must be >= 0 or -1, but got ", shape_str(shape));
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        ENGINE_CHECK_SHAPE(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", shape_str(x.shape()),
                           " into ", shape_str(shape));
        shape[infer] = x.numel() / known;
    }
    ENGINE_CHECK_SHAPE(shape_numel(shape) == x.numel(), "reshape: numel must stay the same, but got ",
                       shape_str(x.shape()), " (", x.numel(), ") -> ", shape_str(shape), " (", shape_numel(shape), ")");
    Tensor base = contig(x);
    Tensor out = make_view(base, shape, contiguous_strides(shape), base.offset());
    const Shape xs = x.shape();
    return record(out, "reshape", {x}, {}, [xs](const Tensor& g, const BackwardContext&) {
        Tensor gc = contig(g);
        return std::vector<Tensor>{make_view(gc, xs, contiguous_strides(xs), gc.offset())};
    });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
    const int64_t nd = x.dim();
    ENGINE_CHECK_SHAPE(static_cast<int64_t>(dims.size()) == nd, "permute: need ", nd, " dims for shape ",
                       shape_str(x.shape()), ", but got ", dims.size());
    std::vector<bool> seen(dims.size(), false);
    Shape shape(dims.size()), strides(dims.size());
    std::vector<int64_t> inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
        const int64_t d = detail::wrap_dim("permute", dims[i], x.shape());
        ENGINE_CHECK_SHAPE(!seen[d], "permute: dim ", dims[i], " repeats in the permutation");
        seen[d] = true;
        shape[i] = x.shape()[d];
        strides[i] = x.strides()[d];
        inverse[d] = static_cast<int64_t>(i);
    }
    Tensor out = make_view(x, shape, strides, x.offset());
    return record(out, "permute", {x}, {}, [inverse](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{permute(g, inverse)};
    });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
    std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
    for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
    std::swap(dims[detail::wrap_dim("transpose", d0, x.shape())], dims[detail::wrap_dim("transpose", d1, x.shape())]);
    return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
    const int64_t d = detail::wrap_dim("slice", dim, x.shape());
    const int64_t n = x.shape()[d];
    ENGINE_CHECK_SHAPE(0 <= start && start <= end && end <= n, "slice: 0 <= start <= end <= size must hold, but got start=",
                       start, " end=", end, " for dim ", dim, " of ", shape_str(x.shape()));
    Shape shape = x.shape();
    shape[d] = end - start;
    Tensor out = make_view(x, shape, x.strides(), x.offset() + start * x.strides()[d]);
    const Shape xs = x.shape();
    const DType dt = x.dtype();
    return record(out, "slice", {x}, {}, [xs, dt, d, start](const Tensor& g, const BackwardContext&) {
        Tensor gx = Tensor::zeros(xs, dt);
        Tensor region = make_view(gx, g.shape(), gx.strides(), start * gx.strides()[d]);
        region.copy_(g);
        return std::vector<Tensor>{gx};
    });
}

Tensor contiguous(const Tensor& x) {
    if (x.is_contiguous()) return x;
    Tensor out = x.clone();
    return record(out, "contiguous", {x}, {}, [](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{g};
    });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
    ENGINE_CHECK(!xs.empty(), "concat: needs at least one tensor");
    const int64_t d = detail::wrap_dim("concat", dim, xs[0].shape());
    Shape shape = xs[0].shape();
    int64_t total = 0;
    std::vector<int64_t> sizes;
    for (const Tensor& t : xs) {
        bool ok = t.dim() == xs[0].dim() && t.dtype() == xs[0].dtype();
        for (int64_t i = 0; ok && i < t.dim(); ++i) ok = i == d || t.shape()[i] == shape[i];
        ENGINE_CHECK_SHAPE(ok, "concat: all shapes must match except in dim ", dim, ", but got ", xs[0].str(),
                           " and ", t.str());
        sizes.push_back(t.shape()[d]);
        total += t.shape()[d];
    }
    shape[d] = total;
    Tensor out = Tensor::empty(shape, xs[0].dtype());
    int64_t at = 0;
    for (const Tensor& t : xs) {
        Tensor region = make_view(out, t.shape(), out.strides(), at * out.strides()[d]);
        region.copy_(t);
        at += t.shape()[d];
    }
    return record(out, "concat", xs, {}, [sizes, d](const Tensor& g, const BackwardContext& c) {
        std::vector<Tensor> grads;
        int64_t start = 0;
        for (size_t i = 0; i < sizes.size(); ++i) {
            if (c.needs(i)) grads.push_back(slice(g, d, start, start + sizes[i]));
            else grads.emplace_back();
            start += sizes[i];
        }
        return grads;
    });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
    const int64_t d = detail::wrap_dim("split", dim, x.shape());
    int64_t total = 0;
    for (int64_t s : sizes) {
        ENGINE_CHECK_SHAPE(s >= 0, "split: sizes must be >= 0");
        total += s;
    }
    ENGINE_CHECK_SHAPE(total == x.shape()[d], "split: sizes must add up to dim ", dim, " of ", shape_str(x.shape()),
                       " (", x.shape()[d], "), but they add up to ", total);
    std::vector<Tensor> parts;
    int64_t start = 0;
    for (int64_t s : sizes) {
        parts.push_back(slice(x, d, start, start + s));
        start += s;
    }
    return parts;
}

}  // namespace qbert::engine
