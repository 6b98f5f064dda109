// Integer inference of a fixed-point Linear layer (issue 15): the arithmetic a deployed fixed-point model does.
//
//   xi = clamp(round(x * 2^fx), qmin, qmax)        the input's fixed-point grid index, int8 (signed, width <= 8)
//                                                  or uint8 (unsigned, width <= 8)
//   wi = clamp(round(W * 2^fw), qmin, qmax) * M    the weight's, int8 (width <= 8 signed, <= 7 unsigned), masked
//   acc[r,o] = sum_k xi[r,k] * wi[o,k]              int32 accumulation
//   y[r,o]   = float(acc) * 2^-(fx + fw) + b[o]     one exact power-of-two multiply, then the bias (float)
//
// The same rounding (half to even, or floor) and saturation as fake_quant, so xi / 2^fx is exactly what
// fake_quant(x) holds. When every partial sum of the fake-quant model's float matmul is exact, i.e. when
// sum_k |xi[r,k] * wi[o,k]| + |b| 2^(fx+fw) <= 2^24 for every output (K <= 1023 for signed int8 operands, 513 for
// unsigned inputs) and the bias is fixed point with frac_width <= fx + fw, float(acc) * 2^-(fx+fw) + b equals that
// layer's result exactly, bit for bit (fp32 or bf16 matmuls alike: k * 2^-f with |k| <= 256 is exact in bf16).
// docs/int8.md says where this holds.
//
// Inference only: no gradient (the training path is the fake-quant layer, whose STE this does not model);
// calling it while gradients are recorded for x is an error. Kernels: ref (plain loops, int32 sums) and fast
// (the quantization and epilogue on OpenMP threads, oneDNN's s8/u8 x s8 -> s32 matmul: AVX-512 VNNI here);
// QBERT_KERNELS=...,int8_linear=ref|fast|check; check holds them equal exactly (integer arithmetic).
#pragma once

#include <string>

#include "engine/ops/quant.h"
#include "engine/tensor/tensor.h"

namespace qbert::engine {

// Why a fixed-point (input, weight) pair cannot run on int8 operands, or "" when it can.
std::string int8_unsupported(const FixedPoint& data_in, const FixedPoint& weight);

// W (f32 [out, in]) -> its int8 grid indices under `q`, times the mask (u8 [out, in], 1 keeps) when defined.
// Throws naming `what` on a NaN weight or an unsupported format.
[[nodiscard]] Tensor quantize_weight_int8(const Tensor& w, const FixedPoint& q, const Tensor& mask = Tensor(),
                                          const std::string& what = "weight");

// y (f32 [..., out]) from x (f32 [..., in]) as above; wi from quantize_weight_int8 with frac width w_frac;
// bias f32 [out] or undefined. Throws on bad shapes, a NaN input, or x that requires grad in grad mode.
[[nodiscard]] Tensor linear_int8(const Tensor& x, const FixedPoint& data_in, const Tensor& wi, int w_frac,
                                 const Tensor& bias = Tensor());

}  // namespace qbert::engine
