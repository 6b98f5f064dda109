// Fast linear layer: the oneDNN matmuls of matmul.cpp on x and W ⊙ M. The mask costs one elementwise pass over
// the weight (out*in, small next to the rows*in*out of each matmul): W ⊙ M into the caller's scratch before
// the forward and the dx matmul, and dW *= M after the dW matmul.
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
// w_masked = W ⊙ M (a float multiply by 0 or 1, as ops/elementwise's mul does).
const float* mask_weight(const float* w, const uint8_t* mask, float* w_masked, int64_t n) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) w_masked[i] = w[i] * static_cast<float>(mask[i]);
    return w_masked;
}
}  // namespace

void linear_forward_fast(const float* x, const float* w, const uint8_t* mask, const float* b, float* y,
                         float* w_masked, int64_t rows, int64_t in, int64_t out, bool bf16) {
    const float* wm = mask ? mask_weight(w, mask, w_masked, out * in) : w;
    // y(rows,out) = x(rows,in) @ wm(out,in)^T + b
    matmul_forward_fast(x, wm, b, y, 1, rows, out, in, false, true, 0, bf16);
}

void linear_backward_fast(const float* x, const float* w, const uint8_t* mask, const float* dy, float* dx, float* dw,
                          float* db, float* w_masked, int64_t rows, int64_t in, int64_t out, bool bf16) {
    if (dx) {  // dx(rows,in) = dy(rows,out) @ wm(out,in)
        const float* wm = mask ? mask_weight(w, mask, w_masked, out * in) : w;
        matmul_forward_fast(dy, wm, nullptr, dx, 1, rows, in, out, false, false, 0, bf16);
    }
    if (dw) {  // dW(out,in) = dy^T(out,rows) @ x(rows,in), then M ⊙ dW
        matmul_forward_fast(dy, x, nullptr, dw, 1, out, in, rows, true, false, 0, bf16);
        if (mask) {
            const int64_t n = out * in;
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; ++i) dw[i] = dw[i] * static_cast<float>(mask[i]);
        }
    }
    if (db) sum_rows_fast(dy, db, rows, out);  // db(out) = sum over rows of dy
}

}  // namespace qbert::engine::fast
