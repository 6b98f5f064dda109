// How a study is shown while it runs and after: one line per finished trial, trials.csv, and the check that a
// resumed study keeps its settings. Shared by `qbert search` and `qbert lab2`.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "search/study.h"

namespace qbert::experiments {

// All trials of a study as a CSV (one row per trial, one column per parameter ever sampled), rewritten whole
// through a temp file; best_so_far follows trial numbers (search::Study::best_so_far).
void write_trials_csv(const std::string& path, const std::vector<search::FrozenTrial>& trials, search::Direction d);

// One line per finished trial: state, value, best so far, time, ETA over the trials still to run.
struct TrialReporter {
    int64_t target;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    int64_t ran = 0;
    void operator()(const search::Study& s, const search::FrozenTrial& t);
};

// A resumed study must be continued with the settings it was started with; names the first that differs.
void check_study_meta(const search::Study& s, const nlohmann::json& now);

}  // namespace qbert::experiments
