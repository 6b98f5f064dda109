#include "experiments/search_run.h"

#include "experiments/objectives/mixed_precision.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "experiments/objectives/nas.h"
#include "experiments/results.h"
#include "experiments/study_report.h"
#include "experiments/study_ranks.h"
#include "engine/dist/comm.h"
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
            if (!values.empty()) values += ',';
            values += b;
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

namespace {

int search_job(const SearchOptions& o, RankSetup* dr);

}  // namespace

int run_search(const SearchOptions& o) {
    return run_distributed([&](RankSetup* dr) { return search_job(o, dr); });
}

namespace {

// Every option, for comparing ranks: a distributed study needs all ranks started with the same ones.
std::string options_text(const SearchOptions& o) {
    return json{{"objective", o.objective}, {"sampler", o.sampler}, {"trials", o.trials}, {"timeout", o.timeout},
                {"seed", o.seed}, {"storage", o.storage}, {"study", o.study}, {"out", o.out}, {"resume", o.resume},
                {"post_train_epochs", o.post_train_epochs}, {"post_train_lr", o.post_train_lr},
                {"direction", o.direction}, {"directions", o.directions}, {"space", o.space_file},
                {"exec", o.exec_cmd}, {"exec_timeout", o.exec_timeout}, {"nas_space", o.nas_space},
                {"pruner", o.pruner}, {"pruner_sets", o.pruner_sets}, {"eval_points", o.eval_points},
                {"config", o.config}, {"sets", o.sets}, {"checkpoint", o.checkpoint}, {"data", o.data_root},
                {"formats", o.formats}, {"train_reviews", o.train_reviews}, {"eval_reviews", o.eval_reviews},
                {"lr", o.lr}, {"threads", o.threads}}
        .dump();
}

int search_job(const SearchOptions& o, RankSetup* dr) {
    const bool root = engine::dist::world_rank() == 0;
    // first, before anything that could fail on one rank only (every rank takes part in this collective)
    if (dr) engine::dist::check_same("command line (qbert search options)", options_text(o));
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
    std::unique_ptr<Study> owned;  // rank 0 (or the only process) owns the study file
    if (root) {
        fs::create_directories(out);
        if (!fs::path(o.storage).parent_path().empty()) fs::create_directories(fs::path(o.storage).parent_path());
        auto storage = std::make_shared<search::Storage>(o.storage);
        owned = std::make_unique<Study>(storage, study_name, dirs, sampler,
                                        o.resume ? search::OpenMode::Load : search::OpenMode::Create, meta);
        owned->set_pruner(pruner);
        if (o.resume) {
            check_study_meta(*owned, meta);
            for (int64_t n : owned->fail_stale_trials())
                std::printf("trial %ld was running in a process that is gone: marked failed\n", long(n));
            std::printf("resuming study '%s': %ld trials so far\n", study_name.c_str(), long(owned->trials().size()));
        }
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
    const std::string csv = (fs::path(out) / "trials.csv").string();
    const std::string pareto_csv = (fs::path(out) / "pareto.csv").string();
    const std::string best_ckpt = (fs::path(out) / "best.h5").string();
    // the best model so far, saved by whichever process trained it
    const auto best_meta = [&](const FrozenTrial& t) {
        json m = json::parse(nas->checkpoint_meta());
        m["search"] = {{"study", study_name}, {"trial", t.number}, {"value", *t.value}, {"params", t.params_json()}};
        return m.dump();
    };
    StudyRanks::Work work;  // what every rank runs for a trial of a distributed study
    if (dr) {
        work.objective = [&](search::Trial& t) {
            return multi ? multi_objective(t) : std::vector<double>{objective(t)};
        };
        if (nas)
            work.told = [&](const FrozenTrial& done, bool best, const StudyRanks::Keep& keep) {
                if (best && nas->last_model())
                    keep_best_file(done, keep, best_ckpt,
                                   [&](const std::string& p) { model::save_bert(p, *nas->last_model(), best_meta(done)); });
            };
        dr->agree();
        if (!root) {
            dr->ranks.serve([&](const std::string&) { return work; });
            return 0;
        }
    }
    Study& study = *owned;
    std::printf("study=%s storage=%s sampler=%s objective=%s trials=%ld out=%s%s\n", study_name.c_str(),
                o.storage.c_str(), o.sampler.c_str(), o.objective.c_str(), long(o.trials), out.c_str(),
                dr ? (" ranks=" + std::to_string(engine::dist::world_size())).c_str() : "");
    std::fflush(stdout);
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
        if (!dr && nas && nas->last_model() && best && best->number == t.number)  // a new best: keep its model
            model::save_bert(best_ckpt, *nas->last_model(), best_meta(t));
    };
    if (dr) {
        dr->ranks.optimize(study, work, opt, on_trial_end);
        dr->ranks.finish();
        std::printf("trials_per_rank=%s\n", dr->ranks.trials_per_rank_text().c_str());
    } else if (multi) {
        study.optimize(multi_objective, opt, on_trial_end);
    } else {
        study.optimize(objective, opt, on_trial_end);
    }
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

}  // namespace

// ---------------------------------------------------------------- qbert tpe-explain

namespace {

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// a parameter's internal value as the objective sees it, short
std::string shown_value(const search::Distribution& d, double internal) {
    const json e = d.to_external(internal);
    if (e.is_string()) return e.get<std::string>();
    if (d.kind == search::Distribution::Kind::Int) return std::to_string(static_cast<long long>(internal));
    if (e.is_number()) return fmt("%.6g", e.get<double>());
    return e.dump();
}

std::string shown_objective(const search::TpeExplanation::Observation& o) {
    std::string s = o.state == TrialState::Pruned ? "pruned" : "";
    if (o.state == TrialState::Pruned && o.last_reported) s.append("@").append(fmt("%.5g", *o.last_reported));
    for (double v : o.values) {
        if (!s.empty()) s += ',';
        s += fmt("%.5g", v);
    }
    return s;
}

// best first (single objective; pruned trials last), else trial-number order
std::vector<search::TpeExplanation::Observation> best_first(std::vector<search::TpeExplanation::Observation> g,
                                                            const std::vector<search::Direction>& dirs) {
    if (dirs.size() != 1) return g;
    std::stable_sort(g.begin(), g.end(), [&](const auto& a, const auto& b) {
        if (a.values.empty() != b.values.empty()) return b.values.empty();
        return !a.values.empty() && search::better(dirs[0], a.values[0], b.values[0]);
    });
    return g;
}

void print_group(const char* title, const std::vector<search::TpeExplanation::Observation>& group,
                 const search::TpeExplanation& why, const std::vector<search::Direction>& dirs, size_t limit) {
    std::printf("  %s\n", title);
    if (group.empty()) return;
    const auto sorted = best_first(group, dirs);
    int width = 12;  // wide enough for every objective value shown (several with several objectives)
    for (size_t i = 0; i < sorted.size() && i < limit; ++i)
        width = std::max(width, static_cast<int>(shown_objective(sorted[i]).size()));
    std::printf("    %5s  %*s  %12s\n", "trial", width, dirs.size() == 1 ? "value" : "values", why.name.c_str());
    for (size_t i = 0; i < sorted.size() && i < limit; ++i) {
        const auto& o = sorted[i];
        std::printf("    %5ld  %*s  %12s\n", long(o.number), width, shown_objective(o).c_str(),
                    o.param ? shown_value(why.distribution, *o.param).c_str() : "- (not set)");
    }
    if (sorted.size() > limit) std::printf("    ... %zu more (--all lists them)\n", sorted.size() - limit);
}

void print_explanation(const search::TpeExplanation& why, const std::vector<search::Direction>& dirs, bool all) {
    const size_t limit = all ? SIZE_MAX : 10;
    std::printf("\n%s: %s\n", why.name.c_str(), why.distribution.describe().c_str());
    print_group(("good (below, l(x)): " + std::to_string(why.below.size()) + " trials").c_str(), why.below, why, dirs,
                SIZE_MAX);
    print_group(("bad (above, g(x)): " + std::to_string(why.above.size()) + " trials").c_str(), why.above, why, dirs,
                limit);
    // the candidates, one row per distinct value (an int or a categorical is often drawn several times)
    struct Row {
        size_t first;  // draw index of its first occurrence
        int times;
    };
    std::vector<Row> rows;
    for (size_t i = 0; i < why.candidates.size(); ++i) {
        auto it = std::find_if(rows.begin(), rows.end(),
                               [&](const Row& r) { return why.candidates[r.first].x == why.candidates[i].x; });
        if (it == rows.end())
            rows.push_back({i, 1});
        else
            ++it->times;
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
        return why.candidates[a.first].score() > why.candidates[b.first].score();
    });
    const size_t shown = std::min(rows.size(), limit);
    std::printf("  %zu candidates drawn from l(x)", why.candidates.size());
    if (rows.size() < why.candidates.size()) std::printf(", %zu distinct values", rows.size());
    std::printf(", highest score first%s:\n", shown < rows.size() ? (" (the first " + std::to_string(shown) + ")").c_str() : "");
    const bool repeats = rows.size() < why.candidates.size();  // a "drawn" column only when it says something
    std::printf("    %12s%s  %8s  %8s  %13s\n", why.name.c_str(), repeats ? "  drawn" : "", "log l", "log g",
                "log l - log g");
    for (size_t k = 0; k < shown; ++k) {
        const auto& c = why.candidates[rows[k].first];
        const std::string drawn = repeats ? fmt("  %4.0fx", rows[k].times) : "";
        std::printf("    %12s%s  %8.3f  %8.3f  %13.3f%s\n", shown_value(why.distribution, c.x).c_str(), drawn.c_str(),
                    c.log_l, c.log_g, c.score(), rows[k].first == why.chosen_index ? "  <- chosen" : "");
    }
    if (shown < rows.size()) std::printf("    ... %zu more (--all lists them)\n", rows.size() - shown);
    if (why.distribution.log && why.distribution.kind == search::Distribution::Kind::Float)
        std::printf("    (a log range: l and g are densities over log %s)\n", why.name.c_str());
    std::printf("  chosen: %s = %s\n", why.name.c_str(), shown_value(why.distribution, why.chosen).c_str());
}

void write_explain_csv(const std::string& path, const std::vector<search::TpeExplanation>& whys) {
    if (!fs::path(path).parent_path().empty()) fs::create_directories(fs::path(path).parent_path());
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        if (!out) throw engine::Error("cannot write '" + path + "'");
        // kind: grid (l and g over the range) | below | above (the observations) | candidate | chosen
        out << "param,kind,x,label,l,g,log_l,log_g,score,trial,value\n";
        for (const auto& why : whys) {
            const auto row = [&](const char* kind, double x, const std::string& trial, const std::string& value) {
                const double ll = why.log_l(x), lg = why.log_g(x);
                const json e = why.distribution.to_external(x);
                std::string label = e.is_string() ? e.get<std::string>() : e.dump();
                if (label.find_first_of(",\"") != std::string::npos) label = "\"" + label + "\"";
                out << why.name << ',' << kind << ',' << fmt("%.17g", e.is_number() ? e.get<double>() : x) << ','
                    << label << ',' << fmt("%.10g", std::exp(ll)) << ',' << fmt("%.10g", std::exp(lg)) << ','
                    << fmt("%.10g", ll) << ',' << fmt("%.10g", lg) << ',' << fmt("%.10g", ll - lg) << ',' << trial << ','
                    << value << '\n';
            };
            for (double x : why.grid(400)) row("grid", x, "", "");
            for (const auto* group : {&why.below, &why.above})
                for (const auto& o : *group)
                    if (o.param) {
                        std::string v = shown_objective(o);
                        if (v.find(',') != std::string::npos) v = "\"" + v + "\"";
                        row(group == &why.below ? "below" : "above", *o.param, std::to_string(o.number), v);
                    }
            for (size_t i = 0; i < why.candidates.size(); ++i)
                row(i == why.chosen_index ? "chosen" : "candidate", why.candidates[i].x, "", "");
        }
    }
    fs::rename(tmp, path);
}

}  // namespace

int run_tpe_explain(const TpeExplainOptions& o) {
    if (!fs::exists(o.storage))
        throw engine::Error("no study file '" + o.storage + "' (qbert search --storage FILE writes one)");
    auto storage = std::make_shared<search::Storage>(o.storage);
    std::string name = o.study;
    if (name.empty()) {
        const auto names = storage->study_names();
        if (names.empty()) throw engine::Error("'" + o.storage + "' holds no study");
        if (names.size() > 1) {
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            throw engine::Error("'" + o.storage + "' holds several studies (" + list + "): choose one with --study");
        }
        name = names[0];
    }
    const auto rec = storage->find_study(name);
    if (!rec) {
        std::string list;
        for (const auto& n : storage->study_names()) list += (list.empty() ? "" : ", ") + n;
        throw engine::Error("no study '" + name + "' in '" + o.storage + "' (studies there: " +
                            (list.empty() ? "none" : list) + ")");
    }
    const json& meta = rec->meta;
    const bool study_seed = meta.contains("seed") && meta["seed"].is_number_integer();
    if (!o.has_seed && !study_seed)
        throw engine::Error("study '" + name + "' does not record its sampler seed: give --seed S, the seed it ran "
                            "with (TPE's draws depend on it)");
    const uint64_t seed = o.has_seed ? o.seed : meta["seed"].get<uint64_t>();
    auto sampler = std::make_shared<search::TpeSampler>(seed);
    Study study(storage, name, rec->directions, sampler, search::OpenMode::Load);
    const auto& trials = study.trials();
    const auto next = static_cast<int64_t>(trials.size());

    // the parameters and their distributions: the latest trial's, the exec space's when the study has one
    std::map<std::string, search::Distribution> params;
    for (const auto& t : trials)
        for (const auto& [n, d] : t.distributions) params[n] = d;
    if (meta.contains("space") && meta["space"].is_object())
        for (const auto& [n, d] : meta["space"].items()) params[n] = search::Distribution::from_json(d);
    std::string known;
    for (const auto& [n, d] : params) known += (known.empty() ? "" : ", ") + n;
    if (!o.param.empty() && !params.count(o.param))
        throw engine::Error("study '" + name + "' has no parameter '" + o.param + "' (its parameters: " +
                            (known.empty() ? "none yet" : known) + ")");
    if (params.empty()) throw engine::Error("study '" + name + "' has no parameters yet: nothing to explain");

    // every check before the first line of output (stdout is flushed after an error's stderr line)
    std::vector<search::TpeExplanation> whys;
    for (const auto& [n, d] : params)
        if (o.param.empty() || n == o.param) whys.push_back(sampler->explain(study, next, n, d));
    const auto& first = whys.front();
    const int startup = sampler->options().n_startup_trials;
    if (first.startup)
        throw engine::Error("study '" + name + "' has " + std::to_string(first.n_finished) +
                            " finished (complete or pruned) trials, fewer than TPE's n_startup_trials = " +
                            std::to_string(startup) + ": trial " + std::to_string(next) +
                            " is drawn at random (uniformly over each range), as TPE does until " +
                            std::to_string(startup) + " trials have finished; run " +
                            std::to_string(startup - first.n_finished) + " more and ask again");
    std::map<TrialState, int> count;
    for (const auto& t : trials) count[t.state]++;
    std::printf("study '%s' in %s: %s, %zu trials (%d complete, %d pruned, %d failed, %d running)\n", name.c_str(),
                o.storage.c_str(), search::directions_name(rec->directions).c_str(), trials.size(),
                count[TrialState::Complete], count[TrialState::Pruned], count[TrialState::Fail],
                count[TrialState::Running]);
    const std::string ran = meta.contains("sampler") && meta["sampler"].is_string() ? meta["sampler"].get<std::string>() : "";
    if (!o.has_seed || (study_seed && meta["seed"].get<uint64_t>() == seed))
        std::printf("sampler %s, seed %llu (the study's)\n", ran.empty() ? "unknown" : ran.c_str(),
                    static_cast<unsigned long long>(seed));
    else if (study_seed)
        std::printf("seed %llu (--seed; the study ran with seed %llu: its next trial will not get these values)\n",
                    static_cast<unsigned long long>(seed), static_cast<unsigned long long>(meta["seed"].get<uint64_t>()));
    else
        std::printf("seed %llu (--seed; the study does not record its seed: it must be the one the study ran with)\n",
                    static_cast<unsigned long long>(seed));
    if (ran == "tpe-multivariate")
        std::printf("note: the study runs tpe-multivariate, which samples the parameters every finished trial shares "
                    "jointly; this shows univariate TPE, which it uses only for the others\n");
    else if (!ran.empty() && ran != "tpe")
        std::printf("note: the study runs the %s sampler; this shows what TPE would choose instead\n", ran.c_str());
    if (meta.contains("pruner") && meta["pruner"].value("name", "") == "hyperband")
        std::printf("note: with the hyperband pruner TPE sees only the trials of the next trial's bracket; this "
                    "uses every trial\n");

    std::printf("next trial: %ld. %ld finished trials >= n_startup_trials = %d, so TPE models each parameter:\n",
                long(next), long(first.n_finished), startup);
    std::printf("  good = the best gamma(%ld) = %d trials%s, l(x) fitted to them; bad = the other %ld, g(x);\n",
                long(first.n_finished), first.n_below, rec->directions.size() > 1 ? " (by non-domination rank)" : "",
                long(first.n_finished - first.n_below));
    std::printf("  %d candidates drawn from l(x); the one with the highest log l(x) - log g(x) wins\n",
                sampler->options().n_ei_candidates);
    std::string chosen;
    for (const auto& why : whys) {
        print_explanation(why, rec->directions, o.all);
        chosen += " " + why.name + "=" + shown_value(why.distribution, why.chosen);
    }
    if (!o.csv.empty()) {
        write_explain_csv(o.csv, whys);
        std::printf("\ncsv=%s\n", o.csv.c_str());
    }
    std::printf("\ntrial %ld gets:%s\n", long(next), chosen.c_str());
    return 0;
}

}  // namespace qbert::experiments
