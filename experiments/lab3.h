// Lab 3 end to end (Tutorial 6, mase-behaviour.md 2.10), from the base model: (a) per-layer mixed precision,
// fp32 or fixed point with width {8, 16, 32} and frac {2, 4, 8} per Linear, best-so-far accuracy vs trial;
// (b) one study per format (each Linear fp32 or that format, with the format's own small grid), one curve
// each on one figure; (c) accuracy against model bits from a two-objective study over every format, the
// Pareto front highlighted. All trials run in one SQLite file (DIR/lab3.db): rerunning the command resumes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/compress.h"

namespace qbert::experiments {

struct Lab3Options {
    CompressOptions base;  // checkpoint (trained when missing), data root, seed, threads, QAT lr
    std::string out = "runs/lab3", profile = "quick";
    // 0 = the profile's
    int64_t trials_a = 0, trials_b = 0, trials_c = 0, train_reviews = 0, eval_reviews = 0;
    std::vector<std::string> formats;  // task (b)'s formats (empty = every format)
    std::string sampler = "tpe";       // (a) and (b); (c) runs tpe in its multi-objective form (MOTPE)
    std::string pareto_sampler = "tpe";
};

int run_lab3(const Lab3Options& o);

}  // namespace qbert::experiments
