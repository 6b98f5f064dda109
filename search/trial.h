// A trial as stored: its number in the study, state, value(s), sampled parameters (internal form plus the
// distribution each came from), user/system attributes and reported intermediate values.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "search/distribution.h"

namespace qbert::search {

enum class TrialState { Running, Complete, Pruned, Fail };
const char* state_name(TrialState s);  // "running" | "complete" | "pruned" | "fail"
TrialState parse_state(const std::string& s);

enum class Direction { Maximize, Minimize };
const char* direction_name(Direction d);
Direction parse_direction(const std::string& s);  // throws naming the value and the valid ones
// Several directions, one per objective: "maximize,minimize" (commas, spaces around them allowed) and back.
std::vector<Direction> parse_directions(const std::string& s);  // throws naming the bad entry
std::string directions_name(const std::vector<Direction>& d);    // "maximize,minimize"

struct FrozenTrial {
    int64_t id = -1;      // row id in the storage
    int64_t number = -1;  // 0, 1, 2, ... within the study, in order of creation
    TrialState state = TrialState::Running;
    std::optional<double> value;  // a COMPLETE trial of a single-objective study (Optuna's trial.value)
    std::vector<double> values;   // every COMPLETE trial: one per objective (= {value} for a single objective)
    int64_t finish_order = -1;  // order of finishing within the study (best trial = first strictly best by this)
    std::map<std::string, double> params;
    std::map<std::string, Distribution> distributions;
    nlohmann::json user_attrs = nlohmann::json::object();
    nlohmann::json system_attrs = nlohmann::json::object();
    std::map<int64_t, double> intermediate;  // step -> value (Trial::report)
    std::string started, finished;           // UTC, ISO 8601
    double duration_s = 0.0;

    bool finished_ok() const { return state == TrialState::Complete || state == TrialState::Pruned; }
    bool complete() const { return state == TrialState::Complete && !values.empty(); }  // has its values
    bool has(const std::string& name) const { return params.count(name) != 0; }
    nlohmann::json external(const std::string& name) const;  // the value the objective saw
    nlohmann::json params_json() const;                      // {name: external value}
    // What a parameter stands for, for people: an objective that samples an index into a list (NAS: hidden_size
    // index 2) records the value it chose in user_attrs["param_values"] (hidden_size = 256); shown() gives that,
    // else the external value. Tables, trial lines and best-trial reports show these.
    nlohmann::json shown(const std::string& name) const;
    nlohmann::json shown_params() const;  // {name: shown(name)}
};

// Is `a` strictly better than `b` in this direction?
inline bool better(Direction d, double a, double b) { return d == Direction::Maximize ? a > b : a < b; }

}  // namespace qbert::search
