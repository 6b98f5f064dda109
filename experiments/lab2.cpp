// qbert lab2: Lab 2 end to end. Task 1 runs every sampler with several seeds on the model-level NAS space and
// plots best-so-far validation accuracy against the trial (mean and min-max over seeds); Task 2 takes the best
// sampler into compression-aware NAS, without and with training after compression. All studies live in
// DIR/lab2.db, so an interrupted lab resumes where it stopped.
//
// The objective trains each architecture from the same init seed on the same data order, so it is a function of
// the architecture alone; an architecture that an earlier trial already evaluated with the same objective is
// not trained again: its result is reused from DIR/trained (experiments/objectives/trained_cache.h; user
// attribute reused_from), and a compression-aware trial starts from the weights a NAS trial trained. The
// samplers see exactly the values they would see if it were retrained; only the wall time differs.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "experiments/objectives/nas.h"
#include "experiments/progress_hooks.h"
#include "experiments/results.h"
#include "experiments/search_run.h"
#include "experiments/study_report.h"
#include "experiments/workers.h"
#include "util/csv.h"
#include "util/subprocess.h"

namespace qbert::experiments {

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

// Best-so-far validation accuracy after each of the first n trials (trial numbers in order; NaN until one
// completes, and past the trials there are).
std::vector<double> best_so_far(const std::vector<FrozenTrial>& trials, int64_t n) {
    const auto best = Study::best_so_far(trials, search::Direction::Maximize);
    std::vector<double> out;
    std::optional<double> last;
    for (int64_t i = 0; i < n; ++i) {
        if (i < static_cast<int64_t>(best.size())) last = best[static_cast<size_t>(i)];  // later: the final best
        out.push_back(last ? *last : NAN);
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

// One study of the lab: Task 1 (post < 0: NAS only) or Task 2 (compression-aware, `post` epochs after).
struct StudySpec {
    std::string name, sampler;
    int64_t seed, trials, post;
    std::string tag() const { return objective("").tag(); }
    // the objective's options: the model-level space, compressed and post-trained in Task 2; the trained models
    // and results shared through DIR/trained (Task 2's first trials are Task 1's architectures, trained the same way)
    NasOptions objective(const std::string& out) const {
        NasOptions o;
        o.space = "model";
        o.trained_dir = (fs::path(out) / "trained").string();
        o.compress = post >= 0;
        o.post_train_epochs = std::max<int64_t>(post, 0);
        return o;
    }
};

std::vector<StudySpec> task1_specs(const std::vector<std::string>& samplers, int64_t seeds, int64_t trials) {
    std::vector<StudySpec> out;
    for (int64_t seed = 0; seed < seeds; ++seed)
        for (const auto& sampler : samplers)
            out.push_back({"task1-" + sampler + "-seed" + std::to_string(seed), sampler, seed, trials, -1});
    return out;
}

std::vector<StudySpec> task2_specs(const std::string& sampler, int64_t trials, int64_t post_epochs) {
    std::vector<StudySpec> out;
    for (const int64_t post : {int64_t{0}, post_epochs})
        out.push_back({"task2-compression-aware-post" + std::to_string(post) + "-" + sampler, sampler, 0, trials, post});
    return out;
}

json study_meta(const StudySpec& s) { return {{"objective_tag", s.tag()}, {"sampler", s.sampler}, {"seed", s.seed}}; }

// Whether the study already holds `trials` finished trials (nothing left for a worker to do).
bool study_done(const search::Storage& st, const StudySpec& s) {
    const auto rec = st.find_study(s.name);
    if (!rec) return false;
    int64_t finished = 0;
    for (const auto& t : st.trials(rec->id)) finished += t.state != search::TrialState::Running;
    return finished >= s.trials;
}

// lab2 --jobs N: the unfinished studies of `specs`, each in a worker process (this binary, `lab2 ...
// --only-study NAME`) with threads/N threads, N at a time. The caller then walks the same studies, finds them
// complete and only collects them.
void run_in_workers(const Lab2Options& lo, const search::Storage& st, const std::vector<StudySpec>& specs,
                    int64_t seeds, int64_t trials, int64_t ca_trials) {
    std::vector<WorkerJob> jobs;
    std::string samplers;
    for (const auto& x : lo.samplers) samplers += (samplers.empty() ? "" : ",") + x;
    const int threads = std::max(1, lo.threads / lo.jobs);
    for (const auto& s : specs) {
        if (study_done(st, s)) continue;
        WorkerJob j{s.name, {util::self_exe(), "lab2", "--out", lo.out, "--profile", lo.profile, "--seeds", std::to_string(seeds),
                             "--trials", std::to_string(trials), "--ca-trials", std::to_string(ca_trials),
                             "--samplers", samplers, "--threads", std::to_string(threads), "--only-study", s.name}, ""};
        for (const auto& kv : lo.sets) j.argv.insert(j.argv.end(), {"--set", kv});
        j.stderr_path = (fs::path(lo.out) / "logs" / (s.name + ".log")).string();  // progress bars, errors
        jobs.push_back(std::move(j));
    }
    if (jobs.empty()) return;
    fs::create_directories(fs::path(lo.out) / "logs");
    std::printf("lab2: %zu studies in %d worker processes at a time, %d thread(s) each\n", jobs.size(),
                std::min<int>(lo.jobs, static_cast<int>(jobs.size())), threads);
    std::fflush(stdout);
    const auto failed = run_workers(jobs, lo.jobs);
    if (!failed.empty()) {
        std::string what;
        for (const auto& f : failed) what += "\n  " + f.label + ": exit status " + std::to_string(f.exit_code);
        throw engine::Error("lab2: worker processes failed (their finished trials are kept; rerun to resume):" + what);
    }
}

}  // namespace

int run_lab2(const Lab2Options& lo) {
    const Profile p = profile(lo.profile);
    const int64_t seeds = lo.seeds > 0 ? lo.seeds : p.seeds;
    const int64_t trials = lo.trials > 0 ? lo.trials : p.trials;
    const int64_t ca_trials = lo.ca_trials > 0 ? lo.ca_trials : p.ca_trials;
    if (lo.samplers.empty()) throw engine::Error("--samplers: give at least one sampler");
    for (const auto& s : lo.samplers) search::make_sampler(s, 0, nas_grid());  // unknown names fail here
    if (lo.jobs < 1) throw engine::Error("--jobs must be >= 1, got " + std::to_string(lo.jobs));
    model::TrainConfig cfg = model::TrainConfig::from_toml(p.config, lo.sets);
    cfg.threads = lo.threads;
    // (a --jobs worker runs with fewer threads; its parent checked the settings before starting it)
    if (lo.only_study.empty())
        check_run_settings(lo.out, {{"profile", lo.profile}, {"train_config", settings_json(cfg)}});
    auto st = std::make_shared<search::Storage>((fs::path(lo.out) / "lab2.db").string());
    const auto task1 = task1_specs(lo.samplers, seeds, trials);

    if (!lo.only_study.empty()) {  // a worker of lab2 --jobs: one study, no figures
        std::vector<StudySpec> all = task1;
        for (const auto& sampler : lo.samplers)
            for (const auto& spec : task2_specs(sampler, ca_trials, p.post_train_epochs)) all.push_back(spec);
        const auto it = std::find_if(all.begin(), all.end(), [&](const StudySpec& x) { return x.name == lo.only_study; });
        if (it == all.end()) throw engine::Error("--only-study: no study named '" + lo.only_study + "' in this lab");
        NasObjective obj(cfg, it->objective(lo.out), [](const std::string& l) { std::printf("%s\n", l.c_str()); });
        run_study(st, it->name, it->sampler, static_cast<uint64_t>(it->seed), it->trials, study_meta(*it), lo.out,
                  [&](search::Trial& t) { return obj(t); });
        return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("lab2: profile %s (%s), %ld seeds x %ld trials per sampler (%s), compression-aware %ld trials\n",
                lo.profile.c_str(), p.config.c_str(), long(seeds), long(trials), [&] {
                    std::string s;
                    for (const auto& x : lo.samplers) s += (s.empty() ? "" : ",") + x;
                    return s;
                }().c_str(), long(ca_trials));
    std::printf("config: %s\n", cfg.to_json().c_str());
    std::fflush(stdout);

    // ---- Task 1: samplers on the model-level space, several seeds each
    if (lo.jobs > 1) {
        // queued sampler by sampler (random first by default): TPE's first 10 trials with seed k are random's
        // with seed k, so running those studies after random's lets them reuse its results instead of training
        // the same architectures at the same time
        std::vector<StudySpec> queue;
        for (const auto& sampler : lo.samplers)
            for (const auto& spec : task1)
                if (spec.sampler == sampler) queue.push_back(spec);
        run_in_workers(lo, *st, queue, seeds, trials, ca_trials);
    }
    std::map<std::string, std::vector<std::vector<double>>> curves;  // sampler -> per seed
    {
        std::unique_ptr<NasObjective> nas;  // loads the data: only when a study still has trials to run
        for (const auto& spec : task1) {
            if (!nas && !study_done(*st, spec))
                nas = std::make_unique<NasObjective>(cfg, spec.objective(lo.out),
                                                     [](const std::string& l) { std::printf("%s\n", l.c_str()); });
            const auto done = run_study(st, spec.name, spec.sampler, static_cast<uint64_t>(spec.seed), trials,
                                        study_meta(spec), lo.out, [&](search::Trial& t) { return (*nas)(t); });
            curves[spec.sampler].push_back(best_so_far(done, trials));
        }
    }
    // mean / min / max over seeds per trial, one column group per sampler
    const std::string t1 = (fs::path(lo.out) / "task1_best_so_far.csv").string();
    std::string best_sampler;
    double best_mean = -1;
    {
        std::ofstream out(t1 + ".tmp");
        std::vector<std::string> header{"trial"};
        for (const auto& s : lo.samplers)
            for (const char* stat : {"_mean", "_min", "_max"}) header.push_back(s + stat);
        util::write_csv_row(out, header);
        for (int64_t i = 0; i < trials; ++i) {
            std::vector<std::string> row{std::to_string(i + 1)};
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
                row.insert(row.end(), {fmt_num_or_nan(mean), fmt_num_or_nan(n ? lo_v : NAN), fmt_num_or_nan(n ? hi_v : NAN)});
                if (i == trials - 1) {
                    std::printf("task1 sampler=%s mean_best_at_%ld=%s (min %s, max %s over %ld seeds)\n", s.c_str(),
                                long(trials), fmt_num_or_nan(mean).c_str(), fmt_num_or_nan(n ? lo_v : NAN).c_str(),
                                fmt_num_or_nan(n ? hi_v : NAN).c_str(), long(seeds));
                    if (!std::isnan(mean) && mean > best_mean) best_mean = mean, best_sampler = s;
                }
            }
            util::write_csv_row(out, row);
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
        frame_y(f, all);
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
    const auto task2 = task2_specs(best_sampler, ca_trials, p.post_train_epochs);
    if (lo.jobs > 1) run_in_workers(lo, *st, task2, seeds, trials, ca_trials);
    for (const auto& spec : task2) {
        std::unique_ptr<NasObjective> obj;
        if (!study_done(*st, spec)) obj = std::make_unique<NasObjective>(cfg, spec.objective(lo.out), nullptr);
        const auto done = run_study(st, spec.name, spec.sampler, 0, ca_trials, study_meta(spec), lo.out,
                                    [&](search::Trial& t) { return (*obj)(t); });
        t2.push_back({spec.post == 0 ? "compression-aware, no training after compression"
                                     : "compression-aware, " + std::to_string(spec.post) + " epoch after compression",
                      best_so_far(done, ca_trials)});
        const auto best = Study::best_of(done, search::Direction::Maximize);
        std::printf("task2 %s best=%s\n", spec.tag().c_str(), best ? fmt_num(*best->value).c_str() : "-");
    }
    const std::string t2csv = (fs::path(lo.out) / "task2_best_so_far.csv").string();
    {
        std::ofstream out(t2csv + ".tmp");
        util::write_csv_row(out, {"trial", "nas_only", "compression_aware", "compression_aware_post_trained"});
        const int64_t n = std::max(trials, ca_trials);
        for (int64_t i = 0; i < n; ++i) {
            std::vector<std::string> row{std::to_string(i + 1)};
            for (const auto& [label, c] : t2) row.push_back(i < static_cast<int64_t>(c.size()) ? fmt_num_or_nan(c[i]) : "NaN");
            util::write_csv_row(out, row);
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
    frame_y(f, all);
    if (plot(f, (fs::path(lo.out) / "task2_compression_aware").string()))
        std::printf("figure=%s/task2_compression_aware.png\n", lo.out.c_str());
    if (!lo.keep_trained) {  // several GB at the quick profile; the results (small) stay for a resumed lab
        const TrainedCache cache((fs::path(lo.out) / "trained").string());
        const double gb = static_cast<double>(cache.remove_weights()) / 1e9;
        std::printf("removed the trained weights in %s (%.1f GB; --keep-trained keeps them)\n", cache.dir().c_str(), gb);
    }
    std::printf("lab2 done in %s\n",
                format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()).c_str());
    return 0;
}

}  // namespace qbert::experiments
