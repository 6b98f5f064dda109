// Errors and checks for the engine (see STYLE.md §6).
//
// ENGINE_CHECK(cond, msg...)  caller mistakes (bad shapes, bad arguments): always on, throws engine::Error
//                             (or a subclass). The message parts are evaluated only on failure.
// ENGINE_ASSERT(cond, msg...) our own invariants: on in debug and test builds, compiled out with NDEBUG.
//
// The library never calls exit(): apps catch engine::Error at main() and map it to an exit code.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace qbert::engine {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
class ShapeError : public Error {
public:
    using Error::Error;
};
class DTypeError : public Error {
public:
    using Error::Error;
};
// Thrown by QBERT_KERNELS=check when the fast and reference kernels disagree.
class KernelMismatch : public Error {
public:
    using Error::Error;
};

// "[d0,d1,...]": the one shape formatter every message uses.
std::string shape_str(const std::vector<int64_t>& shape);

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace qbert::engine

#define ENGINE_CHECK_T(ErrorType, cond, ...)                                               \
    do {                                                                                   \
        if (!(cond)) throw ErrorType(::qbert::engine::detail::concat(__VA_ARGS__));        \
    } while (0)
#define ENGINE_CHECK(cond, ...) ENGINE_CHECK_T(::qbert::engine::Error, cond, __VA_ARGS__)
#define ENGINE_CHECK_SHAPE(cond, ...) ENGINE_CHECK_T(::qbert::engine::ShapeError, cond, __VA_ARGS__)

#ifdef NDEBUG
#define ENGINE_ASSERT(cond, ...) \
    do {                         \
    } while (0)
#else
#define ENGINE_ASSERT(cond, ...)                                                          \
    do {                                                                                  \
        if (!(cond))                                                                      \
            ::qbert::engine::detail::assert_fail(#cond, __FILE__, __LINE__,               \
                                                 ::qbert::engine::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
    } while (0)
#endif
