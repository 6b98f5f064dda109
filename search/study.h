// Optuna-shaped studies: define-by-run trials (suggest_int / suggest_float / suggest_categorical), ask / tell,
// optimize(objective, n_trials, timeout), best trial = the first strictly best COMPLETE trial (in the order
// trials finished). Everything a trial does is written to the Storage as it happens.
// A study may have several objectives (a list of directions, as Optuna's create_study(directions=...)): the
// objective then returns one value per objective, and best_trials() is the Pareto front.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "search/pruners.h"
#include "search/storage.h"

namespace qbert::search {

class Study;

// The objective throws this to end its trial as PRUNED (e.g. an architecture that cannot be built).
struct TrialPruned : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// How parameter values are chosen. Samplers see the study's trials as they were when the trial was asked for.
class Sampler {
public:
    virtual ~Sampler() = default;
    virtual std::string name() const = 0;
    // Right after a trial is created, before the objective runs (grid: pick a point; multivariate TPE: sample
    // every parameter of the shared search space jointly). Returns internal values keyed by name.
    virtual std::map<std::string, double> sample_relative(Study& study, FrozenTrial& trial) {
        return {};
    }
    // A parameter the relative step did not cover, the first time the trial asks for it.
    virtual double sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                                      const Distribution& d) = 0;
    // After a trial has finished and been stored (grid: stop the study once every point is taken).
    virtual void after_trial(Study& study, const FrozenTrial& trial) {}
};

// The other end of a trial whose study lives in another process (a distributed study: rank 0 owns the study,
// the sampler and the pruner; experiments/study_ranks.h). A remote Trial sends each change as a JSON request
// ({"op": "suggest" | "report" | "should_prune" | "user_attr", "trial": number, ...}) and the owner's Study
// answers it exactly as a local Trial's call would have; an answer {"error": text} is thrown as Error(text).
class TrialChannel {
public:
    virtual ~TrialChannel() = default;
    virtual nlohmann::json call(const nlohmann::json& request) = 0;
};
// Doubles in those messages: JSON has no NaN or infinity, so they travel as "nan", "inf", "-inf".
nlohmann::json wire_number(double v);
double wire_number(const nlohmann::json& j);

// The live handle an objective gets. Each parameter is sampled the first time its name is asked for and
// stored at once; asking again returns the same value.
class Trial {
public:
    int64_t number() const { return t_.number; }
    int64_t id() const { return t_.id; }
    const std::string& study_name() const;  // the study this trial belongs to
    int64_t suggest_int(const std::string& name, int64_t low, int64_t high, int64_t step = 1, bool log = false);
    double suggest_float(const std::string& name, double low, double high, bool log = false);
    nlohmann::json suggest_categorical(const std::string& name, const std::vector<nlohmann::json>& choices);
    std::string suggest_string(const std::string& name, const std::vector<std::string>& choices);
    nlohmann::json suggest(const std::string& name, const Distribution& d);  // any distribution
    // An intermediate value at a step >= 0 (also what TPE ranks PRUNED trials by), stored at once. A step
    // reported before keeps its first value (a warning on stderr), as in Optuna. Single-objective studies only.
    void report(double value, int64_t step);
    // Asks the study's pruner whether to stop now (false without a pruner). On true, end the trial by throwing
    // TrialPruned: it ends PRUNED with its last reported value. Single-objective studies only (as Optuna).
    bool should_prune();
    void set_user_attr(const std::string& key, const nlohmann::json& value);
    const FrozenTrial& frozen() const { return t_; }
    // A handle on a trial created by another process's Study (which sampled its relative parameters): the same
    // calls, each carried out by that Study through `channel`. `multi_objective`: the study's (report and
    // should_prune refuse several objectives here too).
    static Trial remote(TrialChannel& channel, FrozenTrial t, std::string study_name, bool multi_objective);

private:
    friend class Study;
    Trial(Study* s, FrozenTrial t, std::map<std::string, double> relative)
        : study_(s), t_(std::move(t)), relative_(std::move(relative)) {}
    bool multi_objective() const;
    Study* study_ = nullptr;
    FrozenTrial t_;
    std::map<std::string, double> relative_;
    TrialChannel* channel_ = nullptr;  // set: a remote trial (study_ is null)
    std::string remote_study_;
    bool remote_multi_ = false;
};

enum class OpenMode { Create, Load, CreateOrLoad };

struct OptimizeOptions {
    int64_t n_trials = 0;      // trials this call runs (0 = no limit)
    int64_t study_trials = 0;  // stop once the study holds this many trials, counting other processes' (0 = no limit)
    double timeout_s = 0.0;    // no new trial after this many seconds (0 = no limit)
    bool catch_errors = true;  // an exception in the objective fails the trial and the study goes on
};

class Study {
public:
    // Create: error if the study exists; Load: error if it does not; CreateOrLoad: either. A loaded study must
    // have the same direction(s); the error names both.
    Study(std::shared_ptr<Storage> storage, const std::string& name, Direction direction,
          std::shared_ptr<Sampler> sampler, OpenMode mode = OpenMode::CreateOrLoad,
          const nlohmann::json& meta = nlohmann::json::object());
    // A study with one objective per direction (one direction: the same as the constructor above).
    Study(std::shared_ptr<Storage> storage, const std::string& name, std::vector<Direction> directions,
          std::shared_ptr<Sampler> sampler, OpenMode mode = OpenMode::CreateOrLoad,
          const nlohmann::json& meta = nlohmann::json::object());

    const std::string& name() const { return rec_.name; }
    // The direction of a single-objective study; throws for a multi-objective one (as Optuna's study.direction).
    Direction direction() const;
    const std::vector<Direction>& directions() const { return rec_.directions; }
    bool multi_objective() const { return rec_.directions.size() > 1; }
    const nlohmann::json& meta() const { return rec_.meta; }
    Storage& storage() { return *storage_; }
    Sampler& sampler() { return *sampler_; }
    // The pruner Trial::should_prune asks (none by default: never prune). Single-objective studies only.
    void set_pruner(std::shared_ptr<Pruner> pruner);
    Pruner* pruner() const { return pruner_.get(); }

    Trial ask();
    // For the owner of a distributed study, before it samples for trial `number` among others still running:
    // re-reads the trials (what the running ones have sampled since) and, with a Hyperband pruner, makes
    // history() that trial's bracket, as ask() did when the trial was created.
    void refresh_history(int64_t number);
    // Ends the trial: COMPLETE with a finite value; a NaN/inf value makes it FAIL (as Optuna). In a
    // multi-objective study one value is the wrong count: FAIL.
    FrozenTrial tell(Trial& trial, double value);
    // One value per objective, as Optuna's tell(trial, values): any non-finite value, or a count other than the
    // number of objectives, makes the trial FAIL with the reason in system_attrs["reason"].
    FrozenTrial tell(Trial& trial, const std::vector<double>& values);
    // A state with an optional value; PRUNED takes the last reported value when it is finite (Optuna).
    FrozenTrial tell(Trial& trial, TrialState state, std::optional<double> value = std::nullopt,
                     const std::string& reason = "");

    using Objective = std::function<double(Trial&)>;
    using MultiObjective = std::function<std::vector<double>(Trial&)>;  // one value per objective
    using Callback = std::function<void(const Study&, const FrozenTrial&)>;
    // Runs trials until a limit in `o` is hit or stop() is called; returns how many this call ran.
    int64_t optimize(const Objective& objective, const OptimizeOptions& o, const Callback& on_trial_end = nullptr);
    int64_t optimize(const MultiObjective& objective, const OptimizeOptions& o, const Callback& on_trial_end = nullptr);
    // stop() ends the optimize() running now (Optuna's study.stop(), e.g. from a callback); the next optimize()
    // starts afresh: it calls reset_stop() first, and so does a distributed session (StudyRanks::optimize).
    void stop() { stop_ = true; }
    bool stopped() const { return stop_; }
    void reset_stop() { stop_ = false; }

    // Fresh from the storage. Finished trials never change, so only the trials from the first one not yet
    // finished onwards are read again (a long study does not re-read its whole history per trial).
    // The reference stays valid until the next call of trials() or ask().
    const std::vector<FrozenTrial>& trials() const;
    // The trials as of the last ask() (what samplers see): every state, ordered by number; the trial being
    // sampled is among them, RUNNING and without parameters. With a Hyperband pruner, only the trials of the
    // asked trial's bracket (Optuna's _BracketStudy).
    const std::vector<FrozenTrial>& history() const { return filtered_ ? view_ : cache_; }
    // The best trial of a single-objective study; throws for a multi-objective one (use best_trials()).
    std::optional<FrozenTrial> best_trial() const;
    static std::optional<FrozenTrial> best_of(const std::vector<FrozenTrial>& trials, Direction d);
    // The Pareto front (Optuna's best_trials): every COMPLETE trial that no other COMPLETE trial dominates
    // (no worse in every objective and strictly better in one), in trial-number order; trials with equal
    // values are all kept. For a single objective: every trial with the best value.
    std::vector<FrozenTrial> best_trials() const;
    static std::vector<FrozenTrial> pareto_front(const std::vector<FrozenTrial>& trials,
                                                 const std::vector<Direction>& directions);
    // The best value so far after each trial, in the order given (trial numbers, for a best-so-far curve):
    // entry i is the best value among the completed trials of trials[0..i] (nullopt until one completed).
    // The one definition every table and figure uses; best_of's rule (strictly better, per direction).
    static std::vector<std::optional<double>> best_so_far(const std::vector<FrozenTrial>& trials, Direction d);

    // RUNNING trials started by a process of this host that no longer exists are marked FAIL (a run killed with
    // kill -9 leaves them RUNNING). Returns their numbers. Trials of live processes or other hosts stay.
    std::vector<int64_t> fail_stale_trials();
    // The trials that count towards OptimizeOptions::study_trials: all but those failed as stale.
    int64_t counted_trials() const;

private:
    friend class Trial;
    template <class F>
    int64_t run_trials(const F& objective, const OptimizeOptions& o, const Callback& on_trial_end);
    FrozenTrial finish(Trial& trial, TrialState state, const std::vector<double>& values, const std::string& reason);
    std::shared_ptr<Storage> storage_;
    std::shared_ptr<Sampler> sampler_;
    std::shared_ptr<Pruner> pruner_;
    StudyRecord rec_;
    std::vector<FrozenTrial> view_;  // history() with a pruner that filters trials
    bool filtered_ = false;
    mutable std::vector<FrozenTrial> cache_;  // every trial as last read, index = number
    bool stop_ = false;
};

// A 64-bit hash for deriving per-(seed, trial, parameter) random streams: a resumed or parallel study draws
// the same values as one uninterrupted run would, whatever order the trials ran in.
uint64_t stream_seed(uint64_t seed, int64_t trial_number, const std::string& purpose);

// Small seeded generator for samplers (splitmix64 over a counter): uniform doubles with 53 random bits.
class SamplerRng {
public:
    explicit SamplerRng(uint64_t seed) : state_(seed) {}
    uint64_t next_u64();
    double uniform();  // [0, 1)
    uint64_t below(uint64_t n);

private:
    uint64_t state_;
};

}  // namespace qbert::search
