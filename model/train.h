// Training and evaluation of BertForSequenceClassification on IMDb, driven by a TrainConfig that is read
// from TOML (the format Mase's configs use) with command-line overrides (--set train.lr=5e-4).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/bert.h"
#include "model/imdb.h"

namespace qbert::model {

template <class C>
class ConfigFields;

// What fit() needs: the optimisation recipe (AdamW, linear warm-up then decay, gradient clipping).
struct FitOptions {
    int64_t epochs = 1, batch_size = 32, eval_batch_size = 32;
    double lr = 1e-4, warmup = 0.0, weight_decay = 0.01, grad_clip = 1.0;
    uint64_t seed = 0;  // batch order and dropout
    int32_t pad_id = 0;
    // Validation checks spread evenly over the whole run (0 = none beyond the one per epoch): check k of P
    // comes after step floor(k * total / P), the last one at the end; each calls TrainHooks::on_eval. A check
    // at the end of an epoch reuses that epoch's evaluation. For pruners (search/pruners.h).
    int64_t eval_points = 0;
    // Data-parallel (under mpirun, engine/dist): start summing finished gradients while backward goes on.
    bool ddp_overlap = true;
};

struct TrainConfig {
    BertConfig model;  // [model] preset = "tiny" plus any BertConfig field
    std::string preset = "tiny";
    // [data]
    std::string data_root = "data";
    std::string vocab = "data/vocab/bert-base-uncased-vocab.txt";
    int64_t max_len = 512;
    double val_fraction = 0.05;
    int64_t train_limit = 0;  // 0 = every training review
    int64_t test_limit = 0;   // 0 = the whole test split
    std::string cache_dir = ".cache/qbert";
    // [train]
    int64_t batch_size = 32;
    int64_t eval_batch_size = 32;
    int64_t epochs = 2;
    double lr = 1e-3;
    double warmup = 0.1;  // fraction of all steps
    double weight_decay = 0.01;
    double grad_clip = 1.0;
    uint64_t seed = 0;
    int threads = 2;
    std::string matmul_precision = "f32";  // "f32" | "bf16" (engine/core/config.h: QBERT_MATMUL)

    // Every field once, [model] preset first (config_fields.h): TOML, JSON and the valid-key lists come from it.
    static const ConfigFields<TrainConfig>& fields();
    // Reads a TOML file, then applies overrides "section.key=value". Unknown sections or keys, wrong types
    // and out-of-range values throw naming the file and line (or the --set) and section.key, with the valid
    // keys listed.
    static TrainConfig from_toml(const std::string& path, const std::vector<std::string>& overrides = {});
    static TrainConfig from_toml_string(const std::string& text, const std::string& source,
                                        const std::vector<std::string>& overrides = {});
    // {"preset", "model": {BertConfig}, "data": {...}, "train": {...}}; from_json reads it back, and fields the
    // JSON lacks (written before they existed) keep their defaults.
    std::string to_json() const;
    static TrainConfig from_json(const std::string& json, const std::string& source);
    // Every field's range, the model's own checks, and max_len <= model.max_position_embeddings.
    void validate(const std::string& where = "TrainConfig") const;
    FitOptions fit_options(int32_t pad_id) const;
    // The config a checkpoint was trained with (its meta "train_config", read by from_json); a meta without one
    // gives the defaults with the meta's max_len and vocab.
    static TrainConfig from_checkpoint_meta(const std::string& meta_json, const std::string& source);
};

struct EpochMetrics {
    int64_t epoch;
    double train_loss, train_accuracy, val_accuracy, seconds, seq_per_s;
};

struct EvalResult {
    double accuracy = 0.0;
    int64_t n = 0;
};

// Evaluates in length-sorted batches (no dropout, no graph).
EvalResult evaluate(BertForSequenceClassification& m, const Encoded& data, int64_t batch, int32_t pad_id,
                    std::vector<std::array<float, 2>>* logits_out = nullptr);

struct TrainHooks {
    std::function<void(int64_t step, int64_t total, double loss, double acc)> on_step;
    std::function<void(const EpochMetrics&)> on_epoch;
    std::function<void(const std::string&)> on_info;  // one-line facts: data sizes, tokenization time
    // FitOptions::eval_points: validation accuracy after `step` of `total` optimizer steps. May throw to end
    // training (a pruned trial: search::TrialPruned passes through fit unchanged).
    std::function<void(int64_t step, int64_t total, double val_accuracy)> on_eval;
};

// The data train() uses: the seeded, class-balanced train/validation split of the training reviews
// (train_limit applied to the training part). `on_info` gets one line on load/tokenize time and sizes.
struct TrainValSets {
    Encoded train, val;
};
TrainValSets load_train_val(const TrainConfig& cfg, const Tokenizer& tok,
                            const std::function<void(const std::string&)>& on_info = nullptr);

// The meta JSON a checkpoint carries (max_len, vocab, the whole training config), as train() and init write it.
std::string checkpoint_meta(const TrainConfig& cfg);

// Trains `m` in place for o.epochs, evaluating on val_set after each epoch; on_epoch_end(metrics, best) runs
// then (best = highest validation accuracy so far). A non-finite loss throws naming the epoch and step.
// Used by train() (from scratch) and by QAT / pruning fine-tuning (from a checkpoint).
std::vector<EpochMetrics> fit(BertForSequenceClassification& m, const Encoded& train_set, const Encoded& val_set,
                              const FitOptions& o, const TrainHooks& hooks = {},
                              const std::function<void(const EpochMetrics&, bool best)>& on_epoch_end = nullptr);

// metrics.csv (epoch,train_loss,train_accuracy,val_accuracy,seconds,seq_per_s) through a temp file.
void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& history);

// Trains, keeping the checkpoint with the best validation accuracy at out_dir/model.h5 and a row per epoch in
// out_dir/metrics.csv (both written to temp files and renamed). Returns the metrics.
std::vector<EpochMetrics> train(const TrainConfig& cfg, const std::string& out_dir, const TrainHooks& hooks = {});

// Loads a checkpoint written by train() or `qbert init`: the model (config from the file) and the meta JSON.
std::unique_ptr<BertForSequenceClassification> load_bert(const std::string& path, std::string* meta_json = nullptr);
void save_bert(const std::string& path, BertForSequenceClassification& m, const std::string& meta_json);
// meta_json with what load_bert needs to rebuild m's structure: "compression" (compression_state_json) and
// "identity_layers" (layers NAS replaced by Identity).
nlohmann::json checkpoint_structure_meta(const BertForSequenceClassification& m, const std::string& meta_json);

}  // namespace qbert::model
