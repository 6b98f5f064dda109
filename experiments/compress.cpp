#include "experiments/compress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "experiments/workbench.h"
#include "model/export.h"
#include "model/train.h"
#include "passes/analysis.h"
#include "passes/calibrate.h"
#include "passes/prune.h"
#include "passes/quantize.h"
#include "passes/structured.h"

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

double inference_seq_per_s(model::BertForSequenceClassification& m, int iters, uint64_t seed) {
    const int64_t B = 32, T = std::min<int64_t>(128, m.config().max_position_embeddings);
    engine::Rng data = engine::Rng(seed).fork("speed");
    std::vector<int32_t> ids(static_cast<size_t>(B * T));
    for (auto& t : ids) t = static_cast<int32_t>(data.below(static_cast<uint64_t>(m.config().vocab_size)));
    const engine::Tensor idt = engine::Tensor::from_vector(ids, {B, T});
    const engine::Tensor am = engine::Tensor::full({B, T}, 1.0, engine::DType::I32);
    const bool was = m.training();
    m.train(false);
    engine::NoGradGuard ng;
    engine::Rng drop(0);
    for (int i = 0; i < 2; ++i) (void)m.logits(idt, am, drop);  // warm-up: primitives, allocator
    std::vector<double> rates;
    for (int round = 0; round < 3; ++round) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i) (void)m.logits(idt, am, drop);
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(static_cast<double>(B * iters) / std::max(dt, 1e-9));
    }
    m.train(was);
    std::sort(rates.begin(), rates.end());
    return rates[1];
}

int run_prune_structured(const CompressOptions& o) {
    passes::StructuredSpec spec;
    spec.heads = o.heads;
    spec.neurons = o.neurons;
    spec.norm = passes::parse_unit_norm(o.importance);
    if (o.scope != "local" && o.scope != "global")
        throw Error("--scope '" + o.scope + "' is not local or global");
    spec.global = o.scope == "global";
    Workbench w(o);
    print_line("accuracy_before", w.test_accuracy(), w.test.size());
    const double speed_before = o.speed_iters > 0 ? inference_seq_per_s(*w.m, o.speed_iters, o.seed) : 0.0;
    const int64_t params_before = w.m->num_parameters();
    engine::Rng rng = engine::Rng(o.seed).fork("structured");
    for (const auto& l : passes::prune_structured(*w.m, spec, rng))
        std::printf("layer %ld: heads %zu/%ld, neurons %zu/%ld\n", long(l.layer), l.kept_heads.size(),
                    long(l.heads_before), l.kept_neurons.size(), long(l.neurons_before));
    std::printf("parameters %ld -> %ld\n", long(params_before), long(w.m->num_parameters()));
    print_line("accuracy_pruned", w.test_accuracy(), w.test.size());
    if (o.epochs > 0) {
        w.finetune(o, "finetune");
        print_line("accuracy_finetuned", w.test_accuracy(), w.test.size());
    }
    if (o.speed_iters > 0) {
        const double after = inference_seq_per_s(*w.m, o.speed_iters, o.seed);
        std::printf("infer_seq_per_s before=%.1f after=%.1f speedup=%.2f\n", speed_before, after, after / speed_before);
    }
    w.save(o.out, "prune_structured",
           nlohmann::json{{"heads", o.heads}, {"neurons", o.neurons}, {"importance", o.importance}, {"scope", o.scope},
                          {"finetune_epochs", o.epochs}}.dump());
    return 0;
}

int run_analyze(const CompressOptions& o) {
    auto m = model::load_bert(o.checkpoint);
    passes::print_stats(std::cout, passes::analyze(*m));
    print_file_bytes(engine::load_checkpoint(o.checkpoint), o.checkpoint, std::cout);
    return 0;
}

void print_file_bytes(const engine::Checkpoint& ck, const std::string& path, std::ostream& os) {
    std::vector<std::pair<std::string, int64_t>> layers;  // in file order
    std::map<std::string, size_t> at;
    int64_t total = 0;
    for (const auto& [name, t] : ck.params) {
        std::string layer = name;
        for (const char* tail : {".int8", ".scale"})  // an export's embedding tables: <E>.weight.int8
            if (layer.size() > std::strlen(tail) && layer.ends_with(tail)) layer.resize(layer.size() - std::strlen(tail));
        layer = layer.substr(0, layer.rfind('.'));
        const auto it = ck.stored_bytes.find(name);
        const int64_t b = it == ck.stored_bytes.end() ? 0 : it->second;
        if (!at.count(layer)) {
            at[layer] = layers.size();
            layers.emplace_back(layer, 0);
        }
        layers[at[layer]].second += b;
        total += b;
    }
    os << "bytes on disk per layer (" << path << "):\n";
    for (const auto& [layer, b] : layers) os << "  " << std::left << std::setw(60) << layer << " " << b << "\n";
    os << "datasets_bytes=" << total << " file_bytes=" << std::filesystem::file_size(path) << "\n";
}

int run_export(const CompressOptions& o) {
    std::string meta;
    auto m = model::load_bert(o.checkpoint, &meta);
    model::ExportOptions eo;
    eo.int8 = o.export_int8;
    eo.sparse = o.export_sparse;
    eo.sparse_min = o.sparse_min;
    eo.int8_embeddings = !o.fp32_embeddings;
    const auto done = model::export_model(*m, meta, o.checkpoint, o.out, eo);
    for (const auto& e : done) std::printf("exported %-50s %-12s %ld bytes\n", e.name.c_str(), e.kind.c_str(), long(e.bytes));
    const auto src = std::filesystem::file_size(o.checkpoint), dst = std::filesystem::file_size(o.out);
    std::printf("export=%s bytes=%ld checkpoint_bytes=%ld ratio=%.3f\n", o.out.c_str(), long(dst), long(src),
                static_cast<double>(dst) / static_cast<double>(src));
    return 0;
}

namespace {
// "16" / "1,16" / "3,4" -> integers; errors name the option.
std::vector<int64_t> int_list(const std::string& text, const std::string& option) {
    std::vector<int64_t> v;
    size_t pos = 0;
    while (pos <= text.size()) {
        const size_t end = std::min(text.find(',', pos), text.size());
        const std::string item = text.substr(pos, end - pos);
        char* stop = nullptr;
        const long long x = std::strtoll(item.c_str(), &stop, 10);
        if (item.empty() || *stop != '\0')
            throw Error(option + " '" + text + "': '" + item + "' is not an integer (comma-separated list expected)");
        v.push_back(x);
        pos = end + 1;
    }
    return v;
}

// The number format the fake-quant options describe; errors name the missing or bad option.
engine::NumberFormat format_from_options(const CompressOptions& o) {
    using engine::FormatKind;
    const auto kind = engine::parse_format(o.format);
    if (!kind || *kind == FormatKind::Fp32)
        throw Error("--format '" + o.format + "' is not a format; valid: " + engine::format_names());
    engine::NumberFormat f;
    f.kind = *kind;
    f.width = o.width;
    f.frac_width = o.frac_width;
    f.floor = o.floor;
    f.is_signed = !o.is_unsigned;
    f.skip_first_dim = o.skip_first_dim;
    f.stochastic = o.stochastic;
    f.scaling = o.scaling;
    const bool minifloat = *kind == FormatKind::MinifloatDenorm || *kind == FormatKind::MinifloatIeee;
    const bool needs_e = minifloat || *kind == FormatKind::BlockFp || *kind == FormatKind::BlockMinifloat;
    const bool needs_bw = *kind == FormatKind::BlockMinifloat || *kind == FormatKind::BlockLog;
    const bool takes_bias = minifloat || *kind == FormatKind::Log || *kind == FormatKind::BlockFp;
    auto need = [&](bool cond, const char* opt) {
        if (cond) throw Error(std::string("--format ") + o.format + " needs " + opt);
    };
    auto reject = [&](bool given, const char* opt) {
        if (given) throw Error(std::string(opt) + " does not apply to --format " + o.format);
    };
    need(needs_e && !o.exponent_width, "--exponent-width E");
    need(needs_bw && !o.exponent_bias_width, "--exponent-bias-width BW");
    need(engine::is_block(*kind) && o.block_size.empty(), "--block-size LIST (e.g. 16 or 1,16)");
    reject(!needs_e && o.exponent_width.has_value(), "--exponent-width");
    reject(!needs_bw && o.exponent_bias_width.has_value(), "--exponent-bias-width");
    reject(!takes_bias && o.exponent_bias.has_value(), "--exponent-bias");
    reject(!engine::is_block(*kind) && !o.block_size.empty(), "--block-size");
    reject(!engine::is_block(*kind) && o.skip_first_dim, "--skip-first-dim");
    reject(*kind != FormatKind::Integer && (o.floor || o.is_unsigned), "--floor/--unsigned");
    reject(*kind != FormatKind::Binary && o.stochastic, "--stochastic");
    reject(*kind != FormatKind::Ternary && o.scaling, "--scaling");
    if (o.exponent_width) f.exponent_width = *o.exponent_width;
    if (o.exponent_bias_width) f.exponent_bias_width = *o.exponent_bias_width;
    f.exponent_bias = o.exponent_bias;
    if (!o.block_size.empty()) f.block_size = int_list(o.block_size, "--block-size");
    f.validate("fake-quant");
    return f;
}
}  // namespace

// The whitespace-separated numbers on stdin -> their quantized values, one per line (%.9g); --explain prints
// each step.
int run_fake_quant(const CompressOptions& o, std::istream& in) {
    const engine::NumberFormat f = format_from_options(o);
    std::vector<float> xs;
    std::string tok;
    while (in >> tok) {
        char* end = nullptr;
        const float x = std::strtof(tok.c_str(), &end);
        if (end == tok.c_str() || *end != '\0')
            throw Error("stdin value " + std::to_string(xs.size() + 1) + ": '" + tok + "' is not a number");
        xs.push_back(x);
    }
    engine::Shape shape{static_cast<int64_t>(xs.size())};
    if (!o.shape.empty()) {
        shape = int_list(o.shape, "--shape");
        for (int64_t d : shape)
            if (d < 1) throw Error("--shape '" + o.shape + "': dimensions must be >= 1");
        if (engine::shape_numel(shape) != static_cast<int64_t>(xs.size()))
            throw Error("--shape " + o.shape + " holds " + std::to_string(engine::shape_numel(shape)) +
                        " values, but stdin gave " + std::to_string(xs.size()));
    }
    if (xs.empty()) return 0;
    engine::NoGradGuard ng;
    engine::Rng rng(o.seed);
    const engine::Tensor x = engine::Tensor::from_vector(xs, shape);
    const engine::Tensor y = engine::quantize(x, f, engine::Ste::Identity, &rng);  // the real kernel
    const std::vector<float> ys = y.to_vector_f32();
    if (!o.explain) {
        for (float v : ys) std::printf("%.9g\n", static_cast<double>(v));
        return 0;
    }
    if (f.kind != engine::FormatKind::Integer) {
        std::printf("# %s\n", f.str().c_str());
        for (const std::string& line : engine::explain_quantize(x, y, f)) std::printf("%s\n", line.c_str());
        return 0;
    }
    const engine::FixedPoint q = f.fixed_point();
    std::printf("# %s: step 2^-%d = %.9g, integers [%.0f, %.0f], values [%.9g, %.9g], rounding %s\n", q.str().c_str(),
                q.frac_width, 1.0 / q.scale(), q.qmin(), q.qmax(), q.min_value(), q.max_value(),
                q.floor ? "floor" : "half to even");
    for (size_t i = 0; i < xs.size(); ++i) {
        const float xv = xs[i];
        const float scaled = xv * static_cast<float>(q.scale());
        const float rounded = q.floor ? std::floor(scaled) : std::nearbyint(scaled);
        const float clamped = std::min(std::max(rounded, static_cast<float>(q.qmin())), static_cast<float>(q.qmax()));
        std::printf("x=%.9g scaled=x*2^%d=%.9g rounded=%.9g clamped=%.9g%s dequantized=%.9g error=%.9g\n",
                    static_cast<double>(xv), q.frac_width, static_cast<double>(scaled), static_cast<double>(rounded),
                    static_cast<double>(clamped), clamped != rounded ? " (saturated)" : "", static_cast<double>(ys[i]),
                    static_cast<double>(ys[i] - xv));
    }
    return 0;
}

}  // namespace qbert::experiments
