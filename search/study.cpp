#include "search/study.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "search/multi_objective.h"

namespace qbert::search {

using json = nlohmann::json;

uint64_t SamplerRng::next_u64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double SamplerRng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1p-53; }

uint64_t SamplerRng::below(uint64_t n) {
    if (n == 0) throw Error("SamplerRng::below(0)");
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // reject the biased tail
    uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return x % n;
}

uint64_t stream_seed(uint64_t seed, int64_t trial_number, const std::string& purpose) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the purpose, then mixed with seed and trial
    for (unsigned char c : purpose) h = (h ^ c) * 1099511628211ull;
    SamplerRng mix(seed ^ (h * 0x9e3779b97f4a7c15ull) ^ (static_cast<uint64_t>(trial_number) * 0xd1b54a32d192ed03ull));
    return mix.next_u64();
}

namespace {
std::string host_name() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return host;
}

// A process that exists and is not a zombie: a killed process stays a zombie until its parent (mpirun, or a
// container's init, which may be slow to reap) collects it, and kill(pid, 0) still succeeds on it. EPERM:
// another user's process, alive.
bool process_alive(pid_t pid) {
    if (kill(pid, 0) != 0) return errno != ESRCH;
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (!f) return true;  // no /proc: trust kill()
    char line[512] = {};
    const size_t n = std::fread(line, 1, sizeof line - 1, f);
    std::fclose(f);
    const char* close = std::strrchr(line, ')');  // "pid (comm) state ...": comm may hold spaces and ')'
    if (n == 0 || close == nullptr || close[1] == '\0') return true;
    return !(close[2] == 'Z' || close[2] == 'X');
}
}  // namespace

json wire_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

double wire_number(const json& j) {
    if (j.is_number()) return j.get<double>();
    if (j.is_string()) {
        const auto s = j.get<std::string>();
        if (s == "nan") return std::nan("");
        if (s == "inf") return INFINITY;
        if (s == "-inf") return -INFINITY;
    }
    throw Error("not a number in a trial message: " + j.dump());
}

// ---- Trial ----

Trial Trial::remote(TrialChannel& channel, FrozenTrial t, std::string study_name, bool multi_objective) {
    Trial r(nullptr, std::move(t), {});
    r.channel_ = &channel;
    r.remote_study_ = std::move(study_name);
    r.remote_multi_ = multi_objective;
    return r;
}

bool Trial::multi_objective() const { return channel_ ? remote_multi_ : study_->multi_objective(); }

json Trial::suggest(const std::string& name, const Distribution& d) {
    d.validate(name);
    if (auto it = t_.params.find(name); it != t_.params.end()) {
        check_compatible(name, t_.distributions.at(name), d);
        return d.to_external(it->second);
    }
    if (channel_) {  // the owner checks the distribution against the study's and samples
        const json answer = channel_->call({{"op", "suggest"}, {"trial", t_.number}, {"name", name}, {"dist", d.to_json()}});
        const double v = wire_number(answer.at("value"));
        t_.params[name] = v;
        t_.distributions[name] = d;
        return d.to_external(v);
    }
    for (const FrozenTrial& h : study_->cache_)
        if (auto it = h.distributions.find(name); it != h.distributions.end()) {
            check_compatible(name, it->second, d);
            break;
        }
    double v;
    if (d.single()) {
        v = d.kind == Distribution::Kind::Categorical ? 0.0 : d.low;
    } else if (auto r = relative_.find(name); r != relative_.end() && d.contains(r->second)) {
        v = r->second;
    } else {
        v = study_->sampler_->sample_independent(*study_, t_, name, d);
    }
    study_->storage_->set_param(t_.id, name, v, d);
    t_.params[name] = v;
    t_.distributions[name] = d;
    return d.to_external(v);
}

int64_t Trial::suggest_int(const std::string& name, int64_t low, int64_t high, int64_t step, bool log) {
    return suggest(name, Distribution::int_range(low, high, step, log)).get<int64_t>();
}

double Trial::suggest_float(const std::string& name, double low, double high, bool log) {
    return suggest(name, Distribution::float_range(low, high, log)).get<double>();
}

json Trial::suggest_categorical(const std::string& name, const std::vector<json>& choices) {
    return suggest(name, Distribution::categorical(choices));
}

std::string Trial::suggest_string(const std::string& name, const std::vector<std::string>& choices) {
    std::vector<json> c(choices.begin(), choices.end());
    return suggest_categorical(name, c).get<std::string>();
}

void Trial::report(double value, int64_t step) {
    if (multi_objective())
        throw Error("trial " + std::to_string(t_.number) + ": report() is for single-objective studies; study '" +
                    study_name() + "' has several objectives (as Optuna)");
    if (step < 0)
        throw Error("trial " + std::to_string(t_.number) + ": report() step must be >= 0, got " + std::to_string(step));
    if (t_.intermediate.count(step)) {  // Optuna warns and keeps the first value
        std::fprintf(stderr, "warning: trial %ld reported step %ld twice; the value %g is ignored\n", long(t_.number),
                     long(step), value);
        return;
    }
    if (channel_)
        channel_->call({{"op", "report"}, {"trial", t_.number}, {"step", step}, {"value", wire_number(value)}});
    else
        study_->storage_->report(t_.id, step, value);
    t_.intermediate[step] = value;
}

bool Trial::should_prune() {
    if (multi_objective())
        throw Error("trial " + std::to_string(t_.number) + ": should_prune() is for single-objective studies (as Optuna)");
    if (channel_) return channel_->call({{"op", "should_prune"}, {"trial", t_.number}}).at("prune").get<bool>();
    if (!study_->pruner_) return false;
    // one read of the study: this trial as stored (with what other processes may have written) among the rest
    const std::vector<FrozenTrial> all = study_->storage_->trials(study_->rec_.id);
    const auto me = std::find_if(all.begin(), all.end(), [&](const FrozenTrial& t) { return t.id == t_.id; });
    if (me == all.end()) throw Error("trial " + std::to_string(t_.number) + " is not in study '" + study_->name() + "'");
    return study_->pruner_->prune(*study_, all, *me);
}

void Trial::set_user_attr(const std::string& key, const json& value) {
    if (channel_)
        channel_->call({{"op", "user_attr"}, {"trial", t_.number}, {"key", key}, {"value", value}});
    else
        study_->storage_->set_user_attr(t_.id, key, value);
    t_.user_attrs[key] = value;
}

// ---- Study ----

Study::Study(std::shared_ptr<Storage> storage, const std::string& name, Direction direction,
             std::shared_ptr<Sampler> sampler, OpenMode mode, const json& meta)
    : Study(std::move(storage), name, std::vector<Direction>{direction}, std::move(sampler), mode, meta) {}

namespace {
// "maximize" for one objective, "[maximize, minimize]" for several
std::string describe(const std::vector<Direction>& dirs) {
    if (dirs.size() == 1) return direction_name(dirs[0]);
    std::string s;
    for (Direction d : dirs) s += (s.empty() ? "[" : ", ") + std::string(direction_name(d));
    return s + "]";
}
}  // namespace

Study::Study(std::shared_ptr<Storage> storage, const std::string& name, std::vector<Direction> directions,
             std::shared_ptr<Sampler> sampler, OpenMode mode, const json& meta)
    : storage_(std::move(storage)), sampler_(std::move(sampler)) {
    if (name.empty()) throw Error("a study needs a name");
    if (directions.empty()) throw Error("study '" + name + "': give at least one direction");
    auto existing = storage_->find_study(name);
    if (existing && mode == OpenMode::Create)
        throw Error("study '" + name + "' already exists in '" + storage_->path() +
                    "'; resume it (--resume) or choose another name (--study)");
    if (!existing && mode == OpenMode::Load)
        throw Error("no study '" + name + "' in '" + storage_->path() + "' (studies there: " + [&] {
            std::string s;
            for (const auto& n : storage_->study_names()) s += (s.empty() ? "" : ", ") + n;
            return s.empty() ? std::string("none") : s;
        }() + ")");
    rec_ = existing ? *existing : storage_->create_study(name, directions, meta);
    if (rec_.directions != directions)
        throw Error("study '" + name + "' in '" + storage_->path() + "' " +
                    (rec_.directions.size() == 1 && directions.size() == 1 ? "is " : "has directions ") +
                    describe(rec_.directions) + ", not " + describe(directions));
    trials();
}

Direction Study::direction() const {
    if (multi_objective())
        throw Error("study '" + name() + "' has " + std::to_string(rec_.directions.size()) + " objectives " +
                    describe(rec_.directions) + ": it has no single direction (use directions())");
    return rec_.direction;
}

void Study::set_pruner(std::shared_ptr<Pruner> pruner) {
    if (pruner && multi_objective() && pruner->name() != "none")
        throw Error("study '" + name() + "' has " + std::to_string(rec_.directions.size()) +
                    " objectives: pruners need a single objective (as Optuna)");
    pruner_ = std::move(pruner);
}

Trial Study::ask() {
    FrozenTrial t = storage_->create_trial(rec_.id, json{{"host", host_name()}, {"pid", static_cast<int64_t>(getpid())},
                                                         {"sampler", sampler_->name()}});
    refresh_history(t.number);
    auto relative = sampler_->sample_relative(*this, t);
    return Trial(this, std::move(t), std::move(relative));
}

void Study::refresh_history(int64_t number) {
    trials();  // what the sampler sees: every trial, finished or running (here or elsewhere)
    filtered_ = pruner_ && pruner_->filters_trials();
    if (filtered_) {  // Hyperband: the sampler sees the trial's bracket only
        view_.clear();
        for (const FrozenTrial& h : cache_)
            if (pruner_->same_group(*this, number, h.number)) view_.push_back(h);
    }
}

FrozenTrial Study::tell(Trial& trial, double value) {
    if (multi_objective()) return tell(trial, std::vector<double>{value});
    if (!std::isfinite(value))
        return tell(trial, TrialState::Fail, std::nullopt, "objective returned " + std::to_string(value));
    return tell(trial, TrialState::Complete, value);
}

FrozenTrial Study::tell(Trial& trial, const std::vector<double>& values) {
    if (!multi_objective() && values.size() == 1) return tell(trial, values[0]);
    const auto& dirs = rec_.directions;
    if (values.size() != dirs.size())
        return finish(trial, TrialState::Fail, {},
                      "objective returned " + std::to_string(values.size()) + " value" + (values.size() == 1 ? "" : "s") +
                          ", the study has " + std::to_string(dirs.size()) + " objective" + (dirs.size() == 1 ? "" : "s") +
                          " " + describe(dirs));
    for (size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            return finish(trial, TrialState::Fail, {},
                          "objective returned " + std::to_string(values[i]) + " for objective " + std::to_string(i) +
                              " (" + direction_name(dirs[i]) + ")");
    return finish(trial, TrialState::Complete, values, "");
}

FrozenTrial Study::tell(Trial& trial, TrialState state, std::optional<double> value, const std::string& reason) {
    if (state == TrialState::Complete && (!value || !std::isfinite(*value)))
        throw Error("tell: a COMPLETE trial needs a finite value");
    if (state == TrialState::Complete && multi_objective())
        throw Error("tell: study '" + name() + "' has " + std::to_string(rec_.directions.size()) +
                    " objectives; a COMPLETE trial needs one value per objective");
    std::vector<double> values;
    if (state == TrialState::Complete) values = {*value};
    const auto& reported = trial.frozen().intermediate;  // every report() went through this handle
    if (state == TrialState::Pruned && !multi_objective() && !reported.empty() &&
        std::isfinite(reported.rbegin()->second))  // Optuna: the last intermediate value, if finite
        values = {reported.rbegin()->second};
    return finish(trial, state, values, reason);
}

FrozenTrial Study::finish(Trial& trial, TrialState state, const std::vector<double>& values, const std::string& reason) {
    if (!reason.empty()) storage_->set_system_attr(trial.id(), "reason", reason);
    storage_->finish_trial(trial.id(), state, values);
    FrozenTrial done = storage_->trial(trial.id());
    sampler_->after_trial(*this, done);
    return done;
}

const std::vector<FrozenTrial>& Study::trials() const {
    size_t from = 0;
    while (from < cache_.size() && cache_[from].state != TrialState::Running) ++from;
    auto fresh = storage_->trials(rec_.id, static_cast<int64_t>(from));
    cache_.resize(from);
    for (auto& t : fresh) cache_.push_back(std::move(t));
    return cache_;
}

std::optional<FrozenTrial> Study::best_of(const std::vector<FrozenTrial>& trials, Direction d) {
    std::vector<const FrozenTrial*> done;
    for (const auto& t : trials)
        if (t.state == TrialState::Complete && t.value) done.push_back(&t);
    std::sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->finish_order < b->finish_order; });
    const FrozenTrial* best = nullptr;
    for (auto* t : done)
        if (!best || better(d, *t->value, *best->value)) best = t;  // strictly better: ties keep the earlier one
    return best ? std::optional<FrozenTrial>(*best) : std::nullopt;
}

std::vector<std::optional<double>> Study::best_so_far(const std::vector<FrozenTrial>& trials, Direction d) {
    std::vector<std::optional<double>> out;
    std::optional<double> best;
    for (const auto& t : trials) {
        if (t.state == TrialState::Complete && t.value && (!best || better(d, *t.value, *best))) best = t.value;
        out.push_back(best);
    }
    return out;
}

const std::string& Trial::study_name() const { return channel_ ? remote_study_ : study_->name(); }

std::optional<FrozenTrial> Study::best_trial() const {
    if (multi_objective())
        throw Error("study '" + name() + "' has " + std::to_string(rec_.directions.size()) + " objectives " +
                    describe(rec_.directions) + ": a single best trial does not exist; use best_trials() (the Pareto front)");
    return best_of(trials(), rec_.direction);
}

std::vector<FrozenTrial> Study::best_trials() const { return pareto_front(trials(), rec_.directions); }

std::vector<FrozenTrial> Study::pareto_front(const std::vector<FrozenTrial>& trials,
                                             const std::vector<Direction>& directions) {
    std::vector<const FrozenTrial*> done;
    std::vector<Point> loss;
    for (const auto& t : trials)
        if (t.complete() && t.values.size() == directions.size()) {
            done.push_back(&t);
            loss.push_back(to_loss(t.values, directions));
        }
    const std::vector<bool> on_front = pareto_mask(loss);
    std::vector<FrozenTrial> out;
    for (size_t i = 0; i < done.size(); ++i)
        if (on_front[i]) out.push_back(*done[i]);
    return out;
}

int64_t Study::counted_trials() const {
    int64_t counted = 0;  // trials failed as stale (their process died) do not count
    for (const auto& t : trials()) counted += !(t.state == TrialState::Fail && t.system_attrs.contains("stale"));
    return counted;
}

template <class F>
int64_t Study::run_trials(const F& objective, const OptimizeOptions& o, const Callback& on_trial_end) {
    const auto start = std::chrono::steady_clock::now();
    int64_t ran = 0;
    reset_stop();
    while (!stop_) {
        if (o.n_trials > 0 && ran >= o.n_trials) break;
        if (o.timeout_s > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= o.timeout_s)
            break;
        if (o.study_trials > 0) {
            if (counted_trials() >= o.study_trials) break;
        }
        Trial t = ask();
        FrozenTrial done;
        try {
            done = tell(t, objective(t));  // a double, or one value per objective
        } catch (const TrialPruned& e) {
            done = tell(t, TrialState::Pruned, std::nullopt, e.what());
        } catch (const std::exception& e) {
            done = tell(t, TrialState::Fail, std::nullopt, e.what());
            if (!o.catch_errors) throw;
        }
        ++ran;
        if (on_trial_end) on_trial_end(*this, done);
    }
    return ran;
}

int64_t Study::optimize(const Objective& objective, const OptimizeOptions& o, const Callback& on_trial_end) {
    return run_trials(objective, o, on_trial_end);
}

int64_t Study::optimize(const MultiObjective& objective, const OptimizeOptions& o, const Callback& on_trial_end) {
    return run_trials(objective, o, on_trial_end);
}

std::vector<int64_t> Study::fail_stale_trials() {
    const std::string host = host_name();
    std::vector<int64_t> failed;
    for (const FrozenTrial& t : trials()) {
        if (t.state != TrialState::Running || t.system_attrs.value("host", "") != host) continue;
        const auto pid = static_cast<pid_t>(t.system_attrs.value("pid", int64_t{-1}));
        if (pid <= 0 || process_alive(pid)) continue;  // still alive (or not ours to judge)
        storage_->set_system_attr(t.id, "stale", true);
        storage_->set_system_attr(t.id, "reason", "process " + std::to_string(pid) + " ended while the trial ran");
        storage_->finish_trial(t.id, TrialState::Fail, std::nullopt);
        failed.push_back(t.number);
    }
    return failed;
}

}  // namespace qbert::search
