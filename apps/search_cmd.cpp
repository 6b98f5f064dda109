#include "apps/cli.h"

#include "experiments/search_run.h"

namespace qbert::apps {

using experiments::Lab2Options;
using experiments::SearchOptions;

void register_search_commands(CLI::App& app, SearchCommands& c) {
    SearchOptions& s = c.s;
    c.search = app.add_subcommand("search", "run (or --resume) a study: NAS, compression-aware NAS, or a command per trial");
    c.search->add_option("--objective", s.objective, "nas | compression-aware | exec | mixed-precision")->required();
    c.search->add_option("--sampler", s.sampler, "random | grid | tpe | tpe-multivariate | nsga2")->capture_default_str();
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
    c.search->add_option("--pruner", s.pruner, "none | median | percentile | successive-halving | hyperband (Optuna's)")
        ->capture_default_str();
    c.search->add_option("--pruner-set", s.pruner_sets,
                         "a pruner setting by Optuna's name, key=value (repeatable): n_startup_trials=5, n_warmup_steps, "
                         "interval_steps, n_min_trials, percentile, min_resource, max_resource, reduction_factor, "
                         "min_early_stopping_rate, bootstrap_count");
    c.search->add_option("--eval-points", s.eval_points,
                         "nas: validation checks spread over each trial's training, reported to the pruner "
                         "(0 = train.eval_points of --config)");
    c.search->add_option("--space", s.space_file, "exec: TOML search space, one [name] table per parameter");
    c.search->add_option("--exec", s.exec_cmd, "exec: command per trial; {name} is replaced by the value, JSON on stdin, "
                                               "value(s) = last stdout line");
    c.search->add_option("--exec-timeout", s.exec_timeout,
                         "exec: seconds a trial's command may run before it is stopped and the trial fails (0 = none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    c.search->add_option("--checkpoint", s.checkpoint, "mixed-precision: the trained model every trial quantizes")
        ->capture_default_str();
    c.search->add_option("--formats", s.formats, "mixed-precision: the per-layer choices (fp32 and format names)")
        ->delimiter(',')->capture_default_str();
    c.search->add_option("--train-reviews", s.train_reviews, "mixed-precision: QAT budget per trial (one epoch over N reviews)")
        ->capture_default_str();
    c.search->add_option("--eval-reviews", s.eval_reviews, "mixed-precision: validation reviews per trial")->capture_default_str();
    c.search->add_option("--lr", s.lr, "mixed-precision: QAT learning rate")->capture_default_str();
    c.search->add_option("--data", s.data_root, "mixed-precision: data root")->capture_default_str();
    c.search->add_option("--threads", s.threads, "mixed-precision: threads")->capture_default_str();
    auto* direction = c.search->add_option("--direction", s.direction, "exec: maximize | minimize")->capture_default_str();
    c.search->add_option("--directions", s.directions,
                         "exec: one direction per objective, comma-separated (e.g. maximize,minimize); the command's "
                         "last line then holds that many values; mixed-precision: maximize,minimize = accuracy and "
                         "weight bits; writes pareto.csv, last line pareto_front=K")
        ->excludes(direction);

    Lab2Options& l = c.l;
    c.lab2 = app.add_subcommand("lab2", "Lab 2: samplers compared over seeds, then compression-aware NAS (resumable)");
    c.lab2->add_option("--out", l.out, "directory: lab2.db, CSVs, figures")->capture_default_str();
    c.lab2->add_option("--profile", l.profile, "quick (~23 min here: 24 small architectures, 8,000 reviews x 256 tokens per trial) | full (Tutorial 5's "
                       "300 architectures, all training reviews: days on 2 cores)")->capture_default_str();
    c.lab2->add_option("--seeds", l.seeds, "sampler seeds per sampler (0 = the profile's)");
    c.lab2->add_option("--trials", l.trials, "trials per Task 1 study (0 = the profile's)");
    c.lab2->add_option("--ca-trials", l.ca_trials, "trials per compression-aware study (0 = the profile's)");
    c.lab2->add_option("--samplers", l.samplers, "Task 1 samplers")->delimiter(',')->capture_default_str();
    c.lab2->add_option("--set", l.sets, "override a key of the profile's training config (repeatable)");
    c.lab2->add_option("--threads", l.threads)->capture_default_str();
    c.lab2->add_option("--pruner", l.pruner, "Task 1 and 2 pruner (default: the profile's)");
    c.lab2->add_option("--pruner-set", l.pruner_sets, "a pruner setting, key=value (repeatable)");
    c.lab2->add_option("--jobs", l.jobs,
                       "studies run at once, each in a worker process with threads/jobs threads (on this 2-core "
                       "machine 2 jobs gave only ~1.1x on the quick profile's mix of models: docs/results.md)")
        ->capture_default_str();
    c.lab2->add_option("--only-study", l.only_study, "(internal: a --jobs worker runs this one study)")->group("");
    c.lab2->add_flag("--keep-trained", l.keep_trained,
                     "keep DIR/trained after the lab: the trained model of every architecture (Task 2 loads them "
                     "instead of retraining; removed at the end by default, several GB)");

    experiments::TpeExplainOptions& t = c.t;
    c.tpe_explain = app.add_subcommand("tpe-explain", "how TPE would choose the next trial of a study: the good/bad "
                                                      "split, l(x) and g(x) at the candidates, the winner");
    c.tpe_explain->add_option("--storage", t.storage, "SQLite study file (qbert search --storage)")->required();
    c.tpe_explain->add_option("--study", t.study, "study name (default: the file's only study)");
    c.tpe_explain->add_option_function<uint64_t>(
        "--seed", [&t](const uint64_t& v) { t.seed = v; t.has_seed = true; },
        "sampler seed (default: the one the study records; it must be the seed the study ran with)");
    c.tpe_explain->add_option("--param", t.param, "only this parameter (default: each)");
    c.tpe_explain->add_option("--csv", t.csv, "write l(x), g(x) over each parameter's range, the observations and the "
                                             "candidates (for a figure)");
    c.tpe_explain->add_flag("--all", t.all, "list every bad trial and every candidate (default: the first 10)");
}

std::optional<int> run_search_commands(const SearchCommands& c) {
    if (*c.search) return experiments::run_search(c.s);
    if (*c.tpe_explain) return experiments::run_tpe_explain(c.t);
    if (*c.lab2) return experiments::run_lab2(c.l);
    return std::nullopt;
}

}  // namespace qbert::apps
