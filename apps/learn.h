// Commands for learners (experiments/explain.h): `qbert explain-step`, and `qbert prune --explain`, whose flags
// are added to the prune command that apps/compress.cpp registers.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

#include "experiments/compress.h"
#include "experiments/explain.h"

namespace qbert::apps {

struct LearnCommands {
    CLI::App *explain_step = nullptr, *prune = nullptr;
    bool prune_explain = false;
    experiments::PruneExplainOptions p;
    experiments::ExplainStepOptions s;
};
// `prune` is the prune command (its --checkpoint, --config and --seed are read from `compress`).
void register_learn_commands(CLI::App& app, LearnCommands& c, CLI::App* prune);
std::optional<int> run_learn_commands(const LearnCommands& c, const experiments::CompressOptions& compress);

}  // namespace qbert::apps
