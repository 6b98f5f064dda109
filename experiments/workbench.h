// A checkpoint together with the data it was trained on (the same validation split, the test split), and
// the operations the compression commands and sweeps share: evaluate, calibrate, fine-tune, save.
#pragma once

#include <memory>
#include <string>

#include "experiments/compress.h"
#include "model/train.h"

namespace qbert::experiments {

struct Workbench {
    std::unique_ptr<model::BertForSequenceClassification> m;
    model::TrainConfig cfg;
    std::unique_ptr<model::Tokenizer> tok;
    model::TrainValSets sets;
    model::Encoded test;

    explicit Workbench(const CompressOptions& o);
    // Replaces the model by the checkpoint at `path` (the data stay).
    void reload(const std::string& path);
    double test_accuracy();  // reported, never used to choose
    double val_accuracy();   // the validation split of the checkpoint's training data: what choices use
    // Forward passes over the first n training batches (no gradients), for calibration.
    void run_batches(int64_t n);
    // Fine-tunes in place for o.epochs at peak o.lr (o.warmup of the steps ramping up, then linear decay), with a
    // progress bar.
    void finetune(const CompressOptions& o, const char* what);
    // Saves the model with the training meta plus {extra_key: extra_json}.
    void save(const std::string& out, const std::string& extra_key, const std::string& extra_json);
};

// Forward passes (no gradients, no dropout) over the first n batches of `data` in seeded order: what calibration
// and global activation thresholds observe.
void run_batches(model::BertForSequenceClassification& m, const model::Encoded& data, int64_t batch_size, int64_t n,
                 uint64_t seed, int32_t pad_id);

}  // namespace qbert::experiments
