#include "engine/ops/common.h"

namespace qbert::engine::detail {

void check_same_floating(const char* op, std::initializer_list<const Tensor*> ts) {
    const Tensor* first = nullptr;
    for (const Tensor* t : ts) {
        if (!t->defined()) continue;
        if (!is_floating(t->dtype()))
            throw DTypeError(concat(op, ": expected a floating tensor, but got ", t->str()));
        if (!first) {
            first = t;
        } else if (t->dtype() != first->dtype()) {
            throw DTypeError(concat(op, ": all inputs must have one dtype, but got ", first->str(), " and ", t->str()));
        }
    }
}

int64_t wrap_dim(const char* op, int64_t d, const Shape& shape) {
    const int64_t nd = static_cast<int64_t>(shape.size());
    ENGINE_CHECK_SHAPE(d >= -nd && d < nd, op, ": dim ", d, " is out of range for shape ", shape_str(shape));
    return d < 0 ? d + nd : d;
}

Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out) {
    Shape s(out.size(), 0);
    const size_t lead = out.size() - shape.size();
    for (size_t i = 0; i < shape.size(); ++i) s[lead + i] = shape[i] == 1 ? 0 : strides[i];
    return s;
}

}  // namespace qbert::engine::detail
