// The analysis pass: per layer and in total, parameters, non-zeros, sparsity, bits per weight and the size
// of the model as deployed (each tensor's non-zeros times its width; fp32 where not quantized). Sizes count
// values only (no sparse index overhead), the usual first-order estimate; the table says so.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "model/module.h"

namespace qbert::passes {

struct LayerStats {
    std::string name, type, format;  // format: the weight's number format ("fp32", "Q8.4", "block_fp w7 e8 b127 [1,16]")
    int64_t params = 0, nonzero = 0;
    double weight_bits = 32;  // bits per weight, shared block exponents included
    double bytes = 0;         // deployed size of this layer's parameters
    double sparsity() const { return params ? 1.0 - static_cast<double>(nonzero) / static_cast<double>(params) : 0.0; }
};

struct ModelStats {
    std::vector<LayerStats> layers;  // every Linear, then one row per other parameter group
    LayerStats total;
};

ModelStats analyze(const model::Module& model);
// The bits of every Linear weight in its format (fp32 where not quantized), shared exponents included: the
// "model bits" objective of Lab 3's accuracy-vs-bits search.
double linear_weight_bits(const model::Module& model);
void print_stats(std::ostream& os, const ModelStats& s);

}  // namespace qbert::passes
