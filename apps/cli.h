// The command lines of qbert's subcommand groups: each registers its options with CLI11 (bound to the
// experiments' option structs) and runs the selected command through experiments/. Nothing here but argument
// handling: the work is in the libraries.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

#include "experiments/compress.h"
#include "experiments/lab1.h"
#include "experiments/lab3.h"
#include "experiments/search_run.h"

namespace qbert::apps {

// quantize, prune, analyze, fake-quant (apps/compress.cpp)
struct CompressCommands {
    CLI::App *quantize = nullptr, *prune = nullptr, *analyze = nullptr, *fake_quant = nullptr, *export_ = nullptr, *prune_structured = nullptr;
    experiments::CompressOptions o;
};
void register_compress_commands(CLI::App& app, CompressCommands& c);
std::optional<int> run_compress_commands(const CompressCommands& c);  // nullopt: none of them was selected

// sweep quant, sweep prune, lab1 (apps/lab1.cpp)
struct Lab1Commands {
    CLI::App *sweep = nullptr, *sweep_quant = nullptr, *sweep_prune = nullptr, *lab1 = nullptr;
    experiments::SweepOptions o;
};
void register_lab1_commands(CLI::App& app, Lab1Commands& c);
std::optional<int> run_lab1_commands(const Lab1Commands& c);

// lab3 (apps/lab3.cpp)
struct Lab3Commands {
    CLI::App* lab3 = nullptr;
    experiments::Lab3Options o;
};
void register_lab3_commands(CLI::App& app, Lab3Commands& c);
std::optional<int> run_lab3_commands(const Lab3Commands& c);

// search, lab2, tpe-explain (apps/search_cmd.cpp)
struct SearchCommands {
    CLI::App *search = nullptr, *lab2 = nullptr, *tpe_explain = nullptr;
    experiments::SearchOptions s;
    experiments::Lab2Options l;
    experiments::TpeExplainOptions t;
};
void register_search_commands(CLI::App& app, SearchCommands& c);
std::optional<int> run_search_commands(const SearchCommands& c);

}  // namespace qbert::apps
