// Lab 3's objective (Tutorial 6 and its two tasks, mase-behaviour.md 2.10): over a trained checkpoint, every
// Linear (pooler and classifier included) chooses its own number format and that format's parameters, as
// trial parameters named after the layer ("bert.encoder.layer.0.attention.self.query:type",
// "...query:integer_width"); the trial quantizes the model so, fine-tunes it (QAT) on a short budget and
// returns validation accuracy, and, with two objectives, the model's total weight bits (shared block
// exponents included; passes::linear_weight_bits).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/workbench.h"
#include "model/compressed_linear.h"
#include "search/study.h"

namespace qbert::experiments {

struct MixedPrecisionOptions {
    CompressOptions base;  // checkpoint, data root, seed, threads, lr (QAT)
    // The per-layer choices: fp32 and/or format names (engine/ops/formats.h). Task (a): {"fp32", "integer"};
    // task (b): {"fp32", <one format>} per study; the Pareto study: "fp32" and every format.
    std::vector<std::string> choices{"fp32", "integer"};
    int64_t train_reviews = 256;  // QAT budget per trial: one epoch over this many training reviews
    int64_t eval_reviews = 500;   // validation reviews every trial (and the fp32 reference) is measured on
    bool bits_objective = false;  // also return the Linear weights' total bits (to minimise)
};

// The formats and parameter grids a layer may choose among (one small sensible grid per format).
const std::vector<std::string>& mixed_precision_formats();  // every format name, "integer" first
// The layer's format as the trial chose it (suggests `<layer>:<format>_<param>` parameters).
model::LinearQuantConfig suggest_layer_format(search::Trial& t, const std::string& layer, const std::string& format);

class MixedPrecisionObjective {
public:
    explicit MixedPrecisionObjective(MixedPrecisionOptions o);
    // {validation accuracy} or {validation accuracy, weight bits}. Records bits, bits_per_weight and the number
    // of quantized layers as user attributes.
    std::vector<double> operator()(search::Trial& t);
    // The checkpoint as it is (fp32), on the same validation reviews; and after the same QAT budget in fp32.
    double fp32_accuracy();
    double fp32_finetuned_accuracy();
    double fp32_bits() const { return fp32_bits_; }
    const std::vector<std::string>& layers() const { return layers_; }
    void set_choices(std::vector<std::string> c);
    void set_bits_objective(bool on) { o_.bits_objective = on; }
    std::string describe() const;  // the budget, for logs and study meta

private:
    double finetune_and_evaluate();
    MixedPrecisionOptions o_;
    Workbench w_;
    model::Encoded train_, eval_;
    std::vector<std::string> layers_;
    double fp32_bits_ = 0;
};

}  // namespace qbert::experiments
