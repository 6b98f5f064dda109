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

#include "engine/dist/comm.h"
#include "experiments/objectives/nas.h"
#include "experiments/progress_hooks.h"
#include "experiments/results.h"
#include "experiments/search_run.h"
#include "experiments/study_ranks.h"
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
    int64_t eval_points;  // validation checks per trial's training, reported to the pruner
    std::string pruner;   // Task 1 and Task 2 studies; Task 1's TPE also runs without it, for the comparison
    std::vector<std::string> pruner_sets;  // the pruner's settings (--pruner / --pruner-set replace them)
    NasOptions sizes;     // the choices of the four sizes (layers, heads, hidden, intermediate)
};

Profile profile(const std::string& name) {
    if (name == "quick") {
        // Tutorial 5's space scaled down to models that train in 5-60 s here (docs/results.md "Lab 2, quick
        // profile"): 24 architectures, so the trials of every sampler and seed share at most 24 trainings (and 24
        // post-compression trainings); 20 trials per study, TPE's first 10 random as Optuna's
        NasOptions q;
        q.layers = {1, 2};
        q.heads = {2, 4};
        q.hidden = {64, 128};
        q.intermediate = {256, 512, 1024};
        // the median pruner with Optuna's default start-up (5 completed trials) and no decision at the first of the
        // 4 checks (step ~125 of ~500): that check said 0.50 for the architecture that ended best (0.849), and
        // with n_startup_trials=2 and decisions from it on the pruner stopped 70-82% of the trials and lost at
        // equal time (docs/results.md, "Lab 2, quick profile")
        return {"configs/nas-quick.toml", 5, 20, 10, 1, 4, "median", {"n_startup_trials=5", "n_warmup_steps=200"}, q};
    }
    // median pruner after 2 completed trials (Optuna's default 5 would train 5 architectures per study in full,
    // the largest ~20 minutes each here)
    if (name == "full") return {"configs/nas-full.toml", 3, 20, 20, 1, 8, "median", {"n_startup_trials=2"}, {}};
    throw engine::Error("--profile must be quick or full, got '" + name + "'");
}

// "layers=1,2 heads=2,4 ..." for lines and meta
std::string describe_sizes(const NasOptions& o) {
    std::string out;
    const auto list = [](const std::vector<int64_t>& v) {
        std::string s;
        for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
        return s;
    };
    for (const auto& [n, v] : {std::pair{"layers", &o.layers}, {"heads", &o.heads}, {"hidden", &o.hidden},
                               {"intermediate", &o.intermediate}})
        out += (out.empty() ? "" : " ") + std::string(n) + "=" + list(*v);
    return out;
}

// Per study, the cost of its trials in trial order as if nothing had been reused (user attribute cost_seconds;
// else the trial's duration): the x axis of the time figure.
std::vector<double> cumulative_minutes(const std::vector<FrozenTrial>& trials) {
    std::vector<double> out;
    double sum = 0;
    for (const auto& t : trials) {
        sum += t.user_attrs.contains("cost_seconds") ? t.user_attrs["cost_seconds"].get<double>() : t.duration_s;
        out.push_back(sum / 60.0);
    }
    return out;
}

// Best-so-far at each of `grid` times (minutes): the best of the trials that had finished by then.
std::vector<double> best_by_time(const std::vector<FrozenTrial>& trials, const std::vector<double>& grid) {
    const auto best = Study::best_so_far(trials, search::Direction::Maximize);
    const auto minutes = cumulative_minutes(trials);
    std::vector<double> out;
    for (double g : grid) {
        std::optional<double> b;
        for (size_t i = 0; i < trials.size() && minutes[i] <= g + 1e-12; ++i) b = best[i];
        out.push_back(b ? *b : NAN);
    }
    return out;
}

// Curves over seeds drawn as a mean with a min-max band. One column group per series (mean, min, max, n) in
// `csv`, rows at `xs`; a mean is NaN where a seed has no value yet. Returns each series' mean at the last x.
struct Band {
    std::string name;
    std::vector<std::vector<double>> runs;  // one per seed, values at xs
};

std::map<std::string, double> write_bands(const std::string& csv, const std::string& xname, const std::vector<double>& xs,
                                          const std::vector<Band>& bands) {
    std::map<std::string, double> last_mean;
    std::ofstream out(csv + ".tmp");
    std::vector<std::string> header{xname};
    for (const auto& b : bands)
        for (const char* stat : {"_mean", "_min", "_max", "_seeds"}) header.push_back(b.name + stat);
    util::write_csv_row(out, header);
    for (size_t i = 0; i < xs.size(); ++i) {
        std::vector<std::string> row{fmt_num(xs[i], 3)};
        for (const auto& b : bands) {
            double sum = 0, lo = INFINITY, hi = -INFINITY;
            size_t n = 0;
            for (const auto& r : b.runs)
                if (i < r.size() && !std::isnan(r[i])) sum += r[i], lo = std::min(lo, r[i]), hi = std::max(hi, r[i]), ++n;
            const double mean = n == b.runs.size() && n > 0 ? sum / static_cast<double>(n) : NAN;
            row.insert(row.end(), {fmt_num_or_nan(mean), fmt_num_or_nan(n ? lo : NAN), fmt_num_or_nan(n ? hi : NAN),
                                   std::to_string(b.runs.size())});
            if (i + 1 == xs.size()) last_mean[b.name] = mean;
        }
        util::write_csv_row(out, row);
    }
    out.close();
    fs::rename(csv + ".tmp", csv);
    return last_mean;
}

// The bands of write_bands as a figure: a translucent min-max band and the mean per series; the legend says
// how many seeds each curve has.
void plot_bands(Figure f, const std::string& csv, const std::vector<Band>& bands, const std::string& stem) {
    std::vector<std::vector<double>> all;
    for (const auto& b : bands) all.insert(all.end(), b.runs.begin(), b.runs.end());
    frame_y(f, all);
    int col = 2, color = 1;
    for (const auto& b : bands) {
        const std::string c = std::to_string(color++);
        f.curves.push_back({"", csv, "1:" + std::to_string(col + 1) + ":" + std::to_string(col + 2),
                            "filledcurves fs transparent solid 0.15 noborder lc " + c});
        f.curves.push_back({b.name + " (mean of " + std::to_string(b.runs.size()) + " seed" +
                                (b.runs.size() == 1 ? "" : "s") + ", band min-max)",
                            csv, "1:" + std::to_string(col), "lines lc " + c});
        col += 4;
    }
    if (plot(f, stem)) std::printf("figure=%s.png\n", stem.c_str());
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
                                   const std::string& sampler, uint64_t seed, const search::GridSampler::Space& grid,
                                   int64_t trials, const json& meta,
                                   const std::string& out, const std::shared_ptr<search::Pruner>& pruner,
                                   const std::function<double(search::Trial&)>& objective, StudyRanks* ranks,
                                   double budget_minutes = 0, int64_t max_trials = 0) {
    Study study(st, name, search::Direction::Maximize, search::make_sampler(sampler, seed, grid),
                search::OpenMode::CreateOrLoad, meta);
    study.set_pruner(pruner);
    check_study_meta(study, meta);
    for (int64_t n : study.fail_stale_trials())
        std::printf("%s: trial %ld was running when an earlier run stopped: marked failed\n", name.c_str(), long(n));
    const int64_t have = study.counted_trials();  // as OptimizeOptions::study_trials counts them
    std::printf("== study %s (sampler %s, seed %llu): %ld of %ld trials done\n", name.c_str(), sampler.c_str(),
                static_cast<unsigned long long>(seed), long(std::min(have, trials)), long(trials));
    std::fflush(stdout);
    const std::string csv = (fs::path(out) / (name + ".csv")).string();
    TrialReporter report{trials};
    search::OptimizeOptions o;
    o.study_trials = trials;
    const auto on_trial = [&](const Study& s, const FrozenTrial& t) {
        report(s, t);
        write_trials_csv(csv, s.trials(), s.direction());
    };
    const auto optimize = [&] {  // in this process, or spread over the MPI ranks
        if (ranks)
            ranks->optimize(study, {[&](search::Trial& t) { return StudyRanks::Values{objective(t)}; }, nullptr}, o,
                            on_trial);
        else
            study.optimize(objective, o, on_trial);
    };
    optimize();
    // past `trials`: one trial at a time while what the trials cost (as if nothing were reused) is below the
    // budget, up to max_trials (the pruner's comparison at equal time; resumable like the rest)
    if (budget_minutes > 0) {
        const auto spent = [&] {
            const auto m = cumulative_minutes(study.trials());
            return m.empty() ? 0.0 : m.back();
        };
        if (spent() < budget_minutes && static_cast<int64_t>(study.trials().size()) < max_trials)
            std::printf("%s: more trials until they cost %.1f minutes, as the study without the pruner did\n",
                        name.c_str(), budget_minutes);
        while (spent() < budget_minutes && static_cast<int64_t>(study.trials().size()) < max_trials) {
            o.study_trials = static_cast<int64_t>(study.trials().size()) + 1;
            optimize();
        }
    }
    write_trials_csv(csv, study.trials(), study.direction());
    return study.trials();
}

// One study of the lab: Task 1 (post < 0: NAS only) or Task 2 (compression-aware, `post` epochs after).
struct StudySpec {
    std::string name, sampler;
    int64_t seed, trials, post;
    std::string pruner = "none";
    std::vector<std::string> pruner_sets;
    int64_t eval_points = 0;
    NasOptions sizes;  // the space's four lists
    std::string tag() const { return objective("").tag(); }
    std::shared_ptr<search::Pruner> make_pruner() const { return make_pruner_from(pruner, pruner_sets); }
    // the objective's options: the model-level space, compressed and post-trained in Task 2; the trained models
    // and results shared through DIR/trained (Task 2's first trials are Task 1's architectures, trained the same way)
    NasOptions objective(const std::string& out) const {
        NasOptions o = sizes;
        o.space = "model";
        o.trained_dir = (fs::path(out) / "trained").string();
        o.compress = post >= 0;
        o.post_train_epochs = std::max<int64_t>(post, 0);
        o.eval_points = eval_points;
        return o;
    }
};

// What every study of the lab shares: the pruner, the validation checks and the space.
struct Pruning {
    std::string pruner = "none";
    std::vector<std::string> sets;
    int64_t eval_points = 0;
    NasOptions sizes;
};

// Task 1: each sampler with each seed, pruned; with a pruner, also TPE without it ("tpe-nopruner") for the
// comparison of the two against time.
std::vector<StudySpec> task1_specs(const std::vector<std::string>& samplers, int64_t seeds, int64_t trials,
                                   const Pruning& pr) {
    std::vector<StudySpec> out;
    for (int64_t seed = 0; seed < seeds; ++seed)
        for (const auto& sampler : samplers)
            out.push_back({"task1-" + sampler + "-seed" + std::to_string(seed), sampler, seed, trials, -1, pr.pruner,
                           pr.sets, pr.eval_points, pr.sizes});
    if (pr.pruner != "none" && std::find(samplers.begin(), samplers.end(), "tpe") != samplers.end())
        for (int64_t seed = 0; seed < seeds; ++seed)
            out.push_back({"task1-tpe-nopruner-seed" + std::to_string(seed), "tpe", seed, trials, -1, "none", {},
                           pr.eval_points, pr.sizes});
    return out;
}

// Task 2: compression-aware NAS with `sampler`, without and with post-compression training, each seed.
std::vector<StudySpec> task2_specs(const std::string& sampler, int64_t trials, int64_t post_epochs, int64_t seeds,
                                   const Pruning& pr) {
    std::vector<StudySpec> out;
    for (int64_t seed = 0; seed < seeds; ++seed)
        for (const int64_t post : {int64_t{0}, post_epochs})
            out.push_back({"task2-compression-aware-post" + std::to_string(post) + "-" + sampler +
                               (seed == 0 ? "" : "-seed" + std::to_string(seed)),  // seed 0: the name it always had
                           sampler, seed, trials, post, pr.pruner, pr.sets, pr.eval_points, pr.sizes});
    return out;
}

json study_meta(const StudySpec& s) {
    json m{{"objective_tag", s.tag()}, {"sampler", s.sampler}, {"seed", s.seed}};
    if (s.pruner != "none") {
        const auto p = s.make_pruner();
        m["pruner"] = {{"name", p->name()}, {"settings", p->settings()}};
    }
    if (s.eval_points > 0) m["eval_points"] = s.eval_points;
    if (describe_sizes(s.sizes) != describe_sizes(NasOptions{})) m["space"] = describe_sizes(s.sizes);  // not Tutorial 5's
    return m;
}

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
        if (!lo.pruner.empty()) j.argv.insert(j.argv.end(), {"--pruner", lo.pruner});
        for (const auto& kv : lo.pruner_sets) j.argv.insert(j.argv.end(), {"--pruner-set", kv});
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

namespace {

int lab2_job(const Lab2Options& lo, RankSetup* dr);

}  // namespace

int run_lab2(const Lab2Options& lo) {
    return run_distributed([&](RankSetup* dr) { return lab2_job(lo, dr); });
}

namespace {

// `mpirun -np N qbert lab2 ...` (experiments/study_ranks.h): rank 0 runs the lab and owns DIR/lab2.db; each
// study's trials are spread over every rank; the other ranks only train trials.
int lab2_job(const Lab2Options& lo, RankSetup* dr) {
    const bool root = engine::dist::world_rank() == 0;
    if (dr) {
        engine::dist::check_same("command line (qbert lab2 options)",
                                 json{{"out", lo.out}, {"profile", lo.profile}, {"seeds", lo.seeds}, {"trials", lo.trials},
                                      {"ca_trials", lo.ca_trials}, {"samplers", lo.samplers}, {"sets", lo.sets},
                                      {"threads", lo.threads}, {"jobs", lo.jobs}, {"only_study", lo.only_study},
                                      {"keep_trained", lo.keep_trained}, {"pruner", lo.pruner},
                                      {"pruner_sets", lo.pruner_sets}}
                                     .dump());
        if (lo.jobs > 1 || !lo.only_study.empty())
            throw engine::Error("--jobs starts worker processes on this machine; under mpirun the ranks are the "
                                "workers (each study's trials are spread over them): drop --jobs");
    }
    const Profile p = profile(lo.profile);
    const int64_t seeds = lo.seeds > 0 ? lo.seeds : p.seeds;
    const int64_t trials = lo.trials > 0 ? lo.trials : p.trials;
    const int64_t ca_trials = lo.ca_trials > 0 ? lo.ca_trials : p.ca_trials;
    if (lo.samplers.empty()) throw engine::Error("--samplers: give at least one sampler");
    for (const auto& s : lo.samplers) search::make_sampler(s, 0, nas_grid(p.sizes));  // unknown names fail here
    if (lo.jobs < 1) throw engine::Error("--jobs must be >= 1, got " + std::to_string(lo.jobs));
    const Pruning pr{lo.pruner.empty() ? p.pruner : lo.pruner,
                     lo.pruner.empty() && lo.pruner_sets.empty() ? p.pruner_sets : lo.pruner_sets, p.eval_points, p.sizes};
    make_pruner_from(pr.pruner, pr.sets);  // a bad name or setting fails here, before any file is written
    model::TrainConfig cfg = model::TrainConfig::from_toml(p.config, lo.sets);
    cfg.threads = lo.threads;
    // (a --jobs worker runs with fewer threads; its parent checked the settings before starting it)
    const auto task1 = task1_specs(lo.samplers, seeds, trials, pr);
    if (dr && !root) {  // train the trials rank 0 hands out, for whichever study they belong to
        std::vector<StudySpec> all = task1;
        for (const auto& sampler : lo.samplers)
            for (const auto& spec : task2_specs(sampler, ca_trials, p.post_train_epochs, seeds, pr)) all.push_back(spec);
        std::map<std::string, std::unique_ptr<NasObjective>> objectives;  // by objective (Task 1, Task 2 x post)
        dr->agree();
        dr->ranks.serve([&](const std::string& study) {
            const auto it = std::find_if(all.begin(), all.end(), [&](const StudySpec& x) { return x.name == study; });
            if (it == all.end()) throw engine::Error("rank " + std::to_string(engine::dist::world_rank()) +
                                                     ": rank 0 sent a trial of study '" + study + "', not in this lab");
            auto& obj = objectives[it->tag()];
            if (!obj) obj = std::make_unique<NasObjective>(cfg, it->objective(lo.out), nullptr);
            NasObjective* o = obj.get();
            return StudyRanks::Work{[o](search::Trial& t) { return StudyRanks::Values{(*o)(t)}; }, nullptr};
        });
        return 0;
    }
    if (lo.only_study.empty())
        check_run_settings(lo.out, {{"profile", lo.profile}, {"train_config", settings_json(cfg)}});
    auto st = std::make_shared<search::Storage>((fs::path(lo.out) / "lab2.db").string());
    if (dr) dr->agree();
    StudyRanks* ranks = dr ? &dr->ranks : nullptr;

    if (!lo.only_study.empty()) {  // a worker of lab2 --jobs: one study, no figures
        std::vector<StudySpec> all = task1;
        for (const auto& sampler : lo.samplers)
            for (const auto& spec : task2_specs(sampler, ca_trials, p.post_train_epochs, seeds, pr)) all.push_back(spec);
        const auto it = std::find_if(all.begin(), all.end(), [&](const StudySpec& x) { return x.name == lo.only_study; });
        if (it == all.end()) throw engine::Error("--only-study: no study named '" + lo.only_study + "' in this lab");
        NasObjective obj(cfg, it->objective(lo.out), [](const std::string& l) { std::printf("%s\n", l.c_str()); });
        run_study(st, it->name, it->sampler, static_cast<uint64_t>(it->seed), nas_grid(it->sizes), it->trials, study_meta(*it), lo.out,
                  it->make_pruner(), [&](search::Trial& t) { return obj(t); }, nullptr);
        return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("lab2: profile %s (%s), %ld seeds x %ld trials per sampler (%s), compression-aware %ld trials\n",
                lo.profile.c_str(), p.config.c_str(), long(seeds), long(trials), [&] {
                    std::string s;
                    for (const auto& x : lo.samplers) s += (s.empty() ? "" : ",") + x;
                    return s;
                }().c_str(), long(ca_trials));
    std::printf("space: %s (%zu architectures)\n", describe_sizes(p.sizes).c_str(),
                p.sizes.layers.size() * p.sizes.heads.size() * p.sizes.hidden.size() * p.sizes.intermediate.size());
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
    std::map<std::string, std::vector<std::vector<FrozenTrial>>> timed;  // TPE with / without the pruner -> per seed
    {
        std::unique_ptr<NasObjective> nas;  // loads the data: only when a study still has trials to run
        const auto objective = [&](const StudySpec& spec) {
            return [&](search::Trial& t) {
                if (!nas)
                    nas = std::make_unique<NasObjective>(cfg, spec.objective(lo.out),
                                                         [](const std::string& l) { std::printf("%s\n", l.c_str()); });
                return (*nas)(t);
            };
        };
        const std::string pruned_tpe = "tpe, " + pr.pruner + " pruner";
        for (const auto& spec : task1) {
            const auto done = run_study(st, spec.name, spec.sampler, static_cast<uint64_t>(spec.seed), nas_grid(spec.sizes), trials,
                                        study_meta(spec), lo.out, spec.make_pruner(), objective(spec), ranks);
            if (spec.pruner == "none" && pr.pruner != "none") {  // TPE without the pruner: only the time figure
                timed["tpe, no pruner"].push_back(done);
                continue;
            }
            if (spec.sampler == "tpe" && pr.pruner != "none") timed[pruned_tpe].push_back(done);
            curves[spec.sampler].push_back(best_so_far(done, trials));
        }
        // the comparison at equal time: TPE with the pruner goes on (past `trials`; the sampler figure shows only
        // the first `trials`) until its trials cost what the same seed's TPE without the pruner cost
        if (timed.size() == 2)
            for (size_t k = 0; k < timed[pruned_tpe].size(); ++k) {
                const auto& without = timed["tpe, no pruner"][k];
                const double budget = without.empty() ? 0.0 : cumulative_minutes(without).back();
                const auto spec = *std::find_if(task1.begin(), task1.end(), [&](const StudySpec& x) {
                    return x.sampler == "tpe" && x.pruner != "none" && x.seed == static_cast<int64_t>(k);
                });
                timed[pruned_tpe][k] = run_study(st, spec.name, spec.sampler, static_cast<uint64_t>(spec.seed),
                                                 nas_grid(spec.sizes), trials, study_meta(spec), lo.out,
                                                 spec.make_pruner(), objective(spec), ranks, budget, 5 * trials);
            }
    }
    std::vector<double> trial_axis;
    for (int64_t i = 1; i <= trials; ++i) trial_axis.push_back(static_cast<double>(i));
    std::vector<Band> t1_bands;
    for (const auto& s : lo.samplers) t1_bands.push_back({s, curves[s]});
    const std::string t1 = (fs::path(lo.out) / "task1_best_so_far.csv").string();
    const auto t1_means = write_bands(t1, "trial", trial_axis, t1_bands);
    std::string best_sampler;
    double best_mean = -1;
    for (const auto& b : t1_bands) {
        double lo_v = INFINITY, hi_v = -INFINITY;
        for (const auto& r : b.runs) lo_v = std::min(lo_v, r.back()), hi_v = std::max(hi_v, r.back());
        const double mean = t1_means.at(b.name);
        std::printf("task1 sampler=%s mean_best_at_%ld=%s (min %s, max %s over %zu seeds)\n", b.name.c_str(),
                    long(trials), fmt_num_or_nan(mean).c_str(), fmt_num_or_nan(lo_v).c_str(),
                    fmt_num_or_nan(hi_v).c_str(), b.runs.size());
        if (!std::isnan(mean) && mean > best_mean) best_mean = mean, best_sampler = b.name;
    }
    {
        Figure f;
        f.title = "Lab 2 Task 1: NAS samplers on IMDb" + std::string(pr.pruner == "none" ? "" : ", " + pr.pruner + " pruner");
        f.xlabel = "trial";
        f.ylabel = "best validation accuracy so far";
        plot_bands(f, t1, t1_bands, (fs::path(lo.out) / "task1_samplers").string());
    }
    std::printf("task1 best_sampler=%s\n", best_sampler.c_str());

    // ---- the pruner against none: TPE's best-so-far against the time the trials cost (as if nothing were reused)
    if (timed.size() == 2) {
        double horizon = INFINITY;  // the time every study reached, so each seed covers the whole axis
        for (const auto& [name, studies] : timed)
            for (const auto& tr : studies) horizon = std::min(horizon, tr.empty() ? 0.0 : cumulative_minutes(tr).back());
        std::vector<double> grid;
        for (int k = 1; k <= 60; ++k) grid.push_back(horizon * k / 60.0);
        std::vector<Band> bands;
        for (const auto& [name, studies] : timed) {
            Band b{name, {}};
            for (const auto& tr : studies) b.runs.push_back(best_by_time(tr, grid));
            bands.push_back(b);
        }
        const std::string csv = (fs::path(lo.out) / "task1_pruner_time.csv").string();
        const auto means = write_bands(csv, "minutes", grid, bands);
        for (const auto& [name, m] : means)
            std::printf("task1 pruner-comparison %s mean_best_at_%.1f_min=%s\n", name.c_str(), horizon,
                        fmt_num_or_nan(m).c_str());
        Figure f;
        f.title = "Lab 2: TPE with and without the " + pr.pruner + " pruner, best trial against time spent";
        f.xlabel = "minutes of training (the trials' own cost, nothing reused)";
        f.ylabel = "best validation accuracy so far";
        plot_bands(f, csv, bands, (fs::path(lo.out) / "task1_pruner_time").string());
    }

    // ---- Task 2: compression-aware NAS with the best sampler, without and with post-compression training
    const auto task2 = task2_specs(best_sampler, ca_trials, p.post_train_epochs, seeds, pr);
    if (lo.jobs > 1) run_in_workers(lo, *st, task2, seeds, trials, ca_trials);
    std::map<int64_t, std::vector<std::vector<double>>> t2_curves;  // post epochs -> per seed
    for (const auto& spec : task2) {
        std::unique_ptr<NasObjective> obj;
        const auto done = run_study(st, spec.name, spec.sampler, static_cast<uint64_t>(spec.seed), nas_grid(spec.sizes), ca_trials,
                                    study_meta(spec), lo.out, spec.make_pruner(),
                                    [&](search::Trial& t) {  // rank 0's own trials (a finished study runs none)
                                        if (!obj) obj = std::make_unique<NasObjective>(cfg, spec.objective(lo.out), nullptr);
                                        return (*obj)(t);
                                    },
                                    ranks);
        t2_curves[spec.post].push_back(best_so_far(done, ca_trials));
        const auto best = Study::best_of(done, search::Direction::Maximize);
        std::printf("task2 %s seed=%ld best=%s\n", spec.tag().c_str(), long(spec.seed),
                    best ? fmt_num(*best->value).c_str() : "-");
    }
    if (ranks) {
        ranks->finish();  // the other ranks are done; the figures are rank 0's
        std::printf("trials_per_rank=%s\n", ranks->trials_per_rank_text().c_str());
    }
    std::vector<Band> t2_bands;
    {
        Band nas{"NAS only (Task 1, " + best_sampler + ")", {}};
        for (const auto& c : curves[best_sampler]) nas.runs.push_back(std::vector<double>(c.begin(), c.begin() + std::min(trials, ca_trials)));
        t2_bands.push_back(nas);
        t2_bands.push_back({"compression-aware, no training after compression", t2_curves[0]});
        t2_bands.push_back({"compression-aware, " + std::to_string(p.post_train_epochs) + " epoch after compression",
                            t2_curves[p.post_train_epochs]});
    }
    std::vector<double> ca_axis;
    for (int64_t i = 1; i <= std::min(trials, ca_trials); ++i) ca_axis.push_back(static_cast<double>(i));
    for (auto& b : t2_bands)
        for (auto& r : b.runs) r.resize(ca_axis.size(), NAN);
    const std::string t2csv = (fs::path(lo.out) / "task2_best_so_far.csv").string();
    for (const auto& [name, m] : write_bands(t2csv, "trial", ca_axis, t2_bands))
        std::printf("task2 mean_best_at_%zu %s=%s\n", ca_axis.size(), name.c_str(), fmt_num_or_nan(m).c_str());
    {
        Figure f;
        f.title = "Lab 2 Task 2: compression-aware NAS (Q8.4 + 50% L1 pruning), sampler " + best_sampler;
        f.xlabel = "trial";
        f.ylabel = "best validation accuracy so far";
        plot_bands(f, t2csv, t2_bands, (fs::path(lo.out) / "task2_compression_aware").string());
    }
    if (!lo.keep_trained) {  // several GB at the quick profile; the results (small) stay for a resumed lab
        const TrainedCache cache((fs::path(lo.out) / "trained").string());
        const double gb = static_cast<double>(cache.remove_weights()) / 1e9;
        std::printf("removed the trained weights in %s (%.1f GB; --keep-trained keeps them)\n", cache.dir().c_str(), gb);
    }
    std::printf("lab2 done in %s\n",
                format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()).c_str());
    return 0;
}

}  // namespace

}  // namespace qbert::experiments
