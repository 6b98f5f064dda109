#include "experiments/compress.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "experiments/workbench.h"
#include "model/train.h"
#include "passes/analysis.h"
#include "passes/calibrate.h"
#include "passes/prune.h"
#include "passes/quantize.h"

namespace qbert::experiments {

using engine::Error;

namespace {
void print_line(const char* key, double acc, int64_t n) {
    std::printf("%s=%.4f n=%ld\n", key, acc, long(n));
    std::fflush(stdout);
}
}  // namespace

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
int run_fake_quant(const CompressOptions& o, std::istream& in) {
    if (o.format != "integer") throw Error("--format '" + o.format + "' is not supported yet; valid: integer");
    const engine::FixedPoint q{o.width, o.frac_width, !o.is_unsigned, o.floor};
    q.validate("fake-quant");
    if (o.explain)
        std::printf("# %s: step 2^-%d = %.9g, integers [%.0f, %.0f], values [%.9g, %.9g], rounding %s\n",
                    q.str().c_str(), q.frac_width, 1.0 / q.scale(), q.qmin(), q.qmax(), q.min_value(), q.max_value(),
                    q.floor ? "floor" : "half to even");
    std::string line;
    int64_t lineno = 0;
    while (std::getline(in, line)) {
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

}  // namespace qbert::experiments
