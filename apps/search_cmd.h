// `qbert search` (one study: NAS, compression-aware NAS or any command via exec) and `qbert lab2` (Lab 2 end
// to end: samplers compared over seeds, then compression-aware search, with figures).
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "search/samplers.h"

namespace qbert::apps {

struct SearchOptions {
    std::string objective;            // nas | compression-aware | exec
    std::string sampler = "tpe";      // random | grid | tpe | tpe-multivariate
    int64_t trials = 20;              // the study's total (a resumed study runs only the missing ones)
    double timeout = 0.0;             // seconds; 0 = none
    uint64_t seed = 0;
    std::string storage = "runs/search/study.db", study, out;
    bool resume = false;
    int64_t post_train_epochs = 0;
    double post_train_lr = 1e-4;
    std::string direction = "maximize";  // exec
    std::string space_file, exec_cmd;    // exec
    double exec_timeout = 0.0;           // exec: seconds per trial; 0 = none
    std::string nas_space = "layers";    // nas: model | layers
    std::string config = "configs/nas-quick.toml";
    std::vector<std::string> sets;
};

struct Lab2Options {
    std::string out = "runs/lab2", profile = "quick";
    int64_t seeds = 0, trials = 0, ca_trials = 0;  // 0 = the profile's
    std::vector<std::string> samplers{"random", "grid", "tpe"};
    std::vector<std::string> sets;
    int threads = 2;
    int jobs = 1;            // studies run at once, each in its own process (apps/workers.h)
    std::string only_study;  // set in those worker processes: run this one study and stop
    bool keep_trained = false;  // keep DIR/trained (one checkpoint per trained architecture) after the lab
};

struct SearchCommands {
    CLI::App *search = nullptr, *lab2 = nullptr;
    SearchOptions s;
    Lab2Options l;
};

void register_search_commands(CLI::App& app, SearchCommands& c);
int run_lab2(const Lab2Options& o);  // lab2.cpp

// Shared by search and lab2:
// all trials of a study as a CSV (one row per trial, one column per parameter ever sampled), rewritten whole
// through a temp file; best_so_far follows trial numbers.
void write_trials_csv(const std::string& path, const std::vector<search::FrozenTrial>& trials, search::Direction d);
// one line per finished trial: state, value, best so far, time, ETA over the trials still to run
struct TrialReporter {
    int64_t target;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    int64_t ran = 0;
    void operator()(const search::Study& s, const search::FrozenTrial& t);
};
// the grid over the model-level NAS space: every index of the four lists
search::GridSampler::Space nas_grid();
// a resumed study must be continued with the settings it was started with; names the first that differs
void check_study_meta(const search::Study& s, const nlohmann::json& now);
std::optional<int> run_search_commands(const SearchCommands& c);

}  // namespace qbert::apps
