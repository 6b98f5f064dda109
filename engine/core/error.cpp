#include "engine/core/error.h"

namespace qbert::engine {

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ",";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

namespace detail {
void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
    throw Error(concat("internal assertion failed: ", cond, " at ", file, ":", line,
                       msg.empty() ? "" : ": ", msg, "\nhint: this is a qbert bug; please report it"));
}
}  // namespace detail

}  // namespace qbert::engine
