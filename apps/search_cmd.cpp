#include "apps/search_cmd.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "apps/nas.h"
#include "apps/progress.h"
#include "apps/results.h"
#include "search/samplers.h"
#include "search/space.h"

namespace qbert::apps {

namespace fs = std::filesystem;
using json = nlohmann::json;
using search::FrozenTrial;
using search::Study;
using search::TrialState;

namespace {
std::string params_line(const json& params) {
    std::string s;
    for (const auto& [k, v] : params.items()) {
        if (k.size() > 5 && k.compare(k.size() - 5, 5, "_type") == 0 && v == "linear") continue;  // the default
        s += (s.empty() ? "" : " ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    return s;
}

}  // namespace

void write_trials_csv(const std::string& path, const std::vector<FrozenTrial>& trials, search::Direction d) {
    std::set<std::string> names;
    for (const auto& t : trials)
        for (const auto& [n, v] : t.params) names.insert(n);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        if (!out) throw engine::Error("cannot write '" + tmp + "'");
        out << "number,state,value,best_so_far,seconds,test_accuracy,parameters";
        for (const auto& n : names) out << "," << n;
        out << ",reason\n";
        std::optional<double> best;
        for (const auto& t : trials) {
            if (t.state == TrialState::Complete && t.value && (!best || search::better(d, *t.value, *best))) best = t.value;
            const auto attr = [&](const char* k) {
                return t.user_attrs.contains(k) ? t.user_attrs[k].dump() : std::string();
            };
            out << t.number << "," << search::state_name(t.state) << "," << (t.value ? fmt_num(*t.value) : "") << ","
                << (best ? fmt_num(*best) : "") << "," << fmt_num(t.duration_s, 1) << "," << attr("test_accuracy")
                << "," << attr("parameters");
            for (const auto& n : names) {
                out << ",";
                if (t.has(n)) {
                    const json v = t.external(n);
                    out << (v.is_string() ? v.get<std::string>() : v.dump());
                }
            }
            std::string reason = t.system_attrs.value("reason", "");
            for (char& c : reason)
                if (c == ',' || c == '\n' || c == '"') c = ' ';
            out << "," << reason << "\n";
        }
    }
    fs::rename(tmp, path);
}

void TrialReporter::operator()(const Study& s, const FrozenTrial& t) {
        ++ran;
        const auto& all = s.trials();
        const auto best = Study::best_of(all, s.direction());
        const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / ran;
        const int64_t left = std::max<int64_t>(0, target - static_cast<int64_t>(all.size()));
        std::printf("[%s %ld] %s value=%s best=%s%s %.1f s, %ld/%ld, ETA %s | %s%s\n", s.name().c_str(), long(t.number),
                    search::state_name(t.state), t.value ? fmt_num(*t.value).c_str() : "-",
                    best ? fmt_num(*best->value).c_str() : "-",
                    best ? (" (trial " + std::to_string(best->number) + ")").c_str() : "", t.duration_s,
                    long(all.size()), long(target), format_duration(per * static_cast<double>(left)).c_str(),
                    params_line(t.params_json()).c_str(),
                    t.system_attrs.contains("reason") ? (" | " + t.system_attrs["reason"].get<std::string>()).c_str() : "");
        std::fflush(stdout);
}

search::GridSampler::Space nas_grid() {
    const auto idx = [](size_t n) {
        std::vector<json> v;
        for (size_t i = 0; i < n; ++i) v.push_back(static_cast<int64_t>(i));
        return v;
    };
    return {{"num_layers", idx(NasSpace::layers.size())},
            {"num_heads", idx(NasSpace::heads.size())},
            {"hidden_size", idx(NasSpace::hidden.size())},
            {"intermediate_size", idx(NasSpace::intermediate.size())}};
}

void check_study_meta(const Study& s, const json& now) {
    for (const auto& [k, v] : now.items())
        if (!s.meta().contains(k) || s.meta()[k] != v)
            throw engine::Error("study '" + s.name() + "' was started with " + k + " = " +
                                (s.meta().contains(k) ? s.meta()[k].dump() : "(none)") + ", this run has " + v.dump() +
                                "; resume it with the same settings or start another --study");
}

namespace {
int run_search(const SearchOptions& o) {
    static const std::set<std::string> objectives{"nas", "compression-aware", "exec"};
    if (!objectives.count(o.objective))
        throw engine::Error("unknown objective '" + o.objective + "'; valid: nas, compression-aware, exec");
    if (o.trials < 1) throw engine::Error("--trials must be >= 1");
    const bool exec = o.objective == "exec";
    if (exec && (o.space_file.empty() || o.exec_cmd.empty()))
        throw engine::Error("--objective exec needs --space FILE.toml and --exec 'COMMAND'");
    if (!exec && (!o.space_file.empty() || !o.exec_cmd.empty()))
        throw engine::Error("--space and --exec belong to --objective exec");
    const search::Direction dir = exec ? search::parse_direction(o.direction) : search::Direction::Maximize;
    const std::string study_name = o.study.empty() ? o.objective : o.study;
    const std::string out = o.out.empty() ? (fs::path(o.storage).parent_path() / study_name).string() : o.out;
    std::printf("seed=%llu\n", static_cast<unsigned long long>(o.seed));

    json meta{{"objective", o.objective}, {"sampler", o.sampler}, {"seed", o.seed}};
    search::Study::Objective objective;
    std::unique_ptr<search::SearchSpace> space;
    std::unique_ptr<NasObjective> nas;
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
            const search::ExecResult r = search::run_exec(o.exec_cmd, params, t.number(), "  | ", o.exec_timeout);
            if (!r.last_line.empty()) t.set_user_attr("last_line", r.last_line);
            if (!r.value) throw search::Error(r.error);
            return *r.value;
        };
    } else {
        cfg = model::TrainConfig::from_toml(o.config, o.sets);
        if (o.sampler == "grid") {
            if (o.nas_space != "model")
                throw engine::Error("the grid sampler needs a fixed space, and --nas-space layers has a parameter per "
                                    "square layer that exists only for some depths; use --nas-space model");
            grid = nas_grid();
        }
        meta["nas_space"] = o.nas_space;
        meta["train_config"] = json::parse(cfg.to_json());
        meta["post_train_epochs"] = o.post_train_epochs;
    }
    auto sampler = search::make_sampler(o.sampler, o.seed, grid);  // unknown names throw before any data loads
    fs::create_directories(out);
    if (!fs::path(o.storage).parent_path().empty()) fs::create_directories(fs::path(o.storage).parent_path());
    auto storage = std::make_shared<search::Storage>(o.storage);
    Study study(storage, study_name, dir, sampler, o.resume ? search::OpenMode::Load : search::OpenMode::Create, meta);
    if (o.resume) {
        check_study_meta(study, meta);
        for (int64_t n : study.fail_stale_trials())
            std::printf("trial %ld was running in a process that is gone: marked failed\n", long(n));
        std::printf("resuming study '%s': %ld trials so far\n", study_name.c_str(), long(study.trials().size()));
    }
    if (!exec) {
        NasOptions no;
        no.space = o.nas_space;
        no.compress = o.objective == "compression-aware";
        no.post_train_epochs = o.post_train_epochs;
        no.post_train_lr = o.post_train_lr;
        nas = std::make_unique<NasObjective>(cfg, no, [](const std::string& l) { std::printf("%s\n", l.c_str()); });
        objective = [&](search::Trial& t) { return (*nas)(t); };
    }
    std::printf("study=%s storage=%s sampler=%s objective=%s trials=%ld out=%s\n", study_name.c_str(),
                o.storage.c_str(), o.sampler.c_str(), o.objective.c_str(), long(o.trials), out.c_str());
    std::fflush(stdout);

    const std::string csv = (fs::path(out) / "trials.csv").string();
    const std::string best_ckpt = (fs::path(out) / "best.h5").string();
    TrialReporter report{o.trials};
    search::OptimizeOptions opt;
    opt.study_trials = o.trials;
    opt.timeout_s = o.timeout;
    study.optimize(objective, opt, [&](const Study& s, const FrozenTrial& t) {
        report(s, t);
        write_trials_csv(csv, s.trials(), s.direction());
        const auto best = Study::best_of(s.trials(), s.direction());
        if (nas && nas->last_model() && best && best->number == t.number) {  // a new best: keep its model
            json m = json::parse(nas->checkpoint_meta());
            m["search"] = {{"study", s.name()}, {"trial", t.number}, {"value", *t.value}, {"params", t.params_json()}};
            model::save_bert(best_ckpt, *nas->last_model(), m.dump());
        }
    });
    const auto all = study.trials();
    write_trials_csv(csv, all, dir);
    std::map<TrialState, int> count;
    for (const auto& t : all) count[t.state]++;
    std::printf("trials=%zu complete=%d pruned=%d fail=%d running=%d csv=%s\n", all.size(), count[TrialState::Complete],
                count[TrialState::Pruned], count[TrialState::Fail], count[TrialState::Running], csv.c_str());
    const auto best = study.best_trial();
    if (!best) {
        std::printf("no trial completed\n");
        return 1;
    }
    std::printf("best_trial=%ld params=%s\n", long(best->number), best->params_json().dump().c_str());
    if (nas && fs::exists(best_ckpt)) std::printf("checkpoint=%s\n", best_ckpt.c_str());
    std::printf("best_value=%.6g\n", *best->value);
    return 0;
}

}  // namespace

void register_search_commands(CLI::App& app, SearchCommands& c) {
    SearchOptions& s = c.s;
    c.search = app.add_subcommand("search", "run (or --resume) a study: NAS, compression-aware NAS, or a command per trial");
    c.search->add_option("--objective", s.objective, "nas | compression-aware | exec")->required();
    c.search->add_option("--sampler", s.sampler, "random | grid | tpe | tpe-multivariate")->capture_default_str();
    c.search->add_option("--trials", s.trials, "trials the study should hold (a resumed study runs the missing ones)")
        ->capture_default_str();
    c.search->add_option("--timeout", s.timeout, "start no trial after this many seconds (0 = no limit)")->capture_default_str();
    c.search->add_option("--seed", s.seed, "sampler seed (the NAS training seed is train.seed in --config)")->capture_default_str();
    c.search->add_option("--storage", s.storage, "SQLite study file (several processes may share it)")->capture_default_str();
    c.search->add_option("--study", s.study, "study name (default: the objective's)");
    c.search->add_flag("--resume", s.resume, "continue an existing study (trials of dead processes are marked failed)");
    c.search->add_option("--out", s.out, "trials.csv and best.h5 (default: beside --storage, named after the study)");
    c.search->add_option("--post-train-epochs", s.post_train_epochs, "compression-aware: training epochs after compression")
        ->capture_default_str();
    c.search->add_option("--post-train-lr", s.post_train_lr, "compression-aware: learning rate after compression")
        ->capture_default_str();
    c.search->add_option("--nas-space", s.nas_space, "model (4 size indices) | layers (also linear/identity per square layer)")
        ->capture_default_str();
    c.search->add_option("--config", s.config, "nas: TOML training budget per trial (data subset, max_len, epochs, lr)")
        ->capture_default_str();
    c.search->add_option("--set", s.sets, "nas: override a config key, section.key=value (repeatable)");
    c.search->add_option("--space", s.space_file, "exec: TOML search space, one [name] table per parameter");
    c.search->add_option("--exec", s.exec_cmd, "exec: command per trial; {name} is replaced by the value, JSON on stdin, "
                                               "value = last stdout line");
    c.search->add_option("--exec-timeout", s.exec_timeout,
                         "exec: seconds a trial's command may run before it is stopped and the trial fails (0 = none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    c.search->add_option("--direction", s.direction, "exec: maximize | minimize")->capture_default_str();

    Lab2Options& l = c.l;
    c.lab2 = app.add_subcommand("lab2", "Lab 2: samplers compared over seeds, then compression-aware NAS (resumable)");
    c.lab2->add_option("--out", l.out, "directory: lab2.db, CSVs, figures")->capture_default_str();
    c.lab2->add_option("--profile", l.profile, "quick (<= 30 min, data subsets) | full (the lab's protocol)")->capture_default_str();
    c.lab2->add_option("--seeds", l.seeds, "sampler seeds per sampler (0 = the profile's)");
    c.lab2->add_option("--trials", l.trials, "trials per Task 1 study (0 = the profile's)");
    c.lab2->add_option("--ca-trials", l.ca_trials, "trials per compression-aware study (0 = the profile's)");
    c.lab2->add_option("--samplers", l.samplers, "Task 1 samplers")->delimiter(',')->capture_default_str();
    c.lab2->add_option("--set", l.sets, "override a key of the profile's training config (repeatable)");
    c.lab2->add_option("--threads", l.threads)->capture_default_str();
    c.lab2->add_option("--jobs", l.jobs,
                       "studies run at once, each in a worker process with threads/jobs threads (on this 2-core "
                       "machine 2 jobs gave only ~1.1x on the quick profile's mix of models: docs/results.md)")
        ->capture_default_str();
    c.lab2->add_option("--only-study", l.only_study, "(internal: a --jobs worker runs this one study)")->group("");
    c.lab2->add_flag("--keep-trained", l.keep_trained,
                     "keep DIR/trained after the lab: the trained model of every architecture (Task 2 loads them "
                     "instead of retraining; removed at the end by default, several GB)");
}

std::optional<int> run_search_commands(const SearchCommands& c) {
    if (*c.search) return run_search(c.s);
    if (*c.lab2) return run_lab2(c.l);
    return std::nullopt;
}

}  // namespace qbert::apps
