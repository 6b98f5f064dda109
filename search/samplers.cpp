#include "search/samplers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "search/multi_objective.h"

namespace qbert::search {

using json = nlohmann::json;

// ---------------------------------------------------------------- random

double RandomSampler::draw(const Distribution& d, SamplerRng& rng) {
    switch (d.kind) {
    case Distribution::Kind::Categorical: return static_cast<double>(rng.below(d.choices.size()));
    case Distribution::Kind::Float:
        if (d.log) return std::clamp(std::exp(std::log(d.low) + rng.uniform() * (std::log(d.high) - std::log(d.low))), d.low, d.high);
        return d.low + rng.uniform() * (d.high - d.low);
    case Distribution::Kind::Int: {
        if (d.log) {  // uniform in log space over the cells [v - 1/2, v + 1/2], then rounded
            const double lo = std::log(d.low - 0.5), hi = std::log(d.high + 0.5);
            return std::clamp(std::round(std::exp(lo + rng.uniform() * (hi - lo))), d.low, d.high);
        }
        const double s = d.step;
        const double u = (d.low - s / 2) + rng.uniform() * (d.high - d.low + s);
        return std::clamp(std::nearbyint((u - d.low) / s) * s + d.low, d.low, d.high);
    }
    }
    return 0.0;
}

double RandomSampler::sample_independent(const Study&, const FrozenTrial& trial, const std::string& name,
                                         const Distribution& d) {
    SamplerRng rng(stream_seed(seed_, trial.number, name));
    return draw(d, rng);
}

// ---------------------------------------------------------------- grid

GridSampler::GridSampler(Space space, uint64_t seed) : space_(std::move(space)), seed_(seed) {
    if (space_.empty()) throw Error("grid sampler: the grid is empty (give at least one parameter with its values)");
    double size = 1.0;
    for (const auto& [name, values] : space_) {
        if (values.empty()) throw Error("grid sampler: parameter '" + name + "' has an empty list of values");
        for (size_t i = 0; i < values.size(); ++i)
            for (size_t k = 0; k < i; ++k)
                if (values[k] == values[i])
                    throw Error("grid sampler: parameter '" + name + "' lists " + values[i].dump() + " twice");
        names_.push_back(name);  // std::map: already sorted by name, as Optuna sorts the grid
        size *= static_cast<double>(values.size());
    }
    if (size > 5e7) throw Error("grid sampler: the grid has " + std::to_string(size) + " points; at most 5e7");
    order_.resize(static_cast<size_t>(size));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    SamplerRng rng(stream_seed(seed_, -1, "grid-shuffle"));
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);  // Fisher-Yates
}

json GridSampler::point(int64_t grid_id) const {
    int64_t flat = order_.at(static_cast<size_t>(grid_id));
    json p = json::object();
    for (size_t i = names_.size(); i-- > 0;) {  // last name varies fastest (itertools.product order)
        const auto& values = space_.at(names_[i]);
        const auto n = static_cast<int64_t>(values.size());
        p[names_[i]] = values[static_cast<size_t>(flat % n)];
        flat /= n;
    }
    return p;
}

std::vector<int64_t> GridSampler::free_points(const std::vector<FrozenTrial>& trials) const {
    std::vector<char> taken(order_.size(), 0);
    for (const auto& t : trials)  // failed trials give their point back
        if ((t.finished_ok() || t.state == TrialState::Running) && t.system_attrs.contains("grid_id")) {
            const auto g = t.system_attrs["grid_id"].get<int64_t>();
            if (g >= 0 && g < size()) taken[static_cast<size_t>(g)] = 1;
        }
    std::vector<int64_t> free;
    for (int64_t g = 0; g < size(); ++g)
        if (!taken[static_cast<size_t>(g)]) free.push_back(g);
    return free;
}

std::map<std::string, double> GridSampler::sample_relative(Study& study, FrozenTrial& trial) {
    const auto free = free_points(study.history());
    int64_t g;
    if (trial.number < size() && std::binary_search(free.begin(), free.end(), trial.number)) {
        g = trial.number;
    } else {
        SamplerRng rng(stream_seed(seed_, trial.number, "grid"));
        if (free.empty()) {
            std::fprintf(stderr, "grid sampler: every point is taken; trial %ld repeats a random one\n", long(trial.number));
            g = static_cast<int64_t>(rng.below(order_.size()));
        } else {
            g = free[rng.below(free.size())];
        }
    }
    trial.system_attrs["grid_id"] = g;
    study.storage().set_system_attr(trial.id, "grid_id", g);
    return {};
}

double GridSampler::sample_independent(const Study&, const FrozenTrial& trial, const std::string& name,
                                       const Distribution& d) {
    if (!space_.count(name)) {
        std::string names;
        for (const auto& n : names_) names += (names.empty() ? "" : ", ") + n;
        throw Error("grid sampler: the objective asks for parameter '" + name + "', which the grid does not list (grid: " +
                    names + "); a grid needs a fixed space that names every parameter");
    }
    const json v = point(trial.system_attrs.at("grid_id").get<int64_t>()).at(name);
    const double internal = d.to_internal(v, name);
    if (!d.contains(internal))
        std::fprintf(stderr, "grid sampler: value %s of '%s' is outside %s; used anyway (as Optuna)\n", v.dump().c_str(),
                     name.c_str(), d.describe().c_str());
    return internal;
}

void GridSampler::after_trial(Study& study, const FrozenTrial&) {
    if (free_points(study.trials()).empty()) study.stop();
}

// ---------------------------------------------------------------- normal distribution helpers

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kLogSqrt2Pi = 0.5 * std::log(2.0 * M_PI);

double norm_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double log_norm_cdf(double z) {
    if (z > -30.0) return std::log(norm_cdf(z));
    // asymptotic series of the Mills ratio, where erfc underflows
    const double z2 = z * z;
    return -0.5 * z2 - std::log(-z) - kLogSqrt2Pi + std::log1p(-1.0 / z2 + 3.0 / (z2 * z2));
}

// log(Phi(b) - Phi(a)) for a < b, accurate in both tails
double log_gauss_mass(double a, double b) {
    if (b <= a) return -kInf;
    if (a >= 0.0) return log_gauss_mass(-b, -a);  // mirror into the lower tail
    if (b <= 0.0) {
        const double lb = log_norm_cdf(b), la = log_norm_cdf(a);
        return lb + std::log1p(-std::exp(la - lb));
    }
    return std::log1p(-norm_cdf(a) - norm_cdf(-b));  // straddles 0: the mass is not small
}

// Inverse of the standard normal CDF (Acklam's rational approximation, refined by one Halley step).
double norm_ppf(double p) {
    if (p <= 0.0) return -kInf;
    if (p >= 1.0) return kInf;
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        const double q = std::sqrt(-2 * std::log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        const double q = std::sqrt(-2 * std::log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        const double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    const double e = norm_cdf(x) - p;
    const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

// A standard normal draw truncated to [a, b] by inverse CDF (u in [0, 1)), worked in the tail it lies in.
double trunc_norm_ppf(double a, double b, double u) {
    if (a >= 0.0) return -trunc_norm_ppf(-b, -a, 1.0 - u);
    const double pa = norm_cdf(a), pb = norm_cdf(b);
    return std::clamp(norm_ppf(pa + u * (pb - pa)), a, b);
}

double logsumexp(const std::vector<double>& v) {
    double m = -kInf;
    for (double x : v) m = std::max(m, x);
    if (!std::isfinite(m)) return m;
    double s = 0;
    for (double x : v) s += std::exp(x - m);
    return m + std::log(s);
}

}  // namespace

// ---------------------------------------------------------------- Parzen estimator

int TpeSampler::gamma(int64_t n, TpeOptions::Gamma g) {
    const double v = g == TpeOptions::Gamma::Default ? std::ceil(0.1 * static_cast<double>(n))
                                                     : std::ceil(0.25 * std::sqrt(static_cast<double>(n)));
    return static_cast<int>(std::min(v, 25.0));
}

std::vector<double> TpeSampler::weights(int64_t n) {
    if (n <= 0) return {};
    if (n < 25) return std::vector<double>(static_cast<size_t>(n), 1.0);
    std::vector<double> w;
    const int64_t ramp = n - 25;  // numpy.linspace(1/n, 1, n - 25): the oldest trials weigh least
    for (int64_t i = 0; i < ramp; ++i)
        w.push_back(ramp == 1 ? 1.0 / static_cast<double>(n)
                              : 1.0 / static_cast<double>(n) + (1.0 - 1.0 / static_cast<double>(n)) * static_cast<double>(i) / static_cast<double>(ramp - 1));
    w.insert(w.end(), 25, 1.0);
    return w;
}

ParzenEstimator::ParzenEstimator(const std::vector<std::vector<double>>& obs, const std::vector<Distribution>& dists,
                                 const TpeOptions& o, const std::vector<double>& observation_weights) {
    const size_t m = obs.size();
    if (!observation_weights.empty() && observation_weights.size() != m)
        throw Error("Parzen estimator: " + std::to_string(observation_weights.size()) + " weights for " +
                    std::to_string(m) + " observations");
    weights_ = observation_weights.empty() ? TpeSampler::weights(static_cast<int64_t>(m)) : observation_weights;
    weights_.push_back(o.prior_weight);
    const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
    for (double& w : weights_) w /= total;
    const size_t K = m + 1;  // components: observations, then the prior

    for (size_t p = 0; p < dists.size(); ++p) {
        const Distribution& d = dists[p];
        Kernel k;
        if (d.kind == Distribution::Kind::Categorical) {
            k.categorical = true;
            const size_t C = d.choices.size();
            for (size_t i = 0; i < m; ++i) {  // prior_weight / K everywhere, +1 at the observation, normalised
                std::vector<double> row(C, o.prior_weight / static_cast<double>(K));
                row[static_cast<size_t>(obs[i][p])] += 1.0;
                const double s = std::accumulate(row.begin(), row.end(), 0.0);
                for (double& r : row) r /= s;
                k.probs.push_back(std::move(row));
            }
            k.probs.emplace_back(C, 1.0 / static_cast<double>(C));  // the prior: uniform
            kernels_.push_back(std::move(k));
            continue;
        }
        k.log = d.log;
        if (d.log) {  // modelled in log space; an int becomes continuous on its cells [v - 1/2, v + 1/2]
            k.low = std::log(d.kind == Distribution::Kind::Int ? d.low - 0.5 : d.low);
            k.high = std::log(d.kind == Distribution::Kind::Int ? d.high + 0.5 : d.high);
            k.step = 0.0;
        } else {
            k.low = d.low;
            k.high = d.high;
            k.step = d.kind == Distribution::Kind::Int ? d.step : 0.0;
        }
        const double s = k.step, range = k.high - k.low + s;
        for (size_t i = 0; i < m; ++i) k.mus.push_back(d.log ? std::log(obs[i][p]) : obs[i][p]);
        const double prior_mu = 0.5 * (k.low + k.high);
        std::vector<double> sig(m);
        if (o.multivariate) {
            const double sigma = 0.2 * std::pow(std::max<double>(static_cast<double>(m), 1.0),
                                                -1.0 / (static_cast<double>(dists.size()) + 4.0)) * range;
            std::fill(sig.begin(), sig.end(), sigma);
        } else if (m > 0) {
            // neighbours in sorted order (prior included), padded with the domain ends
            std::vector<double> with_prior = k.mus;
            with_prior.push_back(prior_mu);
            std::vector<size_t> idx(K);
            std::iota(idx.begin(), idx.end(), size_t{0});
            std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return with_prior[a] < with_prior[b]; });
            std::vector<double> P(K + 2);
            P[0] = k.low - s / 2;
            for (size_t j = 0; j < K; ++j) P[j + 1] = with_prior[idx[j]];
            P[K + 1] = k.high + s / 2;
            std::vector<double> sorted_sigma(K);
            for (size_t j = 1; j <= K; ++j) sorted_sigma[j - 1] = std::max(P[j] - P[j - 1], P[j + 1] - P[j]);
            if (!o.consider_endpoints && K >= 2) {
                sorted_sigma[0] = P[2] - P[1];
                sorted_sigma[K - 1] = P[K] - P[K - 1];
            }
            std::vector<double> unsorted(K);
            for (size_t j = 0; j < K; ++j) unsorted[idx[j]] = sorted_sigma[j];
            for (size_t i = 0; i < m; ++i) sig[i] = unsorted[i];  // the prior's own slot is dropped
        }
        const double maxsigma = range;
        const double minsigma = o.consider_magic_clip ? range / std::min(100.0, 1.0 + static_cast<double>(K)) : 1e-12;
        for (double& v : sig) v = std::clamp(v, minsigma, maxsigma);
        k.sigmas = sig;
        k.mus.push_back(prior_mu);
        k.sigmas.push_back(range);
        kernels_.push_back(std::move(k));
    }
}

std::vector<std::vector<double>> ParzenEstimator::sample(SamplerRng& rng, int n) const {
    std::vector<std::vector<double>> out;
    for (int i = 0; i < n; ++i) {
        // the component, by its mixture weight
        const double u = rng.uniform();
        size_t c = 0;
        for (double acc = weights_[0]; c + 1 < weights_.size() && u >= acc; acc += weights_[++c]) {
        }
        std::vector<double> x;
        for (const Kernel& k : kernels_) {
            if (k.categorical) {
                const auto& row = k.probs[c];
                const double v = rng.uniform();
                size_t j = 0;
                for (double acc = row[0]; j + 1 < row.size() && v >= acc; acc += row[++j]) {
                }
                x.push_back(static_cast<double>(j));
                continue;
            }
            const double mu = k.mus[c], sigma = k.sigmas[c];
            const double lo = k.low - k.step / 2, hi = k.high + k.step / 2;
            double v = mu + sigma * trunc_norm_ppf((lo - mu) / sigma, (hi - mu) / sigma, rng.uniform());
            if (k.step > 0) v = std::clamp(k.low + std::nearbyint((v - k.low) / k.step) * k.step, k.low, k.high);
            v = std::clamp(v, k.low, k.high);
            x.push_back(k.log ? std::exp(v) : v);  // back to the parameter's own scale (ints rounded by the caller)
        }
        out.push_back(std::move(x));
    }
    return out;
}

double ParzenEstimator::log_pdf(const std::vector<double>& x) const {
    std::vector<double> per_component(weights_.size());
    for (size_t c = 0; c < weights_.size(); ++c) {
        double lp = std::log(weights_[c]);
        for (size_t p = 0; p < kernels_.size(); ++p) {
            const Kernel& k = kernels_[p];
            if (k.categorical) {
                lp += std::log(k.probs[c][static_cast<size_t>(x[p])]);
                continue;
            }
            const double v = k.log ? std::log(x[p]) : x[p];
            const double mu = k.mus[c], sigma = k.sigmas[c];
            const double lo = k.low - k.step / 2, hi = k.high + k.step / 2;
            const double norm = log_gauss_mass((lo - mu) / sigma, (hi - mu) / sigma);
            if (k.step > 0) {  // probability of the cell around v
                const double a = std::max(v - k.step / 2, lo), b = std::min(v + k.step / 2, hi);
                lp += log_gauss_mass((a - mu) / sigma, (b - mu) / sigma) - norm;
            } else {
                const double z = (v - mu) / sigma;
                lp += -0.5 * z * z - kLogSqrt2Pi - std::log(sigma) - norm;
            }
        }
        per_component[c] = lp;
    }
    return logsumexp(per_component);
}

// ---------------------------------------------------------------- TPE

namespace {

struct Split {
    std::vector<const FrozenTrial*> below, above;  // each in trial-number order
    // multi-objective: the mixture weight of each below trial (hypervolume contributions); empty for a single
    // objective (Optuna's default_weights ramp)
    std::vector<double> below_weights;
};

}  // namespace

// Multi-objective "below" among the COMPLETE trials (Optuna 4.6 _split_complete_trials_multi_objective): whole
// non-domination ranks while they fit in n_below, the rest of n_below from the next rank by greedy hypervolume
// subset selection (reference point from that rank's worst values). Returns a flag per trial.
std::vector<bool> TpeSampler::below_by_rank(const std::vector<const FrozenTrial*>& complete,
                                            const std::vector<Direction>& dirs, size_t n_below) {
    const size_t n = complete.size();
    n_below = std::min(n_below, n);
    if (n_below == 0 || n_below == n) return std::vector<bool>(n, n_below == n);
    std::vector<Point> loss;
    for (const FrozenTrial* t : complete) loss.push_back(to_loss(t->values, dirs));
    const std::vector<int> rank = non_domination_ranks(loss);
    const int worst = *std::max_element(rank.begin(), rank.end());
    int last = -1;  // the last rank that fits whole
    for (size_t taken = 0; last < worst;) {
        const auto in_next = static_cast<size_t>(std::count(rank.begin(), rank.end(), last + 1));
        if (taken + in_next > n_below) break;
        taken += in_next;
        ++last;
    }
    std::vector<bool> below(n);
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) count += (below[i] = rank[i] <= last);
    if (count < n_below) {  // tie-break within rank last + 1
        std::vector<size_t> tied;
        std::vector<Point> tied_loss;
        for (size_t i = 0; i < n; ++i)
            if (rank[i] == last + 1) {
                tied.push_back(i);
                tied_loss.push_back(loss[i]);
            }
        for (size_t j : hssp_greedy(tied_loss, n_below - count, tpe_reference_point(tied_loss))) below[tied[j]] = true;
    }
    return below;
}

// Mixture weights of the below trials of a multi-objective study (Optuna 4.6
// _calculate_weights_below_for_multi_objective): a Pareto-optimal trial weighs its hypervolume contribution
// (the volume lost without it, reference point from the below trials' worst values) over the largest one; any
// other trial, and a below trial without values (PRUNED), weighs 1e-12. With one trial or an infinite
// hypervolume every trial with values weighs 1.
std::vector<double> TpeSampler::below_weights(const std::vector<const FrozenTrial*>& below,
                                              const std::vector<Direction>& dirs) {
    constexpr double eps = 1e-12;
    std::vector<double> w(below.size(), eps);
    std::vector<size_t> with_values;
    std::vector<Point> loss;
    for (size_t i = 0; i < below.size(); ++i)
        if (below[i]->complete()) {
            with_values.push_back(i);
            loss.push_back(to_loss(below[i]->values, dirs));
            w[i] = 1.0;
        }
    if (loss.size() <= 1) return w;
    const Point ref = tpe_reference_point(loss);
    const std::vector<bool> on_front = pareto_mask(loss);
    std::vector<Point> front;
    for (size_t i = 0; i < loss.size(); ++i)
        if (on_front[i]) front.push_back(loss[i]);
    const double hv = hypervolume(front, ref);
    if (std::isinf(hv)) return w;
    std::vector<double> contrib(loss.size(), 0.0);
    for (size_t i = 0, f = 0; i < loss.size(); ++i) {
        if (!on_front[i]) continue;
        std::vector<Point> without = front;
        without.erase(without.begin() + static_cast<std::ptrdiff_t>(f++));
        contrib[i] = hv - hypervolume(without, ref);
    }
    const double top = std::max(*std::max_element(contrib.begin(), contrib.end()), eps);
    for (size_t i = 0; i < loss.size(); ++i) w[with_values[i]] = std::max(contrib[i] / top, eps);
    return w;
}

namespace {

Split split_trials(const std::vector<FrozenTrial>& history, const std::vector<Direction>& dirs, const TpeOptions& o) {
    const bool multi = dirs.size() > 1;
    std::vector<const FrozenTrial*> complete, pruned, running;
    for (const auto& t : history) {
        if (t.complete()) complete.push_back(&t);
        if (t.state == TrialState::Pruned) pruned.push_back(&t);
        if (t.state == TrialState::Running && o.constant_liar) running.push_back(&t);  // the one being sampled
    }                                                  // lacks the parameter, so tpe_pick leaves it out
    const int64_t n = static_cast<int64_t>(complete.size() + pruned.size());
    const size_t n_below = static_cast<size_t>(TpeSampler::gamma(n, o.gamma));
    Split s;
    if (multi) {
        const std::vector<bool> below = TpeSampler::below_by_rank(complete, dirs, n_below);
        for (size_t i = 0; i < complete.size(); ++i) (below[i] ? s.below : s.above).push_back(complete[i]);
    } else {
        std::stable_sort(complete.begin(), complete.end(),
                         [&](auto* a, auto* b) { return better(dirs[0], *a->value, *b->value); });
        for (size_t i = 0; i < complete.size(); ++i) (i < n_below ? s.below : s.above).push_back(complete[i]);
    }
    // pruned: the furthest reported step first, then the better last value (single objective: a multi-objective
    // study has no direction for intermediate values); no value at all comes last
    std::stable_sort(pruned.begin(), pruned.end(), [&](auto* a, auto* b) {
        const bool ha = !a->intermediate.empty(), hb = !b->intermediate.empty();
        if (ha != hb) return ha;
        if (!ha) return false;
        const auto& [sa, va] = *a->intermediate.rbegin();
        const auto& [sb, vb] = *b->intermediate.rbegin();
        if (sa != sb) return sa > sb;
        if (multi) return false;
        if (std::isnan(va) != std::isnan(vb)) return std::isnan(vb);
        return better(dirs[0], va, vb);
    });
    const size_t rest = n_below > s.below.size() ? n_below - s.below.size() : 0;
    for (size_t i = 0; i < pruned.size(); ++i) (i < rest ? s.below : s.above).push_back(pruned[i]);
    s.above.insert(s.above.end(), running.begin(), running.end());  // Optuna's _split_trials (3.1, 4.x): above
    const auto by_number = [](auto* a, auto* b) { return a->number < b->number; };
    std::sort(s.below.begin(), s.below.end(), by_number);
    std::sort(s.above.begin(), s.above.end(), by_number);
    if (multi) s.below_weights = TpeSampler::below_weights(s.below, dirs);
    return s;
}

int64_t count_finished(const std::vector<FrozenTrial>& history) {
    int64_t n = 0;
    for (const auto& t : history) n += t.complete() || t.state == TrialState::Pruned;
    return n;
}

// Draw candidates from l, keep the one maximizing log l - log g (the first on ties). l is weighted by
// s.below_weights when there are some (multi-objective), else by the default ramp. `why` (univariate only)
// receives l, g, the candidates with their scores and the winner.
std::vector<double> tpe_pick(const Split& s, const std::vector<std::string>& names,
                             const std::vector<Distribution>& dists, const TpeOptions& o, SamplerRng& rng,
                             TpeExplanation* why = nullptr) {
    // the group's trials that have every name, and the weights of those (when the group has weights)
    const auto observations = [&](const std::vector<const FrozenTrial*>& group, const std::vector<double>& weights,
                                  std::vector<double>& kept_weights) {
        std::vector<std::vector<double>> obs;
        for (size_t i = 0; i < group.size(); ++i) {
            std::vector<double> row;
            for (const auto& n : names) {
                const auto it = group[i]->params.find(n);
                if (it == group[i]->params.end()) break;
                row.push_back(it->second);
            }
            if (row.size() != names.size()) continue;
            obs.push_back(std::move(row));
            if (!weights.empty()) kept_weights.push_back(weights[i]);
        }
        return obs;
    };
    std::vector<double> below_w, above_w;
    const auto below_obs = observations(s.below, s.below_weights, below_w);
    const auto above_obs = observations(s.above, {}, above_w);
    const ParzenEstimator l(below_obs, dists, o, below_w), g(above_obs, dists, o);
    auto candidates = l.sample(rng, o.n_ei_candidates);
    // Every int candidate is put on its grid before l and g score it, as Optuna 4.6's
    // _ParzenEstimator._untransform does (low + round((x - low) / step) * step, clipped): a log int is drawn on the
    // continuous log scale, and it is the rounded value, the one the trial gets, that must win log l - log g.
    for (auto& x : candidates)
        for (size_t p = 0; p < dists.size(); ++p)
            if (dists[p].kind == Distribution::Kind::Int)
                x[p] = std::clamp(dists[p].low + std::nearbyint((x[p] - dists[p].low) / dists[p].step) * dists[p].step,
                                  dists[p].low, dists[p].high);
    size_t best = 0;
    double best_score = -kInf;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const double log_l = l.log_pdf(candidates[i]), log_g = g.log_pdf(candidates[i]);
        const double score = log_l - log_g;
        if (why) why->candidates.push_back({candidates[i][0], log_l, log_g});
        if (i == 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    if (why) {
        why->l.emplace(l);
        why->g.emplace(g);
        why->chosen_index = best;
    }
    return candidates[best];
}

}  // namespace

double TpeSampler::sample_independent(const Study& study, const FrozenTrial& trial, const std::string& name,
                                      const Distribution& d) {
    return sample_univariate(study.history(), study.directions(), trial.number, name, d, nullptr);
}

double TpeSampler::sample_univariate(const std::vector<FrozenTrial>& history, const std::vector<Direction>& dirs,
                                     int64_t trial_number, const std::string& name, const Distribution& d,
                                     TpeExplanation* why) const {
    SamplerRng rng(stream_seed(seed_, trial_number, name));
    const int64_t n_finished = count_finished(history);
    if (why) {
        why->name = name;
        why->distribution = d;
        why->trial_number = trial_number;
        why->n_finished = n_finished;
        why->n_startup_trials = o_.n_startup_trials;
        why->startup = n_finished < o_.n_startup_trials;
    }
    if (n_finished < o_.n_startup_trials) {
        const double v = RandomSampler::draw(d, rng);
        if (why) why->chosen = v;
        return v;
    }
    const Split s = split_trials(history, dirs, o_);
    if (why) {
        why->n_below = gamma(n_finished, o_.gamma);
        const auto observe = [&](const std::vector<const FrozenTrial*>& group, std::vector<TpeExplanation::Observation>& out) {
            for (const FrozenTrial* t : group) {
                TpeExplanation::Observation ob;
                ob.number = t->number;
                ob.state = t->state;
                if (t->complete()) ob.values = t->values;
                if (t->state == TrialState::Pruned && !t->intermediate.empty())
                    ob.last_reported = t->intermediate.rbegin()->second;
                if (const auto it = t->params.find(name); it != t->params.end()) ob.param = it->second;
                out.push_back(std::move(ob));
            }
        };
        observe(s.below, why->below);
        observe(s.above, why->above);
    }
    TpeOptions univariate = o_;
    univariate.multivariate = false;  // parameters outside the shared space are modelled alone
    const double v = tpe_pick(s, {name}, {d}, univariate, rng, why)[0];
    if (why) why->chosen = v;
    return v;
}

TpeExplanation TpeSampler::explain(const Study& study, int64_t trial_number, const std::string& name,
                                   const Distribution& d) const {
    TpeExplanation why;
    sample_univariate(study.trials(), study.directions(), trial_number, name, d, &why);
    return why;
}

double TpeExplanation::log_l(double x) const {
    return l ? l->log_pdf({x}) : std::numeric_limits<double>::quiet_NaN();
}

double TpeExplanation::log_g(double x) const {
    return g ? g->log_pdf({x}) : std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> TpeExplanation::grid(int n) const {
    const Distribution& d = distribution;
    std::vector<double> xs;
    n = std::max(n, 2);
    if (d.kind == Distribution::Kind::Categorical) {
        for (size_t i = 0; i < d.choices.size(); ++i) xs.push_back(static_cast<double>(i));
        return xs;
    }
    if (d.kind == Distribution::Kind::Int) {
        const auto steps = static_cast<int64_t>(std::llround((d.high - d.low) / d.step)) + 1;
        const int64_t points = std::min<int64_t>(steps, n);
        for (int64_t i = 0; i < points; ++i) {
            const double k = points == steps ? static_cast<double>(i)
                                             : std::nearbyint(static_cast<double>(i * (steps - 1)) / static_cast<double>(points - 1));
            const double x = d.low + k * d.step;
            if (xs.empty() || x != xs.back()) xs.push_back(x);
        }
        return xs;
    }
    for (int i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / (n - 1);
        xs.push_back(d.log ? std::exp(std::log(d.low) + t * (std::log(d.high) - std::log(d.low)))
                           : d.low + t * (d.high - d.low));
    }
    xs.front() = d.low;  // exactly the ends, whatever exp(log(.)) rounds to
    xs.back() = d.high;
    return xs;
}

std::map<std::string, Distribution> intersection_search_space(const std::vector<FrozenTrial>& history,
                                                              bool include_pruned) {
    std::map<std::string, Distribution> space;
    bool first = true;
    for (const auto& t : history) {
        if (!(t.complete() || (include_pruned && t.state == TrialState::Pruned))) continue;
        if (first) {
            space = t.distributions;
            first = false;
            continue;
        }
        for (auto it = space.begin(); it != space.end();) {
            const auto o = t.distributions.find(it->first);
            const bool same = o != t.distributions.end() && o->second.to_json() == it->second.to_json();
            it = same ? std::next(it) : space.erase(it);
        }
    }
    for (auto it = space.begin(); it != space.end();) it = it->second.single() ? space.erase(it) : std::next(it);
    return space;
}

std::map<std::string, double> TpeSampler::sample_relative(Study& study, FrozenTrial& trial) {
    if (!o_.multivariate) return {};
    const auto& history = study.history();
    if (count_finished(history) < o_.n_startup_trials) return {};
    std::vector<std::string> names;
    std::vector<Distribution> dists;
    for (const auto& [n, d] : intersection_search_space(history, true)) {
        names.push_back(n);
        dists.push_back(d);
    }
    if (names.empty()) return {};
    SamplerRng rng(stream_seed(seed_, trial.number, "relative"));
    const Split s = split_trials(history, study.directions(), o_);
    const auto x = tpe_pick(s, names, dists, o_, rng);
    std::map<std::string, double> out;
    for (size_t p = 0; p < names.size(); ++p) out[names[p]] = x[p];
    return out;
}

std::shared_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed, const GridSampler::Space& grid) {
    if (name == "random") return std::make_shared<RandomSampler>(seed);
    if (name == "tpe") return std::make_shared<TpeSampler>(seed);
    if (name == "tpe-multivariate") {
        TpeOptions o;
        o.multivariate = true;
        return std::make_shared<TpeSampler>(seed, o);
    }
    if (name == "grid") return std::make_shared<GridSampler>(grid, seed);
    if (name == "nsga2") return std::make_shared<NsgaIISampler>(seed);
    throw Error("unknown sampler '" + name + "'; valid samplers: random, grid, tpe, tpe-multivariate, nsga2");
}

}  // namespace qbert::search
