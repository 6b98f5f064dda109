#include "engine/ops/dispatch.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "engine/core/config.h"

namespace qbert::engine {

void compare_outputs(const char* kernel, size_t output_index, const Tensor& ref, const Tensor& fast,
                     Tolerance tol) {
    const std::vector<double> r = ref.to_vector_f64();
    const std::vector<double> f = fast.to_vector_f64();
    for (size_t i = 0; i < r.size(); ++i) {
        const bool both_nan = std::isnan(r[i]) && std::isnan(f[i]);
        if (both_nan) continue;
        if (!(std::fabs(f[i] - r[i]) <= tol.atol + tol.rtol * std::fabs(r[i]))) {
            throw KernelMismatch(detail::concat(
                "kernel check failed: ", kernel, " output ", output_index, " ", ref.str(), " at flat index ", i,
                ": ref=", r[i], " fast=", f[i], " (atol=", tol.atol, " rtol=", tol.rtol,
                ")\nhint: rerun with QBERT_KERNELS=ref to continue on the reference kernels"));
        }
    }
}

void run_kernel(const char* family, const char* kernel, std::vector<Tensor> outs, const KernelFn& ref,
                const KernelFn& fast, bool fast_ok, Tolerance tol) {
    KernelMode mode = fast_ok ? kernel_mode(family) : KernelMode::Ref;
    const bool trace = verbose();
    const auto t0 = trace ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    switch (mode) {
        case KernelMode::Ref: ref(outs); break;
        case KernelMode::Fast: fast(outs); break;
        case KernelMode::Check: {
            std::vector<Tensor> fast_outs;
            for (const Tensor& o : outs) fast_outs.push_back(Tensor::empty(o.shape(), o.dtype()));
            ref(outs);
            fast(fast_outs);
            for (size_t i = 0; i < outs.size(); ++i) compare_outputs(kernel, i, outs[i], fast_outs[i], tol);
            break;
        }
    }
    if (trace) {
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::string shapes;
        for (const Tensor& o : outs) shapes += (shapes.empty() ? "" : " ") + o.str();
        std::fprintf(stderr, "qbert_verbose,%s,%s,%s,%.4f\n", kernel, kernel_mode_name(mode), shapes.c_str(), ms);
    }
}

}  // namespace qbert::engine
