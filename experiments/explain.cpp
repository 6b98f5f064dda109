#include "experiments/explain.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "engine/autograd/graph.h"
#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "engine/core/rng.h"
#include "engine/ops/nn.h"
#include "engine/ops/reduce.h"
#include "engine/optim/optim.h"
#include "model/train.h"
#include "passes/prune.h"
#include "passes/quantize.h"

namespace qbert::experiments {

using engine::Error;
using engine::Rng;
using engine::Tensor;
using engine::detail::concat;

namespace {

// A root module holding one layer, so the prune pass can run on the demo layer as it runs on a model.
class OneLayer final : public model::Module {
public:
    explicit OneLayer(std::shared_ptr<model::Module> layer) { register_module("layer", std::move(layer)); }
    std::string type_name() const override { return "OneLayer"; }
};

// Written beside, then renamed: a reader never sees half a file.
void write_text_atomic(const std::string& path, const std::string& text) {
    const std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << text;
        f.close();
        if (!f.good()) throw Error(concat("cannot write ", tmp));
    }
    std::filesystem::rename(tmp, path);
}

std::string fmt(double v, const char* f = "%.4g") {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// A [rows, cols] matrix of doubles, one row per line, aligned (small layers only).
void print_matrix(std::ostream& os, const std::vector<double>& v, int64_t rows, int64_t cols, const char* f) {
    std::vector<std::string> cells;
    size_t width = 0;
    for (double x : v) {
        cells.push_back(fmt(x == 0.0 ? 0.0 : x, f));  // no "-0"
        width = std::max(width, cells.back().size());
    }
    for (int64_t r = 0; r < rows; ++r) {
        os << " ";
        for (int64_t c = 0; c < cols; ++c) {
            const std::string& s = cells[static_cast<size_t>(r * cols + c)];
            os << std::string(width + 1 - s.size(), ' ') << s;
        }
        os << "\n";
    }
}

// |W| in 10 bins from 0 to max|W|, the bin holding t marked: the shape of what l1-norm pruning cuts.
void print_histogram(std::ostream& os, const std::vector<double>& absw, double t) {
    const double top = *std::max_element(absw.begin(), absw.end());
    if (!(top > 0.0)) return;
    constexpr int kBins = 10;
    std::vector<int64_t> count(kBins, 0);
    for (double a : absw) ++count[std::min(kBins - 1, static_cast<int>(a / top * kBins))];
    const int64_t most = *std::max_element(count.begin(), count.end());
    os << "|W| histogram (" << kBins << " bins from 0 to max |w| = " << fmt(top) << "; '<- t' marks the threshold's bin):\n";
    for (int b = 0; b < kBins; ++b) {
        const double lo = top * b / kBins, hi = top * (b + 1) / kBins;
        const int bar = static_cast<int>(std::lround(40.0 * static_cast<double>(count[b]) / static_cast<double>(most)));
        char head[96];
        std::snprintf(head, sizeof head, "  [%8.4f, %8.4f) %8lld ", lo, hi, static_cast<long long>(count[b]));
        os << head << std::string(static_cast<size_t>(bar), '#');
        if (t >= lo && (t < hi || b == kBins - 1)) os << "  <- t";
        os << "\n";
    }
}

}  // namespace

int run_prune_explain(const PruneExplainOptions& o, std::ostream& os) {
    // The setting: --config's [weight] section, else --sparsity / --method.
    passes::PruneSpec spec;
    if (!o.config.empty()) {
        spec = passes::PruneConfig::from_file(o.config).weight;
    } else {
        spec.sparsity = o.sparsity;
        if (o.method == "l1-norm") spec.method = model::PruneMethod::L1Norm;
        else if (o.method == "random") spec.method = model::PruneMethod::Random;
        else throw Error(concat("prune --explain: --method must be l1-norm or random, got '", o.method, "'"));
    }
    if (!(spec.sparsity >= 0.0 && spec.sparsity < 1.0))
        throw Error(concat("prune --explain: sparsity must be in [0, 1), got ", spec.sparsity));
    if (spec.scope != model::PruneScope::Local)
        throw Error(concat("prune --explain: ", o.config, ": [weight] scope = \"global\" ranks every layer together; "
                           "--explain shows one layer, so it takes scope = \"local\" only"));

    // The layer: from a checkpoint, or the demo layer.
    std::shared_ptr<model::Module> root;
    std::string name;
    std::string what;
    if (!o.checkpoint.empty()) {
        root = std::shared_ptr<model::Module>(model::load_bert(o.checkpoint).release());
        const auto layers = passes::linear_layers(*root);
        std::string names;
        for (const auto& [n, m] : layers) {
            if (n == o.layer) name = n;
            if (names.size() < 600) names += (names.empty() ? "" : ", ") + n;
        }
        if (o.layer.empty() || name.empty())
            throw Error(concat("prune --explain: ", o.layer.empty() ? "--layer NAME is needed with --checkpoint"
                                                                    : "no Linear layer '" + o.layer + "' in " + o.checkpoint,
                               "\nhint: its Linear layers are: ", names));
        what = "layer " + name + " of " + o.checkpoint;
    } else {
        if (o.rows < 1 || o.cols < 1 || o.rows * o.cols > 4096)
            throw Error(concat("prune --explain: the demo layer needs 1 <= rows, cols and rows*cols <= 4096, got ",
                               o.rows, "x", o.cols));
        Rng init = Rng(o.seed).fork("explain-prune");
        auto lin = std::make_shared<model::Linear>(o.cols, o.rows, init, 0.5);
        float* w = lin->weight().data<float>();  // rounded to 0.01 so the printed numbers are the numbers
        for (int64_t i = 0; i < lin->weight().numel(); ++i) w[i] = std::nearbyint(w[i] * 100.0f) / 100.0f;
        root = std::make_shared<OneLayer>(lin);
        name = "layer";
        what = concat("a demo layer of seeded N(0, 0.5^2) weights rounded to 0.01 (--seed ", o.seed, ")");
    }
    model::CompressedLinear& layer = model::compress_layer(*root, name);
    const Tensor w = layer.effective_weight().detach().clone();
    const int64_t rows = w.size(0), cols = w.size(1), n = w.numel();
    const std::vector<double> wv = w.to_vector_f64();
    const bool small = n <= 64;
    const bool l1 = spec.method == model::PruneMethod::L1Norm;
    os << "# " << passes::prune_method_name(spec.method) << " pruning at sparsity " << spec.sparsity << " of " << what
       << ": W [" << rows << ", " << cols << "] (rows = output neurons, columns = inputs)\n";
    if (layer.has_weight_mask()) os << "(the layer was pruned before: W is W*M with its old mask, which stays applied)\n";
    if (small) {
        os << "W:\n";
        print_matrix(os, wv, rows, cols, "%.2f");
    }

    // The explanation's own mask, computed here step by step in plain code.
    std::vector<double> keep(static_cast<size_t>(n), 1.0);
    double t = 0.0;
    std::vector<double> absw(wv.size());
    for (size_t i = 0; i < wv.size(); ++i) absw[i] = std::fabs(wv[i]);
    if (spec.sparsity == 0.0) {
        os << "sparsity 0: nothing is pruned (the pass leaves the layer alone)\n";
    } else if (l1) {
        std::vector<double> sorted = absw;
        std::sort(sorted.begin(), sorted.end());
        const double pos = spec.sparsity * static_cast<double>(n - 1);
        const auto lo = static_cast<size_t>(std::floor(pos));
        const size_t hi = std::min(lo + 1, sorted.size() - 1);
        const double frac = pos - static_cast<double>(lo);
        t = sorted[lo] + frac * (sorted[hi] - sorted[lo]);
        if (small) {
            os << "|W| sorted, smallest first (#k is the k-th, counting from #0):\n ";
            for (size_t k = 0; k < sorted.size(); ++k)
                os << " #" << k << "=" << fmt(sorted[k], "%.2f") << ((k + 1) % 8 == 0 && k + 1 < sorted.size() ? "\n " : "");
            os << "\n";
        } else {
            print_histogram(os, absw, t);
        }
        os << "quantile(|W|, " << spec.sparsity << "): position " << spec.sparsity << " x (" << n << " - 1) = "
           << fmt(pos, "%.6g") << ", between #" << lo << " = " << fmt(sorted[lo], "%.6g") << " and #" << hi << " = "
           << fmt(sorted[hi], "%.6g") << "\n";
        os << "  t = " << fmt(sorted[lo], "%.6g") << " + " << fmt(frac, "%.6g") << " x (" << fmt(sorted[hi], "%.6g")
           << " - " << fmt(sorted[lo], "%.6g") << ") = " << fmt(t, "%.6g")
           << "   (linear interpolation between order statistics, torch.quantile's rule, as Mase)\n";
        const double engine_t = engine::quantile_abs({w}, spec.sparsity);
        if (std::fabs(engine_t - t) > 1e-9 * std::max(1.0, std::fabs(t)))
            throw Error(concat("prune --explain: internal: engine::quantile_abs gives ", engine_t, " but the steps above give ", t));
        os << "rule: keep w where |w| > t; a weight equal to t is pruned\n";
        for (size_t i = 0; i < absw.size(); ++i) keep[i] = absw[i] > t ? 1.0 : 0.0;
    } else {
        // `qbert prune` hands the pass Rng(seed).fork("prune"); each layer draws from .fork(<its dotted name>),
        // one uniform per weight, row-major (passes/prune.cpp)
        Rng r = Rng(o.seed).fork("prune").fork(name);
        std::vector<double> u(static_cast<size_t>(n));
        for (auto& x : u) x = r.uniform();
        os << "random: one uniform draw u in [0, 1) per weight, from the stream Rng(--seed " << o.seed
           << ").fork(\"prune\").fork(\"" << name << "\") as `qbert prune` uses, row-major; rule: drop w where u < "
           << spec.sparsity << "\n";
        if (small) {
            os << "u:\n";
            print_matrix(os, u, rows, cols, "%.2f");
        }
        for (size_t i = 0; i < u.size(); ++i) keep[i] = u[i] < spec.sparsity ? 0.0 : 1.0;
        os << "(|W| plays no part: the realised sparsity is only near the target)\n";
    }
    if (layer.has_weight_mask()) {  // pruning again never revives a weight (the pass ANDs the masks)
        const uint8_t* old = layer.weight_mask().data<uint8_t>();
        int64_t revived = 0;
        for (int64_t i = 0; i < n; ++i)
            if (old[i] == 0 && keep[static_cast<size_t>(i)] != 0.0) keep[static_cast<size_t>(i)] = 0.0, ++revived;
        if (revived > 0) os << "old mask: " << revived << " weights the rule would keep stay pruned (new mask = rule AND old mask)\n";
    }
    if (small) {
        os << "mask M (1 = kept):\n";
        print_matrix(os, keep, rows, cols, "%.0f");
        std::vector<double> wm(wv.size());
        for (size_t i = 0; i < wv.size(); ++i) wm[i] = wv[i] * keep[i];
        os << "W*M (what the layer computes with: it multiplies by M in every forward, so a pruned weight stays out "
              "whatever the optimizer does to W):\n";
        print_matrix(os, wm, rows, cols, "%.2f");
    }
    int64_t kept = 0;
    double largest_pruned = -1.0, smallest_kept = -1.0;
    std::vector<int64_t> row_kept(static_cast<size_t>(rows), 0);
    for (int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<size_t>(i);
        if (keep[k] != 0.0) {
            ++kept;
            ++row_kept[static_cast<size_t>(i / cols)];
            if (smallest_kept < 0 || absw[k] < smallest_kept) smallest_kept = absw[k];
        } else if (absw[k] > largest_pruned) {
            largest_pruned = absw[k];
        }
    }
    os << "kept " << kept << " of " << n << " weights: sparsity " << fmt(1.0 - static_cast<double>(kept) / static_cast<double>(n), "%.4f")
       << " (target " << spec.sparsity << ")";
    if (l1 && largest_pruned >= 0 && smallest_kept >= 0)
        os << "; largest pruned |w| " << fmt(largest_pruned, "%.6g") << ", smallest kept |w| " << fmt(smallest_kept, "%.6g");
    os << "\n";
    const auto [mn, mx] = std::minmax_element(row_kept.begin(), row_kept.end());
    os << "kept per output row: min " << *mn << ", max " << *mx << " of " << cols
       << (l1 ? " (local scope ranks the whole layer, not each row)" : "") << "\n";

    if (!o.csv.empty()) {
        std::string text = "row,col,w,abs_w,kept\n";
        for (int64_t i = 0; i < n; ++i) {
            const auto k = static_cast<size_t>(i);
            text += concat(i / cols, ",", i % cols, ",", fmt(wv[k], "%.9g"), ",", fmt(absw[k], "%.9g"), ",", int(keep[k] != 0.0), "\n");
        }
        write_text_atomic(o.csv, text);
        os << "wrote " << o.csv << " (" << n << " weights)\n";
    }

    // The real pass on the same layer: the mask it makes must be the one shown.
    passes::PruneConfig cfg;
    cfg.weight = spec;
    Rng rng = Rng(o.seed).fork("prune");  // as `qbert prune` (experiments/compress.cpp)
    passes::prune(*root, cfg, rng);
    const Tensor& pass_mask = layer.weight_mask();
    if (spec.sparsity > 0.0) {
        const uint8_t* pm = pass_mask.data<uint8_t>();
        for (int64_t i = 0; i < n; ++i)
            if ((pm[i] != 0) != (keep[static_cast<size_t>(i)] != 0.0))
                throw Error(concat("prune --explain: internal: the prune pass kept weight ", i, " differently (",
                                   int(pm[i]), ") from the explanation"));
        os << "checked: the prune pass (passes/prune.cpp) made this same mask\n";
    }
    return 0;
}

int run_explain_step(const ExplainStepOptions& o, std::ostream& os) {
    if (o.batch < 1 || o.seq_len < 2)
        throw Error(concat("explain-step: --batch must be >= 1 and --seq-len >= 2, got ", o.batch, " and ", o.seq_len));
    std::unique_ptr<model::BertForSequenceClassification> m;
    model::BertConfig bc;
    if (!o.checkpoint.empty()) {
        if (!o.config.empty() || !o.sets.empty())
            throw Error("explain-step: --checkpoint brings its own model: leave out --config and --set");
        m = model::load_bert(o.checkpoint);
        bc = m->config();
        os << "model: " << o.checkpoint;
    } else {
        const model::TrainConfig tc = o.config.empty() ? model::TrainConfig::from_toml_string("", "explain-step", o.sets)
                                                       : model::TrainConfig::from_toml(o.config, o.sets);
        bc = tc.model;
        Rng init = Rng(o.seed).fork("init");
        m = std::make_unique<model::BertForSequenceClassification>(bc, init);
        os << "model: a fresh BERT (" << (o.config.empty() ? "preset " + tc.preset : o.config) << ")";
    }
    if (o.seq_len > bc.max_position_embeddings)
        throw Error(concat("explain-step: --seq-len ", o.seq_len, " exceeds the model's max_position_embeddings ",
                           bc.max_position_embeddings));
    os << ": layers=" << bc.num_hidden_layers << " hidden=" << bc.hidden_size << " heads=" << bc.num_attention_heads
       << " intermediate=" << bc.intermediate_size << " vocab=" << bc.vocab_size << ", " << m->num_parameters()
       << " parameters\n";
    if (!o.quantize.empty()) {
        const auto q = passes::quantize(*m, passes::QuantizeConfig::from_file(o.quantize));
        os << "quantized by " << o.quantize << ": " << q.size() << " Linear layers fake-quantize in forward\n";
    }
    if (!o.prune.empty()) {
        Rng prune_rng = Rng(o.seed).fork("prune");  // as `qbert prune` (experiments/compress.cpp)
        const auto p = passes::prune(*m, passes::PruneConfig::from_file(o.prune), prune_rng);
        int64_t w = 0, k = 0;
        for (const auto& l : p) w += l.weights, k += l.kept;
        os << "pruned by " << o.prune << ": " << p.size() << " Linear layers, " << k << " of " << w << " weights kept\n";
    }

    // A batch of random token ids (no data needed): [CLS] first, the rest from the vocabulary's upper part.
    Rng data = Rng(o.seed).fork("explain-step");
    std::vector<int32_t> ids(static_cast<size_t>(o.batch * o.seq_len)), mask(ids.size(), 1), labels(static_cast<size_t>(o.batch));
    const int64_t lo = std::min<int64_t>(1000, bc.vocab_size / 2);
    for (int64_t b = 0; b < o.batch; ++b) {
        for (int64_t j = 0; j < o.seq_len; ++j)
            ids[static_cast<size_t>(b * o.seq_len + j)] =
                j == 0 ? std::min<int32_t>(101, static_cast<int32_t>(bc.vocab_size - 1))
                       : static_cast<int32_t>(lo + static_cast<int64_t>(data.below(static_cast<uint64_t>(bc.vocab_size - lo))));
        labels[static_cast<size_t>(b)] = static_cast<int32_t>(data.below(2));
    }
    const Tensor input_ids = Tensor::from_vector(ids, {o.batch, o.seq_len});
    const Tensor attention = Tensor::from_vector(mask, {o.batch, o.seq_len});
    const Tensor y = Tensor::from_vector(labels, {o.batch});
    os << "batch: " << o.batch << " x " << o.seq_len << " random token ids (seed " << o.seed << "), labels";
    for (int32_t l : labels) os << " " << l;
    os << "\n";

    // One training step, as model/train.cpp's fit() takes it, with the graph captured.
    std::filesystem::path out(o.out);
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
    m->train(true);
    m->name_parameters();  // the graph's leaves show their names
    engine::AdamWOptions ao;
    engine::AdamW opt(m->named_parameters(), ao);
    opt.set_no_decay({"bias", "LayerNorm"});
    Rng drop = Rng(o.seed).fork("dropout");
    struct EndCapture {  // if the step throws, the next backward of this process is not captured instead
        ~EndCapture() {
            if (engine::graph::capturing()) engine::graph::capture_to("");
        }
    } end_capture;
    engine::graph::capture_to(o.out);
    const Tensor logits = m->logits(input_ids, attention, drop);
    const Tensor loss = engine::cross_entropy(logits, y);
    os << "forward: logits " << logits.str() << ", loss = cross_entropy(logits, labels) = " << fmt(loss.item(), "%.6f") << "\n";
    opt.zero_grad();
    loss.backward();
    const std::vector<engine::graph::NodeSummary> g = engine::graph::last_graph();
    if (engine::graph::last_written() != o.out || g.empty())
        throw Error(concat("explain-step: the graph was not written to ", o.out));
    // Pruned layers: what the step does to a pruned weight (its gradient, its raw value, W*M).
    struct Masked {
        std::string name;
        model::CompressedLinear* layer;
        std::vector<float> before;
    };
    std::vector<Masked> masked;
    double masked_grad = 0.0;
    int64_t masked_count = 0;
    for (const auto& [lname, mod] : passes::linear_layers(*m)) {
        auto* cl = dynamic_cast<model::CompressedLinear*>(mod.get());
        if (cl == nullptr || !cl->has_weight_mask()) continue;
        masked.push_back({lname, cl, cl->weight().to_vector_f32()});
        const std::vector<float> gw = cl->weight().grad().to_vector_f32();
        const uint8_t* mk = cl->weight_mask().data<uint8_t>();
        for (size_t i = 0; i < gw.size(); ++i)
            if (mk[i] == 0) {
                ++masked_count;
                masked_grad = std::max(masked_grad, static_cast<double>(std::fabs(gw[i])));
            }
    }
    const double norm = engine::clip_grad_norm(opt.params(), 1.0);
    engine::graph::KernelLog log;
    opt.step();
    const std::string opt_kernels = log.take();
    double masked_moved = 0.0, masked_effective = 0.0, kept_moved = 0.0;
    for (const Masked& mk : masked) {
        const std::vector<float> after = mk.layer->weight().to_vector_f32();
        const std::vector<float> eff = mk.layer->effective_weight().to_vector_f32();
        const uint8_t* bits = mk.layer->weight_mask().data<uint8_t>();
        for (size_t i = 0; i < after.size(); ++i) {
            const double moved = std::fabs(static_cast<double>(after[i]) - mk.before[i]);
            if (bits[i] == 0) {
                masked_moved = std::max(masked_moved, moved);
                masked_effective = std::max(masked_effective, static_cast<double>(std::fabs(eff[i])));
            } else {
                kept_moved = std::max(kept_moved, moved);
            }
        }
    }

    int64_t ops = 0, params = 0;
    std::map<std::string, int64_t> by_op;
    for (const auto& s : g) {
        if (s.leaf) {
            ++params;
        } else {
            ++ops;
            ++by_op[s.op];
        }
    }
    if (o.ops) {
        os << "\nthe step, op by op (forward order; #i = op i, parameters by name; forward kernels | backward kernels):\n";
        for (size_t i = 0; i < g.size(); ++i) {
            const auto& s = g[i];
            if (s.leaf) continue;
            std::string ins;
            for (size_t in : s.inputs) ins += (ins.empty() ? "" : ", ") + (g[in].leaf ? g[in].op : "#" + std::to_string(in));
            os << "  #" << i << " " << s.op << " " << s.out << " <- " << ins << "\n      " << (s.forward.empty() ? "-" : s.forward)
               << " | " << (s.backward.empty() ? "-" : s.backward) << "\n";
        }
    }
    os << "\nsummary: " << ops << " ops recorded in forward, " << params << " parameters receive a gradient\n  ops:";
    for (const auto& [op, count] : by_op) os << " " << op << " x" << count;
    os << "\nbackward: the same " << ops << " nodes in reverse, each running its backward kernels\n";
    os << "optimizer: clip_grad_norm (the gradients' global norm was " << fmt(norm, "%.4g")
       << (norm > 1.0 ? ", scaled down to 1" : ", under 1: left alone") << "), then AdamW: "
       << opt_kernels.substr(0, opt_kernels.find(',')) << " for each of the " << opt.params().size() << " parameters\n";
    if (!masked.empty()) {
        os << "pruned weights (" << masked_count << " in " << masked.size() << " layers) through the step:\n"
           << "  largest |gradient| of a pruned weight: " << fmt(masked_grad, "%.3g")
           << " (linear's backward multiplies dW by the mask)\n"
           << "  largest change of a pruned raw weight W: " << fmt(masked_moved, "%.3g")
           << " (AdamW's decoupled weight decay only: lr x weight_decay x W; a kept weight moved up to "
           << fmt(kept_moved, "%.3g") << ")\n"
           << "  largest |W*M| of a pruned weight after the step: " << fmt(masked_effective, "%.3g")
           << " (the forward multiplies by the mask: pruned stays pruned)\n";
    }
    os << "graph: " << o.out << " (" << g.size() << " nodes). Draw it: dot -Tsvg " << o.out << " -o "
       << out.replace_extension(".svg").string() << "\n";
    return 0;
}

}  // namespace qbert::experiments
