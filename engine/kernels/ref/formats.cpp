// Reference kernels of the number formats (ops/formats.h): plain loops over the tensor in memory order,
// calling the per-element formulas of kernels/format_math.h.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/core/rng.h"
#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

using kernels::BlockGrid;
using kernels::FormatCode;

void format_quant_forward_ref(const float* x, float* y, int64_t n, const kernels::FormatArgs& a) {
    if (kernels::is_block_format(a.code)) {
        // 1. each block's maximum magnitude, 2. Mase's fix-up of all-zero blocks, 3. the shared exponent or
        // bias per block, 4. every element with its block's shared value.
        const BlockGrid g(a);
        std::vector<float> mx(static_cast<size_t>(g.count()), 0.0f);
        for (int64_t i0 = 0; i0 < g.d0; ++i0)
            for (int64_t i1 = 0; i1 < g.d1; ++i1)
                for (int64_t i2 = 0; i2 < g.d2; ++i2) {
                    float& m = mx[static_cast<size_t>(g.of(i0, i1, i2))];
                    m = std::max(m, std::fabs(x[(i0 * g.d1 + i1) * g.d2 + i2]));
                }
        kernels::fix_zero_block_maxima(mx.data(), g.count());
        std::vector<float> shared(mx.size());
        for (size_t b = 0; b < mx.size(); ++b) shared[b] = kernels::block_shared(a, mx[b]);
        for (int64_t i0 = 0; i0 < g.d0; ++i0)
            for (int64_t i1 = 0; i1 < g.d1; ++i1)
                for (int64_t i2 = 0; i2 < g.d2; ++i2) {
                    const int64_t i = (i0 * g.d1 + i1) * g.d2 + i2;
                    y[i] = kernels::block_element(a, x[i], shared[static_cast<size_t>(g.of(i0, i1, i2))]);
                }
        return;
    }
    if (a.code == FormatCode::Ternary) {
        float t = 0.0f, alpha = 1.0f;
        kernels::ternary_stats(x, n, a.scaling, t, alpha);
        for (int64_t i = 0; i < n; ++i) y[i] = kernels::ternary_1(x[i], t, alpha);
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        const float u = a.stochastic ? hash_uniform(a.seed, static_cast<uint64_t>(i)) : 0.0f;
        y[i] = kernels::element_1(a, x[i], u);
    }
}

}  // namespace qbert::engine::ref
