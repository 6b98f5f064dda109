// Search spaces written in TOML (one table per parameter, as `qbert search --space` reads them) and the `exec`
// objective: run a user command per trial with the sampled parameters, read the value(s) from its last line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "search/samplers.h"

namespace qbert::search {

// [x]                          [n]                        [act]
// type = "float"               type = "int"               type = "categorical"
// low = -5.0                   low = 1                    choices = ["relu", "gelu"]
// high = 10.0                  high = 8
// log = false                  step = 1
// grid = [-5.0, 0.0, 5.0]      (optional: the values the grid sampler tries; ints and categoricals default to all)
struct SearchSpace {
    std::vector<std::pair<std::string, Distribution>> params;  // in name order
    std::map<std::string, std::vector<nlohmann::json>> grid_values;

    // Errors name the file, the parameter and the key (unknown keys list the valid ones).
    static SearchSpace from_toml_file(const std::string& path);
    static SearchSpace from_toml_string(const std::string& text, const std::string& source);
    // Suggests every parameter, in order; returns {name: value}.
    nlohmann::json suggest_all(Trial& t) const;
    // The grid: explicit `grid` lists, else every int (at most 10,000 values) and every choice; a float without
    // `grid` is an error naming it.
    GridSampler::Space grid() const;
};

struct ExecResult {
    int exit_code = 0;
    std::string last_line;
    std::optional<double> value;  // one objective
    std::vector<double> values;   // every objective, in order (= {value} for one)
    std::string error;            // why there are no values
    bool pruned = false;          // on_report said stop: the command was stopped at pruned_step
    int64_t pruned_step = -1;
};

// An intermediate value the command reported (a line `report STEP VALUE`); returns true to stop the command
// (the trial is pruned).
using ReportFn = std::function<bool(int64_t step, double value)>;

// Runs `command` with /bin/sh -c after replacing every {name} of a parameter by its value (strings that are not
// plain words are single-quoted), with the parameters as one JSON object on stdin and in QBERT_TRIAL_PARAMS,
// and QBERT_TRIAL_NUMBER set. The child's stdout passes through to ours (prefixed with `echo_prefix` unless that
// is empty) and its last non-empty line must be a number, or with n_values > 1 exactly n_values numbers
// separated by spaces and/or commas (one per objective, in order). Stderr passes through. The command runs in
// its own process group; with timeout_s > 0 the group is stopped (SIGTERM, SIGKILL 2 s later) once that many
// seconds have passed, and the result is a failure (exit code 124). A SIGINT/SIGTERM/SIGHUP we receive
// meanwhile is passed on to the group.
// A line `report STEP VALUE` (STEP an integer >= 0, VALUE a number, nan allowed) is an intermediate value: it
// goes to on_report (when given) and is never the last line; when on_report returns true the command is
// stopped (SIGTERM to its group, SIGKILL 2 s later) and the result says pruned. A malformed report line stops
// the command and fails the trial, naming the line.
ExecResult run_exec(const std::string& command, const nlohmann::json& params, int64_t trial_number,
                    const std::string& echo_prefix = "  | ", double timeout_s = 0.0, size_t n_values = 1,
                    const ReportFn& on_report = nullptr);
// The numbers of a multi-value line ("0.91 12", "0.91,12", "0.91, 12"); throws naming what is wrong: a field
// that is not a number, a count other than n_values, a non-finite value.
std::vector<double> parse_values(const std::string& line, size_t n_values);
std::string substitute(const std::string& command, const nlohmann::json& params);

}  // namespace qbert::search
