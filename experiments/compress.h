// The compression jobs behind `qbert quantize`, `prune`, `analyze` and `fake-quant` (apps/compress.cpp
// registers their command lines): each loads a checkpoint into a Workbench, applies a pass, reports accuracy
// lines and saves the result.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>

#include "engine/serialization/checkpoint.h"
#include "model/bert.h"

namespace qbert::experiments {

struct CompressOptions {
    std::string checkpoint, config, out, data_root = "data";
    int64_t epochs = 0;          // --qat-epochs / --finetune-epochs
    double lr = 1e-4;            // fine-tuning peak learning rate
    double warmup = 0.0;         // fine-tuning: fraction of the steps the lr ramps up over (0: Mase's linear decay)
    int64_t train_limit = 0;     // fine-tune on the first N training reviews (0 = all)
    int64_t test_limit = 0;      // evaluate on the first N test reviews (0 = all 25,000)
    bool calibrate = false;      // quantize: pick frac widths from ranges seen on training batches
    int64_t calib_batches = 8;
    uint64_t seed = 0;
    int threads = 2;
    // prune-structured (passes/structured.h)
    double heads = 0.0, neurons = 0.0;
    std::string importance = "l1", scope = "local";
    int speed_iters = 10;  // timed inference steps (batch 32, seq 128) before and after; 0 = no timing
    // export (model/export.h)
    bool export_int8 = false, export_sparse = false, fp32_embeddings = false;
    double sparse_min = 0.75;
    // fake-quant (the number format, as `qbert fake-quant --help` lists)
    std::string format = "integer";
    int width = 8, frac_width = 4;
    bool floor = false, is_unsigned = false, explain = false;
    std::optional<int> exponent_width, exponent_bias, exponent_bias_width;
    std::string block_size;  // "16" or "1,16"
    std::string shape;       // "R,C": the values as a row-major matrix (default: one vector)
    bool skip_first_dim = false, stochastic = false, scaling = false;
};

// Each prints its result lines on stdout ("accuracy_before=0.8677 n=25000", ...) and returns the exit code.
int run_quantize(const CompressOptions& o);
int run_prune(const CompressOptions& o);
int run_analyze(const CompressOptions& o);
// qbert prune-structured: removes heads and neurons (passes/structured.h), fine-tunes, prints accuracy and
// inference speed before and after (speedup=...), and saves the smaller model.
int run_prune_structured(const CompressOptions& o);
// Inference throughput of `m` on random tokens (batch 32, seq 128, no gradients): seq/s, median of 3 rounds.
double inference_seq_per_s(model::BertForSequenceClassification& m, int iters, uint64_t seed);
// qbert export: writes o.out from o.checkpoint (model/export.h), prints each exported layer and the sizes.
int run_export(const CompressOptions& o);
// The bytes each layer takes in the file `path` (datasets grouped by layer, from `ck`, that file loaded), and the
// file's total.
void print_file_bytes(const engine::Checkpoint& ck, const std::string& path, std::ostream& os);
// The whitespace-separated numbers of `in` -> their quantized values, one per line (%.9g), in input order;
// with o.explain, each step.
int run_fake_quant(const CompressOptions& o, std::istream& in);

}  // namespace qbert::experiments
