#include "apps/cli.h"

#include <cstdio>
#include <iostream>
#include <utility>

#include "experiments/compress.h"

namespace qbert::apps {

using experiments::CompressOptions;

namespace {
// required = false: the command checks them itself (prune --explain needs none of them).
void add_data_options(CLI::App* a, CompressOptions& o, bool required = true) {
    a->add_option("--checkpoint", o.checkpoint, required ? "checkpoint to start from (.h5)" : "checkpoint to start from (.h5); required")
        ->required(required);
    a->add_option("--config", o.config, required ? "TOML config" : "TOML config; required")->required(required);
    a->add_option("--out", o.out, required ? "checkpoint to write (.h5)" : "checkpoint to write (.h5); required")->required(required);
    a->add_option("--lr", o.lr, "fine-tuning peak learning rate (linear decay)")->capture_default_str();
    a->add_option("--warmup", o.warmup, "fine-tuning: fraction of the steps the lr ramps up over (0 = none, as Mase)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    a->add_option("--train-limit", o.train_limit, "fine-tune on the first N training reviews (0 = all)")->capture_default_str();
    a->add_option("--test-limit", o.test_limit, "evaluate on the first N test reviews (0 = all)")->capture_default_str();
    a->add_option("--calib-batches", o.calib_batches, "training batches for calibration / global activation thresholds")
        ->capture_default_str();
    a->add_option("--data", o.data_root, "data root")->capture_default_str();
    a->add_option("--seed", o.seed, "seed (fine-tuning order, dropout, random masks)")->capture_default_str();
    a->add_option("--threads", o.threads)->capture_default_str();
}
}  // namespace

void register_compress_commands(CLI::App& app, CompressCommands& c) {
    CompressOptions& o = c.o;
    c.quantize = app.add_subcommand("quantize", "fixed-point PTQ (or QAT with --qat-epochs); prints accuracy before/after");
    add_data_options(c.quantize, o);
    c.quantize->add_option("--qat-epochs", o.epochs, "quantization-aware training epochs (0 = PTQ only)")->capture_default_str();
    c.quantize->add_flag("--calibrate", o.calibrate, "replace frac widths by the largest that do not saturate (ranges from training batches)");

    c.prune = app.add_subcommand("prune", "prune weights/activations ([weight], [activation]); prints accuracy before/after");
    add_data_options(c.prune, o, false);  // --checkpoint, --config, --out: required unless --explain (apps/learn.cpp)
    c.prune->add_option("--finetune-epochs", o.epochs, "fine-tuning epochs after pruning")->capture_default_str();

    c.prune_structured = app.add_subcommand(
        "prune-structured", "remove whole attention heads and feed-forward neurons (a smaller dense model); prints "
                            "accuracy and inference speed before and after");
    {
        CLI::App* a = c.prune_structured;
        a->add_option("--checkpoint", o.checkpoint, "checkpoint to start from (.h5)")->required();
        a->add_option("--out", o.out, "checkpoint to write (.h5)")->required();
        a->add_option("--heads", o.heads, "fraction of attention heads removed")->capture_default_str()->check(CLI::Range(0.0, 0.999));
        a->add_option("--neurons", o.neurons, "fraction of feed-forward neurons removed")->capture_default_str()->check(CLI::Range(0.0, 0.999));
        a->add_option("--importance", o.importance, "l1 | l2: norm of a unit's weights")->capture_default_str();
        a->add_option("--scope", o.scope, "local (each layer the same fraction) | global (one ranking)")->capture_default_str();
        a->add_option("--finetune-epochs", o.epochs, "fine-tuning epochs after pruning")->capture_default_str();
        a->add_option("--lr", o.lr, "fine-tuning peak learning rate (linear decay)")->capture_default_str();
        a->add_option("--train-limit", o.train_limit, "fine-tune on the first N training reviews (0 = all)")->capture_default_str();
        a->add_option("--test-limit", o.test_limit, "evaluate on the first N test reviews (0 = all)")->capture_default_str();
        a->add_option("--speed-iters", o.speed_iters, "timed inference steps per round (0: no timing)")->capture_default_str();
        a->add_option("--data", o.data_root, "data root")->capture_default_str();
        a->add_option("--seed", o.seed, "seed (fine-tuning order, dropout)")->capture_default_str();
        a->add_option("--threads", o.threads)->capture_default_str();
    }

    c.analyze = app.add_subcommand("analyze", "per-layer parameters, non-zeros, sparsity, bits and deployed size");
    c.analyze->add_option("--checkpoint", o.checkpoint, "checkpoint (.h5)")->required();

    c.export_ = app.add_subcommand("export", "write the deployable model: int8 weights, packed sparse weights (docs/deploy.md)");
    c.export_->add_option("--checkpoint", o.checkpoint, "a quantized and/or pruned checkpoint (.h5)")->required();
    c.export_->add_option("--out", o.out, "the exported model to write (.h5)")->required();
    c.export_->add_flag("--int8", o.export_int8, "fixed-point Linear layers of <= 8 bits as int8 grid indices (exact), "
                                                 "embedding tables as per-row int8 (lossy)");
    c.export_->add_flag("--sparse", o.export_sparse, "pruned Linear layers as CSR (their kept weights only)");
    c.export_->add_option("--sparse-min", o.sparse_min, "--sparse: only layers pruned at least this much")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    c.export_->add_flag("--fp32-embeddings", o.fp32_embeddings, "--int8: keep the embedding tables in fp32 (exact, larger)");

    c.fake_quant = app.add_subcommand("fake-quant",
                                      "quantize the numbers on stdin (whitespace-separated) and print one result per line");
    auto* fq = c.fake_quant;
    fq->add_option("--format", o.format,
                   "integer | minifloat_denorm | minifloat_ieee | log | block_fp | block_minifloat | block_log | binary | ternary")
        ->capture_default_str();
    fq->add_option("--width", o.width, "total bits, sign included (log: 1 sign + width-1 exponent bits)")->capture_default_str();
    fq->add_option("--frac-width", o.frac_width, "integer: bits after the binary point")->capture_default_str();
    fq->add_flag("--floor", o.floor, "integer: floor instead of round half to even");
    fq->add_flag("--unsigned", o.is_unsigned, "integer: unsigned range [0, 2^width - 1]");
    fq->add_option("--exponent-width", o.exponent_width, "minifloat_*, block_fp, block_minifloat: exponent bits E");
    fq->add_option("--exponent-bias", o.exponent_bias, "minifloat_*, log, block_fp: exponent bias (default 2^(E-1)-1)");
    fq->add_option("--exponent-bias-width", o.exponent_bias_width, "block_minifloat, block_log: bits of the shared bias");
    fq->add_option("--block-size", o.block_size, "block formats: block shape, comma-separated (16 or 1,16), right-aligned");
    fq->add_flag("--skip-first-dim", o.skip_first_dim, "block formats: block each row (sample) on its own, as for activations");
    fq->add_option("--shape", o.shape, "the values as a row-major matrix R,C (default: one vector)");
    fq->add_flag("--stochastic", o.stochastic, "binary: +1 with probability clamp((x+1)/2, 0, 1)");
    fq->add_option("--seed", o.seed, "binary --stochastic: seed of the draws")->capture_default_str();
    fq->add_flag("--scaling", o.scaling, "ternary: scale the survivors by their mean magnitude");
    fq->add_flag("--explain", o.explain, "show each step (scaled, rounded, clamped; exponent, mantissa, block) and the error");
}

std::optional<int> run_compress_commands(const CompressCommands& c) {
    if (*c.quantize) return experiments::run_quantize(c.o);
    if (*c.prune) {
        for (const auto& [flag, value] : {std::pair{"--checkpoint", &c.o.checkpoint}, {"--config", &c.o.config}, {"--out", &c.o.out}})
            if (value->empty()) {
                std::fprintf(stderr, "prune: %s is required (or --explain)\nRun with --help for more information.\n", flag);
                return 2;
            }
        return experiments::run_prune(c.o);
    }
    if (*c.analyze) return experiments::run_analyze(c.o);
    if (*c.export_) return experiments::run_export(c.o);
    if (*c.prune_structured) return experiments::run_prune_structured(c.o);
    if (*c.fake_quant) return experiments::run_fake_quant(c.o, std::cin);
    return std::nullopt;
}

}  // namespace qbert::apps
