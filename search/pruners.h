// Pruners: stop unpromising trials early from the intermediate values they report, as Optuna's pruners do
// (optuna/pruners/, same rules and defaults; docs/search.md "Pruners"). An objective reports a value per step
// (Trial::report) and asks Trial::should_prune(); when it says yes, the objective throws TrialPruned and the
// trial ends PRUNED with its last intermediate value as its value (Optuna's _tell_with_warning).
//
//   none                Optuna's NopPruner: never prunes.
//   median              MedianPruner = PercentilePruner(50): prune when the trial's best intermediate value so
//                       far is worse than the median of the COMPLETE trials' values at the same step.
//   percentile          PercentilePruner(percentile): the same with another percentile (25 keeps the top 25%).
//   successive-halving  SuccessiveHalvingPruner (asynchronous SHA): rungs at min_resource * rf^(rate + k);
//                       a trial reaching a rung goes on only if it is in the top 1/rf of the values seen there.
//   hyperband           HyperbandPruner: several SHA brackets (min_early_stopping_rate 0..n-1), each trial in
//                       one of them by a hash of the study name and trial number; samplers and the pruner then
//                       see only the trials of the trial's bracket (Optuna's _BracketStudy).
//
// Settings have Optuna's names and defaults; make_pruner() checks them as Optuna's constructors do, and more:
// an unknown name or a value that is not a number is an error naming the setting and the valid ones.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "search/trial.h"

namespace qbert::search {

class Study;

class Pruner {
public:
    virtual ~Pruner() = default;
    virtual std::string name() const = 0;   // "median", "successive-halving", ...
    virtual nlohmann::json settings() const = 0;  // every setting, as given or defaulted (study meta)
    // Should `trial` (fresh from the storage, RUNNING, with its intermediate values) stop now? `trials` are the
    // study's trials as the pruner sees them (fresh from the storage; Hyperband: all, it filters itself). May
    // write system attributes of `trial` to the storage (successive halving: completed_rung_k).
    virtual bool prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) = 0;
    // Hyperband: does the sampler of trial `number` see trial `other`? (Optuna's pruners._filter_study.) Others:
    // every trial is seen.
    virtual bool filters_trials() const { return false; }
    virtual bool same_group(const Study& study, int64_t number, int64_t other) const { return true; }
};

class NopPruner : public Pruner {
public:
    std::string name() const override { return "none"; }
    nlohmann::json settings() const override { return nlohmann::json::object(); }
    bool prune(Study&, const std::vector<FrozenTrial>&, const FrozenTrial&) override { return false; }
};

struct PercentileSettings {
    double percentile = 50.0;      // 0..100: the top `percentile` percent are kept
    int64_t n_startup_trials = 5;  // no pruning until this many trials are COMPLETE
    int64_t n_warmup_steps = 0;    // no pruning before this step
    int64_t interval_steps = 1;    // check every interval_steps steps after the warm-up
    int64_t n_min_trials = 1;      // no pruning while fewer COMPLETE trials reported the current step
};

// Optuna's PercentilePruner (MedianPruner with percentile 50).
class PercentilePruner : public Pruner {
public:
    PercentilePruner(PercentileSettings s, std::string name = "percentile");
    std::string name() const override { return name_; }
    nlohmann::json settings() const override;
    bool prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) override;

private:
    PercentileSettings s_;
    std::string name_;
};

struct SuccessiveHalvingSettings {
    std::optional<int64_t> min_resource;  // none = "auto": max(last step of the longest COMPLETE trial / 100, 1)
    int64_t reduction_factor = 4;
    int64_t min_early_stopping_rate = 0;
    int64_t bootstrap_count = 0;  // a rung needs more than this many values before it can promote anyone
};

// Optuna's SuccessiveHalvingPruner. A trial at rung r reaching step min_resource * rf^(rate + r) records its
// value at that step as system attribute completed_rung_r; it survives if that value is among the top
// max(1, n / rf) of the n values recorded at rung r so far (its own included).
class SuccessiveHalvingPruner : public Pruner {
public:
    explicit SuccessiveHalvingPruner(SuccessiveHalvingSettings s);
    std::string name() const override { return "successive-halving"; }
    nlohmann::json settings() const override;
    bool prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) override;

private:
    SuccessiveHalvingSettings s_;
    std::optional<int64_t> min_resource_;  // resolved (auto: from the first COMPLETE trial with steps)
};

struct HyperbandSettings {
    int64_t min_resource = 1;
    std::optional<int64_t> max_resource;  // none = "auto": last step of the longest COMPLETE trial + 1
    int64_t reduction_factor = 3;
    int64_t bootstrap_count = 0;
};

// Optuna's HyperbandPruner: floor(log_rf(max/min)) + 1 brackets; bracket s gets a share of the trials
// proportional to ceil(n_brackets * rf^(n-1-s) / (n-s)), chosen by crc32("<study name>_<trial number>").
// Until a COMPLETE trial tells max_resource ("auto"), there are no brackets yet and every trial is in
// bracket 0 (as in Optuna).
class HyperbandPruner : public Pruner {
public:
    explicit HyperbandPruner(HyperbandSettings s);
    std::string name() const override { return "hyperband"; }
    nlohmann::json settings() const override;
    bool prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) override;
    bool filters_trials() const override { return true; }
    bool same_group(const Study& study, int64_t number, int64_t other) const override;
    int64_t bracket_of(const std::string& study_name, int64_t number) const;  // 0 before the brackets exist
    int64_t n_brackets() const { return static_cast<int64_t>(brackets_.size()); }

private:
    void try_initialize(const std::vector<FrozenTrial>& trials);
    HyperbandSettings s_;
    std::vector<SuccessiveHalvingPruner> brackets_;
    std::vector<int64_t> budgets_;  // trial allocation budget per bracket
    int64_t total_budget_ = 0;
};

// "none" | "median" | "percentile" | "successive-halving" | "hyperband" with settings by Optuna's names
// ("n_startup_trials" -> "5", "min_resource" -> "auto"). Throws naming the bad name or setting.
std::shared_ptr<Pruner> make_pruner(const std::string& name, const std::map<std::string, std::string>& settings = {});
// "key=value" -> (key, value); throws naming the text when there is no '='.
std::pair<std::string, std::string> parse_setting(const std::string& text);
const std::vector<std::string>& pruner_names();

// CRC-32 (IEEE 802.3, as zlib's and Python's binascii.crc32), for Hyperband's bracket choice.
uint32_t crc32(const std::string& bytes);

}  // namespace qbert::search
