// Reference sparse linear kernel (ops/sparse.h): for each token and each output, the dot product of the token with
// the output's kept weights, read straight from the CSR arrays. What the fast kernel (fast/sparse.cpp) must equal,
// and what to step through to see a pruned layer skip its zeros.
#include <cmath>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

void linear_sparse_forward_ref(const float* x, const int32_t* row_ptr, const int32_t* col, const float* val,
                               const float* b, float* y, int64_t rows, int64_t in, int64_t out) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * in;
        for (int64_t o = 0; o < out; ++o) {
            float acc = 0.0f;
            for (int32_t p = row_ptr[o]; p < row_ptr[o + 1]; ++p) acc = std::fma(val[p], xr[col[p]], acc);
            y[r * out + o] = b ? acc + b[o] : acc;
        }
    }
}

}  // namespace qbert::engine::ref
