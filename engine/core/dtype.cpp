#include "engine/core/dtype.h"

namespace qbert::engine {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::I8: return 1;
        case DType::U8: return 1;
        case DType::I32: return 4;
        case DType::I64: return 8;
    }
    return 0;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "f32";
        case DType::F64: return "f64";
        case DType::I8: return "i8";
        case DType::U8: return "u8";
        case DType::I32: return "i32";
        case DType::I64: return "i64";
    }
    return "?";
}

}  // namespace qbert::engine
