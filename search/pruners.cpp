#include "search/pruners.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "search/study.h"

namespace qbert::search {

using json = nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::optional<int64_t> last_step(const FrozenTrial& t) {
    if (t.intermediate.empty()) return std::nullopt;
    return t.intermediate.rbegin()->first;  // std::map: the largest step
}

// numpy.nanpercentile(values, q) with the default 'linear' method, computed as numpy 1.22+ does it (virtual
// index n*q - q, then a + (b-a)*t, or b - (b-a)*(1-t) when t >= 0.5), so thresholds equal Optuna's to the bit.
double nanpercentile(std::vector<double> v, double percentile) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return kNaN;
    std::sort(v.begin(), v.end());
    const double q = percentile / 100.0;
    const double n = static_cast<double>(v.size());
    const double virtual_index = n * q - q;  // numpy's _compute_virtual_index(n, q, 1, 1)
    double below = std::floor(virtual_index);
    const double t = virtual_index - below;
    below = std::clamp(below, 0.0, n - 1);
    const double above = std::min(below + 1, n - 1);
    const double a = v[static_cast<size_t>(below)], b = v[static_cast<size_t>(above)];
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// Optuna's _is_first_in_interval_step: no value was reported between the latest pruning check point at or
// below `step` and `step` itself.
bool first_in_interval(int64_t step, const FrozenTrial& t, int64_t warmup, int64_t interval) {
    const int64_t nearest_lower = (step - warmup) / interval * interval + warmup;  // step >= warmup here
    int64_t second_last = -1;
    for (const auto& [s, v] : t.intermediate)
        if (s > second_last && s != step) second_last = s;
    return second_last < nearest_lower;
}

std::string rung_key(int64_t rung) { return "completed_rung_" + std::to_string(rung); }

int64_t current_rung(const FrozenTrial& t) {
    int64_t rung = 0;
    while (t.system_attrs.contains(rung_key(rung))) ++rung;
    return rung;
}

int64_t ipow(int64_t b, int64_t e) {
    int64_t r = 1;
    while (e-- > 0) r *= b;
    return r;
}

}  // namespace

// ---------------------------------------------------------------- percentile / median

PercentilePruner::PercentilePruner(PercentileSettings s, std::string name) : s_(s), name_(std::move(name)) {
    if (!(s_.percentile >= 0.0 && s_.percentile <= 100.0))
        throw Error(name_ + " pruner: percentile must be between 0 and 100 inclusive, got " + std::to_string(s_.percentile));
    if (s_.n_startup_trials < 0)
        throw Error(name_ + " pruner: n_startup_trials cannot be negative, got " + std::to_string(s_.n_startup_trials));
    if (s_.n_warmup_steps < 0)
        throw Error(name_ + " pruner: n_warmup_steps cannot be negative, got " + std::to_string(s_.n_warmup_steps));
    if (s_.interval_steps < 1)
        throw Error(name_ + " pruner: interval_steps must be at least 1, got " + std::to_string(s_.interval_steps));
    if (s_.n_min_trials < 1)
        throw Error(name_ + " pruner: n_min_trials must be at least 1, got " + std::to_string(s_.n_min_trials));
}

json PercentilePruner::settings() const {
    json j{{"n_startup_trials", s_.n_startup_trials}, {"n_warmup_steps", s_.n_warmup_steps},
           {"interval_steps", s_.interval_steps}, {"n_min_trials", s_.n_min_trials}};
    if (name_ != "median") j["percentile"] = s_.percentile;
    return j;
}

bool PercentilePruner::prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) {
    std::vector<const FrozenTrial*> complete;
    for (const auto& t : trials)
        if (t.state == TrialState::Complete) complete.push_back(&t);
    if (complete.empty() || static_cast<int64_t>(complete.size()) < s_.n_startup_trials) return false;
    const auto step = last_step(trial);
    if (!step || *step < s_.n_warmup_steps) return false;
    if (!first_in_interval(*step, trial, s_.n_warmup_steps, s_.interval_steps)) return false;
    const Direction d = study.direction();
    // the trial's best value over its steps so far (NaNs ignored; all NaN: prune)
    double best = kNaN;
    for (const auto& [s, v] : trial.intermediate)
        if (!std::isnan(v) && (std::isnan(best) || better(d, v, best))) best = v;
    if (std::isnan(best)) return true;
    std::vector<double> at_step;  // the COMPLETE trials' values at this step
    for (const FrozenTrial* t : complete)
        if (auto it = t->intermediate.find(*step); it != t->intermediate.end()) at_step.push_back(it->second);
    if (static_cast<int64_t>(at_step.size()) < s_.n_min_trials) return false;
    const double p = nanpercentile(at_step, d == Direction::Maximize ? 100.0 - s_.percentile : s_.percentile);
    if (std::isnan(p)) return false;
    return d == Direction::Maximize ? best < p : best > p;
}

// ---------------------------------------------------------------- successive halving

SuccessiveHalvingPruner::SuccessiveHalvingPruner(SuccessiveHalvingSettings s) : s_(s), min_resource_(s.min_resource) {
    if (s_.min_resource && *s_.min_resource < 1)
        throw Error("successive-halving pruner: min_resource must be >= 1 or 'auto', got " +
                    std::to_string(*s_.min_resource));
    if (s_.reduction_factor < 2)
        throw Error("successive-halving pruner: reduction_factor must be >= 2, got " + std::to_string(s_.reduction_factor));
    if (s_.min_early_stopping_rate < 0)
        throw Error("successive-halving pruner: min_early_stopping_rate must be >= 0, got " +
                    std::to_string(s_.min_early_stopping_rate));
    if (s_.bootstrap_count < 0)
        throw Error("successive-halving pruner: bootstrap_count must be >= 0, got " + std::to_string(s_.bootstrap_count));
    if (s_.bootstrap_count > 0 && !s_.min_resource)
        throw Error("successive-halving pruner: bootstrap_count > 0 needs an explicit min_resource (not 'auto'), as "
                    "in Optuna");
}

json SuccessiveHalvingPruner::settings() const {
    return {{"min_resource", s_.min_resource ? json(*s_.min_resource) : json("auto")},
            {"reduction_factor", s_.reduction_factor},
            {"min_early_stopping_rate", s_.min_early_stopping_rate},
            {"bootstrap_count", s_.bootstrap_count}};
}

bool SuccessiveHalvingPruner::prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) {
    const auto step = last_step(trial);
    if (!step) return false;
    int64_t rung = current_rung(trial);
    const double value = trial.intermediate.at(*step);
    for (;;) {
        if (!min_resource_) {  // "auto": 1% of the longest COMPLETE trial's steps
            std::optional<int64_t> longest;
            for (const auto& t : trials)
                if (auto ls = last_step(t); t.state == TrialState::Complete && ls) longest = std::max(longest.value_or(*ls), *ls);
            if (!longest) return false;
            min_resource_ = std::max<int64_t>(*longest / 100, 1);
        }
        const int64_t promotion_step = *min_resource_ * ipow(s_.reduction_factor, s_.min_early_stopping_rate + rung);
        if (*step < promotion_step) return false;
        if (std::isnan(value)) return true;
        const std::string key = rung_key(rung);
        study.storage().set_system_attr(trial.id, key, value);
        std::vector<double> competing;  // the values recorded at this rung, then this trial's
        for (const auto& t : trials)
            if (t.system_attrs.contains(key)) competing.push_back(t.system_attrs[key].get<double>());
        competing.push_back(value);
        if (static_cast<int64_t>(competing.size()) <= s_.bootstrap_count) return true;
        int64_t idx = static_cast<int64_t>(competing.size()) / s_.reduction_factor - 1;
        if (idx == -1) idx = 0;
        std::sort(competing.begin(), competing.end());
        const bool promotable = study.direction() == Direction::Maximize
                                    ? value >= competing[competing.size() - 1 - static_cast<size_t>(idx)]
                                    : value <= competing[static_cast<size_t>(idx)];
        if (!promotable) return true;
        ++rung;
    }
}

// ---------------------------------------------------------------- hyperband

HyperbandPruner::HyperbandPruner(HyperbandSettings s) : s_(s) {
    if (s_.min_resource < 1)
        throw Error("hyperband pruner: min_resource must be >= 1, got " + std::to_string(s_.min_resource));
    if (s_.max_resource && *s_.max_resource < s_.min_resource)
        throw Error("hyperband pruner: max_resource (" + std::to_string(*s_.max_resource) +
                    ") must be >= min_resource (" + std::to_string(s_.min_resource) + ")");
    if (s_.reduction_factor < 2)
        throw Error("hyperband pruner: reduction_factor must be >= 2, got " + std::to_string(s_.reduction_factor));
    if (s_.bootstrap_count < 0)
        throw Error("hyperband pruner: bootstrap_count must be >= 0, got " + std::to_string(s_.bootstrap_count));
    if (s_.bootstrap_count > 0 && !s_.max_resource)
        throw Error("hyperband pruner: bootstrap_count > 0 needs an explicit max_resource (not 'auto'), as in Optuna");
}

json HyperbandPruner::settings() const {
    return {{"min_resource", s_.min_resource},
            {"max_resource", s_.max_resource ? json(*s_.max_resource) : json("auto")},
            {"reduction_factor", s_.reduction_factor},
            {"bootstrap_count", s_.bootstrap_count}};
}

void HyperbandPruner::try_initialize(const std::vector<FrozenTrial>& trials) {
    std::optional<int64_t> max_resource = s_.max_resource;
    if (!max_resource) {
        for (const auto& t : trials)
            if (auto ls = last_step(t); t.state == TrialState::Complete && ls)
                max_resource = std::max(max_resource.value_or(*ls + 1), *ls + 1);
        if (!max_resource) return;
    }
    // Python's math.log(x, base) = log(x) / log(base), and true division for max / min
    const auto n = static_cast<int64_t>(std::floor(
                       std::log(static_cast<double>(*max_resource) / static_cast<double>(s_.min_resource)) /
                       std::log(static_cast<double>(s_.reduction_factor)))) + 1;
    for (int64_t b = 0; b < n; ++b) {
        const int64_t sb = n - 1 - b;
        const auto budget = static_cast<int64_t>(
            std::ceil(static_cast<double>(n * ipow(s_.reduction_factor, sb)) / static_cast<double>(sb + 1)));
        budgets_.push_back(budget);
        total_budget_ += budget;
        brackets_.emplace_back(SuccessiveHalvingSettings{s_.min_resource, s_.reduction_factor, b, s_.bootstrap_count});
    }
}

int64_t HyperbandPruner::bracket_of(const std::string& study_name, int64_t number) const {
    if (brackets_.empty()) return 0;
    int64_t n = static_cast<int64_t>(crc32(study_name + "_" + std::to_string(number)) % static_cast<uint64_t>(total_budget_));
    for (size_t b = 0; b < budgets_.size(); ++b) {
        n -= budgets_[b];
        if (n < 0) return static_cast<int64_t>(b);
    }
    throw Error("hyperband: no bracket for trial " + std::to_string(number));  // unreachable: n < total
}

bool HyperbandPruner::same_group(const Study& study, int64_t number, int64_t other) const {
    return bracket_of(study.name(), number) == bracket_of(study.name(), other);
}

bool HyperbandPruner::prune(Study& study, const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) {
    if (brackets_.empty()) {
        try_initialize(trials);
        if (brackets_.empty()) return false;
    }
    const int64_t b = bracket_of(study.name(), trial.number);
    std::vector<FrozenTrial> mine;  // the bracket's trials (Optuna's _BracketStudy.get_trials)
    for (const auto& t : trials)
        if (bracket_of(study.name(), t.number) == b) mine.push_back(t);
    return brackets_[static_cast<size_t>(b)].prune(study, mine, trial);
}

// ---------------------------------------------------------------- construction

const std::vector<std::string>& pruner_names() {
    static const std::vector<std::string> names{"none", "median", "percentile", "successive-halving", "hyperband"};
    return names;
}

std::pair<std::string, std::string> parse_setting(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("pruner setting '" + text + "' is not key=value");
    return {text.substr(0, eq), text.substr(eq + 1)};
}

namespace {

// Reads the settings one pruner knows, by name; the rest is an error naming them and the valid ones.
class SettingReader {
public:
    SettingReader(std::string pruner, const std::map<std::string, std::string>& given)
        : pruner_(std::move(pruner)), given_(given) {}
    void integer(const std::string& key, int64_t& out) {
        known_.push_back(key);
        if (auto it = given_.find(key); it != given_.end()) out = parse_int(key, it->second);
    }
    void integer_or_auto(const std::string& key, std::optional<int64_t>& out) {
        known_.push_back(key);
        if (auto it = given_.find(key); it != given_.end())
            out = it->second == "auto" ? std::nullopt : std::optional<int64_t>(parse_int(key, it->second));
    }
    void real(const std::string& key, double& out) {
        known_.push_back(key);
        if (auto it = given_.find(key); it == given_.end()) return;
        else {
            size_t used = 0;
            try {
                out = std::stod(it->second, &used);
            } catch (const std::exception&) {
                used = std::string::npos;
            }
            if (used != it->second.size() || !std::isfinite(out))
                throw Error(pruner_ + " pruner: " + key + " must be a number, got '" + it->second + "'");
        }
    }
    void finish() const {
        for (const auto& [k, v] : given_)
            if (std::find(known_.begin(), known_.end(), k) == known_.end()) {
                std::string valid;
                for (const auto& n : known_) valid += (valid.empty() ? "" : ", ") + n;
                throw Error(pruner_ + " pruner has no setting '" + k + "'" +
                            (valid.empty() ? " (it has none)" : "; valid: " + valid));
            }
    }

private:
    int64_t parse_int(const std::string& key, const std::string& text) const {
        size_t used = 0;
        int64_t v = 0;
        try {
            v = std::stoll(text, &used);
        } catch (const std::exception&) {
            used = std::string::npos;
        }
        if (used != text.size())
            throw Error(pruner_ + " pruner: " + key + " must be an integer" +
                        (key == "min_resource" || key == "max_resource" ? " or 'auto'" : "") + ", got '" + text + "'");
        return v;
    }
    std::string pruner_;
    const std::map<std::string, std::string>& given_;
    std::vector<std::string> known_;
};

}  // namespace

std::shared_ptr<Pruner> make_pruner(const std::string& name, const std::map<std::string, std::string>& settings) {
    SettingReader r(name, settings);
    std::shared_ptr<Pruner> p;
    if (name == "none") {
        r.finish();
        return std::make_shared<NopPruner>();
    }
    if (name == "median" || name == "percentile") {
        PercentileSettings s;
        if (name == "percentile") {
            if (!settings.count("percentile"))
                throw Error("percentile pruner needs percentile=P (0..100; 25 keeps the top 25%)");
            r.real("percentile", s.percentile);
        }
        r.integer("n_startup_trials", s.n_startup_trials);
        r.integer("n_warmup_steps", s.n_warmup_steps);
        r.integer("interval_steps", s.interval_steps);
        r.integer("n_min_trials", s.n_min_trials);
        r.finish();
        return std::make_shared<PercentilePruner>(s, name);
    }
    if (name == "successive-halving") {
        SuccessiveHalvingSettings s;
        r.integer_or_auto("min_resource", s.min_resource);
        r.integer("reduction_factor", s.reduction_factor);
        r.integer("min_early_stopping_rate", s.min_early_stopping_rate);
        r.integer("bootstrap_count", s.bootstrap_count);
        r.finish();
        return std::make_shared<SuccessiveHalvingPruner>(s);
    }
    if (name == "hyperband") {
        HyperbandSettings s;
        r.integer("min_resource", s.min_resource);
        r.integer_or_auto("max_resource", s.max_resource);
        r.integer("reduction_factor", s.reduction_factor);
        r.integer("bootstrap_count", s.bootstrap_count);
        r.finish();
        return std::make_shared<HyperbandPruner>(s);
    }
    std::string valid;
    for (const auto& n : pruner_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw Error("unknown pruner '" + name + "'; valid: " + valid);
}

uint32_t crc32(const std::string& bytes) {
    static const auto table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

}  // namespace qbert::search
