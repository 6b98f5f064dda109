// Fast kernels of the number formats (ops/formats.h): the same per-element formulas as the reference
// (kernels/format_math.h, so the two agree bit for bit), with the work split over OpenMP threads: element-wise
// formats in fixed chunks, block formats one block per task (the block maxima and the elements of a block are
// touched by one thread only, so no atomics and no order-dependent results).
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/core/rng.h"
#include "engine/kernels/fast/blocked.h"
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

using kernels::BlockGrid;
using kernels::FormatCode;

namespace {
// Calls f(flat index, block-local element) for every element of block `b` of grid g.
template <class F>
void for_block(const BlockGrid& g, int64_t b, F f) {
    const int64_t c2 = b % g.n2, c1 = (b / g.n2) % g.n1, c0 = b / (g.n2 * g.n1);
    const int64_t e0 = std::min(g.d0, (c0 + 1) * g.b0), e1 = std::min(g.d1, (c1 + 1) * g.b1),
                  e2 = std::min(g.d2, (c2 + 1) * g.b2);
    for (int64_t i0 = c0 * g.b0; i0 < e0; ++i0)
        for (int64_t i1 = c1 * g.b1; i1 < e1; ++i1) {
            const int64_t row = (i0 * g.d1 + i1) * g.d2;
            for (int64_t i2 = c2 * g.b2; i2 < e2; ++i2) f(row + i2);
        }
}
}  // namespace

void format_quant_forward_fast(const float* x, float* y, int64_t n, const kernels::FormatArgs& a) {
    if (kernels::is_block_format(a.code)) {
        const BlockGrid g(a);
        const int64_t nb = g.count();
        std::vector<float> mx(static_cast<size_t>(nb));
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nb; ++b) {
            float m = 0.0f;
            for_block(g, b, [&](int64_t i) { m = std::max(m, std::fabs(x[i])); });
            mx[static_cast<size_t>(b)] = m;
        }
        kernels::fix_zero_block_maxima(mx.data(), nb);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nb; ++b) {
            const float s = kernels::block_shared(a, mx[static_cast<size_t>(b)]);
            for_block(g, b, [&](int64_t i) { y[i] = kernels::block_element(a, x[i], s); });
        }
        return;
    }
    if (a.code == FormatCode::Ternary) {
        float t = 0.0f, alpha = 1.0f;
        kernels::ternary_stats(x, n, a.scaling, t, alpha);  // serial: the same sums as the reference
        blocked(n, [&](int64_t b, int64_t len) {
            for (int64_t i = b; i < b + len; ++i) y[i] = kernels::ternary_1(x[i], t, alpha);
        });
        return;
    }
    blocked(n, [&](int64_t b, int64_t len) {
        for (int64_t i = b; i < b + len; ++i) {
            const float u = a.stochastic ? hash_uniform(a.seed, static_cast<uint64_t>(i)) : 0.0f;
            y[i] = kernels::element_1(a, x[i], u);
        }
    });
}

}  // namespace qbert::engine::fast
