#include "apps/cli.h"

#include "experiments/lab1.h"

namespace qbert::apps {

using experiments::SweepOptions;

void register_lab1_commands(CLI::App& app, Lab1Commands& c) {
    SweepOptions& o = c.o;
    auto common = [&o](CLI::App* a, bool needs_checkpoint) {
        auto* ck = a->add_option("--checkpoint", o.base.checkpoint, "model to start from (.h5)");
        if (needs_checkpoint) ck->required();
        a->add_option("--out", o.out, "output directory (CSV, figures, checkpoints)")->required();
        a->add_option("--lr", o.base.lr, "QAT / fine-tuning peak learning rate")->capture_default_str();
        a->add_option("--warmup", o.base.warmup, "QAT / fine-tuning warm-up fraction of the steps (0 = none, as Mase)")
            ->capture_default_str()->check(CLI::Range(0.0, 1.0));
        a->add_option("--train-limit", o.base.train_limit, "QAT / fine-tune on the first N training reviews (0 = all)")
            ->capture_default_str();
        a->add_option("--test-limit", o.base.test_limit, "evaluate on the first N test reviews (0 = all)")->capture_default_str();
        a->add_option("--data", o.base.data_root, "data root")->capture_default_str();
        a->add_option("--seed", o.base.seed, "seed (fine-tuning order, dropout, random masks)")->capture_default_str();
        a->add_option("--threads", o.base.threads)->capture_default_str();
    };
    c.sweep = app.add_subcommand("sweep", "Lab 1 sweeps: quant (widths) or prune (sparsities)");
    c.sweep->require_subcommand(1);
    c.sweep_quant = c.sweep->add_subcommand("quant", "PTQ and QAT accuracy per fixed-point width -> quant_sweep.csv + figure");
    common(c.sweep_quant, true);
    c.sweep_quant->add_option("--widths", o.widths, "widths (bits)")->delimiter(',')->capture_default_str();
    c.sweep_quant->add_option("--frac-rule", o.frac_rule, "half (frac = width/2) | calibrated (adds calibrated curves)")
        ->capture_default_str();
    c.sweep_quant->add_option("--qat-epochs", o.base.epochs, "QAT epochs per width")->capture_default_str();
    c.sweep_prune = c.sweep->add_subcommand("prune", "accuracy per sparsity and method -> prune_sweep.csv + figure");
    common(c.sweep_prune, true);
    c.sweep_prune->add_option("--sparsities", o.sparsities, "sparsities")->delimiter(',')->capture_default_str();
    c.sweep_prune->add_option("--methods", o.methods, "random,l1-norm")->delimiter(',')->capture_default_str();
    c.sweep_prune->add_option("--finetune-epochs", o.base.epochs, "fine-tuning epochs after pruning")->capture_default_str();
    c.lab1 = app.add_subcommand("lab1", "Lab 1 end to end from the base model: quant sweep, then prune sweep (resumable)");
    common(c.lab1, false);
    o.base.checkpoint = "runs/base/model.h5";
    c.lab1->add_option("--finetune-lr", o.finetune_lr, "fine-tuning peak learning rate after pruning (--lr is QAT's)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    c.lab1->add_option("--finetune-warmup", o.finetune_warmup, "warm-up fraction of that fine-tuning (QAT: --warmup)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    c.lab1->add_option("--profile", o.profile, "quick: QAT / fine-tune 1 epoch on 2,000 training reviews, test on the first 5,000 | full: all 23,750 and all 25,000")->capture_default_str();
}

std::optional<int> run_lab1_commands(const Lab1Commands& c) {
    if (c.sweep && *c.sweep) return *c.sweep_quant ? experiments::sweep_quant(c.o) : experiments::sweep_prune(c.o);
    if (*c.lab1) return experiments::run_lab1(c.o);
    return std::nullopt;
}

}  // namespace qbert::apps
