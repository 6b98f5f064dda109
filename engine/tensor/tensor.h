// Tensor: a cheap, shared handle to (storage, offset, shape, strides, dtype) plus autograd state.
//
// NOTE [Shallow copies]: copying a Tensor copies the handle, not the data: `Tensor b = a;` makes b and a
// the same tensor (same grad, same name). Views (reshape, permute, slice: ops/shape.h) share the Storage
// with their base and so share its version counter. clone() is the deep copy.
//
// Row-major: dim 0 is the outermost dimension; strides are in elements, not bytes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "engine/core/shape.h"

namespace qbert::engine {

class Storage;
class Node;
class Rng;

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    int64_t offset = 0;  // in elements
    Shape shape;
    Shape strides;
    DType dtype = DType::F32;
    // autograd
    bool requires_grad = false;
    std::shared_ptr<TensorImpl> grad;
    std::shared_ptr<Node> grad_fn;        // null for leaves
    std::weak_ptr<Node> grad_accumulator;  // leaves: the one AccumulateGrad node, shared by all uses
    std::string name;
};

Shape contiguous_strides(const Shape& shape);

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // ---- factories (all contiguous, requires_grad = false)
    [[nodiscard]] static Tensor empty(const Shape& shape, DType dtype = DType::F32);
    [[nodiscard]] static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
    [[nodiscard]] static Tensor full(const Shape& shape, double value, DType dtype = DType::F32);
    [[nodiscard]] static Tensor ones(const Shape& shape, DType dtype = DType::F32) {
        return full(shape, 1.0, dtype);
    }
    [[nodiscard]] static Tensor from_vector(const std::vector<float>& v, const Shape& shape);
    [[nodiscard]] static Tensor from_vector(const std::vector<double>& v, const Shape& shape);
    [[nodiscard]] static Tensor from_vector(const std::vector<int32_t>& v, const Shape& shape);
    [[nodiscard]] static Tensor from_vector(const std::vector<uint8_t>& v, const Shape& shape);
    // x ~ N(mean, std^2) or U[low, high), drawn in row-major order from rng (same seed, same tensor)
    [[nodiscard]] static Tensor randn(const Shape& shape, Rng& rng, double mean = 0.0, double std = 1.0,
                                      DType dtype = DType::F32);
    [[nodiscard]] static Tensor uniform(const Shape& shape, Rng& rng, double low, double high,
                                        DType dtype = DType::F32);

    // ---- metadata
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return impl().shape; }
    const Shape& strides() const { return impl().strides; }
    int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
    int64_t size(int64_t d) const;  // negative d counts from the end
    int64_t numel() const { return shape_numel(impl().shape); }
    int64_t offset() const { return impl().offset; }
    DType dtype() const { return impl().dtype; }
    bool is_contiguous() const;
    std::string str() const;  // "f32[2,3]" (+ name) for messages

    const std::string& name() const { return impl().name; }
    Tensor& set_name(std::string n) {
        impl().name = std::move(n);
        return *this;
    }

    // ---- data access (typed; throws DTypeError on a mismatch). Pointer is at offset().
    template <class T>
    T* data();
    template <class T>
    const T* data() const;
    void* raw_data();
    const void* raw_data() const;
    std::shared_ptr<Storage> storage() const { return impl().storage; }
    double item() const;                         // one-element tensors, any dtype
    std::vector<float> to_vector_f32() const;    // contiguous copy as float
    std::vector<double> to_vector_f64() const;   // contiguous copy as double

    // ---- copies and conversions (not recorded by autograd)
    [[nodiscard]] Tensor clone() const;           // deep, contiguous copy
    [[nodiscard]] Tensor to(DType dtype) const;   // converts (deep copy)
    [[nodiscard]] Tensor detach() const;          // same storage, no autograd history

    // ---- in-place writes: bump the storage version; refused on leaves that require grad while grad
    // mode is on (use NoGradGuard, as optimizers do).
    Tensor& fill_(double value);
    Tensor& zero_() { return fill_(0.0); }
    Tensor& copy_(const Tensor& src);  // same shape; any strides
    void bump_version();
    uint64_t version() const;

    // ---- autograd
    bool requires_grad() const { return impl().requires_grad; }
    Tensor& set_requires_grad(bool on);
    bool is_leaf() const { return impl().grad_fn == nullptr; }
    Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
    void set_grad(const Tensor& g);
    void zero_grad() { impl().grad.reset(); }
    const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
    // d(this)/d(leaves). A non-scalar root needs an explicit `grad` of the same shape.
    void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

    TensorImpl& impl() const {
        ENGINE_CHECK(impl_, "use of an undefined Tensor");
        return *impl_;
    }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
    bool same(const Tensor& o) const { return impl_ == o.impl_; }

private:
    std::shared_ptr<TensorImpl> impl_;
};

// A view of `base`'s storage with new geometry (no copy, no autograd).
[[nodiscard]] Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

// Calls f(T{}) with T the C++ type of a floating dtype; throws DTypeError otherwise.
template <class F>
decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
    if (t == DType::F32) return f(float{});
    if (t == DType::F64) return f(double{});
    throw DTypeError(detail::concat(op, ": expected a floating dtype (f32 or f64), but got ",
                                    dtype_name(t)));
}

}  // namespace qbert::engine
