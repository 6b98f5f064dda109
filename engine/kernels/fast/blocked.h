// Element-wise parallel loop shared by the fast kernels.
#pragma once

#include <algorithm>
#include <cstdint>

namespace qbert::engine::fast {

// Splits [0, n) into fixed blocks of 4096 and runs f(begin, len) on each, blocks in parallel (static
// partition: the same n and thread count always give the same split).
template <class F>
void blocked(int64_t n, F f) {
    constexpr int64_t kBlock = 4096;
    const int64_t nb = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nb; ++blk) {
        const int64_t b = blk * kBlock;
        f(b, std::min(kBlock, n - b));
    }
}

}  // namespace qbert::engine::fast
