#include "apps/compress.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/progress.h"
#include "apps/workbench.h"
#include "model/train.h"
#include "passes/analysis.h"
#include "passes/calibrate.h"
#include "passes/prune.h"
#include "passes/quantize.h"

namespace qbert::apps {

using engine::Error;

namespace {
void print_line(const char* key, double acc, int64_t n) {
    std::printf("%s=%.4f n=%ld\n", key, acc, long(n));
    std::fflush(stdout);
}

int run_quantize(const CompressOptions& o) {
    const passes::QuantizeConfig qc = passes::QuantizeConfig::from_file(o.config);  // errors before any work
    Workbench w(o);
    print_line("accuracy_before", w.test_accuracy(), w.test.size());
    const auto layers = passes::quantize(*w.m, qc);
    std::printf("quantized_layers=%ld\n", long(layers.size()));
    if (o.calibrate) {
        for (const auto& c : passes::calibrate(*w.m, [&] { w.run_batches(o.calib_batches); }))
            std::printf("calibrated %s data_in_frac=%d weight_frac=%d bias_frac=%d (ranges %.4g %.4g %.4g)\n",
                        c.name.c_str(), c.data_in_frac, c.weight_frac, c.bias_frac, c.data_in_range, c.weight_range,
                        c.bias_range);
    }
    print_line("accuracy_ptq", w.test_accuracy(), w.test.size());
    if (o.epochs > 0) {
        w.finetune(o, "qat");
        print_line("accuracy_qat", w.test_accuracy(), w.test.size());
    }
    w.save(o.out, "quantize", nlohmann::json{{"config", o.config}, {"qat_epochs", o.epochs}, {"calibrated", o.calibrate}}.dump());
    return 0;
}

int run_prune(const CompressOptions& o) {
    const passes::PruneConfig pc = passes::PruneConfig::from_file(o.config);
    Workbench w(o);
    print_line("accuracy_before", w.test_accuracy(), w.test.size());
    engine::Rng rng = engine::Rng(o.seed).fork("prune");
    for (const auto& l : passes::prune(*w.m, pc, rng, [&] { w.run_batches(o.calib_batches); }))
        std::printf("pruned %s kept=%ld/%ld\n", l.name.c_str(), long(l.kept), long(l.weights));
    print_line("accuracy_pruned", w.test_accuracy(), w.test.size());
    if (o.epochs > 0) {
        w.finetune(o, "finetune");
        print_line("accuracy_finetuned", w.test_accuracy(), w.test.size());
    }
    w.save(o.out, "prune", nlohmann::json{{"config", o.config}, {"finetune_epochs", o.epochs}}.dump());
    return 0;
}

int run_analyze(const CompressOptions& o) {
    auto m = model::load_bert(o.checkpoint);
    passes::print_stats(std::cout, passes::analyze(*m));
    return 0;
}

// One number per stdin line -> its quantized value (%.9g); --explain prints each step.
int run_fake_quant(const CompressOptions& o) {
    if (o.format != "integer") throw Error("--format '" + o.format + "' is not supported yet; valid: integer");
    const engine::FixedPoint q{o.width, o.frac_width, !o.is_unsigned, o.floor};
    q.validate("fake-quant");
    if (o.explain)
        std::printf("# %s: step 2^-%d = %.9g, integers [%.0f, %.0f], values [%.9g, %.9g], rounding %s\n",
                    q.str().c_str(), q.frac_width, 1.0 / q.scale(), q.qmin(), q.qmax(), q.min_value(), q.max_value(),
                    q.floor ? "floor" : "half to even");
    std::string line;
    int64_t lineno = 0;
    while (std::getline(std::cin, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        char* end = nullptr;
        const float x = std::strtof(line.c_str(), &end);
        if (end == line.c_str() || std::string(end).find_first_not_of(" \t\r") != std::string::npos)
            throw Error("stdin line " + std::to_string(lineno) + ": '" + line + "' is not a number");
        engine::NoGradGuard ng;
        // the real kernel, not a re-implementation
        const float y = engine::fake_quant(engine::Tensor::from_vector(std::vector<float>{x}, {1}), q).item();
        if (!o.explain) {
            std::printf("%.9g\n", static_cast<double>(y));
            continue;
        }
        const float scaled = x * static_cast<float>(q.scale());
        const float rounded = q.floor ? std::floor(scaled) : std::nearbyint(scaled);
        const float clamped = std::min(std::max(rounded, static_cast<float>(q.qmin())), static_cast<float>(q.qmax()));
        std::printf("x=%.9g scaled=x*2^%d=%.9g rounded=%.9g clamped=%.9g%s dequantized=%.9g error=%.9g\n",
                    static_cast<double>(x), q.frac_width, static_cast<double>(scaled), static_cast<double>(rounded),
                    static_cast<double>(clamped), clamped != rounded ? " (saturated)" : "", static_cast<double>(y),
                    static_cast<double>(y - x));
    }
    return 0;
}

void add_data_options(CLI::App* a, CompressOptions& o) {
    a->add_option("--checkpoint", o.checkpoint, "checkpoint to start from (.h5)")->required();
    a->add_option("--config", o.config, "TOML config")->required();
    a->add_option("--out", o.out, "checkpoint to write (.h5)")->required();
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
    add_data_options(c.prune, o);
    c.prune->add_option("--finetune-epochs", o.epochs, "fine-tuning epochs after pruning")->capture_default_str();

    c.analyze = app.add_subcommand("analyze", "per-layer parameters, non-zeros, sparsity, bits and deployed size");
    c.analyze->add_option("--checkpoint", o.checkpoint, "checkpoint (.h5)")->required();

    c.fake_quant = app.add_subcommand("fake-quant", "quantize each number on stdin (one per line) and print it");
    c.fake_quant->add_option("--format", o.format, "integer (fixed point)")->capture_default_str();
    c.fake_quant->add_option("--width", o.width, "total bits, sign included")->capture_default_str();
    c.fake_quant->add_option("--frac-width", o.frac_width, "bits after the binary point")->capture_default_str();
    c.fake_quant->add_flag("--floor", o.floor, "floor instead of round half to even");
    c.fake_quant->add_flag("--unsigned", o.is_unsigned, "unsigned range [0, 2^width - 1]");
    c.fake_quant->add_flag("--explain", o.explain, "show each step: scaled, rounded, clamped, dequantized, error");
}

std::optional<int> run_compress_commands(const CompressCommands& c) {
    if (*c.quantize) return run_quantize(c.o);
    if (*c.prune) return run_prune(c.o);
    if (*c.analyze) return run_analyze(c.o);
    if (*c.fake_quant) return run_fake_quant(c.o);
    return std::nullopt;
}

}  // namespace qbert::apps
