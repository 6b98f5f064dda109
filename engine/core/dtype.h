// Element types a Tensor can hold. F32 is the training type; F64 exists so gradchecks can run the
// reference kernels in double; I8/I32 are storage for token ids, masks and later integer kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qbert::engine {

enum class DType { F32, F64, I8, U8, I32, I64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

// bfloat16: the upper 16 bits of a float32. Rounding to nearest, ties to even; NaN stays NaN.
// (Used for the operands of bf16 matmuls; not a Tensor dtype.)
inline uint16_t float_to_bf16(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_float(uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::I8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }

}  // namespace qbert::engine
