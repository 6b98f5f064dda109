// A checkpoint together with the data it was trained on (the same validation split, the test split), and
// the operations the compression commands and sweeps share: evaluate, calibrate, fine-tune, save.
#pragma once

#include <memory>
#include <string>

#include "apps/compress.h"
#include "model/train.h"

namespace qbert::apps {

struct Workbench {
    std::unique_ptr<model::BertForSequenceClassification> m;
    model::TrainConfig cfg;
    std::unique_ptr<model::Tokenizer> tok;
    model::TrainValSets sets;
    model::Encoded test;

    explicit Workbench(const CompressOptions& o);
    // Replaces the model by the checkpoint at `path` (the data stay).
    void reload(const std::string& path);
    double test_accuracy();
    // Forward passes over the first n training batches (no gradients), for calibration.
    void run_batches(int64_t n);
    // Fine-tunes in place for o.epochs at peak o.lr (o.warmup of the steps ramping up, then linear decay), with a
    // progress bar.
    void finetune(const CompressOptions& o, const char* what);
    // Saves the model with the training meta plus {extra_key: extra_json}.
    void save(const std::string& out, const std::string& extra_key, const std::string& extra_json);
};

}  // namespace qbert::apps
