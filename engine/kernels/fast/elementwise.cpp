// Fast elementwise and row/column reductions: OpenMP over a fixed partition, inner loops vectorized by the
// compiler (`omp simd`). Reductions keep per-column accumulators so no thread ever shares an output.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
template <class Op>
void binary_loop(const float* a, const float* b, float* out, int64_t rows, int64_t cols, BLayout lay, Op f) {
    if (lay == BLayout::Scalar) {
        const int64_t n = rows * cols;
        const float y = b[0];
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], y);
        return;
    }
    if (lay == BLayout::Full) {
        const int64_t n = rows * cols;
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* ar = a + r * cols;
        float* orow = out + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) orow[c] = f(ar[c], b[c]);
    }
}
}  // namespace

void binary_forward_fast(BinaryOp op, const float* a, const float* b, float* out, int64_t rows, int64_t cols,
                         BLayout b_layout) {
    switch (op) {
        case BinaryOp::Add:
            return binary_loop(a, b, out, rows, cols, b_layout, [](float x, float y) { return x + y; });
        case BinaryOp::Sub:
            return binary_loop(a, b, out, rows, cols, b_layout, [](float x, float y) { return x - y; });
        case BinaryOp::Mul:
            return binary_loop(a, b, out, rows, cols, b_layout, [](float x, float y) { return x * y; });
        case BinaryOp::Div:
            return binary_loop(a, b, out, rows, cols, b_layout, [](float x, float y) { return x / y; });
    }
}

void sum_rows_fast(const float* x, float* out, int64_t R, int64_t C) {
    // Each thread owns a slice of columns and walks all rows top to bottom: fixed order, no shared writes.
#pragma omp parallel
    {
        int64_t c0, c1;
        thread_range(C, omp_get_thread_num(), omp_get_num_threads(), c0, c1);
        if (c1 > c0) {
            std::fill(out + c0, out + c1, 0.0f);
            for (int64_t r = 0; r < R; ++r) {
                const float* xr = x + r * C;
#pragma omp simd
                for (int64_t c = c0; c < c1; ++c) out[c] += xr[c];
            }
        }
    }
}

void sum_cols_fast(const float* x, float* out, int64_t R, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; ++r) {
        const float* xr = x + r * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; ++c) s += xr[c];
        out[r] = s;
    }
}

}  // namespace qbert::engine::fast
