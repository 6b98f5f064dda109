// The objectives `qbert search` and `qbert lab2` plug into search/: NAS over Tutorial 5's space (every trial
// trains a BERT from random init on a budget and returns validation accuracy) and compression-aware NAS (the
// same, then Mase's CompressionPipeline: the quantize and prune passes with the configs of
// configs/compress/ (Q8.4, 50% L1 weight + activation pruning by default); optionally trained again after
// compression). search/ knows nothing of tensors; this is where the search meets the model and the passes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "experiments/objectives/trained_cache.h"
#include "model/train.h"
#include "passes/prune.h"
#include "passes/quantize.h"
#include "search/samplers.h"
#include "search/study.h"

namespace qbert::experiments {

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
    bool compress = false;           // compression-aware: quantize + prune after training, with these configs:
    std::string quant_config = "configs/compress/quant-q8.4.toml";  // Mase Tutorial 3: every Linear Q8.4
    std::string prune_config = "configs/compress/prune-l1-0.5.toml";  // Tutorial 4: 50% L1, weights + inputs
    int64_t post_train_epochs = 0;   // compression-aware: training epochs after compression
    double post_train_lr = 1e-4;
    bool test = true;                // also measure test accuracy (recorded, never the objective)
    // A TrainedCache directory (model space only; empty = none): trained weights per architecture and each
    // objective's result per architecture, reused instead of training or recomputing. lab2 shares one between
    // every study of Task 1 and Task 2.
    std::string trained_dir;
    // Validation checks during each trial's training (model::FitOptions::eval_points), each reported to the
    // study (Trial::report at its optimizer step) and followed by should_prune() except at the end. A pruned
    // trial ends PRUNED at that check. 0 = none. With a trained_dir, each architecture's curve is kept
    // (complete or up to where it was pruned) and replayed to the pruner by later trials of that
    // architecture, which then train only if the replay does not prune them.
    int64_t eval_points = 0;
    // Every trial records user attribute cost_seconds: what it would have taken with nothing reused (a reused
    // result: its original training; pruned from a kept curve: the training up to that check). Lab 2's
    // time axes add these up.
    // Names the objective and its settings (in the cache and in lab2's study meta): "nas-model",
    // "compression-aware-post1"; other compression configs or lr than the defaults add a hash of them.
    std::string tag() const;
};

// The grid over the model-level NAS space: every index of o's four lists (Tutorial 5's by default).
search::GridSampler::Space nas_grid(const NasOptions& o = {});

class NasObjective {
public:
    // Loads and tokenizes the data once (cfg: data paths, limits, max_len and the training recipe).
    NasObjective(model::TrainConfig cfg, NasOptions o, const std::function<void(const std::string&)>& info = nullptr);
    // Trains the trial's architecture (or reuses the cache); returns validation accuracy. Records
    // test_accuracy, parameters, the architecture and, when compressing, the accuracy before compression as
    // user attributes; a reused result also records reused_from (the study#trial that computed it).
    double operator()(search::Trial& t);
    // The model a trial describes (suggests the trial's parameters). Throws search::TrialPruned when hidden is
    // not divisible by the heads.
    std::unique_ptr<model::BertForSequenceClassification> build(search::Trial& t) const;
    // Suggests the four size indices (the whole model-level space); returns {name: index}.
    nlohmann::json suggest_sizes(search::Trial& t) const;
    // The model of the last trial that finished training (for saving the best one).
    model::BertForSequenceClassification* last_model() { return last_.get(); }
    std::string checkpoint_meta() const;
    const model::TrainConfig& config() const { return cfg_; }

private:
    double train_and_compress(search::Trial& t, std::unique_ptr<model::BertForSequenceClassification>& m);
    // Reports a kept curve [[step, accuracy], ...] to the pruner as training would (throws TrialPruned when it
    // prunes); `complete`: the last point is the end of training and is not a pruning check.
    void replay(search::Trial& t, const nlohmann::json& curve, bool complete) const;
    std::string curve_tag() const { return "curve-p" + std::to_string(o_.eval_points); }
    model::TrainConfig cfg_;
    NasOptions o_;
    std::string tag_;  // o_.tag(), read once (it may hash the compression configs' files)
    std::unique_ptr<TrainedCache> cache_;
    passes::QuantizeConfig quant_;
    passes::PruneConfig prune_;
    std::unique_ptr<model::Tokenizer> tok_;
    model::TrainValSets sets_;
    model::Encoded test_;
    std::unique_ptr<model::BertForSequenceClassification> last_;
};

}  // namespace qbert::experiments
