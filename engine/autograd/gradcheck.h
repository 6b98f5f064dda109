// Gradient check: backward vs central finite differences, in double on the reference kernels.
//
// For a function f(inputs) -> out, picks a fixed random R (seeded) and compares, for every checked entry x_j
// of every input that requires grad,
//     analytic  d/dx_j sum(f(x) * R)   (one backward pass)
//     numeric   (L(x_j + eps) - L(x_j - eps)) / (2 eps)
// with |analytic - numeric| <= atol + rtol * |numeric| (PyTorch gradcheck's defaults: eps 1e-6, atol 1e-5,
// rtol 1e-3). Small inputs are checked entry by entry; large ones on a seeded random subset.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
    int64_t max_entries_per_input = 256;
    uint64_t seed = 0;
};

struct GradcheckResult {
    bool ok = true;
    int64_t checked = 0;
    std::string message;  // the first failure: input, flat index, analytic, numeric
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// inputs must be f64; those with requires_grad are checked.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions opt = {});

}  // namespace qbert::engine
