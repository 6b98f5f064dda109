#include "engine/ops/mask.h"

#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"

namespace qbert::engine {

using detail::contig;

Tensor random_keep_mask(const Shape& shape, uint64_t seed, double sparsity, DType dtype) {
    ENGINE_CHECK(is_floating(dtype), "random_keep_mask: a floating dtype is required, but got ", dtype_name(dtype));
    ENGINE_CHECK(sparsity >= 0.0 && sparsity <= 1.0, "random_keep_mask: sparsity must be in [0, 1], but got ",
                 sparsity);
    Tensor mask = Tensor::empty(shape, dtype);
    const int64_t n = mask.numel();
    const float s = static_cast<float>(sparsity);  // compared with hash_uniform's float in [0, 1)
    // element by element, exact: fast and ref agree bit for bit
    KernelCall k("random_keep_mask", "random_keep_mask", dtype == DType::F32, Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (dtype == DType::F64)
                ref::random_keep_mask_ref(mask.data<double>(), n, seed, s);
            else
                ref::random_keep_mask_ref(mask.data<float>(), n, seed, s);
            break;
        case KernelMode::Fast:
            fast::random_keep_mask_fast(mask.data<float>(), n, seed, s);
            break;
        case KernelMode::Check: {
            ref::random_keep_mask_ref(mask.data<float>(), n, seed, s);
            Tensor mask_fast = k.check_output(mask);
            fast::random_keep_mask_fast(mask_fast.data<float>(), n, seed, s);
            break;
        }
    }
    k.finish({mask});
    return mask;
}

Tensor threshold_keep_mask(const Tensor& x_in, double t) {
    detail::check_same_floating("threshold_keep_mask", {&x_in});
    Tensor x = contig(x_in);
    Tensor mask = Tensor::empty(x.shape(), x.dtype());
    const int64_t n = x.numel();
    KernelCall k("threshold_keep_mask", "threshold_keep_mask", x.dtype() == DType::F32, Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (x.dtype() == DType::F64)
                ref::threshold_keep_mask_ref(x.data<double>(), mask.data<double>(), n, t);
            else
                ref::threshold_keep_mask_ref(x.data<float>(), mask.data<float>(), n, t);
            break;
        case KernelMode::Fast:
            fast::threshold_keep_mask_fast(x.data<float>(), mask.data<float>(), n, t);
            break;
        case KernelMode::Check: {
            ref::threshold_keep_mask_ref(x.data<float>(), mask.data<float>(), n, t);
            Tensor mask_fast = k.check_output(mask);
            fast::threshold_keep_mask_fast(x.data<float>(), mask_fast.data<float>(), n, t);
            break;
        }
    }
    k.finish({mask});
    return mask;
}

}  // namespace qbert::engine
