// A 2-hidden-layer MLP on a synthetic task: the engine's end-to-end demo until BERT lands, and the model
// behind the determinism test. The task: points in R^d, label = whether x0 * x1 > 0 after a fixed random
// rotation (XOR-like, so a linear model cannot solve it; an MLP reaches > 90% accuracy).
#pragma once

#include <functional>
#include <vector>

#include "model/module.h"

namespace qbert::model {

class Mlp : public Module {
public:
    Mlp(int64_t in, int64_t hidden, int64_t classes, engine::Rng& rng, double dropout);
    std::string type_name() const override { return "Mlp"; }
    // x:(N,in) -> logits:(N,classes); dropout draws from rng when training
    Tensor forward_logits(const Tensor& x, engine::Rng& rng);

private:
    double dropout_;
};

struct MlpDemoOptions {
    int64_t in = 8, hidden = 64, train_size = 4096, test_size = 1024, batch = 64, epochs = 5;
    double lr = 3e-3, weight_decay = 0.01, dropout = 0.1;
    uint64_t seed = 0;
};

struct MlpDemoResult {
    std::vector<float> losses;  // per step
    double test_accuracy = 0.0;
    engine::NamedTensors params;
};

// Trains with AdamW and linear warmup/decay; `on_step(step, total, loss)` reports progress.
MlpDemoResult run_mlp_demo(const MlpDemoOptions& opt,
                           const std::function<void(int64_t, int64_t, float)>& on_step = nullptr);

}  // namespace qbert::model
