// Reference matmul: the textbook triple loop (i, k, j order so the inner loop walks rows of b and c).
#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void matmul_forward_ref(const T* a, const T* b, const T* bias, T* c, int64_t batch, int64_t M, int64_t N,
                        int64_t K, bool ta, bool tb, int64_t b_batch_stride) {
    for (int64_t p = 0; p < batch; ++p) {
        const T* ap = a + p * M * K;
        const T* bp = b + p * b_batch_stride;
        T* cp = c + p * M * N;
        for (int64_t i = 0; i < M; ++i) {
            T* crow = cp + i * N;
            for (int64_t j = 0; j < N; ++j) crow[j] = bias ? bias[j] : T(0);
            for (int64_t k = 0; k < K; ++k) {
                const T aik = ta ? ap[k * M + i] : ap[i * K + k];  // a is (K,M) when transposed
                for (int64_t j = 0; j < N; ++j) {
                    const T bkj = tb ? bp[j * K + k] : bp[k * N + j];  // b is (N,K) when transposed
                    crow[j] += aik * bkj;
                }
            }
        }
    }
}

template void matmul_forward_ref<float>(const float*, const float*, const float*, float*, int64_t, int64_t,
                                        int64_t, int64_t, bool, bool, int64_t);
template void matmul_forward_ref<double>(const double*, const double*, const double*, double*, int64_t, int64_t,
                                         int64_t, int64_t, bool, bool, int64_t);

}  // namespace qbert::engine::ref
