// The compression subcommands of `qbert`: quantize, prune, analyze, fake-quant.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace qbert::apps {

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
    // fake-quant
    std::string format = "integer";
    int width = 8, frac_width = 4;
    bool floor = false, is_unsigned = false, explain = false;
};

struct CompressCommands {
    CLI::App *quantize = nullptr, *prune = nullptr, *analyze = nullptr, *fake_quant = nullptr;
    CompressOptions o;
};

void register_compress_commands(CLI::App& app, CompressCommands& c);
// Runs the selected compression subcommand; nullopt when none of them was selected.
std::optional<int> run_compress_commands(const CompressCommands& c);

}  // namespace qbert::apps
