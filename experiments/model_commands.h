// The commands on one model: train, eval, predict, tokenize, init, import-hf, inspect, and the engine demo.
// apps/main.cpp parses their command lines; each prints its result lines on stdout and returns the exit code.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "model/mlp_demo.h"
#include "model/module.h"

namespace qbert::experiments {

int run_demo(model::MlpDemoOptions o, const std::string& out);  // o.seed drives everything
int run_train(const std::string& config, const std::vector<std::string>& sets, const std::string& out);
// How a model runs at inference. int8: the fixed-point Linear layers of <= 8 bits on int8 operands
// (model::set_integer_inference); sparse: pruned Linear layers of at least sparse_min sparsity on the CSR kernel
// (model::set_sparse_inference); compare: evaluate once without them and once with them, and print how many
// logits and predictions differ.
struct DeployOptions {
    bool int8 = false;
    bool sparse = false;
    double sparse_min = 0.75;
    bool compare = false;
    bool any() const { return int8 || sparse; }
};
int run_eval(const std::string& ckpt, const std::string& split, int64_t limit, const std::string& data_root,
             const std::string& vocab, int threads, const DeployOptions& deploy = {});
int run_predict(const std::string& ckpt, const std::string& text, const std::string& vocab, int threads,
                const DeployOptions& deploy = {});
// Turns on what `d` asks for in `m` (a model loaded from `ckpt`; nothing is turned off, so an export keeps its
// kernels) and prints which layers run how on `out`; asking for a path no layer qualifies for is an error (it
// would silently measure the float model).
void enable_deploy(model::Module& m, const std::string& ckpt, const DeployOptions& d, FILE* out = stdout);
int run_tokenize(const std::string& vocab, int64_t max_len);
int run_init(const std::string& config, const std::vector<std::string>& sets, const std::string& out);
int run_import_hf(const std::string& dir, const std::string& out, uint64_t seed);
int run_inspect(const std::string& path);

}  // namespace qbert::experiments
