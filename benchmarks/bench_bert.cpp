// bench_bert: BERT training and inference speed on random token batches, printing the same columns as the
// PyTorch peer (../shared/peers/torch_bert_bench.py) so the two outputs join line by line:
//   mode config batch seq seq_per_s
// train = forward + cross-entropy + backward + AdamW (lr 1e-4); infer = forward under NoGradGuard;
// qat = train with every Linear fake-quantized to fixed point Q8.4 (input, weight, bias; identity STE), or with
// --format to another number format (passes::example_quant_config; the line then says qat:FORMAT);
// sparse = train with 50% L1 weight masks on every Linear (as the peer's modes of the same names);
// infer-fq = infer with every Linear fake-quantized to Q8.4 (float arithmetic on rounded values), infer-int8 = the
// same model with its Linear layers on int8 operands and int32 sums (model::set_integer_inference; the same
// logits where the float sums are exact); infer-masked = infer with every Linear pruned to --sparsity (L1, local;
// default 0.9) by its dense masked matmul, infer-sparse = that model on the sparse CSR kernel (model::
// set_sparse_inference; the same products, summed in another order).
// infer-structured = infer after removing --structured of the attention heads and of the feed-forward neurons of
// every layer (passes/structured.h, L1, local; default 0.5): a smaller dense model.
// --checkpoint FILE benchmarks a saved or exported model (qbert export) instead of a preset: infer runs it as
// stored (its int8 and sparse layers on their kernels when the file is an export), infer-dense with those paths off,
// infer-sparse with every pruned layer on the CSR kernel.
// Same presets (tiny, mini, small), same warm-up (2 steps) and timed iterations (--iters, default 10).
// A header line starting with '#' gives the build, threads, kernels, seed and dropout. The peer's model has no
// dropout layers, so the default here is dropout 0: the same computation on both sides.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <sstream>

#include "engine/engine.h"
#include "model/bert.h"
#include "model/compressed_linear.h"
#include "model/train.h"
#include "passes/prune.h"
#include "passes/quantize.h"
#include "passes/structured.h"

using namespace qbert;
using namespace qbert::engine;

namespace {
std::vector<std::string> split_csv(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
    return out;
}

struct Options {
    int iters = 10;
    int64_t B = 32, T = 128;
    uint64_t seed = 0;
    double dropout = 0.0;
    bool full_last_layer = false;
    FormatKind format = FormatKind::Integer;  // qat: every Linear in this format (passes::example_quant_config)
    double sparsity = 0.9;                    // infer-masked, infer-sparse
    double structured = 0.5;                  // infer-structured
    std::string checkpoint;                   // a saved model instead of a preset
};

const std::vector<std::string> kModes{"train", "qat", "sparse", "infer", "infer-fq", "infer-int8", "infer-masked",
                                      "infer-sparse", "infer-dense", "infer-structured"};

void run(const std::string& mode, const std::string& cfg_name, const Options& o) {
    const int64_t B = o.B, T = o.T;
    Rng rng(o.seed);
    Rng init = rng.fork("init"), data = rng.fork("data"), drop = rng.fork("dropout");
    std::unique_ptr<model::BertForSequenceClassification> owned;
    if (o.checkpoint.empty()) {
        model::BertConfig cfg = model::BertConfig::preset(cfg_name);
        cfg.hidden_dropout_prob = o.dropout;
        cfg.attention_probs_dropout_prob = o.dropout;
        owned = std::make_unique<model::BertForSequenceClassification>(cfg, init);
    } else {
        owned = model::load_bert(o.checkpoint);  // a checkpoint or an export; dropout is off at inference
        if (mode == "infer-dense") {
            model::set_integer_inference(*owned, false);
            model::set_sparse_inference(*owned, false);
        }
    }
    model::BertForSequenceClassification& m = *owned;
    const model::BertConfig& cfg = m.config();
    m.set_cls_only_last_layer(!o.full_last_layer);
    const bool inference = mode.rfind("infer", 0) == 0;
    if (mode == "infer-structured") {
        passes::StructuredSpec spec;
        spec.heads = spec.neurons = o.structured;
        Rng srng = rng.fork("structured");
        passes::prune_structured(m, spec, srng);
    }
    if (!o.checkpoint.empty() && mode == "infer-sparse") {  // a pruned checkpoint: its own masks, on the CSR kernel
        if (model::set_sparse_inference(m, true, 0.0).empty()) throw Error("infer-sparse: the checkpoint has no pruned Linear layer");
    } else if (mode == "infer-masked" || mode == "infer-sparse") {
        passes::PruneConfig pc;
        pc.weight = passes::PruneSpec{o.sparsity, model::PruneMethod::L1Norm, model::PruneScope::Local};
        Rng prune_rng = rng.fork("prune");
        passes::prune(m, pc, prune_rng);
        if (mode == "infer-sparse" && model::set_sparse_inference(m, true, 0.0).empty())
            throw Error("infer-sparse: no Linear layer was pruned");
    }
    if (mode == "infer-fq" || mode == "infer-int8") {
        passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{8, 4}));
        if (mode == "infer-int8" && model::set_integer_inference(m, true).empty())
            throw Error("infer-int8: no Linear layer qualifies for int8 operands");
    }
    if (mode == "qat") {
        passes::QuantizeConfig qc;
        qc.entries.emplace_back("linear", passes::example_quant_config(o.format));
        passes::quantize(m, qc);
    }
    if (mode == "sparse") {
        passes::PruneConfig pc;
        pc.weight = passes::PruneSpec{0.5, model::PruneMethod::L1Norm, model::PruneScope::Local};
        Rng prune_rng = rng.fork("prune");
        passes::prune(m, pc, prune_rng);
    }
    AdamWOptions ao;
    ao.lr = 1e-4;
    AdamW opt(m.named_parameters(), ao);
    std::vector<int32_t> ids(static_cast<size_t>(B * T)), y(static_cast<size_t>(B));
    for (auto& t : ids) t = static_cast<int32_t>(data.below(static_cast<uint64_t>(cfg.vocab_size)));
    for (auto& l : y) l = static_cast<int32_t>(data.below(2));
    const Tensor idt = Tensor::from_vector(ids, {B, T});
    const Tensor am = Tensor::full({B, T}, 1.0, DType::I32);
    const Tensor labels = Tensor::from_vector(y, {B});
    m.train(!inference);
    auto step = [&] {
        if (inference) {
            NoGradGuard ng;
            Tensor l = m.logits(idt, am, drop);
            return;
        }
        Tensor loss = cross_entropy(m.logits(idt, am, drop), labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
    };
    for (int i = 0; i < 2; ++i) step();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < o.iters; ++i) step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / o.iters;
    const std::string shown = mode == "qat" && o.format != FormatKind::Integer ? "qat:" + std::string(format_name(o.format)) : mode;
    std::printf("%s %s %ld %ld %.1f\n", shown.c_str(), cfg_name.c_str(), long(B), long(T), static_cast<double>(B) / dt);
    std::fflush(stdout);
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench_bert: BERT train/infer throughput, same columns as the PyTorch peer"};
    int threads = 2;
    Options o;
    std::string modes = "train,infer", configs = "tiny,mini", kernels = "fast", matmul = "f32";
    app.add_option("--threads", threads)->capture_default_str();
    app.add_option("--modes", modes, "train,qat,sparse,infer,infer-fq,infer-int8,infer-masked,infer-sparse,infer-structured; with "
                   "--checkpoint: infer, infer-dense")->capture_default_str();
    app.add_option("--sparsity", o.sparsity, "infer-masked, infer-sparse: fraction of each Linear's weights pruned")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    app.add_option("--structured", o.structured, "infer-structured: fraction of heads and neurons removed")
        ->capture_default_str()->check(CLI::Range(0.0, 0.999));
    app.add_option("--checkpoint", o.checkpoint, "benchmark this saved or exported model (.h5) instead of the presets");
    app.add_option("--configs", configs, "tiny,mini,small")->capture_default_str();
    app.add_option("--batch", o.B)->capture_default_str();
    app.add_option("--seq", o.T)->capture_default_str();
    app.add_option("--iters", o.iters)->capture_default_str();
    app.add_option("--seed", o.seed)->capture_default_str();
    app.add_option("--kernels", kernels, "ref | fast")->capture_default_str();
    app.add_option("--dropout", o.dropout, "dropout probability (the peer has none)")->capture_default_str();
    app.add_option("--matmul", matmul, "f32 | bf16: precision of matmul operands (fp32 sums either way)")
        ->capture_default_str();
    std::string format = "integer";
    app.add_option("--format", format, "qat mode: the number format of every Linear (" + format_names() + ")")
        ->capture_default_str();
    app.add_flag("--full-last-layer", o.full_last_layer,
                 "compute every position of the last layer, as the peer does (default: only [CLS], which is all "
                 "the classifier reads; same logits and gradients)");
    CLI11_PARSE(app, argc, argv);
    try {
        const auto fk = parse_format(format);
        if (!fk || *fk == FormatKind::Fp32) throw Error("--format '" + format + "'; valid: " + format_names());
        o.format = *fk;
        set_num_threads(threads);
        set_kernel_mode(kernels);
        set_matmul_precision(matmul);
#ifdef NDEBUG
        const char* build = "release";
#else
        const char* build = "debug";
#endif
        std::printf("# bench_bert build=%s threads=%d kernels=%s seed=%llu dropout=%g last_layer=%s matmul=%s\n", build,
                    threads, kernels.c_str(), static_cast<unsigned long long>(o.seed), o.dropout,
                    o.full_last_layer ? "full" : "cls_only", matmul.c_str());
        if (!o.checkpoint.empty()) configs = std::filesystem::path(o.checkpoint).stem().string();
        for (const auto& c : split_csv(configs))
            for (const auto& mo : split_csv(modes)) {
                if (std::find(kModes.begin(), kModes.end(), mo) == kModes.end())
                    throw Error("unknown mode '" + mo + "'; valid: train, qat, sparse, infer, infer-fq, infer-int8, "
                                "infer-masked, infer-sparse, infer-dense, infer-structured");
                if (!o.checkpoint.empty() && mo != "infer" && mo != "infer-dense" && mo != "infer-sparse")
                    throw Error("with --checkpoint the modes are infer, infer-dense and infer-sparse (the others "
                                "build their own quantized or pruned model from a preset), not '" + mo + "'");
                if (mo == "infer-dense" && o.checkpoint.empty())
                    throw Error("mode infer-dense needs --checkpoint (a preset model is dense already)");
                run(mo, c, o);
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
