// Fast exact selection: the k-th (and (k+1)-th) smallest |x| by a two-pass radix select on the float bits.
//
// For non-negative floats the IEEE bit patterns sort like the values, so |x| -> (bits & 0x7fffffff) is an
// order-preserving integer key. Pass 1 counts keys by their top 16 bits (per-thread histograms, summed in
// thread order); the bin holding rank k is found by a prefix sum; pass 2 gathers only that bin's values and
// std::nth_element picks the answer among them. Exact (the same value the reference's nth_element over all
// of |x| returns), O(n), and it reads x twice instead of copying and partially sorting it.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
inline uint32_t abs_key(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return u & 0x7fffffffu;
}
constexpr int kShift = 15;               // 31-bit keys -> 16-bit bins
constexpr size_t kBins = size_t{1} << 16;
}  // namespace

void kth_smallest_abs_pair_fast(const float* x, int64_t n, int64_t k, float* kth, float* next) {
    const int nt = omp_get_max_threads();
    std::vector<std::vector<int64_t>> hist(static_cast<size_t>(nt));
#pragma omp parallel num_threads(nt)
    {
        std::vector<int64_t>& h = hist[static_cast<size_t>(omp_get_thread_num())];
        h.assign(kBins, 0);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) ++h[abs_key(x[i]) >> kShift];
    }
    std::vector<int64_t> count(kBins, 0);
    for (const auto& h : hist)
        for (size_t b = 0; b < kBins; ++b) count[b] += h[b];
    // the bin holding rank k, and the values of one bin gathered and partially sorted
    int64_t below = 0;
    size_t bin = 0;
    while (below + count[bin] <= k) below += count[bin++];
    auto gather = [&](size_t b) {
        std::vector<float> v;
        v.reserve(static_cast<size_t>(count[b]));
        for (int64_t i = 0; i < n; ++i)
            if ((abs_key(x[i]) >> kShift) == b) v.push_back(std::abs(x[i]));
        return v;
    };
    std::vector<float> v = gather(bin);
    const auto kk = static_cast<std::ptrdiff_t>(k - below);
    std::nth_element(v.begin(), v.begin() + kk, v.end());
    *kth = v[static_cast<size_t>(kk)];
    if (!next) return;
    if (k + 1 >= n) {
        *next = *kth;
    } else if (kk + 1 < static_cast<std::ptrdiff_t>(v.size())) {  // rank k + 1 is in the same bin
        *next = *std::min_element(v.begin() + kk + 1, v.end());
    } else {  // the smallest value of the next non-empty bin
        size_t nb = bin + 1;
        while (count[nb] == 0) ++nb;
        const std::vector<float> w = gather(nb);
        *next = *std::min_element(w.begin(), w.end());
    }
}

}  // namespace qbert::engine::fast
