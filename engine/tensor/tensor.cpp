#include "engine/tensor/tensor.h"

#include <cstring>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/rng.h"
#include "engine/tensor/storage.h"

namespace qbert::engine {

Shape contiguous_strides(const Shape& shape) {
    Shape s(shape.size());
    int64_t acc = 1;
    for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
        s[i] = acc;
        acc *= shape[i];
    }
    return s;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
    for (int64_t d : shape)
        ENGINE_CHECK_SHAPE(d >= 0, "empty: every dim >= 0 must hold, but got shape ", shape_str(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype));
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
    Tensor t = empty(shape, dtype);
    std::memset(t.raw_data(), 0, static_cast<size_t>(t.numel()) * dtype_size(dtype));
    return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
    Tensor t = empty(shape, dtype);
    t.fill_(value);
    return t;
}

namespace {
template <class T>
Tensor from_vector_impl(const std::vector<T>& v, const Shape& shape) {
    ENGINE_CHECK_SHAPE(static_cast<int64_t>(v.size()) == shape_numel(shape),
                       "from_vector: size == numel(shape) must hold, but got size=", v.size(),
                       " shape=", shape_str(shape));
    Tensor t = Tensor::empty(shape, dtype_of<T>());
    if (!v.empty()) std::memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
    return t;
}

// Visits every element of a strided tensor in row-major order: f(linear_index, element_offset).
template <class F>
void for_each_offset(const Shape& shape, const Shape& strides, int64_t offset, F&& f) {
    const int64_t n = shape_numel(shape);
    const int64_t nd = static_cast<int64_t>(shape.size());
    std::vector<int64_t> idx(shape.size(), 0);
    int64_t off = offset;
    for (int64_t i = 0; i < n; ++i) {
        f(i, off);
        for (int64_t d = nd - 1; d >= 0; --d) {
            if (++idx[d] < shape[d]) {
                off += strides[d];
                break;
            }
            off -= strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

template <class Src, class Dst>
void strided_convert(const Tensor& src, Dst* dst) {
    const Src* base = reinterpret_cast<const Src*>(src.storage()->data());
    for_each_offset(src.shape(), src.strides(), src.offset(),
                    [&](int64_t i, int64_t off) { dst[i] = static_cast<Dst>(base[off]); });
}

template <class Dst>
void convert_any(const Tensor& src, Dst* dst) {
    switch (src.dtype()) {
        case DType::F32: return strided_convert<float>(src, dst);
        case DType::F64: return strided_convert<double>(src, dst);
        case DType::I8: return strided_convert<int8_t>(src, dst);
        case DType::U8: return strided_convert<uint8_t>(src, dst);
        case DType::I32: return strided_convert<int32_t>(src, dst);
        case DType::I64: return strided_convert<int64_t>(src, dst);
    }
}

void convert_into(const Tensor& src, Tensor& dst) {  // dst contiguous, same numel
    switch (dst.dtype()) {
        case DType::F32: return convert_any(src, dst.data<float>());
        case DType::F64: return convert_any(src, dst.data<double>());
        case DType::I8: return convert_any(src, dst.data<int8_t>());
        case DType::U8: return convert_any(src, dst.data<uint8_t>());
        case DType::I32: return convert_any(src, dst.data<int32_t>());
        case DType::I64: return convert_any(src, dst.data<int64_t>());
    }
}

// Same-dtype strided copy, row by row: the innermost dim is copied with one memcpy when its stride is 1
// (permuted attention heads keep HS contiguous), element by element otherwise. Rows are independent, so
// they go in parallel; each row's offsets are computed from its own index (no shared state).
void strided_copy_rows(const std::byte* src, const Shape& shape, const Shape& src_strides, int64_t src_off,
                       std::byte* dst, const Shape& dst_strides, int64_t dst_off, size_t es) {
    const int64_t nd = static_cast<int64_t>(shape.size());
    if (nd == 0) {
        std::memcpy(dst + dst_off * static_cast<int64_t>(es), src + src_off * static_cast<int64_t>(es), es);
        return;
    }
    const int64_t inner = shape[nd - 1];
    const int64_t rows = inner == 0 ? 0 : shape_numel(shape) / inner;
    const int64_t s_in = src_strides[nd - 1], d_in = dst_strides[nd - 1];
    const int64_t e = static_cast<int64_t>(es);
#pragma omp parallel for schedule(static) if (rows * inner > 65536)
    for (int64_t r = 0; r < rows; ++r) {
        int64_t so = src_off, dof = dst_off, rem = r;
        for (int64_t d = nd - 2; d >= 0; --d) {
            const int64_t i = rem % shape[d];
            rem /= shape[d];
            so += i * src_strides[d];
            dof += i * dst_strides[d];
        }
        if (s_in == 1 && d_in == 1) {
            std::memcpy(dst + dof * e, src + so * e, static_cast<size_t>(inner) * es);
        } else {
            for (int64_t c = 0; c < inner; ++c) std::memcpy(dst + (dof + c * d_in) * e, src + (so + c * s_in) * e, es);
        }
    }
}

void check_inplace_allowed(const Tensor& t, const char* op) {
    ENGINE_CHECK(!(GradMode::enabled() && t.requires_grad() && t.is_leaf()),
                 op, ": a leaf tensor that requires grad (", t.str(),
                 ") is used in an in-place operation\nhint: wrap parameter updates in NoGradGuard");
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s) { return from_vector_impl(v, s); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s) { return from_vector_impl(v, s); }
Tensor Tensor::from_vector(const std::vector<int32_t>& v, const Shape& s) { return from_vector_impl(v, s); }
Tensor Tensor::from_vector(const std::vector<uint8_t>& v, const Shape& s) { return from_vector_impl(v, s); }

Tensor Tensor::randn(const Shape& shape, Rng& rng, double mean, double std, DType dtype) {
    Tensor t = empty(shape, dtype);
    dispatch_floating(dtype, "randn", [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(mean + std * rng.normal());
    });
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, double low, double high, DType dtype) {
    Tensor t = empty(shape, dtype);
    dispatch_floating(dtype, "uniform", [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (int64_t i = 0; i < t.numel(); ++i)
            p[i] = static_cast<T>(low + (high - low) * static_cast<double>(rng.uniform()));
    });
    return t;
}

int64_t Tensor::size(int64_t d) const {
    const int64_t nd = dim();
    ENGINE_CHECK_SHAPE(d >= -nd && d < nd, "size: dim ", d, " is out of range for shape ",
                       shape_str(shape()));
    return shape()[d < 0 ? d + nd : d];
}

bool Tensor::is_contiguous() const {
    int64_t expected = 1;
    for (int64_t i = dim() - 1; i >= 0; --i) {
        if (shape()[i] != 1 && strides()[i] != expected) return false;
        expected *= shape()[i];
    }
    return true;
}

std::string Tensor::str() const {
    if (!defined()) return "undefined";
    std::string s = std::string(dtype_name(dtype())) + shape_str(shape());
    if (!name().empty()) s += " '" + name() + "'";
    return s;
}

template <class T>
T* Tensor::data() {
    if (dtype() != dtype_of<T>())
        throw DTypeError(detail::concat("data<", dtype_name(dtype_of<T>()), ">() on a tensor of dtype ",
                                        dtype_name(dtype()), " ", str()));
    return reinterpret_cast<T*>(impl().storage->data()) + impl().offset;
}
template <class T>
const T* Tensor::data() const {
    return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int8_t* Tensor::data<int8_t>();
template uint8_t* Tensor::data<uint8_t>();
template int32_t* Tensor::data<int32_t>();
template int64_t* Tensor::data<int64_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int8_t* Tensor::data<int8_t>() const;
template const uint8_t* Tensor::data<uint8_t>() const;
template const int32_t* Tensor::data<int32_t>() const;
template const int64_t* Tensor::data<int64_t>() const;

void* Tensor::raw_data() {
    return impl().storage->data() + impl().offset * static_cast<int64_t>(dtype_size(dtype()));
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

double Tensor::item() const {
    ENGINE_CHECK_SHAPE(numel() == 1, "item: a one-element tensor is required, but got ", str());
    return to_vector_f64()[0];
}

std::vector<float> Tensor::to_vector_f32() const {
    std::vector<float> v(static_cast<size_t>(numel()));
    convert_any(*this, v.data());
    return v;
}
std::vector<double> Tensor::to_vector_f64() const {
    std::vector<double> v(static_cast<size_t>(numel()));
    convert_any(*this, v.data());
    return v;
}

Tensor Tensor::clone() const { return to(dtype()); }

Tensor Tensor::to(DType dt) const {
    Tensor out = empty(shape(), dt);
    if (dt == dtype() && is_contiguous()) {
        std::memcpy(out.raw_data(), raw_data(), static_cast<size_t>(numel()) * dtype_size(dt));
    } else if (dt == dtype()) {
        strided_copy_rows(impl().storage->data(), shape(), strides(), offset(), out.impl().storage->data(),
                          out.strides(), 0, dtype_size(dt));
    } else {
        convert_into(*this, out);
    }
    return out;
}

Tensor Tensor::detach() const {
    auto impl2 = std::make_shared<TensorImpl>();
    impl2->storage = impl().storage;
    impl2->offset = offset();
    impl2->shape = shape();
    impl2->strides = strides();
    impl2->dtype = dtype();
    impl2->name = name();
    return Tensor(std::move(impl2));
}

Tensor& Tensor::fill_(double value) {
    check_inplace_allowed(*this, "fill_");
    Tensor one = empty({1}, DType::F64);
    one.data<double>()[0] = value;
    // broadcast the single value through a zero-stride view
    Tensor src = make_view(one, shape(), Shape(shape().size(), 0), 0);
    if (is_contiguous()) {
        convert_into(src, *this);
    } else {
        Tensor tmp = empty(shape(), dtype());
        convert_into(src, tmp);
        copy_(tmp);
        return *this;
    }
    bump_version();
    return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
    check_inplace_allowed(*this, "copy_");
    ENGINE_CHECK_SHAPE(src.shape() == shape(), "copy_: shapes must match, but got dst=", str(),
                       " src=", src.str());
    if (is_contiguous()) {
        if (src.dtype() == dtype() && src.is_contiguous()) {
            std::memmove(raw_data(), src.raw_data(), static_cast<size_t>(numel()) * dtype_size(dtype()));
        } else {
            convert_into(src, *this);
        }
    } else {
        // strided destination (a slice or view): row-wise copy from src in its own layout
        Tensor s = src.dtype() == dtype() ? src : src.to(dtype());
        strided_copy_rows(s.impl().storage->data(), shape(), s.strides(), s.offset(), impl().storage->data(),
                          strides(), offset(), dtype_size(dtype()));
    }
    bump_version();
    return *this;
}

void Tensor::bump_version() { impl().storage->bump_version(); }
uint64_t Tensor::version() const { return impl().storage->version(); }

Tensor& Tensor::set_requires_grad(bool on) {
    ENGINE_CHECK(!on || is_floating(dtype()), "set_requires_grad: only floating tensors can require grad, but got ",
                 str());
    ENGINE_CHECK(is_leaf(), "set_requires_grad: only leaves can change requires_grad, but ", str(),
                 " was produced by ", impl().grad_fn ? impl().grad_fn->name() : "?");
    impl().requires_grad = on;
    return *this;
}

void Tensor::set_grad(const Tensor& g) {
    if (!g.defined()) {
        impl().grad.reset();
        return;
    }
    ENGINE_CHECK_SHAPE(g.shape() == shape(), "set_grad: grad shape ", shape_str(g.shape()),
                       " != tensor shape ", shape_str(shape()));
    impl().grad = g.impl_ptr();
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
    run_backward(*this, grad, retain_graph);
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = base.storage();
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    impl->dtype = base.dtype();
    return Tensor(std::move(impl));
}

}  // namespace qbert::engine
