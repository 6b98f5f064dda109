// Reference broadcasting elementwise and reduction kernels. Strided indexing is kept explicit so a breakpoint
// shows which input element feeds out[i].
#include <cstring>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void binary_forward_ref(BinaryOp op, const T* a, const Shape& a_strides, const T* b, const Shape& b_strides,
                        T* out, const Shape& shape) {
    const int64_t nd = static_cast<int64_t>(shape.size());
    const int64_t n = shape_numel(shape);
    std::vector<int64_t> idx(shape.size(), 0);
    int64_t ia = 0, ib = 0;  // element offsets into a and b for the current multi-index
    for (int64_t i = 0; i < n; ++i) {
        const T x = a[ia], y = b[ib];
        switch (op) {
            case BinaryOp::Add: out[i] = x + y; break;
            case BinaryOp::Sub: out[i] = x - y; break;
            case BinaryOp::Mul: out[i] = x * y; break;
            case BinaryOp::Div: out[i] = x / y; break;
        }
        // advance the multi-index (row-major), updating both offsets
        for (int64_t d = nd - 1; d >= 0; --d) {
            if (++idx[d] < shape[d]) {
                ia += a_strides[d];
                ib += b_strides[d];
                break;
            }
            ia -= a_strides[d] * (shape[d] - 1);
            ib -= b_strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

template <class T>
void sum_forward_ref(const T* x, const Shape& shape, const std::vector<bool>& reduce, T* out) {
    // out_strides: contiguous strides of the kept dims, 0 on reduced dims
    const int64_t nd = static_cast<int64_t>(shape.size());
    Shape out_strides(shape.size(), 0);
    int64_t acc = 1, out_n = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
        if (!reduce[d]) {
            out_strides[d] = acc;
            acc *= shape[d];
            out_n *= shape[d];
        }
    }
    std::vector<double> sums(static_cast<size_t>(out_n), 0.0);  // accumulate in double: the source of truth
    const int64_t n = shape_numel(shape);
    std::vector<int64_t> idx(shape.size(), 0);
    int64_t io = 0;
    for (int64_t i = 0; i < n; ++i) {
        sums[io] += static_cast<double>(x[i]);
        for (int64_t d = nd - 1; d >= 0; --d) {
            if (++idx[d] < shape[d]) {
                io += out_strides[d];
                break;
            }
            io -= out_strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < out_n; ++i) out[i] = static_cast<T>(sums[i]);
}

template void binary_forward_ref<float>(BinaryOp, const float*, const Shape&, const float*, const Shape&, float*,
                                        const Shape&);
template void binary_forward_ref<double>(BinaryOp, const double*, const Shape&, const double*, const Shape&,
                                         double*, const Shape&);
template void sum_forward_ref<float>(const float*, const Shape&, const std::vector<bool>&, float*);
template void sum_forward_ref<double>(const double*, const Shape&, const std::vector<bool>&, double*);

}  // namespace qbert::engine::ref
