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

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::I8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }

}  // namespace qbert::engine
