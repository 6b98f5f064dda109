// qbert lab2: Lab 2 end to end. Task 1 runs every sampler with several seeds on the model-level NAS space and
// plots best-so-far validation accuracy against the trial (mean and min-max over seeds); Task 2 takes the best
// sampler into compression-aware NAS, without and with training after compression. All studies live in
// DIR/lab2.db, so an interrupted lab resumes where it stopped.
//
// The objective trains each architecture from the same init seed on the same data order, so it is a function of
// the architecture alone; an architecture that an earlier trial in DIR/lab2.db already trained with the same
// objective is not trained again: its recorded result is reused (user attribute reused_from). The samplers see
// exactly the values they would see if it were retrained; only the wall time differs.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "apps/nas.h"
#include "apps/progress.h"
#include "apps/results.h"
#include "apps/search_cmd.h"

namespace qbert::apps {

namespace fs = std::filesystem;
using json = nlohmann::json;
using search::FrozenTrial;
using search::Study;

namespace {

struct Profile {
    std::string config;
    int64_t seeds, trials, ca_trials, post_train_epochs;
};

Profile profile(const std::string& name) {
    if (name == "quick") return {"configs/nas-quick.toml", 2, 20, 14, 1};
    if (name == "full") return {"configs/nas-full.toml", 3, 20, 20, 1};
    throw engine::Error("--profile must be quick or full, got '" + name + "'");
}

// Results of architectures already trained with one objective, from every study of DIR/lab2.db that used it.
class Memo {
public:
    Memo(search::Storage& st, const std::string& tag) : tag_(tag) {
        for (const auto& name : st.study_names()) {
            const auto rec = st.find_study(name);
            if (!rec || rec->meta.value("objective_tag", "") != tag) continue;
            for (const auto& t : st.trials(rec->id))
                if (t.state == search::TrialState::Complete && t.value && !t.user_attrs.contains("reused_from"))
                    done_[key(t.params_json())] = {*t.value, t.user_attrs, name + "#" + std::to_string(t.number)};
        }
    }
    static std::string key(const json& params) { return params.dump(); }  // object keys are sorted: canonical
    // Suggests the four size indices (the whole model-level space), then reuses or trains.
    double operator()(search::Trial& t, NasObjective& nas, const std::string& study) {
        const json params = nas.suggest_sizes(t);
        if (auto it = done_.find(key(params)); it != done_.end()) {
            for (const auto& [k, v] : it->second.attrs.items()) t.set_user_attr(k, v);
            t.set_user_attr("reused_from", it->second.from);
            std::printf("  trained before (%s): value %.4f reused\n", it->second.from.c_str(), it->second.value);
            return it->second.value;
        }
        const double v = nas(t);
        done_[key(params)] = {v, t.frozen().user_attrs, study + "#" + std::to_string(t.number())};
        return v;
    }
    const std::string& tag() const { return tag_; }

private:
    struct Entry {
        double value;
        json attrs;
        std::string from;
    };
    std::string tag_;
    std::map<std::string, Entry> done_;
};

// Best-so-far validation accuracy after each trial (trial numbers in order; NaN until one completes).
std::vector<double> best_so_far(const std::vector<FrozenTrial>& trials, int64_t n) {
    std::vector<double> out;
    double best = NAN;
    for (int64_t i = 0; i < n; ++i) {
        if (i < static_cast<int64_t>(trials.size())) {
            const auto& t = trials[static_cast<size_t>(i)];
            if (t.state == search::TrialState::Complete && t.value && (std::isnan(best) || *t.value > best)) best = *t.value;
        }
        out.push_back(best);
    }
    return out;
}

// Runs (or resumes) one study of the lab until it holds `trials` trials.
std::vector<FrozenTrial> run_study(const std::shared_ptr<search::Storage>& st, const std::string& name,
                                   const std::string& sampler, uint64_t seed, int64_t trials, const json& meta,
                                   const std::string& out, const std::function<double(search::Trial&)>& objective) {
    Study study(st, name, search::Direction::Maximize, search::make_sampler(sampler, seed, nas_grid()),
                search::OpenMode::CreateOrLoad, meta);
    check_study_meta(study, meta);
    for (int64_t n : study.fail_stale_trials())
        std::printf("%s: trial %ld was running when an earlier run stopped: marked failed\n", name.c_str(), long(n));
    const int64_t have = static_cast<int64_t>(study.trials().size());
    std::printf("== study %s (sampler %s, seed %llu): %ld of %ld trials done\n", name.c_str(), sampler.c_str(),
                static_cast<unsigned long long>(seed), long(std::min(have, trials)), long(trials));
    std::fflush(stdout);
    const std::string csv = (fs::path(out) / (name + ".csv")).string();
    TrialReporter report{trials};
    search::OptimizeOptions o;
    o.study_trials = trials;
    study.optimize(objective, o, [&](const Study& s, const FrozenTrial& t) {
        report(s, t);
        write_trials_csv(csv, s.trials(), s.direction());
    });
    write_trials_csv(csv, study.trials(), study.direction());
    return study.trials();
}

std::string num_or_nan(double v) { return std::isnan(v) ? "NaN" : fmt_num(v); }

// A y range that frames the curves (to 0.05), instead of a fixed one that flattens them.
void frame(Figure& f, const std::vector<std::vector<double>>& curves) {
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& c : curves)
        for (double v : c)
            if (!std::isnan(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    if (!std::isfinite(lo)) return;
    f.ymin = std::floor((lo - 0.01) * 20.0) / 20.0;
    f.ymax = std::min(1.0, std::ceil((hi + 0.01) * 20.0) / 20.0);
}

}  // namespace

int run_lab2(const Lab2Options& lo) {
    const Profile p = profile(lo.profile);
    const int64_t seeds = lo.seeds > 0 ? lo.seeds : p.seeds;
    const int64_t trials = lo.trials > 0 ? lo.trials : p.trials;
    const int64_t ca_trials = lo.ca_trials > 0 ? lo.ca_trials : p.ca_trials;
    if (lo.samplers.empty()) throw engine::Error("--samplers: give at least one sampler");
    for (const auto& s : lo.samplers) search::make_sampler(s, 0, nas_grid());  // unknown names fail here
    model::TrainConfig cfg = model::TrainConfig::from_toml(p.config, lo.sets);
    cfg.threads = lo.threads;
    check_run_settings(lo.out, {{"profile", lo.profile}, {"train_config", json::parse(cfg.to_json())}});
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("lab2: profile %s (%s), %ld seeds x %ld trials per sampler (%s), compression-aware %ld trials\n",
                lo.profile.c_str(), p.config.c_str(), long(seeds), long(trials), [&] {
                    std::string s;
                    for (const auto& x : lo.samplers) s += (s.empty() ? "" : ",") + x;
                    return s;
                }().c_str(), long(ca_trials));
    std::printf("config: %s\n", cfg.to_json().c_str());
    std::fflush(stdout);
    auto st = std::make_shared<search::Storage>((fs::path(lo.out) / "lab2.db").string());

    // ---- Task 1: samplers on the model-level space, several seeds each
    NasOptions nas_o;
    nas_o.space = "model";
    NasObjective nas(cfg, nas_o, [](const std::string& l) { std::printf("%s\n", l.c_str()); });
    Memo memo(*st, "nas-model");
    std::map<std::string, std::vector<std::vector<double>>> curves;  // sampler -> per seed
    for (int64_t seed = 0; seed < seeds; ++seed)
        for (const auto& sampler : lo.samplers) {
            const std::string name = "task1-" + sampler + "-seed" + std::to_string(seed);
            const json meta{{"objective_tag", memo.tag()}, {"sampler", sampler}, {"seed", seed}};
            const auto done = run_study(st, name, sampler, static_cast<uint64_t>(seed), trials, meta, lo.out,
                                        [&](search::Trial& t) { return memo(t, nas, name); });
            curves[sampler].push_back(best_so_far(done, trials));
        }
    // mean / min / max over seeds per trial, one column group per sampler
    const std::string t1 = (fs::path(lo.out) / "task1_best_so_far.csv").string();
    std::string best_sampler;
    double best_mean = -1;
    {
        std::ofstream out(t1 + ".tmp");
        out << "trial";
        for (const auto& s : lo.samplers) out << "," << s << "_mean," << s << "_min," << s << "_max";
        out << "\n";
        for (int64_t i = 0; i < trials; ++i) {
            out << i + 1;
            for (const auto& s : lo.samplers) {
                double sum = 0, lo_v = INFINITY, hi_v = -INFINITY;
                int n = 0;
                for (const auto& c : curves[s])
                    if (!std::isnan(c[static_cast<size_t>(i)])) {
                        sum += c[static_cast<size_t>(i)];
                        lo_v = std::min(lo_v, c[static_cast<size_t>(i)]);
                        hi_v = std::max(hi_v, c[static_cast<size_t>(i)]);
                        ++n;
                    }
                const double mean = n == static_cast<int>(curves[s].size()) && n > 0 ? sum / n : NAN;
                out << "," << num_or_nan(mean) << "," << num_or_nan(n ? lo_v : NAN) << "," << num_or_nan(n ? hi_v : NAN);
                if (i == trials - 1) {
                    std::printf("task1 sampler=%s mean_best_at_%ld=%s (min %s, max %s over %ld seeds)\n", s.c_str(),
                                long(trials), num_or_nan(mean).c_str(), num_or_nan(n ? lo_v : NAN).c_str(),
                                num_or_nan(n ? hi_v : NAN).c_str(), long(seeds));
                    if (!std::isnan(mean) && mean > best_mean) best_mean = mean, best_sampler = s;
                }
            }
            out << "\n";
        }
    }
    fs::rename(t1 + ".tmp", t1);
    {
        Figure f;
        f.title = "Lab 2 Task 1: NAS samplers on IMDb (mean and min-max over " + std::to_string(seeds) + " seeds)";
        f.xlabel = "trial";
        f.ylabel = "best validation accuracy so far";
        std::vector<std::vector<double>> all;
        for (const auto& [name, per_seed] : curves) all.insert(all.end(), per_seed.begin(), per_seed.end());
        frame(f, all);
        int col = 2, color = 1;
        for (const auto& s : lo.samplers) {
            const std::string c = std::to_string(color++);
            f.curves.push_back({"", t1, "1:" + std::to_string(col + 1) + ":" + std::to_string(col + 2),
                                "filledcurves fs transparent solid 0.15 noborder lc " + c});
            f.curves.push_back({s + " (mean)", t1, "1:" + std::to_string(col), "linespoints lc " + c});
            col += 3;
        }
        if (plot(f, (fs::path(lo.out) / "task1_samplers").string()))
            std::printf("figure=%s/task1_samplers.png\n", lo.out.c_str());
    }
    std::printf("task1 best_sampler=%s\n", best_sampler.c_str());

    // ---- Task 2: compression-aware NAS with the best sampler, without and with post-compression training
    std::vector<std::pair<std::string, std::vector<double>>> t2;
    t2.push_back({"NAS only (Task 1, " + best_sampler + ", seed 0)", curves[best_sampler].front()});
    for (const int64_t post : {int64_t{0}, p.post_train_epochs}) {
        NasOptions ca = nas_o;
        ca.compress = true;
        ca.post_train_epochs = post;
        NasObjective obj(cfg, ca, nullptr);
        const std::string tag = "compression-aware-post" + std::to_string(post);
        Memo m2(*st, tag);
        const std::string name = "task2-" + tag + "-" + best_sampler;
        const json meta{{"objective_tag", tag}, {"sampler", best_sampler}, {"seed", 0}};
        const auto done = run_study(st, name, best_sampler, 0, ca_trials, meta, lo.out,
                                    [&](search::Trial& t) { return m2(t, obj, name); });
        t2.push_back({post == 0 ? "compression-aware, no training after compression"
                                : "compression-aware, " + std::to_string(post) + " epoch after compression",
                      best_so_far(done, ca_trials)});
        const auto best = Study::best_of(done, search::Direction::Maximize);
        std::printf("task2 %s best=%s\n", tag.c_str(), best ? fmt_num(*best->value).c_str() : "-");
    }
    const std::string t2csv = (fs::path(lo.out) / "task2_best_so_far.csv").string();
    {
        std::ofstream out(t2csv + ".tmp");
        out << "trial,nas_only,compression_aware,compression_aware_post_trained\n";
        const int64_t n = std::max(trials, ca_trials);
        for (int64_t i = 0; i < n; ++i) {
            out << i + 1;
            for (const auto& [label, c] : t2) out << "," << (i < static_cast<int64_t>(c.size()) ? num_or_nan(c[i]) : "NaN");
            out << "\n";
        }
    }
    fs::rename(t2csv + ".tmp", t2csv);
    Figure f;
    f.title = "Lab 2 Task 2: compression-aware NAS (Q8.4 + 50% L1 pruning), sampler " + best_sampler;
    f.xlabel = "trial";
    f.ylabel = "best validation accuracy so far";
    for (size_t k = 0; k < t2.size(); ++k) f.curves.push_back({t2[k].first, t2csv, "1:" + std::to_string(k + 2)});
    std::vector<std::vector<double>> all;
    for (const auto& [label, c] : t2) all.push_back(c);
    frame(f, all);
    if (plot(f, (fs::path(lo.out) / "task2_compression_aware").string()))
        std::printf("figure=%s/task2_compression_aware.png\n", lo.out.c_str());
    std::printf("lab2 done in %s\n",
                format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()).c_str());
    return 0;
}

}  // namespace qbert::apps
