// Reference layer norm over the last dim, statistics in double (biased variance, as PyTorch/BERT).
#include <cmath>

#include "engine/kernels/ref/ref.h"

namespace qbert::engine::ref {

template <class T>
void layernorm_forward_ref(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, int64_t N,
                           int64_t C, double eps) {
    for (int64_t r = 0; r < N; ++r) {
        const T* xr = x + r * C;
        double m = 0.0;
        for (int64_t c = 0; c < C; ++c) m += xr[c];
        m /= static_cast<double>(C);
        double v = 0.0;
        for (int64_t c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
        v /= static_cast<double>(C);
        const double rs = 1.0 / std::sqrt(v + eps);
        for (int64_t c = 0; c < C; ++c)
            y[r * C + c] = static_cast<T>((xr[c] - m) * rs * gamma[c] + beta[c]);
        mean[r] = static_cast<T>(m);
        rstd[r] = static_cast<T>(rs);
    }
}

template <class T>
void layernorm_backward_ref(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy, T* dx,
                            T* dgamma, T* dbeta, int64_t N, int64_t C) {
    std::vector<double> dg(static_cast<size_t>(C), 0.0), db(static_cast<size_t>(C), 0.0);
    for (int64_t r = 0; r < N; ++r) {
        const T* xr = x + r * C;
        const T* dyr = dy + r * C;
        double mean_g = 0.0, mean_gx = 0.0;  // mean_c(g), mean_c(g * xhat)
        for (int64_t c = 0; c < C; ++c) {
            const double xhat = (xr[c] - mean[r]) * static_cast<double>(rstd[r]);
            const double g = static_cast<double>(dyr[c]) * gamma[c];
            mean_g += g;
            mean_gx += g * xhat;
            db[c] += dyr[c];
            dg[c] += dyr[c] * xhat;
        }
        mean_g /= static_cast<double>(C);
        mean_gx /= static_cast<double>(C);
        for (int64_t c = 0; c < C; ++c) {
            const double xhat = (xr[c] - mean[r]) * static_cast<double>(rstd[r]);
            const double g = static_cast<double>(dyr[c]) * gamma[c];
            dx[r * C + c] = static_cast<T>(rstd[r] * (g - mean_g - xhat * mean_gx));
        }
    }
    for (int64_t c = 0; c < C; ++c) {
        if (dgamma) dgamma[c] = static_cast<T>(dg[c]);
        if (dbeta) dbeta[c] = static_cast<T>(db[c]);
    }
}

template void layernorm_forward_ref<float>(const float*, const float*, const float*, float*, float*, float*,
                                           int64_t, int64_t, double);
template void layernorm_forward_ref<double>(const double*, const double*, const double*, double*, double*,
                                            double*, int64_t, int64_t, double);
template void layernorm_backward_ref<float>(const float*, const float*, const float*, const float*, const float*,
                                            float*, float*, float*, int64_t, int64_t);
template void layernorm_backward_ref<double>(const double*, const double*, const double*, const double*,
                                             const double*, double*, double*, double*, int64_t, int64_t);

}  // namespace qbert::engine::ref
