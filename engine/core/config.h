// Run-time switches of the engine: which kernels run, how many threads, verbose op tracing.
//
// QBERT_KERNELS=ref|fast|check[,op=ref|fast|check...]   e.g. QBERT_KERNELS=fast,layernorm=ref
//   ref   : plain single-threaded loops (the source of truth; step through them in gdb)
//   fast  : oneDNN / Eigen / OpenMP kernels (default)
//   check : run both, compare, throw KernelMismatch at the first difference (op, output, index, values)
// Op names are the family names used by ops/: matmul, linear, elementwise (add/sub/mul/div), reduce (sum),
// softmax, layernorm, gelu, tanh, embedding, fake_quant, quantile, random_keep_mask, threshold_keep_mask,
// adamw, clip_grad_norm.
// QBERT_VERBOSE=1 prints one line per kernel call: kernel, impl, output shapes, milliseconds.
// QBERT_MATMUL=f32|bf16   precision of the operands of every float32 matmul (forward and backward):
//   f32  : as given (default)
//   bf16 : both operands rounded to bfloat16 (round to nearest even), products summed in fp32, fp32 result;
//          what PyTorch's CPU autocast does to matmuls. Parameters, gradients and every other op stay fp32.
//          Twice the matmul throughput on CPUs with AVX512-BF16; the reference kernel rounds the same way.
#pragma once

#include <string>
#include <string_view>

namespace qbert::engine {

enum class KernelMode { Ref, Fast, Check };

KernelMode kernel_mode(std::string_view op);
// Parses a spec such as "fast,layernorm=ref" (throws engine::Error naming the bad part).
void set_kernel_mode(std::string_view spec);
std::string kernel_mode_spec();
const char* kernel_mode_name(KernelMode m);

void set_num_threads(int n);
int num_threads();

bool verbose();
void set_verbose(bool on);

enum class MatmulPrecision { F32, BF16 };
MatmulPrecision matmul_precision();
void set_matmul_precision(std::string_view name);  // "f32" | "bf16" (throws engine::Error otherwise)
const char* matmul_precision_name(MatmulPrecision p);

}  // namespace qbert::engine
