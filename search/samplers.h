// The samplers of mase-behaviour.md section 6: random, grid and TPE (Optuna's defaults and algorithm).
// Every draw comes from a stream derived from (seed, trial number, parameter name), so a study is reproducible
// from its seed, also when it is resumed or shared by several processes.
#pragma once

#include <map>
#include <memory>
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
    enum class Gamma { Default, Hyperopt } gamma = Gamma::Default;
};

// Optuna's TPESampler (6.4-6.5): after n_startup_trials COMPLETE/PRUNED trials, the trials are split into the
// best gamma(n) ("below") and the rest ("above"); a Parzen estimator (one truncated Gaussian or categorical
// kernel per observation plus a prior) is fitted to each; 24 candidates are drawn from l(x) and the one with the
// highest log l(x) - log g(x) is taken. Univariate by default; `multivariate` samples the parameters every
// finished trial shares jointly (Optuna's multivariate=True bandwidths), the rest univariately.
class TpeSampler : public Sampler {
public:
    explicit TpeSampler(uint64_t seed = 0, TpeOptions o = {}) : seed_(seed), o_(o) {}
    std::string name() const override { return o_.multivariate ? "tpe-multivariate" : "tpe"; }
    std::map<std::string, double> sample_relative(Study& study, FrozenTrial& trial) override;
    double sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                              const Distribution& d) override;

    static int gamma(int64_t n, TpeOptions::Gamma g);
    static std::vector<double> weights(int64_t n);  // Optuna's default_weights

private:
    uint64_t seed_;
    TpeOptions o_;
};

// The Parzen estimator of one group of observations over a set of parameters (one parameter when univariate),
// exposed for tests and for teaching: its components, sampling and log density.
class ParzenEstimator {
public:
    // observations[i][p]: internal value of parameter p in observation i (in trial-number order).
    ParzenEstimator(const std::vector<std::vector<double>>& observations, const std::vector<Distribution>& dists,
                    const TpeOptions& o);
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

// A sampler by name: random | grid | tpe | tpe-multivariate. The grid needs its space; other names throw
// listing the valid ones.
std::shared_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed, const GridSampler::Space& grid = {});

}  // namespace qbert::search
