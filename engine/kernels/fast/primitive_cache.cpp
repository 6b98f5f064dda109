#include "engine/kernels/fast/primitive_cache.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "engine/core/error.h"

namespace qbert::engine::fast {

namespace {
constexpr size_t kDefaultCapacity = 1024;

size_t from_env() {
    const char* v = std::getenv("QBERT_PRIMITIVE_CACHE");
    if (v == nullptr || *v == '\0') return kDefaultCapacity;
    char* end = nullptr;
    const long long n = std::strtoll(v, &end, 10);
    if (end == v || *end != '\0' || n < 1)
        throw Error(std::string("QBERT_PRIMITIVE_CACHE must be a whole number >= 1 (entries per cache), got '") + v + "'");
    return static_cast<size_t>(n);
}

std::atomic<size_t>& capacity() {
    static std::atomic<size_t> c{from_env()};
    return c;
}
}  // namespace

size_t primitive_cache_capacity() { return capacity().load(std::memory_order_relaxed); }

void set_primitive_cache_capacity(size_t n) {
    if (n < 1) throw Error("set_primitive_cache_capacity: the capacity must be >= 1");
    capacity().store(n, std::memory_order_relaxed);
}

}  // namespace qbert::engine::fast
