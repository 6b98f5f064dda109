#include "apps/learn.h"

#include <cstdio>
#include <iostream>

namespace qbert::apps {

void register_learn_commands(CLI::App& app, LearnCommands& c, CLI::App* prune) {
    c.prune = prune;
    prune->add_flag("--explain", c.prune_explain,
                    "explain one layer's pruning step by step (weights, quantile, threshold, mask) instead of pruning "
                    "a model: a seeded demo layer, or --checkpoint C --layer NAME; --config's [weight] or --sparsity/--method");
    prune->add_option("--layer", c.p.layer, "--explain with --checkpoint: the Linear layer (dotted name)");
    prune->add_option("--sparsity", c.p.sparsity, "--explain without --config: weight sparsity")
        ->capture_default_str()->check(CLI::Range(0.0, 0.999999));
    prune->add_option("--method", c.p.method, "--explain without --config: l1-norm | random")->capture_default_str();
    prune->add_option("--csv", c.p.csv, "--explain: write every weight, |w| and kept (0/1) as CSV");
    prune->add_option("--rows", c.p.rows, "--explain demo layer: output rows")->capture_default_str()->check(CLI::Range(1, 4096));
    prune->add_option("--cols", c.p.cols, "--explain demo layer: input columns")->capture_default_str()->check(CLI::Range(1, 4096));

    experiments::ExplainStepOptions& s = c.s;
    c.explain_step = app.add_subcommand(
        "explain-step", "one training step of a small model, op by op (shapes, kernels, backward, optimizer); writes "
                        "its autograd graph as Graphviz .dot");
    auto* e = c.explain_step;
    e->add_option("--checkpoint", s.checkpoint, "a model to step (default: a fresh one from --config/--set)");
    e->add_option("--config", s.config, "TOML with [model] (default: preset tiny)");
    e->add_option("--set", s.sets, "override a config key, section.key=value (repeatable), e.g. model.num_hidden_layers=1");
    e->add_option("--quantize", s.quantize, "a quantize TOML (as `qbert quantize --config`) applied first");
    e->add_option("--prune", s.prune, "a prune TOML (as `qbert prune --config`) applied first");
    e->add_option("--out", s.out, "the graph to write (.dot)")->capture_default_str();
    e->add_option("--batch", s.batch, "sequences in the batch")->capture_default_str()->check(CLI::Range(1, 1024));
    e->add_option("--seq-len", s.seq_len, "tokens per sequence")->capture_default_str()->check(CLI::Range(2, 4096));
    e->add_option("--seed", s.seed, "seed (init, token ids, dropout)")->capture_default_str();
    e->add_flag("!--no-ops", s.ops, "only the summary, not every op");
}

std::optional<int> run_learn_commands(const LearnCommands& c, const experiments::CompressOptions& compress) {
    if (*c.explain_step) return experiments::run_explain_step(c.s, std::cout);
    if (c.prune && *c.prune) {
        // flags of one mode given to the other would be ignored silently: refuse them
        const auto given = [&](const char* flag) { return c.prune->count(flag) > 0; };
        const char* bad = nullptr;
        if (!c.prune_explain) {
            for (const char* f : {"--layer", "--sparsity", "--method", "--rows", "--cols", "--csv"})
                if (given(f)) bad = f;
            if (bad) {
                std::fprintf(stderr, "prune: %s goes with --explain (a prune run takes its settings from --config)\n", bad);
                return 2;
            }
        } else {
            for (const char* f : {"--out", "--finetune-epochs", "--lr", "--warmup", "--train-limit", "--test-limit"})
                if (given(f)) bad = f;
            if (bad) {
                std::fprintf(stderr, "prune --explain: %s is not used by --explain (it prunes nothing and trains nothing)\n", bad);
                return 2;
            }
            if (given("--config") && (given("--sparsity") || given("--method"))) {
                std::fprintf(stderr, "prune --explain: give --config (its [weight] section) or --sparsity/--method, not both\n");
                return 2;
            }
        }
    }
    if (c.prune && *c.prune && c.prune_explain) {
        experiments::PruneExplainOptions p = c.p;
        p.checkpoint = compress.checkpoint;
        p.config = compress.config;
        p.seed = compress.seed;
        return experiments::run_prune_explain(p, std::cout);
    }
    return std::nullopt;
}

}  // namespace qbert::apps
