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
// The same for a study with these directions: one direction gives exactly the file above; several give the
// columns value_0 .. value_{k-1} (one per objective, in order) and `pareto` (1 when the trial is on the Pareto
// front of `trials`) in place of value and best_so_far.
void write_trials_csv(const std::string& path, const std::vector<search::FrozenTrial>& trials,
                      const std::vector<search::Direction>& directions);
// The Pareto front (search::Study::pareto_front, in trial order): number, value_0 .. value_{k-1}, then the
// parameters as in trials.csv. Rewritten whole through a temp file.
void write_pareto_csv(const std::string& path, const std::vector<search::FrozenTrial>& trials,
                      const std::vector<search::Direction>& directions);

// One line per finished trial: state, value, best so far, time, ETA over the trials still to run (several
// objectives: every value and the size of the Pareto front so far).
struct TrialReporter {
    int64_t target;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    int64_t ran = 0;
    void operator()(const search::Study& s, const search::FrozenTrial& t);
};

// A resumed study must be continued with the settings it was started with; names the first that differs.
void check_study_meta(const search::Study& s, const nlohmann::json& now);

}  // namespace qbert::experiments
