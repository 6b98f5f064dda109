#include "experiments/search_run.h"

#include "experiments/objectives/mixed_precision.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "experiments/objectives/nas.h"
#include "experiments/results.h"
#include "experiments/study_report.h"
#include "search/samplers.h"
#include "search/space.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;
using search::FrozenTrial;
using search::Study;
using search::TrialState;

namespace {

// The end of a multi-objective `qbert search`: pareto.csv, one line per Pareto-optimal trial, and as the last
// line pareto_front=K. Returns the exit code (1 when no trial completed).
int report_pareto_front(const std::vector<FrozenTrial>& all, const std::vector<search::Direction>& dirs,
                        const std::string& pareto_csv) {
    write_pareto_csv(pareto_csv, all, dirs);
    const auto front = Study::pareto_front(all, dirs);
    if (front.empty()) std::printf("no trial completed\n");
    for (const FrozenTrial& t : front) {
        std::string values;
        for (double v : t.values) {
            char b[32];
            std::snprintf(b, sizeof b, "%.6g", v);
            values += (values.empty() ? "" : ",") + std::string(b);
        }
        std::printf("pareto trial=%ld values=%s params=%s\n", long(t.number), values.c_str(), t.shown_params().dump().c_str());
    }
    std::printf("directions=%s pareto_csv=%s\n", search::directions_name(dirs).c_str(), pareto_csv.c_str());
    std::printf("pareto_front=%zu\n", front.size());
    return front.empty() ? 1 : 0;
}

}  // namespace

std::shared_ptr<search::Pruner> make_pruner_from(const std::string& name, const std::vector<std::string>& sets) {
    std::map<std::string, std::string> settings;
    try {
        for (const auto& kv : sets) {
            const auto [k, v] = search::parse_setting(kv);
            if (settings.count(k)) throw search::Error("pruner setting '" + k + "' given twice");
            settings[k] = v;
        }
        return search::make_pruner(name, settings);
    } catch (const search::Error& e) {
        throw engine::Error(std::string("--pruner ") + name + ": " + e.what());
    }
}

int run_search(const SearchOptions& o) {
    static const std::set<std::string> objectives{"nas", "compression-aware", "exec", "mixed-precision"};
    if (!objectives.count(o.objective))
        throw engine::Error("unknown objective '" + o.objective + "'; valid: nas, compression-aware, exec, mixed-precision");
    const bool mixed = o.objective == "mixed-precision";
    if (o.trials < 1) throw engine::Error("--trials must be >= 1");
    const bool exec = o.objective == "exec";
    if (exec && (o.space_file.empty() || o.exec_cmd.empty()))
        throw engine::Error("--objective exec needs --space FILE.toml and --exec 'COMMAND'");
    if (!exec && (!o.space_file.empty() || !o.exec_cmd.empty()))
        throw engine::Error("--space and --exec belong to --objective exec");
    std::vector<search::Direction> dirs;  // one per objective
    if (!o.directions.empty()) {
        if (!exec && !mixed)
            throw engine::Error("--directions belongs to --objective exec or mixed-precision (nas and compression-aware "
                                "maximize accuracy)");
        try {
            dirs = search::parse_directions(o.directions);
        } catch (const search::Error& e) {
            throw engine::Error(std::string("--directions ") + o.directions + ": " + e.what());
        }
        const std::vector<search::Direction> acc_bits{search::Direction::Maximize, search::Direction::Minimize};
        if (mixed && dirs != acc_bits && dirs != std::vector<search::Direction>{search::Direction::Maximize})
            throw engine::Error("--directions " + o.directions + ": mixed-precision returns accuracy (maximize) and, "
                                "as a second objective, the Linear weights' bits (minimize): maximize or maximize,minimize");
    } else {
        dirs = {exec ? search::parse_direction(o.direction) : search::Direction::Maximize};
    }
    const bool multi = dirs.size() > 1;
    const std::string study_name = o.study.empty() ? o.objective : o.study;
    const std::string out = o.out.empty() ? (fs::path(o.storage).parent_path() / study_name).string() : o.out;
    std::printf("seed=%llu\n", static_cast<unsigned long long>(o.seed));

    json meta{{"objective", o.objective}, {"sampler", o.sampler}, {"seed", o.seed}};
    search::Study::Objective objective;
    search::Study::MultiObjective multi_objective;  // exec with several directions
    std::unique_ptr<search::SearchSpace> space;
    std::unique_ptr<NasObjective> nas;
    std::unique_ptr<MixedPrecisionObjective> mp;
    search::GridSampler::Space grid;
    model::TrainConfig cfg;
    if (exec) {
        space = std::make_unique<search::SearchSpace>(search::SearchSpace::from_toml_file(o.space_file));
        if (o.sampler == "grid") grid = space->grid();
        meta["exec"] = o.exec_cmd;
        meta["space"] = json::object();
        for (const auto& [n, d] : space->params) meta["space"][n] = d.to_json();
        objective = [&](search::Trial& t) {
            const json params = space->suggest_all(t);
            // `report STEP VALUE` lines go to the pruner; when it prunes, the command is stopped
            const search::ExecResult r = search::run_exec(o.exec_cmd, params, t.number(), "  | ", o.exec_timeout, 1,
                                                          [&](int64_t step, double value) {
                                                              t.report(value, step);
                                                              return t.should_prune();
                                                          });
            if (!r.last_line.empty()) t.set_user_attr("last_line", r.last_line);
            if (r.pruned) throw search::TrialPruned("pruned at step " + std::to_string(r.pruned_step) + ", command stopped");
            if (!r.value) throw search::Error(r.error);
            return *r.value;
        };
        multi_objective = [&](search::Trial& t) {  // the last line holds one value per objective
            const json params = space->suggest_all(t);
            const search::ExecResult r =
                search::run_exec(o.exec_cmd, params, t.number(), "  | ", o.exec_timeout, dirs.size());
            if (!r.last_line.empty()) t.set_user_attr("last_line", r.last_line);
            if (r.values.empty()) throw search::Error(r.error);
            return r.values;
        };
    } else if (mixed) {
        if (o.sampler == "grid")
            throw engine::Error("mixed-precision: the grid sampler needs a fixed space, and each layer's parameters "
                                "depend on the format it draws; use random, tpe or nsga2");
        MixedPrecisionOptions mo;
        mo.base.checkpoint = o.checkpoint;
        mo.base.data_root = o.data_root;
        mo.base.lr = o.lr;
        mo.base.seed = o.seed;
        mo.base.threads = o.threads;
        mo.choices = o.formats;
        mo.train_reviews = o.train_reviews;
        mo.eval_reviews = o.eval_reviews;
        mo.bits_objective = multi;
        mp = std::make_unique<MixedPrecisionObjective>(mo);  // errors (checkpoint, data, formats) before the study
        meta["checkpoint"] = o.checkpoint;
        meta["choices"] = o.formats;
        meta["budget"] = mp->describe();
        objective = [&](search::Trial& t) { return (*mp)(t).at(0); };
        multi_objective = [&](search::Trial& t) { return (*mp)(t); };
        std::printf("mixed-precision: %s; fp32 weight bits %.0f\n", mp->describe().c_str(), mp->fp32_bits());
    } else {
        cfg = model::TrainConfig::from_toml(o.config, o.sets);
        if (o.sampler == "grid") {
            if (o.nas_space != "model")
                throw engine::Error("the grid sampler needs a fixed space, and --nas-space layers has a parameter per "
                                    "square layer that exists only for some depths; use --nas-space model");
            grid = nas_grid();
        }
        meta["nas_space"] = o.nas_space;
        meta["train_config"] = settings_json(cfg);
        meta["post_train_epochs"] = o.post_train_epochs;
    }
    auto sampler = search::make_sampler(o.sampler, o.seed, grid);  // unknown names throw before any data loads
    const auto pruner = make_pruner_from(o.pruner, o.pruner_sets);
    if (pruner->name() != "none") {
        if (multi) throw engine::Error("--pruner needs a single objective (as Optuna); drop --pruner or --directions");
        meta["pruner"] = {{"name", pruner->name()}, {"settings", pruner->settings()}};
    }
    if (o.eval_points < 0) throw engine::Error("--eval-points must be >= 0");
    if (o.eval_points > 0 && (exec || mixed))
        throw engine::Error("--eval-points belongs to the nas and compression-aware objectives (exec commands report "
                            "with 'report STEP VALUE' lines)");
    if (o.eval_points > 0) meta["eval_points"] = o.eval_points;
    fs::create_directories(out);
    if (!fs::path(o.storage).parent_path().empty()) fs::create_directories(fs::path(o.storage).parent_path());
    auto storage = std::make_shared<search::Storage>(o.storage);
    Study study(storage, study_name, dirs, sampler, o.resume ? search::OpenMode::Load : search::OpenMode::Create, meta);
    study.set_pruner(pruner);
    if (o.resume) {
        check_study_meta(study, meta);
        for (int64_t n : study.fail_stale_trials())
            std::printf("trial %ld was running in a process that is gone: marked failed\n", long(n));
        std::printf("resuming study '%s': %ld trials so far\n", study_name.c_str(), long(study.trials().size()));
    }
    if (!exec && !mixed) {
        NasOptions no;
        no.space = o.nas_space;
        no.compress = o.objective == "compression-aware";
        no.post_train_epochs = o.post_train_epochs;
        no.post_train_lr = o.post_train_lr;
        no.eval_points = o.eval_points;
        nas = std::make_unique<NasObjective>(cfg, no, [](const std::string& l) { std::printf("%s\n", l.c_str()); });
        objective = [&](search::Trial& t) { return (*nas)(t); };
    }
    std::printf("study=%s storage=%s sampler=%s objective=%s trials=%ld out=%s\n", study_name.c_str(),
                o.storage.c_str(), o.sampler.c_str(), o.objective.c_str(), long(o.trials), out.c_str());
    std::fflush(stdout);

    const std::string csv = (fs::path(out) / "trials.csv").string();
    const std::string pareto_csv = (fs::path(out) / "pareto.csv").string();
    const std::string best_ckpt = (fs::path(out) / "best.h5").string();
    TrialReporter report{o.trials};
    search::OptimizeOptions opt;
    opt.study_trials = o.trials;
    opt.timeout_s = o.timeout;
    const auto on_trial_end = [&](const Study& s, const FrozenTrial& t) {
        report(s, t);
        write_trials_csv(csv, s.trials(), s.directions());
        if (multi) {
            write_pareto_csv(pareto_csv, s.trials(), s.directions());
            return;
        }
        const auto best = Study::best_of(s.trials(), s.direction());
        if (nas && nas->last_model() && best && best->number == t.number) {  // a new best: keep its model
            json m = json::parse(nas->checkpoint_meta());
            m["search"] = {{"study", s.name()}, {"trial", t.number}, {"value", *t.value}, {"params", t.params_json()}};
            model::save_bert(best_ckpt, *nas->last_model(), m.dump());
        }
    };
    if (multi)
        study.optimize(multi_objective, opt, on_trial_end);
    else
        study.optimize(objective, opt, on_trial_end);
    const auto all = study.trials();
    write_trials_csv(csv, all, dirs);
    std::map<TrialState, int> count;
    for (const auto& t : all) count[t.state]++;
    std::printf("trials=%zu complete=%d pruned=%d fail=%d running=%d csv=%s\n", all.size(), count[TrialState::Complete],
                count[TrialState::Pruned], count[TrialState::Fail], count[TrialState::Running], csv.c_str());
    if (multi) return report_pareto_front(all, dirs, pareto_csv);
    const auto best = study.best_trial();
    if (!best) {
        std::printf("no trial completed\n");
        return 1;
    }
    std::printf("best_trial=%ld params=%s\n", long(best->number), best->shown_params().dump().c_str());
    if (nas && fs::exists(best_ckpt)) std::printf("checkpoint=%s\n", best_ckpt.c_str());
    std::printf("best_value=%.6g\n", *best->value);
    return 0;
}

}  // namespace qbert::experiments
