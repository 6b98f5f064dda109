// The prune pass (mase-behaviour.md section 3): a fixed weight mask per Linear and, optionally, activation
// pruning computed on every call.
//
//   [weight]      sparsity in [0, 1], method = "random" | "l1-norm", scope = "local" | "global",
//   [activation]  granularity = "elementwise" (the only one); both sections required, as in Mase.
//
// random: each weight dropped independently with probability `sparsity` (seeded; the realised sparsity is only
//         near the target). l1-norm local: t = quantile(|W|, sparsity) with linear interpolation, keep |W| > t
//         (ties pruned). l1-norm global: one t over all layers' |W| together. Activations: local thresholds
//         are taken over the whole input tensor on each call; global ones once, over the inputs every layer saw
//         on the calibration batches (Mase uses one dummy batch). Every Linear is pruned, pooler and classifier
//         included; Identity layers are skipped. Pruning a quantized layer keeps its quantization: mask first,
//         then quantize.
#pragma once

#include <functional>
#include <optional>

#include "model/compressed_linear.h"
#include "passes/toml_util.h"

namespace qbert::passes {

struct PruneSpec {
    double sparsity = 0.0;
    model::PruneMethod method = model::PruneMethod::Random;
    model::PruneScope scope = model::PruneScope::Local;
};

struct PruneConfig {
    PruneSpec weight, activation;

    static PruneConfig from_toml(const toml::table& root, const std::string& source);
    static PruneConfig from_file(const std::string& path);
};

std::string prune_method_name(model::PruneMethod m);

struct PrunedLayer {
    std::string name;
    int64_t weights = 0, kept = 0;
};

// Prunes every Linear under `model`. `rng` seeds the random masks. `run_calibration` (needed only for global
// activation pruning) runs a few forward passes; the pass observes every layer's input during it.
std::vector<PrunedLayer> prune(model::Module& model, const PruneConfig& cfg, engine::Rng& rng,
                               const std::function<void()>& run_calibration = nullptr);

}  // namespace qbert::passes
