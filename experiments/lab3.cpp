#include "experiments/lab3.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "experiments/lab1.h"
#include "experiments/objectives/mixed_precision.h"
#include "experiments/results.h"
#include "experiments/study_ranks.h"
#include "experiments/study_report.h"
#include "engine/dist/comm.h"
#include "search/samplers.h"
#include "util/progress.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
using nlohmann::json;
using search::Direction;
using search::FrozenTrial;
using search::Study;

namespace {
struct Profile {
    int64_t a, b, c, train_reviews, eval_reviews;
};
Profile profile(const std::string& name) {
    // quick: ~4 s a trial here (tiny base model, 512 tokens); 40 + 9 x 15 + 60 = 235 trials in <= 30 minutes
    // (with 256 and 500 reviews, 2 s a trial: 160 trials in 6 minutes, but a point of accuracy was 5 reviews)
    if (name == "quick") return {40, 15, 60, 512, 1000};
    // full: QAT on 2,000 reviews and the whole validation split (1,250) per trial
    if (name == "full") return {60, 30, 100, 2000, 1250};
    throw engine::Error("--profile must be quick or full, but got '" + name + "'");
}

// Runs (or resumes) one study until it holds `trials` trials; returns its trials.
std::vector<FrozenTrial> run_study(MixedPrecisionObjective& obj, const std::shared_ptr<search::Storage>& st,
                                   const std::string& name, const std::vector<std::string>& choices,
                                   const std::vector<Direction>& dirs, const std::string& sampler, uint64_t seed,
                                   int64_t trials, const json& meta, const std::string& out, StudyRanks* ranks) {
    obj.set_choices(choices);
    obj.set_bits_objective(dirs.size() > 1);
    Study study(st, name, dirs, search::make_sampler(sampler, seed), search::OpenMode::CreateOrLoad, meta);
    check_study_meta(study, meta);
    for (int64_t n : study.fail_stale_trials())
        std::printf("%s: trial %ld was running when an earlier run stopped: marked failed\n", name.c_str(), long(n));
    const int64_t have = study.counted_trials();  // as OptimizeOptions::study_trials counts them
    std::printf("== study %s (choices per layer: ", name.c_str());
    for (size_t i = 0; i < choices.size(); ++i) std::printf("%s%s", i ? ", " : "", choices[i].c_str());
    std::printf("; sampler %s, seed %llu): %ld of %ld trials done\n", sampler.c_str(),
                static_cast<unsigned long long>(seed), long(std::min(have, trials)), long(trials));
    std::fflush(stdout);
    const std::string csv = (fs::path(out) / (name + ".csv")).string();
    // one short line per trial (the parameters, three per layer, are in the CSV)
    const auto start = std::chrono::steady_clock::now();
    int64_t ran = 0;
    auto after = [&](const Study& s, const FrozenTrial& t) {
        ++ran;
        const int64_t left = std::max<int64_t>(0, trials - static_cast<int64_t>(s.trials().size()));
        const double per = seconds_since(start) / static_cast<double>(ran);
        std::string values;
        for (double v : t.values) values += (values.empty() ? "" : " ") + fmt_num(v, v > 1000 ? 0 : 4);
        const auto& u = t.user_attrs;
        std::printf("[%s %ld] %s value=%s%s quantized_layers=%s bits_per_weight=%s %.1f s, ETA %s\n", name.c_str(),
                    long(t.number), search::state_name(t.state), values.empty() ? "-" : values.c_str(),
                    dirs.size() == 1 && !t.values.empty()
                        ? (" best=" + fmt_num(*Study::best_so_far(s.trials(), dirs[0]).back())).c_str()
                        : (" pareto_front=" + std::to_string(Study::pareto_front(s.trials(), dirs).size())).c_str(),
                    u.contains("quantized_layers") ? u["quantized_layers"].dump().c_str() : "-",
                    u.contains("bits_per_weight") ? fmt_num(u["bits_per_weight"].get<double>(), 2).c_str() : "-",
                    t.duration_s, util::format_duration(per * static_cast<double>(left)).c_str());
        std::fflush(stdout);
        write_trials_csv(csv, s.trials(), dirs);
    };
    search::OptimizeOptions o;
    o.study_trials = trials;
    o.catch_errors = false;  // a bug is not a failed trial
    if (ranks)  // the trials spread over the MPI ranks (each rank sets the study's choices: lab3_job)
        ranks->optimize(study, {[&](search::Trial& t) { return obj(t); }, nullptr}, o, after);
    else if (dirs.size() == 1)
        study.optimize([&](search::Trial& t) { return obj(t).at(0); }, o, after);
    else
        study.optimize(search::Study::MultiObjective([&](search::Trial& t) { return obj(t); }), o, after);
    write_trials_csv(csv, study.trials(), dirs);
    if (dirs.size() > 1) write_pareto_csv((fs::path(out) / (name + "_pareto.csv")).string(), study.trials(), dirs);
    return study.trials();
}

// Best accuracy so far after each trial (NaN before the first completed one).
std::vector<double> best_curve(const std::vector<FrozenTrial>& trials) {
    std::vector<double> out;
    for (const auto& v : Study::best_so_far(trials, Direction::Maximize)) out.push_back(v ? *v : NAN);
    return out;
}

}  // namespace

namespace {

// The lab's studies: name, per-layer choices, objectives (every rank derives the same list).
struct StudyDef {
    std::string name;
    std::vector<std::string> choices;
    std::vector<Direction> dirs;
};
std::vector<StudyDef> lab3_studies(const std::vector<std::string>& formats) {
    const std::vector<Direction> acc{Direction::Maximize};
    std::vector<StudyDef> out{{"a-integer", {"fp32", "integer"}, acc}};
    for (const auto& f : formats) out.push_back({"b-" + f, {"fp32", f}, acc});
    std::vector<std::string> all{"fp32"};
    all.insert(all.end(), formats.begin(), formats.end());
    out.push_back({"c-pareto", all, {Direction::Maximize, Direction::Minimize}});
    return out;
}

int lab3_job(const Lab3Options& in, RankSetup* dr);

}  // namespace

int run_lab3(const Lab3Options& in) {
    return run_distributed([&](RankSetup* dr) { return lab3_job(in, dr); });
}

namespace {

// `mpirun -np N qbert lab3`: a missing base model is trained data-parallel by every rank, the fp32 references
// are computed by every rank together, and each study's trials are spread over the ranks (rank 0 owns lab3.db).
int lab3_job(const Lab3Options& in, RankSetup* dr) {
    Lab3Options lo = in;
    const bool root = engine::dist::world_rank() == 0;
    if (dr)
        engine::dist::check_same(
            "command line (qbert lab3 options)",
            json{{"checkpoint", lo.base.checkpoint}, {"data", lo.base.data_root}, {"lr", lo.base.lr},
                 {"seed", lo.base.seed}, {"threads", lo.base.threads}, {"out", lo.out}, {"profile", lo.profile},
                 {"a", lo.trials_a}, {"b", lo.trials_b}, {"c", lo.trials_c}, {"train_reviews", lo.train_reviews},
                 {"eval_reviews", lo.eval_reviews}, {"formats", lo.formats}, {"sampler", lo.sampler},
                 {"pareto_sampler", lo.pareto_sampler}}
                .dump());
    const Profile p = profile(lo.profile);
    const int64_t ta = lo.trials_a ? lo.trials_a : p.a, tb = lo.trials_b ? lo.trials_b : p.b,
                  tc = lo.trials_c ? lo.trials_c : p.c;
    std::vector<std::string> formats = lo.formats.empty() ? mixed_precision_formats() : lo.formats;
    for (const auto& f : formats) {
        const auto k = engine::parse_format(f);
        if (!k || *k == engine::FormatKind::Fp32)
            throw engine::Error("--formats: '" + f + "' is not a format; valid: " + engine::format_names());
    }
    // before the first collective (a missing base model is trained by every rank together): from here on a rank
    // that fails alone ends the job (MPI_Abort) or, below, says so through one more agreement
    if (dr) dr->agree();
    fs::create_directories(lo.out);
    const auto t0 = std::chrono::steady_clock::now();
    lo.base.checkpoint = ensure_base_checkpoint(lo.base.checkpoint, lo.out, lo.base.data_root);
    MixedPrecisionOptions mo;
    mo.base = lo.base;
    mo.train_reviews = lo.train_reviews ? lo.train_reviews : p.train_reviews;
    mo.eval_reviews = lo.eval_reviews ? lo.eval_reviews : p.eval_reviews;
    const json settings{{"checkpoint", lo.base.checkpoint}, {"profile", lo.profile},
                        {"train_reviews", mo.train_reviews}, {"eval_reviews", mo.eval_reviews},
                        {"lr", lo.base.lr}, {"seed", lo.base.seed}};
    std::unique_ptr<MixedPrecisionObjective> objective;  // reads the checkpoint and the data on every rank
    std::string failure;
    try {
        objective = std::make_unique<MixedPrecisionObjective>(mo);
        if (root) check_run_settings(lo.out, settings);
    } catch (const std::exception& e) {
        if (!dr) throw;
        failure = e.what();
    }
    if (dr) engine::dist::agree(failure.empty(), failure);
    MixedPrecisionObjective& obj = *objective;
    const auto studies = lab3_studies(formats);
    std::printf("lab3 profile=%s base=%s: %s\n", lo.profile.c_str(), lo.base.checkpoint.c_str(), obj.describe().c_str());

    // the fp32 references, on the same validation reviews (cached in DIR/fp32.json: they take a minute); under
    // MPI rank 0 reads the file and every rank computes what is missing together
    const std::string ref_path = (fs::path(lo.out) / "fp32.json").string();
    json ref;
    if (root && fs::exists(ref_path)) ref = json::parse(std::ifstream(ref_path));
    int64_t need = ref.contains("accuracy") ? 0 : 1;
    engine::dist::broadcast(&need, sizeof need, 0);
    if (need) {
        ref["accuracy"] = obj.fp32_accuracy();
        ref["finetuned_accuracy"] = obj.fp32_finetuned_accuracy();
        ref["weight_bits"] = obj.fp32_bits();
        if (root) write_file_atomic(ref_path, ref.dump(2) + "\n");
    }
    if (dr && !root) {  // train the trials rank 0 hands out
        dr->ranks.serve([&](const std::string& name) {
            const auto it = std::find_if(studies.begin(), studies.end(), [&](const StudyDef& d) { return d.name == name; });
            if (it == studies.end())
                throw engine::Error("rank 0 sent a trial of study '" + name + "', not in this lab");
            return StudyRanks::Work{[&obj, it](search::Trial& t) {
                                        obj.set_choices(it->choices);
                                        obj.set_bits_objective(it->dirs.size() > 1);
                                        return obj(t);
                                    },
                                    nullptr};
        });
        return 0;
    }
    StudyRanks* ranks = dr ? &dr->ranks : nullptr;
    const double fp32 = ref["accuracy"].get<double>(), fp32_ft = ref["finetuned_accuracy"].get<double>();
    std::printf("fp32_accuracy=%.4f fp32_finetuned_accuracy=%.4f fp32_weight_bits=%.0f\n", fp32, fp32_ft,
                obj.fp32_bits());
    std::fflush(stdout);

    auto st = std::make_shared<search::Storage>((fs::path(lo.out) / "lab3.db").string());
    auto meta = [&](const std::string& task) {
        return json{{"task", task}, {"objective", obj.describe()}, {"sampler", task == "c" ? lo.pareto_sampler : lo.sampler}};
    };
    const std::vector<Direction> acc{Direction::Maximize};

    // (a) fp32 or integer per layer, width and frac width per layer
    const auto a = run_study(obj, st, studies[0].name, studies[0].choices, acc, lo.sampler, lo.base.seed, ta, meta("a"),
                             lo.out, ranks);
    {
        const auto best = best_curve(a);
        ResultTable t((fs::path(lo.out) / "lab3_a.csv").string(), {"trial", "accuracy", "best_so_far", "weight_bits"},
                      {"trial"});
        for (size_t i = 0; i < a.size(); ++i)
            t.add({{"trial", std::to_string(a[i].number)},
                   {"accuracy", a[i].value ? fmt_num(*a[i].value) : "NaN"},
                   {"best_so_far", fmt_num_or_nan(best[i])},
                   {"weight_bits", a[i].user_attrs.contains("weight_bits") ? fmt_num(a[i].user_attrs["weight_bits"].get<double>(), 0) : ""}});
        Figure f;
        f.title = "Lab 3 (a): per-layer fixed point (width 8/16/32, frac 2/4/8) or fp32, TPE";
        f.xlabel = "trial";
        f.ylabel = "best validation accuracy so far";
        f.curves.push_back({"best so far", t.path(), "1:3", "linespoints"});
        f.curves.push_back({"each trial", t.path(), "1:2", "points"});
        f.hlines = {{"fp32 model", fp32}};  // (fp32 fine-tuned with the same budget: printed, in fp32.json)
        std::vector<double> ys = best;
        ys.push_back(fp32);
        frame_y(f, {ys});
        plot(f, (fs::path(lo.out) / "lab3_a").string());
        const double b = best.empty() ? NAN : best.back();
        std::printf("task_a_best=%.4f fp32=%.4f fp32_finetuned=%.4f gap_points=%.2f\n", b, fp32, fp32_ft, (fp32 - b) * 100.0);
    }

    // (b) one study per format: each layer fp32 or that format
    {
        std::vector<std::string> cols{"trial"};
        for (const auto& f : formats) cols.push_back(f);
        ResultTable t((fs::path(lo.out) / "lab3_b.csv").string(), cols, {"trial"});
        std::vector<std::vector<double>> curves;
        for (const auto& f : formats)
            curves.push_back(best_curve(run_study(obj, st, "b-" + f, {"fp32", f}, acc, lo.sampler, lo.base.seed, tb,
                                                  meta("b"), lo.out, ranks)));
        Figure fig;
        fig.title = "Lab 3 (b): per-layer choice of fp32 or one format, one study per format (TPE)";
        fig.xlabel = "trial";
        fig.ylabel = "best validation accuracy so far";
        fig.key = "outside right";
        std::vector<double> all{fp32};
        for (int64_t i = 0; i < tb; ++i) {
            ResultTable::Row r{{"trial", std::to_string(i)}};
            for (size_t k = 0; k < formats.size(); ++k) {
                const double v = i < static_cast<int64_t>(curves[k].size()) ? curves[k][size_t(i)] : NAN;
                r[formats[k]] = fmt_num_or_nan(v);
                all.push_back(v);
            }
            t.add(r);
        }
        for (size_t k = 0; k < formats.size(); ++k)
            fig.curves.push_back({formats[k], t.path(), "1:" + std::to_string(k + 2), "linespoints"});
        fig.hlines = {{"fp32 model", fp32}};
        frame_y(fig, {all});
        plot(fig, (fs::path(lo.out) / "lab3_b").string());
        for (size_t k = 0; k < formats.size(); ++k)
            std::printf("task_b_best %s=%.4f\n", formats[k].c_str(), curves[k].empty() ? NAN : curves[k].back());
    }

    // (c) accuracy vs weight bits over every format, two objectives
    {
        std::vector<std::string> choices{"fp32"};
        choices.insert(choices.end(), formats.begin(), formats.end());
        const std::vector<Direction> dirs{Direction::Maximize, Direction::Minimize};
        const auto c = run_study(obj, st, "c-pareto", choices, dirs, lo.pareto_sampler, lo.base.seed, tc, meta("c"),
                                 lo.out, ranks);
        if (ranks) {
            ranks->finish();
            std::printf("trials_per_rank=%s\n", ranks->trials_per_rank_text().c_str());
        }
        const auto front = Study::pareto_front(c, dirs);
        std::set<int64_t> on_front;
        for (const auto& t : front) on_front.insert(t.number);
        ResultTable t((fs::path(lo.out) / "lab3_c.csv").string(), {"trial", "accuracy", "weight_mbits", "pareto"},
                      {"trial"});
        ResultTable tf((fs::path(lo.out) / "lab3_c_front.csv").string(), {"weight_mbits", "accuracy", "trial"},
                       {"trial"});
        std::vector<double> ys{fp32};
        for (const auto& tr : c) {
            if (tr.state != search::TrialState::Complete || tr.values.size() != 2) continue;
            t.add({{"trial", std::to_string(tr.number)}, {"accuracy", fmt_num(tr.values[0])},
                   {"weight_mbits", fmt_num(tr.values[1] / 1e6, 4)}, {"pareto", on_front.count(tr.number) ? "1" : "0"}});
            ys.push_back(tr.values[0]);
        }
        // the front sorted by bits, for a staircase line
        std::vector<FrozenTrial> sorted = front;
        std::sort(sorted.begin(), sorted.end(), [](const FrozenTrial& x, const FrozenTrial& y) { return x.values[1] < y.values[1]; });
        for (const auto& tr : sorted)
            tf.add({{"weight_mbits", fmt_num(tr.values[1] / 1e6, 4)}, {"accuracy", fmt_num(tr.values[0])},
                    {"trial", std::to_string(tr.number)}});
        Figure fig;
        fig.title = "Lab 3 (c): accuracy vs Linear weight bits, every format per layer (MOTPE, 2 objectives)";
        fig.xlabel = "Linear weights, Mbit (fp32: " + fmt_num(obj.fp32_bits() / 1e6, 3) + ")";
        fig.ylabel = "validation accuracy";
        fig.key = "bottom right";
        fig.curves.push_back({"trials", t.path(), "3:2", "points"});
        fig.curves.push_back({"Pareto front", tf.path(), "1:2", "linespoints"});
        fig.hlines = {{"fp32 model", fp32}};
        frame_y(fig, {ys});
        fig.ymin = std::max(0.0, fig.ymin);
        plot(fig, (fs::path(lo.out) / "lab3_c").string());
        std::printf("task_c_trials=%zu pareto_front=%zu\n", c.size(), front.size());
    }
    std::printf("lab3_seconds=%.0f\n", seconds_since(t0));
    return 0;
}

}  // namespace

}  // namespace qbert::experiments
