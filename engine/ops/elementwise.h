// Broadcasting elementwise ops (NumPy rules: shapes align from the right; a dim of 1 stretches).
//   add: out = a + b     sub: out = a - b     mul: out = a * b     div: out = a / b
//   scale: out = a * s (s a plain number)     add_scalar: out = a + s
// Backward reduces each gradient back to its input's shape with sum_to (ops/reduce.h).
#pragma once

#include "engine/kernels/binary_op.h"
#include "engine/tensor/tensor.h"

namespace qbert::engine {

[[nodiscard]] Tensor add(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor sub(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor mul(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor div(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor scale(const Tensor& a, double s);
[[nodiscard]] Tensor add_scalar(const Tensor& a, double s);
[[nodiscard]] Tensor neg(const Tensor& a);

// acc += b in place (same shape, no broadcasting, no autograd): gradient accumulation.
void add_(Tensor& acc, const Tensor& b);

// The broadcast shape of a and b, or a ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

}  // namespace qbert::engine
