// The four broadcasting binary ops, shared by their kernels (ref::binary_forward_ref,
// fast::binary_forward_fast) and the ops that call them (ops/elementwise.h).
#pragma once

namespace qbert::engine {

enum class BinaryOp { Add, Sub, Mul, Div };

}  // namespace qbert::engine
