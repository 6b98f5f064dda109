#include "apps/cli.h"

#include "engine/ops/formats.h"

namespace qbert::apps {

void register_lab3_commands(CLI::App& app, Lab3Commands& c) {
    experiments::Lab3Options& o = c.o;
    o.base.checkpoint = "runs/base/model.h5";
    c.lab3 = app.add_subcommand("lab3", "Lab 3 end to end from the base model: per-layer mixed precision (a), one study "
                                        "per format (b), accuracy vs bits Pareto study (c); resumable");
    auto* a = c.lab3;
    a->add_option("--checkpoint", o.base.checkpoint, "trained model to quantize (trained with configs/base.toml when missing)")
        ->capture_default_str();
    a->add_option("--out", o.out, "output directory (lab3.db, CSVs, figures)")->capture_default_str();
    a->add_option("--profile", o.profile,
                  "quick: 40 + 9x15 + 60 trials, QAT on 512 reviews, validation on 1,000 | full: 60 + 9x30 + 100, 2,000 and 1,250")
        ->capture_default_str();
    a->add_option("--trials-a", o.trials_a, "trials of task (a) (0 = the profile's)")->capture_default_str();
    a->add_option("--trials-b", o.trials_b, "trials per format study of task (b) (0 = the profile's)")->capture_default_str();
    a->add_option("--trials-c", o.trials_c, "trials of the Pareto study (c) (0 = the profile's)")->capture_default_str();
    a->add_option("--train-reviews", o.train_reviews, "QAT budget per trial: reviews of one epoch (0 = the profile's)")
        ->capture_default_str();
    a->add_option("--eval-reviews", o.eval_reviews, "validation reviews per trial (0 = the profile's)")->capture_default_str();
    a->add_option("--formats", o.formats, "task (b)'s formats (default: " + engine::format_names() + ")")->delimiter(',');
    a->add_option("--sampler", o.sampler, "sampler of (a) and (b): random | tpe")->capture_default_str();
    a->add_option("--pareto-sampler", o.pareto_sampler, "sampler of (c): tpe (MOTPE) | nsga2 | random")->capture_default_str();
    a->add_option("--lr", o.base.lr, "QAT learning rate")->capture_default_str();
    a->add_option("--data", o.base.data_root, "data root")->capture_default_str();
    a->add_option("--seed", o.base.seed, "seed (samplers, batch order)")->capture_default_str();
    a->add_option("--threads", o.base.threads)->capture_default_str();
}

std::optional<int> run_lab3_commands(const Lab3Commands& c) {
    if (*c.lab3) return experiments::run_lab3(c.o);
    return std::nullopt;
}

}  // namespace qbert::apps
