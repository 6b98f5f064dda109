// Fast softmax, layer norm, GELU, tanh and embedding: rows in parallel (OpenMP, static partition), each
// row through Eigen's vectorized exp/erf/tanh. Eigen maps our row-major buffers as 1-D arrays, so there
// is no storage-order question here. Per-column reductions (dgamma, dbeta, embedding grads) use a
// partition over columns or per-thread partials summed in thread order: deterministic for a thread count.
#include <omp.h>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/kernels/fast/blocked.h"
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
using ArrMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrMap = Eigen::Map<const Eigen::ArrayXf>;
}  // namespace

void softmax_forward_fast(const float* x, const float* mask, const int64_t* mask_row_off, int64_t mask_col_stride,
                          float* y, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; ++r) {
        ArrMap yr(y + r * C, C);
        yr = ConstArrMap(x + r * C, C);
        if (mask) {
            const float* mr = mask + mask_row_off[r];
            if (mask_col_stride == 1) {
                yr += ConstArrMap(mr, C);
            } else {
                yr += mr[0];
            }
        }
        const float mx = yr.maxCoeff();
        yr = (yr - mx).exp();
        yr *= 1.0f / yr.sum();
    }
}

void softmax_backward_fast(const float* y, const float* dy, float* dx, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; ++r) {
        ConstArrMap yr(y + r * C, C), dyr(dy + r * C, C);
        const float dot = (yr * dyr).sum();
        ArrMap(dx + r * C, C) = yr * (dyr - dot);
    }
}

void layernorm_forward_fast(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                            float* rstd, int64_t N, int64_t C, double eps) {
    ConstArrMap g(gamma, C), b(beta, C);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; ++r) {
        ConstArrMap xr(x + r * C, C);
        const float m = xr.sum() / static_cast<float>(C);
        const float v = (xr - m).square().sum() / static_cast<float>(C);
        const float rs = 1.0f / std::sqrt(v + static_cast<float>(eps));
        ArrMap(y + r * C, C) = (xr - m) * rs * g + b;
        mean[r] = m;
        rstd[r] = rs;
    }
}

void layernorm_backward_fast(const float* x, const float* gamma, const float* mean, const float* rstd,
                             const float* dy, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C) {
    const int nth = omp_get_max_threads();
    std::vector<float> part(static_cast<size_t>(2 * nth * C), 0.0f);  // per thread: dgamma | dbeta partials
    ConstArrMap g(gamma, C);
#pragma omp parallel num_threads(nth)
    {
        const int ith = omp_get_thread_num();
        int64_t r0, r1;
        thread_range(N, ith, omp_get_num_threads(), r0, r1);
        ArrMap pg(part.data() + 2 * ith * C, C), pb(part.data() + (2 * ith + 1) * C, C);
        Eigen::ArrayXf xhat(C), gy(C);
        for (int64_t r = r0; r < r1; ++r) {
            ConstArrMap xr(x + r * C, C), dyr(dy + r * C, C);
            xhat = (xr - mean[r]) * rstd[r];
            gy = dyr * g;
            const float mean_g = gy.sum() / static_cast<float>(C);
            const float mean_gx = (gy * xhat).sum() / static_cast<float>(C);
            ArrMap(dx + r * C, C) = rstd[r] * (gy - mean_g - xhat * mean_gx);
            pg += dyr * xhat;
            pb += dyr;
        }
    }
    for (int64_t c = 0; c < C; ++c) {
        float sg = 0.0f, sb = 0.0f;
        for (int t = 0; t < nth; ++t) {
            sg += part[static_cast<size_t>(2 * t * C + c)];
            sb += part[static_cast<size_t>((2 * t + 1) * C + c)];
        }
        if (dgamma) dgamma[c] = sg;
        if (dbeta) dbeta[c] = sb;
    }
}


void gelu_forward_fast(const float* x, float* y, int64_t n) {
    blocked(n, [&](int64_t b, int64_t len) {
        ConstArrMap xs(x + b, len);
        ArrMap(y + b, len) = 0.5f * xs * (1.0f + (xs * 0.70710678118654752440f).erf());
    });
}

void gelu_backward_fast(const float* x, const float* dy, float* dx, int64_t n) {
    blocked(n, [&](int64_t b, int64_t len) {
        ConstArrMap xs(x + b, len), d(dy + b, len);
        ArrMap(dx + b, len) = d * (0.5f * (1.0f + (xs * 0.70710678118654752440f).erf()) +
                                   xs * 0.39894228040143267794f * (-0.5f * xs.square()).exp());
    });
}

void tanh_forward_fast(const float* x, float* y, int64_t n) {
    blocked(n, [&](int64_t b, int64_t len) { ArrMap(y + b, len) = ConstArrMap(x + b, len).tanh(); });
}

void tanh_backward_fast(const float* y, const float* dy, float* dx, int64_t n) {
    blocked(n, [&](int64_t b, int64_t len) {
        ConstArrMap ys(y + b, len);
        ArrMap(dx + b, len) = ConstArrMap(dy + b, len) * (1.0f - ys.square());
    });
}

void embedding_forward_fast(const float* w, const int32_t* ids, float* out, int64_t n, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        std::memcpy(out + i * C, w + static_cast<int64_t>(ids[i]) * C, static_cast<size_t>(C) * sizeof(float));
}

void embedding_backward_fast(const float* dout, const int32_t* ids, float* dw, int64_t n, int64_t V, int64_t C) {
    // Zero in parallel, then each thread scatters its own column slice for all ids, in id order.
#pragma omp parallel for schedule(static)
    for (int64_t v = 0; v < V; ++v) std::memset(dw + v * C, 0, static_cast<size_t>(C) * sizeof(float));
#pragma omp parallel
    {
        int64_t c0, c1;
        thread_range(C, omp_get_thread_num(), omp_get_num_threads(), c0, c1);
        for (int64_t i = 0; i < n && c1 > c0; ++i) {
            float* row = dw + static_cast<int64_t>(ids[i]) * C;
            const float* src = dout + i * C;
#pragma omp simd
            for (int64_t c = c0; c < c1; ++c) row[c] += src[c];
        }
    }
}

}  // namespace qbert::engine::fast
