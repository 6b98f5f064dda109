#include "engine/ops/dispatch.h"

#include <cmath>
#include <cstdio>

#include "engine/autograd/graph.h"

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

KernelCall::KernelCall(const char* family, const char* kernel, bool fast_ok, Tolerance tol)
    : kernel_(kernel), mode_(fast_ok ? kernel_mode(family) : KernelMode::Ref), tol_(tol), trace_(verbose()) {
    if (trace_) t0_ = std::chrono::steady_clock::now();
}

Tensor KernelCall::check_output(const Tensor& out) { return check_output(out, tol_); }

Tensor KernelCall::check_output(const Tensor& out, Tolerance tol) {
    Tensor fast = Tensor::empty(out.shape(), out.dtype());
    twins_.push_back(Twin{out, fast, tol});
    return fast;
}

void KernelCall::finish(std::initializer_list<Tensor> outs) {
    // outputs are numbered in the order given here (the order of the kernel's arguments)
    size_t index = 0, compared = 0;
    for (const Tensor& o : outs) {
        for (const Twin& t : twins_)
            if (t.ref.impl_ptr() == o.impl_ptr()) {
                compare_outputs(kernel_, index, t.ref, t.fast, t.tol);
                ++compared;
            }
        ++index;
    }
    ENGINE_ASSERT(compared == twins_.size(), kernel_, ": a check_output twin is missing from finish()'s outputs");
    if (graph::noting()) graph::note_kernel(kernel_, kernel_mode_name(mode_));
    if (trace_) {
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
        std::string shapes;
        for (const Tensor& o : outs) shapes += (shapes.empty() ? "" : " ") + o.str();
        std::fprintf(stderr, "qbert_verbose,%s,%s,%s,%.4f\n", kernel_, kernel_mode_name(mode_), shapes.c_str(), ms);
    }
}

}  // namespace qbert::engine
