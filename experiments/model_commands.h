// The commands on one model: train, eval, predict, tokenize, init, import-hf, inspect, and the engine demo.
// apps/main.cpp parses their command lines; each prints its result lines on stdout and returns the exit code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/mlp_demo.h"

namespace qbert::experiments {

int run_demo(model::MlpDemoOptions o, const std::string& out);  // o.seed drives everything
int run_train(const std::string& config, const std::vector<std::string>& sets, const std::string& out);
// Int8Mode::On runs the fixed-point Linear layers of <= 8 bits on int8 operands (model::set_integer_inference);
// Compare evaluates both ways and prints how many logits and predictions differ.
enum class Int8Mode { Off, On, Compare };
int run_eval(const std::string& ckpt, const std::string& split, int64_t limit, const std::string& data_root,
             const std::string& vocab, int threads, Int8Mode int8 = Int8Mode::Off);
int run_predict(const std::string& ckpt, const std::string& text, const std::string& vocab, int threads,
                bool int8 = false);
int run_tokenize(const std::string& vocab, int64_t max_len);
int run_init(const std::string& config, const std::vector<std::string>& sets, const std::string& out);
int run_import_hf(const std::string& dir, const std::string& out, uint64_t seed);
int run_inspect(const std::string& path);

}  // namespace qbert::experiments
