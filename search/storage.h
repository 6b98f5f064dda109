// Studies and trials in one SQLite file. Every change is its own committed transaction, so a process killed at
// any moment (even kill -9) loses nothing that had finished; WAL mode and a busy timeout let several processes
// (later: several machines over a shared store) work on one study file at once. ":memory:" gives a private,
// in-memory store for tests and throwaway studies.
//
// Schema: studies(direction) holds the direction, or for a multi-objective study the comma-separated list
// ("maximize,minimize": a build without multi-objective support refuses such a study, naming that text);
// trials(value) holds a single objective's value, trial_values(trial_id, objective, value) the values of a
// multi-objective trial. Files written before multi-objective studies existed open unchanged (the
// trial_values table is added to them, empty).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "search/trial.h"

struct sqlite3;

namespace qbert::search {

struct StudyRecord {
    int64_t id = -1;
    std::string name;
    Direction direction = Direction::Maximize;  // the first objective's
    std::vector<Direction> directions{Direction::Maximize};  // one per objective
    nlohmann::json meta = nlohmann::json::object();  // what created it: sampler, seed, objective, space
};

class Storage {
public:
    explicit Storage(const std::string& path);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    const std::string& path() const { return path_; }
    std::optional<StudyRecord> find_study(const std::string& name) const;
    // Creates the study; if another process created it first, returns that one.
    StudyRecord create_study(const std::string& name, Direction direction, const nlohmann::json& meta);
    StudyRecord create_study(const std::string& name, const std::vector<Direction>& directions,
                             const nlohmann::json& meta);
    std::vector<std::string> study_names() const;

    // A new RUNNING trial with the next number, committed before this returns.
    FrozenTrial create_trial(int64_t study_id, const nlohmann::json& system_attrs);
    void set_param(int64_t trial_id, const std::string& name, double internal, const Distribution& d);
    void set_user_attr(int64_t trial_id, const std::string& key, const nlohmann::json& value);
    void set_system_attr(int64_t trial_id, const std::string& key, const nlohmann::json& value);
    void report(int64_t trial_id, int64_t step, double value);
    // RUNNING -> state (with the value for COMPLETE); throws if the trial had already finished.
    void finish_trial(int64_t trial_id, TrialState state, std::optional<double> value);
    // The same with one value per objective (one value: exactly as above; several: trial_values rows).
    void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values);
    // Ordered by number; with from_number, only trials numbered from there (numbers have no gaps).
    std::vector<FrozenTrial> trials(int64_t study_id, int64_t from_number = 0) const;
    FrozenTrial trial(int64_t trial_id) const;

private:
    void exec(const std::string& sql) const;
    std::string path_;
    sqlite3* db_ = nullptr;
};

}  // namespace qbert::search
