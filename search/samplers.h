// The samplers of mase-behaviour.md section 6: random, grid and TPE (Optuna's defaults and algorithm), and for
// multi-objective studies Optuna's NSGA-II and multi-objective TPE.
// Every draw comes from a stream derived from (seed, trial number, parameter name), so a study is reproducible
// from its seed, also when it is resumed or shared by several processes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "search/study.h"

namespace qbert::search {

// Optuna's RandomSampler (6.2): int uniform over the steps, float uniform (log-uniform with log), categorical
// uniform over the choices.
class RandomSampler : public Sampler {
public:
    explicit RandomSampler(uint64_t seed = 0) : seed_(seed) {}
    std::string name() const override { return "random"; }
    double sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                              const Distribution& d) override;
    // one draw from `d` with `rng`, in internal form (also TPE's start-up draws)
    static double draw(const Distribution& d, SamplerRng& rng);

private:
    uint64_t seed_;
};

// Optuna's GridSampler (6.3): the Cartesian product of the lists, parameters sorted by name, shuffled once
// with the seed. Trial n takes point n while it is free, otherwise a random point no finished or running trial
// has; the study stops when none is left. A parameter the grid does not name is an error.
class GridSampler : public Sampler {
public:
    using Space = std::map<std::string, std::vector<nlohmann::json>>;
    GridSampler(Space space, uint64_t seed = 0);
    std::string name() const override { return "grid"; }
    std::map<std::string, double> sample_relative(Study& study, FrozenTrial& trial) override;
    double sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                              const Distribution& d) override;
    void after_trial(Study& study, const FrozenTrial& trial) override;
    int64_t size() const { return static_cast<int64_t>(order_.size()); }
    // Every point is taken by a finished or running trial (a distributed study waits for a running one to end:
    // a trial that fails frees its point).
    bool exhausted(const std::vector<FrozenTrial>& trials) const { return free_points(trials).empty(); }
    nlohmann::json point(int64_t grid_id) const;  // {name: value}

private:
    std::vector<int64_t> free_points(const std::vector<FrozenTrial>& trials) const;
    Space space_;
    std::vector<std::string> names_;  // sorted
    std::vector<int64_t> order_;      // shuffled flat indices into the product
    uint64_t seed_;
};

struct TpeOptions {
    int n_startup_trials = 10;
    int n_ei_candidates = 24;
    double prior_weight = 1.0;
    bool consider_magic_clip = true;
    bool consider_endpoints = false;
    bool multivariate = false;
    // Optuna's constant_liar: trials still RUNNING (elsewhere: a distributed study's other ranks) join the "above"
    // group with the parameters they have drawn so far, as if they had the worst value, so that concurrent
    // trials are not all sent to the same good region. They never count towards n or the start-up trials.
    bool constant_liar = false;
    enum class Gamma { Default, Hyperopt } gamma = Gamma::Default;
};

// Optuna's TPESampler (6.4-6.5): after n_startup_trials COMPLETE/PRUNED trials, the trials are split into the
// best gamma(n) ("below") and the rest ("above"); a Parzen estimator (one truncated Gaussian or categorical
// kernel per observation plus a prior) is fitted to each; 24 candidates are drawn from l(x) and the one with the
// highest log l(x) - log g(x) is taken. Univariate by default; `multivariate` samples the parameters every
// finished trial shares jointly (Optuna's multivariate=True bandwidths), the rest univariately.
// With several objectives it is Optuna 4.6's MOTPE (TPESampler in a multi-objective study): "below" = whole
// non-domination ranks while they fit in gamma(n), the rest of gamma(n) from the next rank by greedy
// hypervolume subset selection; the below trials weigh their hypervolume contributions (non-Pareto ones
// ~0), the above ones the default ramp. PRUNED trials only fill "below" when too few trials completed.
struct TpeExplanation;

class TpeSampler : public Sampler {
public:
    explicit TpeSampler(uint64_t seed = 0, TpeOptions o = {}) : seed_(seed), o_(o) {}
    std::string name() const override { return o_.multivariate ? "tpe-multivariate" : "tpe"; }
    const TpeOptions& options() const { return o_; }
    uint64_t seed() const { return seed_; }
    void set_constant_liar(bool on) { o_.constant_liar = on; }  // a distributed study's owner turns it on
    std::map<std::string, double> sample_relative(Study& study, FrozenTrial& trial) override;
    double sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                              const Distribution& d) override;
    // How univariate TPE picks parameter `name` of trial `trial_number`, step by step (qbert tpe-explain): the
    // split, l and g, the candidates and their scores. Computed by the code that samples, from the study's
    // trials as stored now (Study::trials()), with the stream sample_independent uses: `chosen` is what
    // sample_independent returns for that trial when the next ask() sees the same finished trials (the
    // running trials do not count, unless constant_liar puts them in the bad group). A multivariate sampler
    // picks the shared search space jointly in sample_relative; this explains only the univariate choice.
    TpeExplanation explain(const Study& study, int64_t trial_number, const std::string& name,
                           const Distribution& d) const;

    static int gamma(int64_t n, TpeOptions::Gamma g);
    static std::vector<double> weights(int64_t n);  // Optuna's default_weights
    // MOTPE's split and weights (exposed for tests): which COMPLETE trials are "below" (whole non-domination
    // ranks, then greedy hypervolume subset selection in the next rank), and the mixture weight of each below
    // trial (hypervolume contribution over the largest; 1e-12 off the Pareto front or without values).
    static std::vector<bool> below_by_rank(const std::vector<const FrozenTrial*>& complete,
                                           const std::vector<Direction>& directions, size_t n_below);
    static std::vector<double> below_weights(const std::vector<const FrozenTrial*>& below,
                                             const std::vector<Direction>& directions);

private:
    // sample_independent and explain: one parameter from `history` (why: filled when given)
    double sample_univariate(const std::vector<FrozenTrial>& history, const std::vector<Direction>& directions,
                             int64_t trial_number, const std::string& name, const Distribution& d,
                             TpeExplanation* why) const;
    uint64_t seed_;
    TpeOptions o_;
};

// The Parzen estimator of one group of observations over a set of parameters (one parameter when univariate),
// exposed for tests and for teaching: its components, sampling and log density.
class ParzenEstimator {
public:
    // observations[i][p]: internal value of parameter p in observation i (in trial-number order).
    // observation_weights: one mixture weight per observation before the prior's is appended and all are
    // normalised (empty: Optuna's default_weights ramp; MOTPE passes hypervolume contributions).
    ParzenEstimator(const std::vector<std::vector<double>>& observations, const std::vector<Distribution>& dists,
                    const TpeOptions& o, const std::vector<double>& observation_weights = {});
    std::vector<std::vector<double>> sample(SamplerRng& rng, int n) const;  // n points, internal form
    double log_pdf(const std::vector<double>& x) const;

    // per-parameter kernel parameters (numerical: mus / sigmas; categorical: probability rows)
    struct Kernel {
        bool categorical = false;
        double low = 0, high = 0, step = 0;  // transformed domain (log applied); step 0 = continuous
        bool log = false;
        std::vector<double> mus, sigmas;
        std::vector<std::vector<double>> probs;  // [component][choice]
    };
    const std::vector<double>& mixture_weights() const { return weights_; }
    const std::vector<Kernel>& kernels() const { return kernels_; }

private:
    std::vector<double> weights_;  // one per component (observations, then the prior)
    std::vector<Kernel> kernels_;  // one per parameter
};

// TpeSampler::explain's answer for one parameter of one trial. Values of the parameter are internal (the
// number itself; the index of the choice for a categorical).
struct TpeExplanation {
    struct Observation {
        int64_t number = -1;
        TrialState state = TrialState::Complete;
        std::vector<double> values;          // the objective value(s); empty for a PRUNED trial
        std::optional<double> last_reported;  // a PRUNED trial: its last intermediate value, if any
        std::optional<double> param;          // none: the trial lacks the parameter (it is left out of l / g)
    };
    struct Candidate {
        double x = 0.0;  // as scored: ints on their step grid
        double log_l = 0.0, log_g = 0.0;
        double score() const { return log_l - log_g; }
    };
    std::string name;
    Distribution distribution;
    int64_t trial_number = -1;
    int64_t n_finished = 0;    // COMPLETE + PRUNED trials
    int n_startup_trials = 0;
    bool startup = false;      // n_finished < n_startup_trials: `chosen` is a uniform random draw, nothing below
    int n_below = 0;           // gamma(n_finished): the size of the "below" (good) group
    std::vector<Observation> below, above;  // the good / bad trials, in trial-number order
    std::vector<Candidate> candidates;      // drawn from l, in draw order
    size_t chosen_index = 0;                // the first candidate with the highest score
    double chosen = 0.0;                    // what sample_independent returns
    std::optional<ParzenEstimator> l, g;    // fitted to below / above (none in the start-up phase)

    // log l(x) and log g(x) at an internal value x, as TPE scores it: a density over the parameter's own scale
    // (over log x for a log range), for an int the probability of its step cell, for a categorical of the choice.
    double log_l(double x) const;
    double log_g(double x) const;
    // Internal values over the whole range, for plotting l and g: n evenly spaced floats (evenly in log x for a
    // log range); every int step (or n of them, evenly, when there are more); every categorical choice.
    std::vector<double> grid(int n = 200) const;
};

struct NsgaIIOptions {
    int population_size = 50;
    std::optional<double> mutation_prob;  // none: 1 / max(1, number of parameters)
    double crossover_prob = 0.9;
    double swapping_prob = 0.5;
    // Parents by Deb's crowded tournament (lower non-domination rank, then larger crowding distance within the
    // parent population) instead of Optuna's (the first candidate if it dominates the second, else the second).
    bool crowded_tournament = false;
};

// Optuna's NSGAIISampler (4.6, defaults): generations of population_size COMPLETE trials, each trial's
// generation in system_attrs["nsga2:generation"] (a trial joins the newest generation until it has
// population_size complete trials). Generation 0 is random. The parents of generation g are the elite of
// generation g-1 plus g-1's parents: whole non-domination ranks while they fit, the last rank cut by crowding
// distance. A child: with crossover_prob, uniform crossover (swapping_prob per parameter) of two parents, each
// the winner of a binary tournament (distinct parents); otherwise a copy of a random parent. Each parameter is
// then, with mutation_prob, left out, so that it is drawn at random (Optuna's mutation=None). Parameters
// outside the space every COMPLETE trial shares are drawn at random as well. Random draws are
// RandomSampler's with the same seed.
class NsgaIISampler : public Sampler {
public:
    explicit NsgaIISampler(uint64_t seed = 0, NsgaIIOptions o = {});
    std::string name() const override { return "nsga2"; }
    std::map<std::string, double> sample_relative(Study& study, FrozenTrial& trial) override;
    double sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                              const Distribution& d) override;

    static constexpr const char* kGenerationKey = "nsga2:generation";
    // The survivors of `population` (Optuna's NSGAIIElitePopulationSelectionStrategy): whole non-domination
    // ranks while they fit in `size`, then the most crowded-apart trials of the next rank. Returns indices.
    static std::vector<size_t> select_elite(const std::vector<const FrozenTrial*>& population,
                                            const std::vector<Direction>& directions, size_t size);

private:
    int64_t generation_of(Study& study, FrozenTrial& trial) const;
    const std::vector<int64_t>& parents(const Study& study, int64_t generation);  // trial numbers
    std::map<std::string, double> crossover(const std::vector<const FrozenTrial*>& parents,
                                            const std::map<std::string, Distribution>& space,
                                            const std::vector<Direction>& directions, SamplerRng& rng) const;
    uint64_t seed_;
    NsgaIIOptions o_;
    // (study, generation) -> its parents, computed once per process (Optuna caches them in the study's system
    // attrs; recomputing gives the same parents for a study run or resumed sequentially)
    std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> parents_;
};

// Optuna's IntersectionSearchSpace: the parameters every finished trial of `history` has (COMPLETE ones, and
// PRUNED ones too with include_pruned, as TPE counts them), with one distribution throughout; single-valued
// distributions are left out (sample_independent draws them). Multivariate TPE and NSGA-II sample it jointly.
std::map<std::string, Distribution> intersection_search_space(const std::vector<FrozenTrial>& history,
                                                              bool include_pruned);

// A sampler by name: random | grid | tpe | tpe-multivariate | nsga2. The grid needs its space; other names throw
// listing the valid ones.
std::shared_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed, const GridSampler::Space& grid = {});

}  // namespace qbert::search
