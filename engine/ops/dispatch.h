// Kernel choice for one op call: ref, fast, or both compared (QBERT_KERNELS, see core/config.h).
//
// Both kernels write the same output tensors (they never accumulate). In check mode the fast kernel writes
// into fresh buffers; each output is compared element by element with |fast - ref| <= atol + rtol*|ref|,
// and the first difference throws KernelMismatch naming the op, output, flat index and both values.
#pragma once

#include <functional>
#include <vector>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

struct Tolerance {
    double atol = 1e-5;
    double rtol = 1e-4;
};

using KernelFn = std::function<void(std::vector<Tensor>& outs)>;

// `family` picks the mode (QBERT_KERNELS=fast,layernorm=ref); `kernel` names the call in messages and
// verbose lines. `fast_ok` is false when the fast kernel cannot take these inputs (f64, odd layout).
void run_kernel(const char* family, const char* kernel, std::vector<Tensor> outs, const KernelFn& ref,
                const KernelFn& fast, bool fast_ok, Tolerance tol = {});

// Throws KernelMismatch at the first element where fast and ref differ beyond tol.
void compare_outputs(const char* kernel, size_t output_index, const Tensor& ref, const Tensor& fast,
                     Tolerance tol);

}  // namespace qbert::engine
