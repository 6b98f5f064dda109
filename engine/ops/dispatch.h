// Kernel choice for one op call: ref, fast, or both compared (QBERT_KERNELS, see core/config.h).
//
// Each op switches on the mode itself and calls its named kernels directly, so a debugger steps from the op
// straight into ref::<op>_<direction>_ref or fast::<op>_<direction>_fast (no std::function or lambda between):
//
//   KernelCall k("layernorm", "layernorm_forward", is_f32(x), Tolerance{1e-5, 1e-4});
//   switch (k.mode()) {
//       case KernelMode::Ref: ref::layernorm_forward_ref(x.data<float>(), ..., y.data<float>(), ...); break;
//       case KernelMode::Fast: fast::layernorm_forward_fast(x.data<float>(), ..., y.data<float>(), ...); break;
//       case KernelMode::Check: {  // ref into the outputs, fast into fresh twins, compared by finish()
//           ref::layernorm_forward_ref(x.data<float>(), ..., y.data<float>(), ...);
//           Tensor y_fast = k.check_output(y);
//           fast::layernorm_forward_fast(x.data<float>(), ..., y_fast.data<float>(), ...);
//           break;
//       }
//   }
//   k.finish({y, mean, rstd});
//
// KernelCall owns what is common to every call: the mode (`fast_ok` false, e.g. for f64 or a layout the fast
// kernel does not take, forces ref), the clock and the QBERT_VERBOSE line (kernel, impl, output shapes, ms),
// and check mode's comparison: each output is held to its fast twin element by element,
// |fast - ref| <= atol + rtol*|ref|, and the first difference throws KernelMismatch naming the kernel, output,
// flat index and both values. Both kernels write their outputs (=), they never accumulate.
#pragma once

#include <chrono>
#include <initializer_list>
#include <vector>

#include "engine/core/config.h"
#include "engine/tensor/tensor.h"

namespace qbert::engine {

struct Tolerance {
    double atol = 1e-5;
    double rtol = 1e-4;
};

class KernelCall {
public:
    // `family` picks the mode (QBERT_KERNELS=fast,layernorm=ref); `kernel` names the call in messages and
    // verbose lines.
    KernelCall(const char* family, const char* kernel, bool fast_ok, Tolerance tol = {});
    KernelMode mode() const { return mode_; }
    // Check mode: a fresh tensor like `out` for the fast kernel to write; finish() compares the two, with
    // `tol` if given, else the call's tolerance.
    [[nodiscard]] Tensor check_output(const Tensor& out);
    [[nodiscard]] Tensor check_output(const Tensor& out, Tolerance tol);
    // After the kernels ran: check mode compares every output that has a fast twin (throws KernelMismatch);
    // with QBERT_VERBOSE, prints "qbert_verbose,<kernel>,<impl>,<output shapes>,<ms>" to stderr.
    void finish(std::initializer_list<Tensor> outs = {});

private:
    struct Twin {
        Tensor ref, fast;
        Tolerance tol;
    };
    const char* kernel_;
    KernelMode mode_;
    Tolerance tol_;
    bool trace_;
    std::chrono::steady_clock::time_point t0_;
    std::vector<Twin> twins_;
};

// Throws KernelMismatch at the first element where fast and ref differ beyond tol.
void compare_outputs(const char* kernel, size_t output_index, const Tensor& ref, const Tensor& fast,
                     Tolerance tol);

}  // namespace qbert::engine
