// The objectives `qbert search` and `qbert lab2` plug into search/: NAS over Tutorial 5's space (every trial
// trains a BERT from random init on a budget and returns validation accuracy) and compression-aware NAS (the
// same, then Mase's CompressionPipeline: 8-bit fixed point, 50% L1 weight + activation pruning; optionally
// trained again after compression).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "model/train.h"
#include "search/study.h"

namespace qbert::apps {

// Tutorial 5's lists (mase-behaviour.md 4.1); the trial samples an index into each.
struct NasSpace {
    static inline const std::vector<int64_t> layers{2, 4, 8}, heads{2, 4, 8, 16}, hidden{128, 192, 256, 384, 512},
        intermediate{512, 768, 1024, 1536, 2048};
};

struct NasOptions {
    // the choices per size (Tutorial 5's by default; tests use others)
    std::vector<int64_t> layers = NasSpace::layers, heads = NasSpace::heads, hidden = NasSpace::hidden,
                         intermediate = NasSpace::intermediate;
    // "model": the four size indices (a fixed space, 300 points: the grid sampler can walk it);
    // "layers": also a linear-or-identity choice per square Linear (Tutorial 5's space; dynamic names).
    std::string space = "layers";
    bool compress = false;           // compression-aware: quantize (Q8.4) + prune (0.5 L1, local) after training
    int64_t post_train_epochs = 0;   // compression-aware: training epochs after compression
    double post_train_lr = 1e-4;
    bool test = true;                // also measure test accuracy (recorded, never the objective)
    // A directory of trained models, one checkpoint per architecture (model space only; empty = none). A trial
    // whose architecture has a checkpoint there loads it instead of training: training is a function of the
    // architecture alone (same init seed, data order and recipe), so this only saves time. Every training
    // done here is saved there. lab2 shares one between Task 1 and both compression-aware studies of Task 2.
    std::string trained_dir;
};

class NasObjective {
public:
    // Loads and tokenizes the data once (cfg: data paths, limits, max_len and the training recipe).
    NasObjective(model::TrainConfig cfg, NasOptions o, const std::function<void(const std::string&)>& info = nullptr);
    // Trains the trial's architecture; returns validation accuracy. Records test_accuracy, parameters,
    // the architecture and, when compressing, the accuracy before compression as user attributes.
    double operator()(search::Trial& t);
    // The model a trial describes (suggests the trial's parameters). Throws search::TrialPruned when hidden is
    // not divisible by the heads.
    std::unique_ptr<model::BertForSequenceClassification> build(search::Trial& t) const;
    // Suggests the four size indices (the whole model-level space); returns {name: index}.
    nlohmann::json suggest_sizes(search::Trial& t) const;
    // The model of the last trial that finished training (for saving the best one).
    model::BertForSequenceClassification* last_model() { return last_.get(); }
    std::string checkpoint_meta() const;
    // Where the trained model of an architecture ({num_hidden_layers, ...}, as build() records it) is kept.
    std::string trained_path(const nlohmann::json& architecture) const;
    const model::TrainConfig& config() const { return cfg_; }

private:
    model::TrainConfig cfg_;
    NasOptions o_;
    std::unique_ptr<model::Tokenizer> tok_;
    model::TrainValSets sets_;
    model::Encoded test_;
    std::unique_ptr<model::BertForSequenceClassification> last_;
};

}  // namespace qbert::apps
